//! The system under test: the WeCom emulator (demo corp) and the real relay pointed at it,
//! both on port 0.

use std::net::TcpListener;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use wecom_relay::config::{QueueBackend, Settings};
use wecom_relay::emulator::{Emulator, EmulatorConfig};
use wecom_relay::startup::Application;

const AUTH: &str = "browser-test-token-0123456789";

pub struct Stack {
    /// The emulator's base URL; its inbox page is at `/`.
    pub emulator: String,
    relay: String,
    http: reqwest::Client,
}

impl Stack {
    pub async fn start() -> Stack {
        let config = EmulatorConfig::demo();
        let app = config.apps.first().expect("the demo corp has an app").clone();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let emulator = Emulator::build(config.clone(), listener).expect("emulator builds");
        let emulator_url = emulator.base_url();
        tokio::spawn(emulator.run());

        let mut s = Settings::default();
        s.server.listen = "127.0.0.1:0".parse().expect("static address");
        s.server.auth_tokens = vec![SecretString::from(AUTH)];
        s.server.workers = 1;
        s.wecom.api_base = emulator_url.parse().expect("emulator URL parses");
        s.wecom.corp_id = config.corp_id.clone();
        s.wecom.agent_id = app.agent_id;
        s.wecom.secret = Some(SecretString::from(app.secret));
        s.wecom.request_timeout = Duration::from_secs(5);
        s.templates.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates").into();
        s.queue.backend = QueueBackend::Memory;
        let relay = Application::build(s).await.expect("relay builds");
        let relay_url = format!("http://127.0.0.1:{}", relay.port());
        tokio::spawn(relay.run_until_stopped());

        Stack { emulator: emulator_url, relay: relay_url, http: reqwest::Client::new() }
    }

    /// `POST /notify/{event}` with a JSON body; the relay must accept it (202).
    pub async fn notify_json(&self, event: &str, body: &Value) {
        let req = self.http.post(format!("{}/notify/{event}", self.relay)).json(body);
        Self::accepted(req).await;
    }

    /// `POST /notify/{event}` with a `text/plain` body, as `curl -d 'disk full'` would.
    pub async fn notify_text(&self, event: &str, body: &str) {
        let req = self
            .http
            .post(format!("{}/notify/{event}", self.relay))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.to_owned());
        Self::accepted(req).await;
    }

    async fn accepted(req: reqwest::RequestBuilder) {
        let resp = req.bearer_auth(AUTH).send().await.expect("relay answers");
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 202, "the relay refused the notification: {body}");
    }
}
