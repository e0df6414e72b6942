//! The in-memory delivery backend: one task per notification, retrying on the policy's schedule.
//! Nothing survives a restart; the durable queue replaces it behind the same trait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use moka::sync::Cache;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::retry::RetryPolicy;
use super::{
    Accepted, Delivery, Failure, NewNotification, NotificationView, Outcome, Status, SubmitError,
};
use crate::wecom::{ErrorClass, Message, SendOptions, WeComClient};

/// WeCom's largest duplicate-check window (`duplicate_check_interval` ≤ 4 h).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(4 * 3600);
/// How long finished records and idempotency keys are remembered.
const REMEMBER: Duration = Duration::from_secs(24 * 3600);
const MAX_RECORDS: u64 = 200_000;

pub struct MemoryDelivery {
    inner: Arc<Inner>,
}

struct Inner {
    client: Arc<WeComClient>,
    policy: RetryPolicy,
    records: Cache<String, Arc<Record>>,
    idempotency: Cache<String, String>,
    unfinished: AtomicUsize,
    capacity: usize,
    /// Deliveries run on the main runtime, not on the HTTP worker that accepted them.
    runtime: tokio::runtime::Handle,
}

struct Record {
    event: String,
    message: Message,
    created_at: OffsetDateTime,
    state: Mutex<State>,
    outcome: watch::Sender<Option<Outcome>>,
}

struct State {
    status: Status,
    attempts: u32,
    last_error: Option<Failure>,
    msgid: Option<String>,
    invalid_users: Vec<String>,
    updated_at: OffsetDateTime,
}

impl MemoryDelivery {
    pub fn new(client: Arc<WeComClient>, policy: RetryPolicy, capacity: usize) -> Self {
        MemoryDelivery {
            inner: Arc::new(Inner {
                client,
                policy,
                records: Cache::builder()
                    .max_capacity(MAX_RECORDS)
                    .time_to_live(REMEMBER)
                    .build(),
                idempotency: Cache::builder()
                    .max_capacity(MAX_RECORDS)
                    .time_to_live(REMEMBER)
                    .build(),
                unfinished: AtomicUsize::new(0),
                capacity,
                runtime: tokio::runtime::Handle::current(),
            }),
        }
    }
}

impl Delivery for MemoryDelivery {
    fn submit(
        &self,
        n: NewNotification,
    ) -> futures_util::future::BoxFuture<'_, Result<Accepted, SubmitError>> {
        let inner = &self.inner;
        let result = (|| {
            let id = uuid::Uuid::now_v7().to_string();
            if let Some(key) = &n.idempotency_key {
                let entry = inner
                    .idempotency
                    .entry(format!("{}\n{key}", n.event))
                    .or_insert(id.clone());
                if !entry.is_fresh() {
                    return Ok(Accepted {
                        id: entry.into_value(),
                        duplicate: true,
                    });
                }
            }
            if inner.unfinished.fetch_add(1, Ordering::SeqCst) >= inner.capacity {
                inner.unfinished.fetch_sub(1, Ordering::SeqCst);
                return Err(SubmitError::Full(inner.capacity));
            }
            let now = OffsetDateTime::now_utc();
            let record = Arc::new(Record {
                event: n.event,
                message: n.message,
                created_at: now,
                state: Mutex::new(State {
                    status: Status::Queued,
                    attempts: 0,
                    last_error: None,
                    msgid: None,
                    invalid_users: vec![],
                    updated_at: now,
                }),
                outcome: watch::channel(None).0,
            });
            inner.records.insert(id.clone(), record.clone());
            log::info!("notification {id} ({}) queued", record.event);
            inner
                .runtime
                .spawn(deliver(inner.clone(), id.clone(), record));
            Ok(Accepted {
                id,
                duplicate: false,
            })
        })();
        std::future::ready(result).boxed()
    }

    fn get<'a>(
        &'a self,
        id: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Option<NotificationView>> {
        let view = self.inner.records.get(id).map(|r| r.view(id));
        std::future::ready(view).boxed()
    }

    fn wait<'a>(
        &'a self,
        id: &'a str,
        timeout: Duration,
    ) -> futures_util::future::BoxFuture<'a, Option<Outcome>> {
        let record = self.inner.records.get(id);
        async move {
            let mut rx = record?.outcome.subscribe();
            let done = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
            done.ok()?.ok()?.clone()
        }
        .boxed()
    }
}

impl Record {
    fn view(&self, id: &str) -> NotificationView {
        let s = self.state.lock().expect("poisoned");
        NotificationView {
            id: id.to_owned(),
            event: self.event.clone(),
            status: s.status,
            attempts: s.attempts,
            last_error: s.last_error.clone(),
            msgid: s.msgid.clone(),
            invalid_users: s.invalid_users.clone(),
            created_at: self.created_at,
            updated_at: s.updated_at,
        }
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut s = self.state.lock().expect("poisoned");
        f(&mut s);
        s.updated_at = OffsetDateTime::now_utc();
    }

    fn finish(&self, status: Status, outcome: Outcome) {
        self.update(|s| {
            s.status = status;
            match &outcome {
                Outcome::Sent(r) => {
                    s.msgid = Some(r.msgid.clone());
                    s.invalid_users = r.invalid_users.clone();
                }
                Outcome::Failed(f) => s.last_error = Some(f.clone()),
            }
        });
        self.outcome.send_replace(Some(outcome));
    }
}

async fn deliver(inner: Arc<Inner>, id: String, record: Arc<Record>) {
    let mut attempt = 0;
    let mut ambiguous = false;
    loop {
        attempt += 1;
        record.update(|s| {
            s.status = Status::Sending;
            s.attempts = attempt;
        });
        // After a timeout the first send may have arrived: ask WeCom to drop an identical resend.
        // Whether WeCom compares against a first request that did not ask for the check is
        // UNCONFIRMED; members see at most one copy if it does.
        let opts = SendOptions {
            duplicate_check: ambiguous.then_some(DUPLICATE_WINDOW),
        };
        let error = match inner.client.send(&record.message, opts).await {
            Ok(receipt) => {
                log::info!(
                    "notification {id} ({}) sent on attempt {attempt}: msgid {}, invalid users {:?}",
                    record.event,
                    receipt.msgid,
                    receipt.invalid_users
                );
                record.finish(Status::Sent, Outcome::Sent(receipt));
                break;
            }
            Err(e) => e,
        };
        ambiguous |= error.is_ambiguous();
        let failure = Failure::from(&error);
        if error.class() == ErrorClass::Permanent {
            log::error!(
                "notification {id} ({}) failed on attempt {attempt}: {error}; fix: {}",
                record.event,
                failure.hint
            );
            record.finish(Status::Failed, Outcome::Failed(failure));
            break;
        }
        let delay = inner.policy.delay(attempt, rand::random());
        let age = (OffsetDateTime::now_utc() - record.created_at).unsigned_abs();
        if inner.policy.gives_up(attempt, age, delay) {
            log::error!(
                "notification {id} ({}) is dead after {attempt} attempts: {error}; {}",
                record.event,
                failure.hint
            );
            record.finish(Status::Dead, Outcome::Failed(failure));
            break;
        }
        log::warn!(
            "notification {id} ({}) attempt {attempt} failed: {error}; retrying in {delay:?}",
            record.event
        );
        record.update(|s| {
            s.status = Status::Queued;
            s.last_error = Some(failure);
        });
        tokio::time::sleep(delay).await;
    }
    inner.unfinished.fetch_sub(1, Ordering::SeqCst);
}
