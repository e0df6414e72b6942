//! What reaches the member for `user-added` and `alert`.

use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::helpers::*;

#[tokio::test]
async fn the_new_users_name_and_details_reach_the_configured_member() {
    let wecom = wecom_accepting_sends().await;
    let mut s = settings(&wecom.uri());
    s.events.get_mut("user-added").unwrap().to_user = vec!["zhangsan".into(), "lisi".into()];
    let app = spawn_app(s).await;

    let body = json!({"user": {"username": "alice", "display_name": "Alice Liu", "email": "alice@example.com",
                               "phone": "13800001111", "password": "hunter2", "team": "growth"}});
    let response = app.notify("user-added", &body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "queued");
    let view = app.final_status(accepted["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "sent", "{view}");
    assert_eq!(view["msgid"], "msg-1");

    let sent = sends(&wecom).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["touser"], "zhangsan|lisi");
    assert_eq!(sent[0]["agentid"], AGENT_ID);
    assert_eq!(sent[0]["msgtype"], "text");
    let content = sent[0]["text"]["content"].as_str().unwrap();
    assert!(content.starts_with("新用户已加入：alice\n"), "{content}");
    for detail in ["Alice Liu", "alice@example.com", "13800001111", "team：growth", "时间："] {
        assert!(content.contains(detail), "{detail} missing from {content}");
    }
    assert!(!content.contains("hunter2"), "a password field must never be shown: {content}");
}

#[tokio::test]
async fn quotes_newlines_backticks_and_html_arrive_intact() {
    let wecom = wecom_accepting_sends().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let name = "o'brien \"the\" `dev`\n<b>bold</b> & <script>alert(1)</script> **md** {{ x }}";

    let response = app.notify_wait("user-added", &user(name)).await;
    assert_eq!(response.status(), 200);

    let sent = sends(&wecom).await;
    let content = sent[0]["text"]["content"].as_str().unwrap();
    assert!(content.contains(name), "{content:?} lacks {name:?}");
}

#[tokio::test]
async fn a_12_kb_field_is_cut_to_wecoms_byte_limit_with_a_visible_marker() {
    let wecom = wecom_accepting_sends().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let long = "长".repeat(4096); // 12 KiB of three-byte characters

    let response = app.notify_wait("user-added", &json!({"user": {"username": "bob", "bio": long}})).await;
    assert_eq!(response.status(), 200);

    let content = sends(&wecom).await[0]["text"]["content"].as_str().unwrap().to_owned();
    assert!(content.len() <= 2048, "{} bytes", content.len());
    assert!(content.len() > 1900, "cut far too early: {} bytes", content.len());
    assert!(content.starts_with("新用户已加入：bob"));
    assert!(content.ends_with("（内容过长，已截断）"), "no marker: …{}", &content[content.len() - 40..]);
}

#[tokio::test]
async fn a_manual_alert_takes_plain_text_or_json_with_its_own_recipients() {
    let wecom = wecom_accepting_sends().await;
    let app = spawn_app(settings(&wecom.uri())).await;

    // What `curl -d 'disk full' ...` sends.
    let response = app
        .post_raw("/notify/alert?wait=true", "application/x-www-form-urlencoded", "disk /var is 97% full")
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .notify_wait(
            "alert",
            &json!({"content": "**db** down", "msgtype": "markdown", "to_user": ["ops1"], "to_tag": ["3"]}),
        )
        .await;
    assert_eq!(response.status(), 200);

    let sent = sends(&wecom).await;
    assert_eq!(sent[0]["text"]["content"], "【告警】disk /var is 97% full");
    assert_eq!(sent[0]["touser"], "@all");
    assert_eq!(sent[1]["msgtype"], "markdown");
    assert_eq!(sent[1]["markdown"]["content"], "【告警】**db** down");
    assert_eq!((sent[1]["touser"].as_str(), sent[1]["totag"].as_str()), (Some("ops1"), Some("3")));
}

#[tokio::test]
async fn invalid_recipients_are_reported_not_hidden() {
    let wecom = fake_wecom().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "errmsg": "ok", "invaliduser": "ghost|nobody", "msgid": "m-9"
        })))
        .mount(&wecom)
        .await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("carol")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "sent");
    assert_eq!(body["invalid_users"], json!(["ghost", "nobody"]));
    let view = app.final_status(body["id"].as_str().unwrap()).await;
    assert_eq!(view["invalid_users"], json!(["ghost", "nobody"]));
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_id_and_sends_once() {
    let wecom = wecom_accepting_sends().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let post = || {
        app.http
            .post(format!("{}/notify/user-added", app.address))
            .bearer_auth(AUTH)
            .header("Idempotency-Key", "user-added:dave")
            .json(&user("dave"))
            .send()
    };

    let first: Value = post().await.unwrap().json().await.unwrap();
    let second: Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["duplicate"], true);
    app.final_status(first["id"].as_str().unwrap()).await;
    assert_eq!(sends(&wecom).await.len(), 1);
}

#[tokio::test]
async fn more_than_1000_members_are_split_across_sends() {
    let wecom = wecom_accepting_sends().await;
    let mut s = settings(&wecom.uri());
    // This test is about WeCom's list limit, not the per-member limit.
    s.limits.per_member_per_minute = 1_000_000;
    s.events.get_mut("user-added").unwrap().to_user = (0..1500).map(|i| format!("m{i}")).collect();
    let app = spawn_app(s).await;

    let response = app.notify_wait("user-added", &user("zoe")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["targets"].as_array().unwrap().len(), 2);
    let sent = sends(&wecom).await;
    let mut sizes: Vec<usize> =
        sent.iter().map(|s| s["touser"].as_str().unwrap().split('|').count()).collect();
    sizes.sort();
    assert_eq!(sizes, [500, 1000]);
    let everyone: std::collections::BTreeSet<&str> =
        sent.iter().flat_map(|s| s["touser"].as_str().unwrap().split('|')).collect();
    assert_eq!(everyone.len(), 1500, "every member exactly once");
}
