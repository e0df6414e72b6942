//! The notification is off `/add_user`'s request path: with the relay stopped, or WeCom slow,
//! `/add_user` answers the same bytes, about as fast as a darkerserver with notifications off.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

/// Measured requests per server in the latency comparisons (after a short warm-up).
const REQUESTS: usize = 30;
const WARM_UP: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_relay_stopped_add_user_answers_the_same_bytes_as_fast() {
    let (off, down) = tokio::join!(Darker::start(Notify::Off), Darker::start(stopped_relay()));

    let requests = [
        json!({"user": user("alice")}),
        json!({"user": user("alice")}),
        json!({"user": {"username": "张三", "department": "研发部 🚀"}}),
        json!({"user": {"username": 7}}),
    ];
    let mut statuses = Vec::new();
    for body in &requests {
        let (without, with) = (off.post(body).await, down.post(body).await);
        assert!(with.same_as(&without), "{body}: {with:?}, notifications off: {without:?}");
        statuses.push(without.status);
    }
    assert_eq!(statuses, [200, 200, 200, 400], "added, duplicate, added, rejected");

    let (without, with) = in_turns(&off, &down, "down", WARM_UP, REQUESTS).await;
    for (a, b) in without.iter().zip(&with) {
        assert_eq!(a.status, 200);
        assert!(b.same_as(a), "{b:?}, notifications off: {a:?}");
    }
    assert_same_latency("the relay stopped", &without, &with);

    // The failure is not silent: darkerserver's log says why each notification was lost.
    down.wait_for_log("'down-0' failed: cannot reach the relay").await;
    assert!(down.log().contains("connection refused"), "{}", down.log());
    assert!(off.log().contains("WECOM_RELAY_URL is not set"), "{}", off.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_wecom_answering_after_3s_add_user_is_as_fast_and_the_message_arrives_later() {
    let stack = spawn_stack().await;
    stack.emulator.set_latency(Duration::from_secs(3));
    let (off, on) = tokio::join!(Darker::start(Notify::Off), Darker::start(stack.notify_env()));

    let first = on.add_user(&user("slow-first")).await;
    assert_eq!(first.json()["output"]["success"], true);
    // WeCom has not answered anything yet (gettoken alone takes 3 s), yet /add_user has.
    assert_eq!(stack.emulator.counters().delivered, 0);

    let (without, with) = in_turns(&off, &on, "slow", WARM_UP, REQUESTS).await;
    for (a, b) in without.iter().zip(&with) {
        assert_eq!(a.status, 200);
        assert!(b.same_as(a), "{b:?}, notifications off: {a:?}");
    }
    assert_same_latency("WeCom answering after 3 s", &without, &with);

    // ...and the message still arrives: token (3 s), then message/send (3 s).
    let message =
        wait_for_message(&stack.emulator, MEMBER, "新用户已加入：slow-first", Duration::from_secs(30)).await;
    assert!(message.content.contains("姓名：User slow-first"), "{}", message.content);
}
