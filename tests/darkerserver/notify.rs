//! What the WeCom member receives when darkerserver adds a user, and what it does not.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_reaches_the_configured_member_with_their_details() {
    let stack = spawn_stack().await;
    let darker = Darker::start(stack.notify_env()).await;

    let alice = json!({
        "username": "alice",
        "display_name": "Alice Wang",
        "email": "alice@example.com",
        "phone": "+86 138 0000 1111",
        "department": "研发部",
    });
    let answer = darker.add_user(&alice).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["output"]["success"], true, "{:?}", answer.json());

    let message = wait_for_message(&stack.emulator, MEMBER, "新用户已加入：alice", DEADLINE).await;
    assert_eq!(message.msgtype, "text");
    assert!(message.content.starts_with("新用户已加入：alice\n"), "{}", message.content);
    for detail in
        ["姓名：Alice Wang", "邮箱：alice@example.com", "电话：+86 138 0000 1111", "部门：研发部", "时间："]
    {
        assert!(message.content.contains(detail), "{detail:?} missing from {:?}", message.content);
    }
    assert_eq!(contents(&stack.emulator, MEMBER).len(), 1, "one user, one message");
    assert!(contents(&stack.emulator, BYSTANDER).is_empty(), "only the configured member is told");

    let log = darker.wait_for_log("'alice' accepted by the relay").await;
    assert!(!log.contains(TOKEN), "the relay token leaked into darkerserver's log:\n{log}");
}

/// Nothing is sent for a user `add_users` refused (a duplicate) or a request darkerserver
/// rejected (400). Absence is shown by a positive marker: a good user added after them is the
/// only other message that arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_rejected_users_send_nothing() {
    let stack = spawn_stack().await;
    // carol was added before this run: the relay has never seen her, so a notification for her
    // duplicate would not be absorbed by its Idempotency-Key check, and would show.
    let carol = json!({"username": "carol", "created_at": "2024-01-01T00:00:00+00:00"});
    let darker = Darker::start_with_users(stack.notify_env(), &[carol]).await;

    assert_eq!(darker.add_user(&user("alice")).await.json()["output"]["success"], true);
    wait_for_message(&stack.emulator, MEMBER, "新用户已加入：alice", DEADLINE).await;

    for duplicate in [user("alice"), user("carol")] {
        let answer = darker.add_user(&duplicate).await;
        assert_eq!(answer.status, 200);
        let output = &answer.json()["output"];
        assert_eq!(output["success"], false, "{output}");
        assert!(output["message"].as_str().unwrap().contains("already exists"), "{output}");
    }
    let rejected = [
        json!({"user": {"username": "dave", "email": "not an email"}}),
        json!({"user": {"username": "dave", "role": "admin"}}),
        json!({"user": {"display_name": "no username"}}),
        json!({"username": "dave"}),
    ];
    for body in &rejected {
        let answer = darker.post(body).await;
        assert_eq!(answer.status, 400, "{body} → {:?}", answer.json());
    }

    assert_eq!(darker.add_user(&user("erin")).await.json()["output"]["success"], true);
    wait_for_message(&stack.emulator, MEMBER, "新用户已加入：erin", DEADLINE).await;
    let first_lines: Vec<String> = contents(&stack.emulator, MEMBER)
        .iter()
        .map(|content| content.lines().next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(first_lines, ["新用户已加入：alice", "新用户已加入：erin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_newlines_chinese_and_emoji_arrive_intact() {
    let stack = spawn_stack().await;
    let darker = Darker::start(stack.notify_env()).await;
    let username = "王小明\"🚀'";
    let display_name = "Bob \"the builder\" O'Neil \\ 🙂";
    let email = "bob.o'neil@例子.中国";
    let department = "研发部\t平台组 🌟";
    let title = "Lead\nEngineer\r\n\"第二行\" 🎉";
    let weird = json!({
        "username": username,
        "display_name": display_name,
        "email": email,
        "department": department,
        "title": title,
    });

    let answer = darker.add_user(&weird).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["output"]["user"], weird, "darkerserver echoes what it stored");

    let message =
        wait_for_message(&stack.emulator, MEMBER, &format!("新用户已加入：{username}"), DEADLINE).await;
    // The template's lines, in order, with every value exactly as posted; then the time.
    let expected = format!(
        "新用户已加入：{username}\n姓名：{display_name}\n邮箱：{email}\n部门：{department}\ntitle：{title}\n时间："
    );
    assert!(
        message.content.starts_with(&expected),
        "the member saw:\n{:?}\nexpected it to start with:\n{expected:?}",
        message.content
    );
    assert!(!message.truncated);
}
