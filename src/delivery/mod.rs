//! Delivery: what happens to a notification after the handler accepted it. `Delivery` stores it
//! (the `Store` decides how durably), workers send it, retry it, hold back what would flood a
//! member, and record every outcome; `?wait=true` callers hear the outcome as it is recorded.

mod digest;
mod limiter;
mod memory;
pub mod retry;
mod sqlite;
pub mod store;
mod view;
mod worker;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::config::{QueueBackend, Settings};
use crate::metrics::{EventLabel, Metrics};
use crate::render::Destination;
use crate::wecom::{Body, WeComClient};
use store::{Enqueued, NewRecord, Payload, Requeue, Store, StoreError, now_ms};

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;
pub use view::{Failure, NotificationView, Outcome, Status};
pub use worker::Worker;

/// A rendered notification, as the handler hands it over.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub event: String,
    pub destination: Destination,
    pub body: Body,
    /// One line standing for it in a digest, and the digest's heading for its event.
    pub summary: String,
    pub label: String,
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
    #[error("the relay is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// State shared by the accepting side and the workers.
struct Shared {
    metrics: Arc<Metrics>,
    /// Signalled when there is new work.
    wake: Notify,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<Outcome>>>>,
    unfinished: AtomicUsize,
    stopping: AtomicBool,
    /// The worker loop is about to sleep (set before it looks for due work one last time).
    idle: AtomicBool,
}

impl Shared {
    fn finished(&self, id: &str, outcome: Outcome) {
        self.unfinished.fetch_sub(1, Ordering::SeqCst);
        let waiters = self.waiters.lock().expect("poisoned").remove(id).unwrap_or_default();
        for w in waiters {
            let _ = w.send(outcome.clone());
        }
    }
}

/// The accepting side of delivery.
pub struct Delivery {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    capacity: usize,
    /// How many identical messages were accepted lately, by content hash (see `submit`).
    recent: moka::sync::Cache<u64, u32>,
}

impl Delivery {
    /// Opens the configured store, resumes what a previous run left unfinished and starts the
    /// workers on the current Tokio runtime.
    pub async fn start(
        settings: &Settings,
        client: Arc<WeComClient>,
        metrics: Arc<Metrics>,
    ) -> Result<(Arc<Delivery>, Worker), StoreError> {
        let store: Arc<dyn Store> = match settings.queue.backend {
            QueueBackend::Sqlite => Arc::new(SqliteStore::open(&settings.queue.path)?),
            QueueBackend::Memory => Arc::new(MemoryStore::default()),
        };
        let (resumed, unfinished) = store.recover(now_ms()).await?;
        if unfinished > 0 {
            log::info!(
                "resuming {unfinished} unfinished notifications ({resumed} were being sent when the relay stopped)"
            );
        }
        let shared = Arc::new(Shared {
            metrics,
            wake: Notify::new(),
            waiters: Mutex::default(),
            unfinished: AtomicUsize::new(unfinished),
            stopping: AtomicBool::new(false),
            idle: AtomicBool::new(false),
        });
        let worker = Worker::start(settings, store.clone(), client, shared.clone()).await?;
        let delivery = Delivery {
            store,
            shared,
            capacity: settings.delivery.queue_capacity,
            // Identical notifications are rare and repeat soon; 10k entries cover them in a few MB.
            recent: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(settings.delivery.duplicate_check_window)
                .build(),
        };
        Ok((Arc::new(delivery), worker))
    }

    /// Stores an event's notifications (one per target); once this returns `Ok`, the relay owns
    /// their delivery. They are committed together, in the same group commit.
    pub async fn submit(&self, notifications: Vec<NewNotification>) -> Result<Vec<Accepted>, SubmitError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(SubmitError::ShuttingDown);
        }
        let count = notifications.len();
        if self.shared.unfinished.fetch_add(count, Ordering::SeqCst) + count > self.capacity {
            self.shared.unfinished.fetch_sub(count, Ordering::SeqCst);
            return Err(SubmitError::Full(self.capacity));
        }
        let now = now_ms();
        let records: Vec<NewRecord> = notifications
            .into_iter()
            .enumerate()
            .map(|(i, n)| NewRecord {
                id: uuid::Uuid::now_v7().to_string(),
                event: n.event,
                payload: Payload::new(
                    self.distinguish(n.body, &n.destination),
                    &n.destination,
                    n.summary,
                    n.label,
                    false,
                ),
                // Each target of an event is its own notification, each remembered on its own.
                idempotency_key: n.idempotency_key.map(|k| if i == 0 { k } else { format!("{k}#{i}") }),
                now,
            })
            .collect();
        let stored =
            futures_util::future::join_all(records.iter().map(|r| self.store.enqueue(r.clone()))).await;
        let mut accepted = Vec::with_capacity(count);
        let mut first_error = None;
        for (record, result) in records.into_iter().zip(stored) {
            match result {
                Ok(Enqueued::New) => {
                    self.shared
                        .metrics
                        .accepted
                        .get_or_create(&EventLabel { event: record.event.clone() })
                        .inc();
                    log::info!("notification {} event={} attempt=0 status=queued", record.id, record.event);
                    accepted.push(Accepted { id: record.id, duplicate: false });
                }
                Ok(Enqueued::Existing(first)) => {
                    self.shared.unfinished.fetch_sub(1, Ordering::SeqCst);
                    accepted.push(Accepted { id: first, duplicate: true });
                }
                Err(e) => {
                    self.shared.unfinished.fetch_sub(1, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
            }
        }
        // Only an idle worker needs waking: a busy one claims again before it sleeps. Waking it
        // for every request costs a thread switch each.
        if self.shared.idle.swap(false, Ordering::SeqCst) {
            self.shared.wake.notify_one();
        }
        // A store failure after some targets were stored: the caller retries, and the
        // Idempotency-Key (which darkerserver's client always sends) keeps them from repeating.
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(accepted),
        }
    }

    /// Every send asks WeCom to drop an identical request seen within the duplicate window, so
    /// that a resend after an ambiguous timeout is never shown twice. A *new* notification that
    /// happens to be identical to a recent one (the same alert twice) must still arrive: it gets
    /// an invisible zero-width space per repeat, which makes its request differ.
    fn distinguish(&self, body: Body, destination: &Destination) -> Body {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (serde_json::to_string(&body).unwrap_or_default(), format!("{destination:?}")).hash(&mut hasher);
        let hash = hasher.finish();
        let seen = self.recent.get(&hash).unwrap_or(0);
        self.recent.insert(hash, seen + 1);
        if seen > 0 { body.distinguished(seen as usize) } else { body }
    }

    pub async fn get(&self, id: &str) -> Result<Option<NotificationView>, StoreError> {
        self.store.get(id.to_owned()).await
    }

    pub async fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> Result<Vec<NotificationView>, StoreError> {
        self.store.list(status, limit).await
    }

    /// Sends a `dead` or `failed` notification again.
    pub async fn retry(&self, id: &str) -> Result<Requeue, StoreError> {
        let result = self.store.requeue(id.to_owned(), now_ms()).await?;
        if result == Requeue::Done {
            self.shared.unfinished.fetch_add(1, Ordering::SeqCst);
            self.shared.wake.notify_one();
            log::info!("notification {id} status=queued (retried by the operator)");
        }
        Ok(result)
    }

    /// Waits up to `timeout` for the outcome; `None` if it is not finished by then (or unknown).
    pub async fn wait(&self, id: &str, timeout: Duration) -> Option<Outcome> {
        let (tx, rx) = oneshot::channel();
        // Register first, then look: an outcome recorded in between is not missed.
        self.shared.waiters.lock().expect("poisoned").entry(id.to_owned()).or_default().push(tx);
        let known = self.get(id).await.ok().flatten().and_then(|v| v.outcome());
        let outcome = match known {
            Some(outcome) => {
                drop(rx);
                Some(outcome)
            }
            None => tokio::time::timeout(timeout, rx).await.ok().and_then(Result::ok),
        };
        let mut waiters = self.shared.waiters.lock().expect("poisoned");
        if let Some(list) = waiters.get_mut(id) {
            list.retain(|w| !w.is_closed());
            if list.is_empty() {
                waiters.remove(id);
            }
        }
        outcome
    }

    /// Brings the queue gauges up to date (before `/metrics` is rendered).
    pub async fn refresh_gauges(&self) -> Result<(), StoreError> {
        let m = &self.shared.metrics;
        m.queue_depth.set(self.shared.unfinished.load(Ordering::SeqCst) as i64);
        let oldest = self.store.oldest_unfinished().await?;
        m.queue_oldest_age.set(oldest.map_or(0.0, |at| (now_ms() - at).max(0) as f64 / 1000.0));
        Ok(())
    }

    /// Proves that the queue takes writes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// From now on `submit` answers `ShuttingDown`.
    pub fn stop_accepting(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }
}
