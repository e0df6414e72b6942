//! The relay against the stateful emulator: what members really receive when WeCom's state
//! matters (token expiry and revocation, unknown members, its per-member drop rule).

use serde_json::{Value, json};

use crate::emu::demo_emulator;
use crate::helpers::*;

#[tokio::test]
async fn the_username_reaches_the_member_in_the_emulator() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["zhangsan"])).await;

    let response = app
        .notify_wait("user-added", &json!({"user": {"username": "alice", "email": "alice@example.com"}}))
        .await;
    assert_eq!(response.status(), 200);
    let got = emu.handle.received("zhangsan");
    assert_eq!(got.len(), 1);
    assert!(got[0].content.starts_with("新用户已加入：alice\n邮箱：alice@example.com"), "{}", got[0].content);
    assert!(emu.handle.received("lisi").is_empty(), "only the configured member");
}

#[tokio::test]
async fn tokens_expired_or_revoked_mid_stream_are_refreshed_and_each_message_arrives_once() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["lisi"])).await;

    assert_eq!(app.notify_wait("user-added", &user("before")).await.status(), 200);
    emu.handle.expire_tokens();
    assert_eq!(app.notify_wait("user-added", &user("after-expiry")).await.status(), 200);
    emu.handle.revoke_tokens();
    assert_eq!(app.notify_wait("user-added", &user("after-revocation")).await.status(), 200);

    for name in ["before", "after-expiry", "after-revocation"] {
        assert_eq!(emu.received_containing("lisi", &format!("：{name}\n")), 1, "{name}");
    }
    assert_eq!(emu.handle.counters().gettoken, 3, "one token, then one per invalidation");
}

#[tokio::test]
async fn members_the_app_cannot_reach_are_reported_and_the_others_still_get_it() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["wangwu", "ghost"])).await;

    let response = app.notify_wait("user-added", &user("bob")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["invalid_users"], json!(["ghost"]));
    assert_eq!(emu.received_containing("wangwu", "bob"), 1);
}

#[tokio::test]
async fn no_reachable_member_is_a_permanent_failure_with_the_fix() {
    let emu = demo_emulator().await;
    let app = spawn_app(emu.relay_settings(&["ghost"])).await;

    let response = app.notify_wait("user-added", &user("carl")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], 81013);
    assert!(body["hint"].as_str().unwrap().contains("可见范围"));
    assert_eq!(emu.handle.counters().send, 1, "not retried");
}
