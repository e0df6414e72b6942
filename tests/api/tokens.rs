//! The access_token: fetched once for many sends, refreshed when WeCom revokes or expires it,
//! never looped on when WeCom refuses the secret.

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn fifty_concurrent_notifications_cause_exactly_one_gettoken() {
    let wecom = wecom_accepting_sends().await;
    let mut s = settings(&wecom.uri());
    // All fifty go to "@all"; this test is about tokens, not the per-member limit.
    s.limits.per_member_per_minute = 1000;
    let app = spawn_app(s).await;

    let posts = (0..50).map(|i| {
        let app = &app;
        async move {
            let response = app.notify("user-added", &user(&format!("user{i}"))).await;
            assert_eq!(response.status(), 202);
            response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
        }
    });
    let ids = futures_util::future::join_all(posts).await;
    for id in &ids {
        assert_eq!(app.final_status(id).await["status"], "sent");
    }
    assert_eq!(gettoken_calls(&wecom).await, 1);
    assert_eq!(sends(&wecom).await.len(), 50);
}

async fn refreshed_and_delivered_once(code: i64, errmsg: &str) {
    let wecom = wecom_refusing_first_token(code, errmsg).await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("lena")).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let requests = wecom.received_requests().await.unwrap();
    let accepted: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/cgi-bin/message/send" && r.url.query().unwrap_or("").contains("tok-2"))
        .collect();
    assert_eq!(accepted.len(), 1, "delivered exactly once, with the fresh token");
    assert_eq!(gettoken_calls(&wecom).await, 2);

    // Later sends keep using the fresh token: no further gettoken.
    assert_eq!(app.notify_wait("user-added", &user("mike")).await.status(), 200);
    assert_eq!(gettoken_calls(&wecom).await, 2);
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_and_the_message_arrives_once() {
    refreshed_and_delivered_once(40014, "invalid access_token").await;
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_message_arrives_once() {
    refreshed_and_delivered_once(
        42001,
        "access_token expired, more info at https://open.work.weixin.qq.com/devtool/query?e=42001",
    )
    .await;
}

#[tokio::test]
async fn a_refused_secret_fails_with_the_fix_and_gettoken_is_not_hammered() {
    let wecom = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/gettoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "errcode": 40001, "errmsg": "invalid credential, hint: [1754461450424274146823225], from ip: 1.2.3.4"
        })))
        .mount(&wecom)
        .await;
    let app = spawn_app(settings(&wecom.uri())).await;

    let response = app.notify_wait("user-added", &user("nina")).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errcode"], 40001);
    assert!(body["hint"].as_str().unwrap().contains("wecom.secret"), "{body}");
    for i in 0..5 {
        let again = app.notify_wait("user-added", &user(&format!("n{i}"))).await;
        assert_eq!(again.status(), 502);
    }
    assert_eq!(gettoken_calls(&wecom).await, 1, "a refused secret is not asked again at once");
    assert!(sends(&wecom).await.is_empty());
}
