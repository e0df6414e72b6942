//! Delivery: what happens to a notification after the handler accepted it. Handlers talk to the
//! `Delivery` trait only; the backend (in memory today, a durable queue next) owns storage,
//! retries and the record of each outcome.

mod memory;
pub mod retry;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::wecom::{Message, SendReceipt, WeComError};

pub use memory::MemoryDelivery;

/// Where a notification is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// A notification to deliver, as the handler hands it over.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub event: String,
    pub message: Message,
    /// A repeat of a key within 24 h returns the first notification's id and sends nothing.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub id: String,
    /// True when this was a repeat of an earlier `Idempotency-Key`.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the relay holds {0} unfinished notifications, its delivery.queue_capacity")]
    Full(usize),
}

/// Why a notification was not delivered, in terms the caller and the operator can act on.
#[derive(Debug, Clone, Serialize)]
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
    Sent(SendReceipt),
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
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

/// The seam between accepting and delivering.
pub trait Delivery: Send + Sync + 'static {
    /// Takes the notification in; once this returns `Ok` the relay owns its delivery.
    fn submit(&self, n: NewNotification) -> BoxFuture<'_, Result<Accepted, SubmitError>>;
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<NotificationView>>;
    /// Waits up to `timeout` for the outcome; `None` if it is not finished by then (or unknown).
    fn wait<'a>(&'a self, id: &'a str, timeout: Duration) -> BoxFuture<'a, Option<Outcome>>;
}
