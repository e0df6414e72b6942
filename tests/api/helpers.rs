//! Spawning the real relay on port 0 against a fake WeCom (wiremock), and small request helpers.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use wecom_relay::config::Settings;
use wecom_relay::startup::Application;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const AUTH: &str = "test-token-0123456789abcdef";
pub const CORP_ID: &str = "wwtestcorp";
pub const SECRET: &str = "corp-secret-DO-NOT-LEAK-42";
pub const AGENT_ID: i64 = 1000002;

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    /// Holds the queue file for as long as the app lives.
    _queue_dir: Option<tempfile::TempDir>,
}

/// Settings for a relay that talks to `api_base`, retrying fast so tests finish quickly.
pub fn settings(api_base: &str) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".parse().unwrap();
    s.server.auth_tokens = vec![SecretString::from(AUTH)];
    s.server.workers = 1;
    s.server.wait_timeout = Duration::from_secs(5);
    s.wecom.api_base = api_base.parse().unwrap();
    s.wecom.corp_id = CORP_ID.into();
    s.wecom.agent_id = AGENT_ID;
    s.wecom.secret = Some(SecretString::from(SECRET));
    s.wecom.request_timeout = Duration::from_millis(1500);
    s.templates.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates").into();
    s.delivery.retry_schedule = vec![Duration::from_millis(20), Duration::from_millis(50)];
    s.delivery.jitter = 0.0;
    s.delivery.max_attempts = 4;
    s.limits.digest_delay = Duration::from_millis(100);
    s
}

/// Runs the relay with its durable queue in a fresh temporary folder.
pub async fn spawn_app(mut settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    settings.queue.path = dir.path().join("queue.sqlite");
    let app = Application::build(settings).await.expect("relay builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp { address, http: reqwest::Client::new(), _queue_dir: Some(dir) }
}

impl TestApp {
    pub async fn notify(&self, event: &str, body: &Value) -> reqwest::Response {
        self.post(&format!("/notify/{event}"), body).await
    }

    pub async fn notify_wait(&self, event: &str, body: &Value) -> reqwest::Response {
        self.post(&format!("/notify/{event}?wait=true"), body).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .bearer_auth(AUTH)
            .json(body)
            .send()
            .await
            .expect("relay answers")
    }

    /// POSTs `body` as it is, with the given Content-Type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &'static str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .bearer_auth(AUTH)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("relay answers")
    }

    /// Polls `GET /notifications/{id}` until `status` is terminal, with a deadline.
    pub async fn final_status(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let view = get_json(&self.address, &format!("/notifications/{id}")).await;
            if matches!(view["status"].as_str(), Some("sent" | "failed" | "dead")) {
                return view;
            }
            assert!(tokio::time::Instant::now() < deadline, "notification {id} never finished: {view}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn user(username: &str) -> Value {
    json!({ "user": { "username": username } })
}

/// A wiremock WeCom with a working `gettoken` that hands out `tok-1`, `tok-2`, ... in turn.
pub async fn fake_wecom() -> MockServer {
    let server = MockServer::start().await;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    Mock::given(method("GET"))
        .and(path("/cgi-bin/gettoken"))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            // A little latency so that concurrent sends really overlap the fetch.
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 0, "errmsg": "ok", "access_token": format!("tok-{n}"), "expires_in": 7200}))
                .set_delay(Duration::from_millis(100))
        })
        .mount(&server)
        .await;
    server
}

/// A fake WeCom whose `message/send` accepts everything.
pub async fn wecom_accepting_sends() -> MockServer {
    let server = fake_wecom().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(send_ok())
        .mount(&server)
        .await;
    server
}

/// Polls `GET {base}/healthz` until the relay answers, with a deadline.
pub async fn wait_until_serving(base: &str, log: impl Fn() -> String) {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "the relay did not start: {}", log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET {base}{path}` with the bearer token, as JSON.
pub async fn get_json(base: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(AUTH)
        .send()
        .await
        .expect("relay answers");
    response.json().await.expect("a JSON answer")
}

/// WeCom refuses `tok-1` with `code` (as it does for a token revoked or expired early) and accepts
/// any later token.
pub async fn wecom_refusing_first_token(code: i64, errmsg: &str) -> MockServer {
    let wecom = fake_wecom().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .and(wiremock::matchers::query_param("access_token", "tok-1"))
        .respond_with(errcode(code, errmsg))
        .with_priority(1)
        .mount(&wecom)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/send"))
        .respond_with(send_ok())
        .mount(&wecom)
        .await;
    wecom
}

pub fn send_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "errcode": 0, "errmsg": "ok", "invaliduser": "", "invalidparty": "", "invalidtag": "", "msgid": "msg-1"
    }))
}

pub fn errcode(code: i64, errmsg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"errcode": code, "errmsg": errmsg}))
}

/// The `message/send` bodies WeCom received, in order.
pub async fn sends(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/cgi-bin/message/send")
        .map(|r| serde_json::from_slice(&r.body).expect("send body is JSON"))
        .collect()
}

pub async fn gettoken_calls(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/cgi-bin/gettoken")
        .count()
}
