//! Group robots (群机器人, DOC 91770): `webhook/send?key=KEY`, no access_token. Errors come in
//! HTTP 200 bodies like the app API's and are errors all the same (93000: the key is invalid or
//! the robot was removed). The key is a secret: it never reaches a log line or an error.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::WeComError;
use super::body::{Body, MsgType, fit};
use super::client::WeComClient;
use super::media::form;

const MB: usize = 1024 * 1024;

/// Which msgtypes a robot takes; textcard and interaction cards are app-only.
pub fn robot_accepts(body: &Body) -> Result<(), String> {
    match body {
        Body::Textcard { .. } => {
            Err("group robots cannot send textcard: use markdown, news or template_card".into())
        }
        Body::TemplateCard { card } => {
            let kind = card.get("card_type").and_then(Value::as_str).unwrap_or_default();
            if matches!(kind, "text_notice" | "news_notice") {
                Ok(())
            } else {
                Err(format!("group robots take only text_notice and news_notice cards, not {kind}"))
            }
        }
        _ => Ok(()),
    }
}

impl WeComClient {
    /// Sends `body` to the group of the robot with `key`; `mentioned` are member ids (or
    /// `@all`) to @-mention in a text message.
    pub async fn send_robot(
        &self,
        key: &SecretString,
        body: &Body,
        mentioned: &[String],
    ) -> Result<(), WeComError> {
        let key_text = key.expose_secret();
        let msgtype = body.msgtype();
        let payload = match body {
            // Robot text is limited to 2048 bytes like app text; robot markdown to 4096 (40058).
            Body::Text { content } => json!({ "content": content, "mentioned_list": mentioned }),
            Body::Markdown { content } => json!({ "content": fit(content, 4096, "…") }),
            Body::Image { source } => {
                let loaded = self.load(source, MsgType::Image, 2 * MB).await?;
                use base64::Engine;
                json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&loaded.bytes), "md5": loaded.md5 })
            }
            Body::File { source } => {
                let loaded = self.load(source, MsgType::File, 20 * MB).await?;
                let request = self
                    .http
                    .post(self.url("cgi-bin/webhook/upload_media"))
                    .query(&[("key", key_text), ("type", "file")])
                    .multipart(form(loaded));
                json!({ "media_id": self.upload("webhook/upload_media", request, Some(key_text)).await? })
            }
            other => other.app_json(None),
        };
        let request = self
            .http
            .post(self.url("cgi-bin/webhook/send"))
            .query(&[("key", key_text)])
            .json(&json!({ "msgtype": msgtype.as_str(), msgtype.as_str(): payload }));
        let _: Value = self.call("webhook/send", request, Some(key_text)).await?;
        Ok(())
    }
}
