//! Spawning an emulator on port 0 and talking WeCom to it.

use serde_json::{Value, json};
use std::net::TcpListener;
use wecom_relay::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

/// A running emulator, its handle and a client.
pub struct TestEmu {
    pub url: String,
    pub handle: EmulatorHandle,
    pub config: EmulatorConfig,
    pub client: reqwest::Client,
}

/// The demo corp on a fresh port.
pub async fn spawn() -> TestEmu {
    spawn_with(EmulatorConfig::demo()).await
}

/// A given corp on a fresh port. The listener is bound before the server task starts, so
/// requests simply wait in the backlog: no sleep is needed.
pub async fn spawn_with(config: EmulatorConfig) -> TestEmu {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let emu = Emulator::build(config.clone(), listener).expect("build emulator");
    let url = emu.base_url();
    let handle = emu.handle();
    tokio::spawn(emu.run());
    TestEmu { url, handle, config, client: reqwest::Client::new() }
}

/// The demo app's agent id.
pub const AGENT: i64 = 1000002;

impl TestEmu {
    pub fn secret(&self) -> String {
        self.config.apps[0].secret.clone()
    }

    pub fn robot_key(&self) -> String {
        self.config.robot_keys[0].clone()
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self.client.get(format!("{}{path}", self.url)).send().await.expect("GET");
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("JSON body")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn post_raw(&self, path: &str, body: String) -> Value {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status(), 200, "POST {path}");
        resp.json().await.expect("JSON body")
    }

    /// A token for the demo app (the first app).
    pub async fn token(&self) -> String {
        self.token_for(&self.secret()).await
    }

    pub async fn token_for(&self, secret: &str) -> String {
        let v =
            self.get(&format!("/cgi-bin/gettoken?corpid={}&corpsecret={secret}", self.config.corp_id)).await;
        assert_eq!(v["errcode"], 0, "{v}");
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// `message/send` with a fresh-or-cached token.
    pub async fn send(&self, body: Value) -> Value {
        let token = self.token().await;
        self.post(&format!("/cgi-bin/message/send?access_token={token}"), &body).await
    }

    /// A control-API POST expecting `{"ok":true}`.
    pub async fn control(&self, path: &str, body: Value) {
        let v = self.post(&format!("/_emulator/{path}"), &body).await;
        assert_eq!(v["ok"], true, "{path}: {v}");
    }
}

/// A text message from the demo app.
pub fn text(to: &str, content: &str) -> Value {
    json!({"touser": to, "msgtype": "text", "agentid": AGENT, "text": {"content": content}})
}

/// Asserts today's errmsg shape: `<text>, hint: [<25 digits>], from ip: <ip>, more info at …?e=<code>`.
pub fn assert_errmsg(v: &Value, code: i64, text: &str) {
    assert_eq!(v["errcode"], code, "{v}");
    let msg = v["errmsg"].as_str().expect("errmsg");
    let prefix = format!("{text}, hint: [");
    assert!(msg.starts_with(&prefix), "{msg:?} should start with {prefix:?}");
    let hint = &msg[prefix.len()..prefix.len() + 25];
    assert!(hint.chars().all(|c| c.is_ascii_digit()), "hint {hint:?}");
    let tail =
        format!("], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e={code}");
    assert_eq!(&msg[prefix.len() + 25..], tail);
}

/// A tiny file that passes the PNG magic-byte check.
pub fn png() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    v.extend_from_slice(&[0u8; 32]);
    v
}

impl TestEmu {
    /// `media/upload` (or the robot's `webhook/upload_media` when `path` says so) of one file.
    pub async fn upload_to(&self, path: &str, data: Vec<u8>, filename: &str) -> Value {
        let part = reqwest::multipart::Part::bytes(data).file_name(filename.to_owned());
        let form = reqwest::multipart::Form::new().part("media", part);
        let resp =
            self.client.post(format!("{}{path}", self.url)).multipart(form).send().await.expect("upload");
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("JSON body")
    }

    /// `media/upload?type=kind` with the demo app's token.
    pub async fn upload(&self, kind: &str, data: Vec<u8>, filename: &str) -> Value {
        let token = self.token().await;
        self.upload_to(&format!("/cgi-bin/media/upload?access_token={token}&type={kind}"), data, filename)
            .await
    }
}
