//! WeCom's wire conventions: errcode/errmsg bodies with hint and caller IP, JSON replies,
//! query parameters, bounded body reading, and the dropped-connection "response".

use actix_web::body::BodyStream;
use actix_web::http::StatusCode;
use actix_web::web::{Bytes, Payload};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use rand::Rng;
use serde_json::{Map, Value, json};

/// A WeCom error: the errcode, the text before `, hint:`, and extra top-level fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WeComError {
    pub code: i64,
    pub text: String,
    pub extra: Map<String, Value>,
}

impl WeComError {
    /// An error with the given text.
    pub(crate) fn new(code: i64, text: impl Into<String>) -> Self {
        WeComError { code, text: text.into(), extra: Map::new() }
    }

    /// An error with WeCom's usual text for the code.
    pub(crate) fn code(code: i64) -> Self {
        Self::new(code, default_text(code))
    }

    /// The "40058 invalid Request Parameter" family, naming the offending field first.
    pub(crate) fn param(what: impl std::fmt::Display) -> Self {
        Self::new(40058, format!("{what}. invalid Request Parameter"))
    }

    /// The HTTP 200 reply WeCom gives for this error.
    pub(crate) fn reply(&self, ip: &str) -> HttpResponse {
        let mut body = Map::new();
        body.insert("errcode".into(), json!(self.code));
        body.insert("errmsg".into(), json!(errmsg(&self.text, self.code, ip)));
        body.extend(self.extra.clone());
        ok_json(Value::Object(body))
    }
}

/// WeCom's usual errmsg text per errcode (the part before `, hint:`).
pub(crate) fn default_text(code: i64) -> &'static str {
    match code {
        -1 => "system busy",
        0 => "ok",
        40001 => "invalid credential",
        40004 => "invalid media type",
        40005 => "invalid file type",
        40006 => "invalid file size",
        40007 => "invalid media_id",
        40008 => "invalid message type",
        40009 => "invalid image size",
        40013 => "invalid corpid",
        40014 => "invalid access_token",
        40056 => "invalid agentid",
        60011 => "no privilege to access/modify contact/party/agent",
        60111 => "userid not found",
        40058 => "invalid Request Parameter",
        40074 => "news message not support safe",
        41001 => "access_token missing",
        41002 => "corpid missing",
        41004 => "corpsecret missing",
        41005 => "media data missing",
        41006 => "media_id missing",
        41009 => "missing userid",
        41011 => "agentid missing",
        41016 => "title missing",
        41033 => "description missing",
        42001 => "access_token expired",
        42052 => "msgid exceed recall time limit",
        44001 => "empty media data",
        44004 => "empty content",
        45001 => "media size out of limit",
        45002 => "content size out of limit",
        45008 => "article size out of limit",
        45009 => "api freq out of limit",
        45032 => "author size out of limit",
        45034 => "url lacks protocol",
        48002 => "api forbidden",
        60020 => "not allow to access from your ip",
        81013 => "user & party & tag all invalid",
        82001 => "All touser & toparty & totag invalid",
        93000 => "invalid webhook url",
        301002 => "not allow operate another agent with this accesstoken",
        _ => "emulated error",
    }
}

/// `"<text>, hint: [<25 digits>], from ip: <ip>, more info at …?e=<code>"`, today's shape.
pub(crate) fn errmsg(text: &str, code: i64, ip: &str) -> String {
    format!(
        "{text}, hint: [{}], from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}",
        hint()
    )
}

/// A 25-digit hint id like today's: 10 digits of unix time, then 15 random digits.
fn hint() -> String {
    let secs = time::OffsetDateTime::now_utc().unix_timestamp().clamp(0, 9_999_999_999);
    let mut rng = rand::thread_rng();
    let tail: String = (0..15).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect();
    format!("{secs:010}{tail}")
}

/// HTTP 200 with a JSON body.
pub(crate) fn ok_json(body: Value) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json; charset=UTF-8").body(body.to_string())
}

/// A reply the client sees as a dropped connection: the body stream fails before anything
/// is flushed, and actix-http then closes the socket without writing the buffered head.
pub(crate) fn dropped_connection() -> HttpResponse {
    let fail = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("emulated dropped connection"))
    });
    HttpResponse::Ok().body(BodyStream::new(fail))
}

/// A bare status with an empty body (404 for unknown paths, injected HTTP faults).
pub(crate) fn status_only(code: u16) -> HttpResponse {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).finish()
}

/// The caller's IP as WeCom echoes it after `from ip:`.
pub(crate) fn caller_ip(req: &HttpRequest) -> String {
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "0.0.0.0".into())
}

/// One query parameter, percent-decoded. An empty value counts as missing, as on WeCom.
pub(crate) fn query(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The request body, or `None` once it passes `limit` bytes.
pub(crate) async fn read_body(mut payload: Payload, limit: usize) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if buf.len() + chunk.len() > limit {
            return None;
        }
        buf.extend_from_slice(&chunk);
    }
    Some(buf)
}

/// Parses a JSON object body; anything else gets WeCom's "wrong json format" answer.
/// The errcode for bad JSON is UNCONFIRMED; 40058 (invalid parameter) is the closest documented one.
pub(crate) fn parse_json_object(body: &[u8]) -> Result<Map<String, Value>, WeComError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(WeComError::new(40058, "Warning: wrong json format. invalid Request Parameter")),
    }
}

/// An integer given as a JSON number or a numeric string (some clients send `"agentid":"1000002"`).
pub(crate) fn int_field(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
