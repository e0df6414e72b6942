//! `WeComError`: every way a WeCom call can fail, with its class and the operator's fix.

use super::errcode::{self, ErrorClass};

/// A failed WeCom call. Its text never contains the secret or an access_token: URLs are stripped
/// from transport errors and errmsg is redacted before it is stored here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WeComError {
    /// WeCom answered with a non-zero errcode (in an HTTP 200 body, as it does).
    #[error("WeCom {api} errcode {errcode}: {errmsg}")]
    Api { api: &'static str, errcode: i64, errmsg: String, class: ErrorClass, hint: String },
    /// WeCom (or a proxy) answered with a non-2xx HTTP status.
    #[error("WeCom {api} answered HTTP {status}")]
    Http { api: &'static str, status: u16 },
    /// The call timed out after the request may have reached WeCom: the message may have arrived.
    #[error("WeCom {api} did not answer: {detail}")]
    Timeout { api: &'static str, detail: String },
    /// No connection could be made: the request never reached WeCom.
    #[error("cannot connect to WeCom ({api}): {detail}")]
    Connect { api: &'static str, detail: String },
    /// The answer could not be read as WeCom JSON.
    #[error("WeCom {api} answered something that is not its JSON: {detail}")]
    Decode { api: &'static str, detail: String },
    /// An image or file could not be loaded or is outside WeCom's limits.
    #[error("{detail}")]
    Media { detail: String },
    /// A recent `gettoken` failed for a reason only the operator can fix; not asked again yet.
    #[error("not asking WeCom for a token again yet: the last attempt failed with errcode {errcode}")]
    TokenBackoff { errcode: i64, hint: String },
}

impl WeComError {
    pub(super) fn api(api: &'static str, errcode: i64, errmsg: String) -> Self {
        let (class, hint) =
            if api == "gettoken" { errcode::classify_gettoken(errcode) } else { errcode::classify(errcode) };
        let hint = match (errcode, errcode::from_ip(&errmsg)) {
            (60020, Some(ip)) => format!(
                "add {ip} to the app's trusted IPs (企业可信IP: 应用管理 → your app → 企业可信IP); it takes effect after about a minute"
            ),
            _ => hint.to_owned(),
        };
        WeComError::Api { api, errcode, errmsg, class, hint }
    }

    /// What the relay does about this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            WeComError::Api { class, .. } => *class,
            WeComError::Http { status, .. } if *status >= 500 || *status == 429 => ErrorClass::RetryLater,
            WeComError::Http { .. }
            | WeComError::Decode { .. }
            | WeComError::TokenBackoff { .. }
            | WeComError::Media { .. } => ErrorClass::Permanent,
            WeComError::Timeout { .. } | WeComError::Connect { .. } => ErrorClass::RetryLater,
        }
    }

    /// True when the request may have been delivered although no answer came back, so that a
    /// resend must ask WeCom to suppress duplicates.
    pub fn is_ambiguous(&self) -> bool {
        // Only a send can have reached a member; a gettoken that timed out delivered nothing.
        matches!(self, WeComError::Timeout { api: "message/send", .. })
    }

    pub fn errcode(&self) -> Option<i64> {
        match self {
            WeComError::Api { errcode, .. } | WeComError::TokenBackoff { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    pub fn errmsg(&self) -> Option<&str> {
        match self {
            WeComError::Api { errmsg, .. } => Some(errmsg),
            _ => None,
        }
    }

    /// What the operator should do.
    pub fn hint(&self) -> String {
        match self {
            WeComError::Api { hint, .. } | WeComError::TokenBackoff { hint, .. } => hint.clone(),
            WeComError::Http { status: 404, .. } => {
                "WeCom answered 404: check wecom.api_base (https://qyapi.weixin.qq.com)".into()
            }
            WeComError::Http { status, .. } if *status >= 500 => {
                "WeCom or a proxy in between is failing; the relay retries with backoff".into()
            }
            WeComError::Http { .. } => "unexpected HTTP status from WeCom: check wecom.api_base and any proxy".into(),
            WeComError::Timeout { .. } if self.is_ambiguous() => {
                "WeCom did not answer within wecom.request_timeout; the message may have arrived, so it is resent with WeCom's duplicate check".into()
            }
            WeComError::Timeout { .. } => {
                "WeCom did not answer within wecom.request_timeout; retried with backoff".into()
            }
            WeComError::Connect { .. } => {
                "cannot reach WeCom: check DNS, the firewall and any proxy for wecom.api_base; retried with backoff".into()
            }
            WeComError::Decode { .. } => "wecom.api_base does not point at WeCom's API".into(),
            WeComError::Media { .. } => "fix the attachment (its path, size or format) in the template or the event".into(),
        }
    }
}
