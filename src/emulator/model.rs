//! Public records and knobs: what a member or robot received, counters, and injectable faults.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// One app message as one member received it (or did not: see `reason`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Received {
    /// The msgid returned by `message/send` (shared by all recipients of one send).
    pub msgid: String,
    /// The sending app.
    pub agentid: i64,
    /// `text`, `markdown`, `textcard`, `news`, `template_card`, ...
    pub msgtype: String,
    /// The text/markdown content as delivered, or a readable rendering for cards and media.
    pub content: String,
    /// The msgtype object exactly as received in the request.
    pub body: serde_json::Value,
    /// The msgtype object as the member sees it (after WeCom's truncation).
    pub shown: serde_json::Value,
    /// Some field was cut to WeCom's byte/char limit.
    pub truncated: bool,
    /// When the emulator handled it (emulated clock).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// For dropped messages: why (rate rule or duplicate check).
    pub reason: Option<String>,
    /// Recalled through `message/recall`.
    pub recalled: bool,
    /// The single-use response_code of interaction cards.
    pub response_code: Option<String>,
}

/// One group-robot message as the group received it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RobotReceived {
    /// The webhook key it was sent to.
    pub key: String,
    /// `text`, `markdown`, `markdown_v2`, `image`, `news`, `file`, `voice`, `template_card`.
    pub msgtype: String,
    /// The content, or a readable rendering.
    pub content: String,
    /// The msgtype object as received.
    pub body: serde_json::Value,
    /// `text.mentioned_list` (userids, or `@all`).
    pub mentioned_list: Vec<String>,
    /// `text.mentioned_mobile_list`.
    pub mentioned_mobile_list: Vec<String>,
    /// When the emulator handled it (emulated clock).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Call and outcome counts since start or the last reset.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    /// `gettoken` calls (every call that reached the emulator, faulted ones included).
    pub gettoken: u64,
    /// `message/send` calls.
    pub send: u64,
    /// `agent/get` calls.
    pub agent_get: u64,
    /// `user/get` calls.
    pub user_get: u64,
    /// `media/upload` calls.
    pub media_upload: u64,
    /// `message/recall` calls.
    pub recall: u64,
    /// `webhook/send` calls.
    pub webhook: u64,
    /// `webhook/upload_media` calls.
    pub webhook_upload: u64,
    /// Member messages delivered (one per recipient).
    pub delivered: u64,
    /// Member messages silently dropped by the per-member rate rule.
    pub dropped: u64,
    /// Member messages suppressed by `enable_duplicate_check`.
    pub duplicates: u64,
    /// Tokens issued by `gettoken` (a repeat within validity returns the same one).
    pub tokens_issued: u64,
}

/// A WeCom endpoint, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /cgi-bin/gettoken`
    #[serde(rename = "gettoken")]
    GetToken,
    /// `POST /cgi-bin/message/send`
    MessageSend,
    /// `GET /cgi-bin/agent/get`
    AgentGet,
    /// `GET /cgi-bin/user/get`
    UserGet,
    /// `POST /cgi-bin/media/upload`
    MediaUpload,
    /// `POST /cgi-bin/message/recall`
    Recall,
    /// `POST /cgi-bin/webhook/send`
    Webhook,
    /// `POST /cgi-bin/webhook/upload_media`
    WebhookUpload,
}

/// What a fault does to a call.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer HTTP 200 with this errcode and a WeCom-shaped errmsg.
    Errcode(i64),
    /// Answer this HTTP status with an empty body.
    HttpStatus(u16),
    /// Wait this long, then handle the call normally.
    Delay(Duration),
    /// Close the connection without any response.
    DropConnection,
}

/// A fault applied to the next `times` calls of `endpoint` (any WeCom endpoint when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Which endpoint it hits; `None` = the next calls to any WeCom endpoint.
    pub endpoint: Option<Endpoint>,
    /// What it does.
    pub kind: FaultKind,
    /// How many calls it hits before it is used up.
    pub times: u32,
}
