//! Retryable WeCom failures are retried and delivered once; permanent ones fail at once with the
//! operator's hint.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

async fn mount_once_then_ok(wecom: &wiremock::MockServer, first: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(wecom)
        .await;
    Mock::given(method("POST")).and(path("/cgi-bin/message/send")).respond_with(send_ok()).mount(wecom).await;
}

#[tokio::test]
async fn system_busy_is_retried_and_delivered_once() {
    let wecom = fake_wecom().await;
    mount_once_then_ok(&wecom, errcode(-1, "system busy")).await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("erin")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let view = app.final_status(body["id"].as_str().unwrap()).await;
    assert_eq!(view["attempts"], 2);
    let sent = sends(&wecom).await;
    assert_eq!(sent.len(), 2, "one refused, one delivered");
    assert_eq!(sent[0], sent[1], "the retry sends the same message");
}

#[tokio::test]
async fn http_502_is_retried_and_delivered_once() {
    let wecom = fake_wecom().await;
    mount_once_then_ok(&wecom, ResponseTemplate::new(502)).await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("frank")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(sends(&wecom).await.len(), 2);
}

#[tokio::test]
async fn a_timeout_is_resent_identically_with_duplicate_suppression() {
    let wecom = fake_wecom().await;
    let slow = send_ok().set_delay(std::time::Duration::from_secs(3));
    mount_once_then_ok(&wecom, slow).await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("gina")).await;
    assert_eq!(response.status(), 200);
    let sent = sends(&wecom).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "WeCom drops only an identical request");
    assert_eq!(
        sent[1]["enable_duplicate_check"], 1,
        "the resend after a timeout must ask WeCom to drop a duplicate"
    );
    assert!(sent[1]["duplicate_check_interval"].as_u64().unwrap() <= 14400);
}

#[tokio::test]
async fn retries_are_bounded_and_end_dead_with_the_last_error() {
    let wecom = fake_wecom().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(errcode(45009, "api freq out of limit"))
        .mount(&wecom)
        .await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let body: Value = app.notify("user-added", &user("hank")).await.json().await.unwrap();
    let view = app.final_status(body["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "dead");
    assert_eq!(view["attempts"], 4);
    assert_eq!(view["last_error"]["errcode"], 45009);
    assert_eq!(sends(&wecom).await.len(), 4);
}

#[tokio::test]
async fn untrusted_ip_fails_at_once_naming_the_ip_to_add() {
    let wecom = fake_wecom().await;
    let errmsg = "not allow to access from your ip, hint: [1658286717354964018506079], from ip: 115.227.127.185, more info at https://open.work.weixin.qq.com/devtool/query?e=60020";
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(errcode(60020, errmsg))
        .mount(&wecom)
        .await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("ivy")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], 60020);
    assert_eq!(body["errmsg"], errmsg);
    let hint = body["hint"].as_str().unwrap();
    assert!(hint.contains("add 115.227.127.185") && hint.contains("企业可信IP"), "{hint}");
    assert_eq!(sends(&wecom).await.len(), 1, "60020 is not retried");
    let view = app.final_status(body["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "failed");
}

#[tokio::test]
async fn no_valid_recipient_fails_at_once_with_its_hint() {
    let wecom = fake_wecom().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(errcode(81013, "user & party & tag all invalid"))
        .mount(&wecom)
        .await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("jack")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], 81013);
    assert!(body["hint"].as_str().unwrap().contains("可见范围"), "{body}");
    assert_eq!(sends(&wecom).await.len(), 1, "81013 is not retried");
}

#[tokio::test]
async fn wait_answers_504_when_wecom_is_slower_than_wait_timeout_and_delivery_goes_on() {
    let wecom = fake_wecom().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(send_ok().set_delay(std::time::Duration::from_millis(800)))
        .mount(&wecom)
        .await;
    let mut s = settings(&wecom.uri());
    s.server.wait_timeout = std::time::Duration::from_millis(200);
    let app = spawn_app(s).await;

    let response = app.notify_wait("user-added", &user("kate")).await;
    assert_eq!(response.status(), 504);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("keeps trying"));
    let view = app.final_status(body["id"].as_str().unwrap()).await;
    assert_eq!(view["status"], "sent");
}
