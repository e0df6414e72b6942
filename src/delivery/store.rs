//! The `Store` trait: where accepted notifications live until they are delivered, and the record
//! of each outcome. The embedded SQLite store and the in-memory store implement it; a Redis
//! Streams store for several replicas would too, without changes to handlers or workers.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Failure, NotificationView, Status};
use crate::render::Destination;
use crate::wecom::{Body, Message, Recipients, SendReceipt};

/// Milliseconds since the Unix epoch: the stores' clock, comparable across restarts.
pub type Millis = i64;

pub fn now_ms() -> Millis {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as Millis / 1_000_000
}

/// The stored form of a message. Versioned (`v`): version 1 rows (text and markdown only, with
/// `msgtype` and `content` at the top level) read as version 2 bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub v: u32,
    #[serde(flatten)]
    pub body: Body,
    #[serde(default)]
    pub to_user: Vec<String>,
    #[serde(default)]
    pub to_party: Vec<String>,
    #[serde(default)]
    pub to_tag: Vec<String>,
    /// Set for a group-robot target: the `[robots.<name>]` it posts to.
    #[serde(default)]
    pub robot: Option<String>,
    /// Robot text messages @-mention these members.
    #[serde(default)]
    pub mentioned: Vec<String>,
    /// One line that stands for this notification in a digest (`alice` for a new user).
    pub summary: String,
    /// The digest's heading for this event (`新用户`).
    pub label: String,
    /// True for a digest of held-back notifications: it is never held back itself.
    #[serde(default)]
    pub digest: bool,
}

/// Where a stored notification goes.
pub enum Target {
    App(Message),
    Robot { name: String, body: Body, mentioned: Vec<String> },
}

impl Payload {
    pub fn new(body: Body, destination: &Destination, summary: String, label: String, digest: bool) -> Self {
        let mut payload = Payload {
            v: 2,
            body,
            to_user: vec![],
            to_party: vec![],
            to_tag: vec![],
            robot: None,
            mentioned: vec![],
            summary,
            label,
            digest,
        };
        match destination {
            Destination::App(r) => {
                payload.to_user = r.users().to_vec();
                payload.to_party = r.parties().to_vec();
                payload.to_tag = r.tags().to_vec();
            }
            Destination::Robot { name, mentioned } => {
                payload.robot = Some(name.clone());
                payload.mentioned = mentioned.clone();
            }
        }
        payload
    }

    pub fn target(&self) -> Result<Target, String> {
        if let Some(name) = &self.robot {
            return Ok(Target::Robot {
                name: name.clone(),
                body: self.body.clone(),
                mentioned: self.mentioned.clone(),
            });
        }
        let recipients =
            Recipients::new(&self.to_user, &self.to_party, &self.to_tag).map_err(|e| e.to_string())?;
        Ok(Target::App(Message { body: self.body.clone(), recipients }))
    }
}

/// A notification to store.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub id: String,
    pub event: String,
    pub payload: Payload,
    /// Scoped by event; a repeat within 24 h returns the first id.
    pub idempotency_key: Option<String>,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New,
    /// The idempotency key was seen before: this is the first notification's id.
    Existing(String),
}

/// A notification claimed for delivery: it is `sending` until updated.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub event: String,
    pub payload: Payload,
    /// Including the attempt about to be made.
    pub attempts: u32,
    /// An earlier attempt may have reached WeCom (a timeout, or the process died mid-send).
    pub ambiguous: bool,
    pub created_at: Millis,
}

/// A recipient held back by the per-member limit, to be merged into a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub key: String,
    pub notification_id: String,
    pub event: String,
    pub label: String,
    pub summary: String,
    pub created_at: Millis,
}

/// A held item as stored, with the sequence number that `merge_held` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeld {
    pub seq: i64,
    pub held: Held,
}

/// What happened to a claimed job.
#[derive(Debug, Clone)]
pub enum Change {
    /// Finished: `sent` (with WeCom's receipt, unless every recipient was held back), or
    /// `failed` / `dead` with the reason. `held` recipients are stored for a digest in the same
    /// write; `sent_keys` go into the per-member send log.
    Finish {
        status: Status,
        receipt: Option<SendReceipt>,
        error: Option<Failure>,
        held: Vec<Held>,
        sent_keys: Vec<String>,
    },
    /// Try again at `at`.
    Retry { at: Millis, error: Failure, ambiguous: bool },
    /// Not yet (a digest waiting for the member's window): back to `queued` at `at` without
    /// counting the attempt.
    Defer { at: Millis },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeue {
    Done,
    NotFound,
    /// Only `dead` and `failed` notifications can be retried.
    NotRetryable(Status),
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("queue store: {0}")]
pub struct StoreError(pub String);

/// Storage for notifications. Every method is one atomic step.
pub trait Store: Send + Sync + 'static {
    /// Stores a new notification as `queued` and due now; durable once this returns.
    fn enqueue(&self, record: NewRecord) -> BoxFuture<'_, Result<Enqueued, StoreError>>;
    /// Marks up to `limit` due `queued` notifications `sending` (attempts + 1) and returns them.
    fn claim(&self, now: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<Job>, StoreError>>;
    fn update(&self, id: String, now: Millis, change: Change) -> BoxFuture<'_, Result<(), StoreError>>;
    fn get(&self, id: String) -> BoxFuture<'_, Result<Option<NotificationView>, StoreError>>;
    /// Newest first.
    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<NotificationView>, StoreError>>;
    /// `dead` or `failed` → `queued`, due now, attempts reset.
    fn requeue(&self, id: String, now: Millis) -> BoxFuture<'_, Result<Requeue, StoreError>>;
    /// At start-up: what was `sending` when the process stopped goes back to `queued`, marked
    /// ambiguous. Returns how many, and how many are unfinished in all.
    fn recover(&self, now: Millis) -> BoxFuture<'_, Result<(usize, usize), StoreError>>;
    /// When the earliest `queued` notification is due.
    fn next_due(&self) -> BoxFuture<'_, Result<Option<Millis>, StoreError>>;
    /// The keys that have held items.
    fn held_keys(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;
    /// The items held for `key`, oldest first.
    fn held(&self, key: String) -> BoxFuture<'_, Result<Vec<StoredHeld>, StoreError>>;
    /// Deletes the held items `seqs` and stores `digests` in their place, atomically.
    fn merge_held(&self, seqs: Vec<i64>, digests: Vec<NewRecord>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The per-member send log since `since` (key, time), for the limiter after a restart.
    fn sends_since(&self, since: Millis) -> BoxFuture<'_, Result<Vec<(String, Millis)>, StoreError>>;
    /// When the oldest unfinished notification was accepted.
    fn oldest_unfinished(&self) -> BoxFuture<'_, Result<Option<Millis>, StoreError>>;
    /// Proves that the store takes writes (for `/readyz`).
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Forgets finished (`sent`, `failed`) notifications older than `before`, idempotency keys
    /// older than `keys_before` and send-log entries older than `sends_before`. `dead` ones stay.
    fn prune(
        &self,
        before: Millis,
        keys_before: Millis,
        sends_before: Millis,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_rows_still_read() {
        let v1 = r#"{"v":1,"msgtype":"text","content":"新用户已加入：alice","to_user":["zhangsan"],"summary":"alice","label":"新用户"}"#;
        let p: Payload = serde_json::from_str(v1).unwrap();
        assert_eq!(p.body, Body::text("新用户已加入：alice"));
        assert!(matches!(p.target(), Ok(Target::App(m)) if m.recipients.users() == ["zhangsan"]));
    }

    #[test]
    fn payloads_round_trip() {
        let card = Body::textcard("t", "d", "https://x.cn", "").unwrap();
        let robot = Destination::Robot { name: "ops".into(), mentioned: vec!["@all".into()] };
        let p = Payload::new(card, &robot, "s".into(), "l".into(), false);
        let back: Payload = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
