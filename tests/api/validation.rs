//! Every 4xx of the contract, each with a message that says what is wrong; nothing reaches WeCom.

use serde_json::{Value, json};

use crate::helpers::*;

async fn error_of(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("errors are JSON");
    body["error"].as_str().expect("an error message").to_owned()
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_reason_and_nothing_is_sent() {
    let wecom = fake_wecom().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let url = format!("{}/notify/user-added", app.address);
    let raw = |body: &'static str| {
        app.http.post(&url).bearer_auth(AUTH).header("Content-Type", "application/json").body(body).send()
    };

    let e = error_of(raw("{\"user\": {").await.unwrap(), 400).await;
    assert!(e.contains("not valid JSON"), "{e}");
    let e = error_of(raw("[1, 2]").await.unwrap(), 400).await;
    assert!(e.contains("JSON object"), "{e}");
    let e = error_of(app.notify("user-added", &json!({"name": "x"})).await, 400).await;
    assert!(e.contains("`user.username` is required"), "{e}");
    let e = error_of(app.notify("user-added", &json!({"user": "alice"})).await, 400).await;
    assert!(e.contains("`user` must be a JSON object"), "{e}");
    let e = error_of(app.notify("user-added", &json!({"user": {"username": 42}})).await, 400).await;
    assert!(e.contains("`user.username` must be a string, got a number"), "{e}");
    let e = error_of(app.notify("user-added", &json!({"user": {"username": "  "}})).await, 400).await;
    assert!(e.contains("empty"), "{e}");
    let e = error_of(app.notify("alert", &json!({"content": "x", "to_user": ["a|b"]})).await, 400).await;
    assert!(e.contains("to_user"), "{e}");
    let e = error_of(app.post("/notify/user-added?wait=soon", &user("a")).await, 400).await;
    assert!(e.contains("wait=true"), "{e}");

    assert!(sends(&wecom).await.is_empty());
}

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_before_anything_else() {
    let wecom = fake_wecom().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let url = format!("{}/notify/no-such-event", app.address);

    let response = app.http.post(&url).json(&user("a")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let e = error_of(response, 401).await;
    assert!(e.contains("Authorization: Bearer"), "{e}");
    let response =
        app.http.post(&url).bearer_auth("test-token-0123456789abcdeX").json(&user("a")).send().await.unwrap();
    let e = error_of(response, 401).await;
    assert!(e.contains("wrong bearer token"), "{e}");
}

#[tokio::test]
async fn unknown_events_list_the_known_ones() {
    let wecom = fake_wecom().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let e = error_of(app.notify("user-deleted", &user("a")).await, 404).await;
    assert!(e.contains("user-deleted") && e.contains("alert, user-added"), "{e}");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_and_non_json_gets_415() {
    let wecom = fake_wecom().await;
    let mut s = settings(&wecom.uri());
    s.server.max_body_bytes = 1024;
    let app = spawn_app(s).await;

    let big = json!({"user": {"username": "a", "bio": "x".repeat(2000)}});
    let e = error_of(app.notify("user-added", &big).await, 413).await;
    assert!(e.contains("max_body_bytes (1024 bytes)"), "{e}");

    let response = app.post_raw("/notify/user-added", "text/xml", "<user/>").await;
    let e = error_of(response, 415).await;
    assert!(e.contains("application/json"), "{e}");
    let response = app.post_raw("/notify/user-added", "text/plain", "alice").await;
    let e = error_of(response, 415).await;
    assert!(e.contains("only `alert` also takes text/plain"), "{e}");
    assert!(sends(&wecom).await.is_empty());
}

#[tokio::test]
async fn health_needs_no_token_and_unknown_routes_say_what_exists() {
    let wecom = fake_wecom().await;
    let app = spawn_app(settings(&wecom.uri())).await;
    let ok = app.http.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let e =
        error_of(app.http.get(format!("{}/notify/user-added", app.address)).send().await.unwrap(), 404).await;
    assert!(e.contains("POST /notify/{event}"), "{e}");
}
