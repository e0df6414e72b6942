//! What a notification looks like from outside: its status, why it failed, how it ended, and
//! the view `GET /notifications/{id}` shows.

use serde::{Deserialize, Serialize};

use super::store::Millis;
use crate::wecom::{SendReceipt, WeComError};

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Sending,
    Sent,
    /// WeCom refused it for a reason retrying cannot cure.
    Failed,
    /// Retries ran out (attempts or age); kept for the operator to retry.
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Dead => "dead",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Sent | Status::Failed | Status::Dead)
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Status::Queued, Status::Sending, Status::Sent, Status::Failed, Status::Dead]
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown status `{s}`: use queued, sending, sent, failed or dead"))
    }
}

/// Why a notification was not delivered, in terms the caller and the operator can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub error: String,
    pub errcode: Option<i64>,
    pub errmsg: Option<String>,
    pub hint: String,
}

impl From<&WeComError> for Failure {
    fn from(e: &WeComError) -> Self {
        Failure {
            error: e.to_string(),
            errcode: e.errcode(),
            errmsg: e.errmsg().map(str::to_owned),
            hint: e.hint(),
        }
    }
}

/// How a notification ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Sent to the recipients the limiter let through (`receipt`), and held back for a digest
    /// for `held_for`.
    Sent {
        receipt: SendReceipt,
        held_for: Vec<String>,
    },
    Failed(Failure),
}

/// What `GET /notifications/{id}` shows.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub id: String,
    pub event: String,
    pub status: Status,
    pub attempts: u32,
    pub last_error: Option<Failure>,
    pub msgid: Option<String>,
    pub invalid_users: Vec<String>,
    /// Recipients who get this notification inside a digest, because it would have exceeded
    /// WeCom's per-member limit.
    pub held_for: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
    #[serde(skip)]
    receipt: Option<SendReceipt>,
}

impl NotificationView {
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        id: &str,
        event: &str,
        status: Status,
        attempts: u32,
        last_error: Option<Failure>,
        receipt: Option<SendReceipt>,
        held_for: Vec<String>,
        created_at: Millis,
        updated_at: Millis,
    ) -> Self {
        let time = |ms: Millis| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        };
        NotificationView {
            id: id.to_owned(),
            event: event.to_owned(),
            status,
            attempts,
            last_error,
            msgid: receipt.as_ref().map(|r| r.msgid.clone()).filter(|m| !m.is_empty()),
            invalid_users: receipt.as_ref().map(|r| r.invalid_users.clone()).unwrap_or_default(),
            held_for,
            created_at: time(created_at),
            updated_at: time(updated_at),
            receipt,
        }
    }

    /// The outcome, once there is one.
    pub(super) fn outcome(&self) -> Option<Outcome> {
        match self.status {
            Status::Sent => Some(Outcome::Sent {
                receipt: self.receipt.clone().unwrap_or_default(),
                held_for: self.held_for.clone(),
            }),
            Status::Failed | Status::Dead => {
                Some(Outcome::Failed(self.last_error.clone().unwrap_or(Failure {
                    error: format!("notification is {}", self.status.as_str()),
                    errcode: None,
                    errmsg: None,
                    hint: String::new(),
                })))
            }
            Status::Queued | Status::Sending => None,
        }
    }
}
