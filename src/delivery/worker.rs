//! Workers: claim due notifications, pass them through the per-member limiter, send them, and
//! record each outcome; merge what the limiter held back into digests when the window allows.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use secrecy::SecretString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::limiter::{self, Limiter};
use super::retry::RetryPolicy;
use super::store::{Change, Held, Job, Millis, NewRecord, Payload, Store, StoreError, Target, now_ms};
use super::{Failure, Outcome, Shared, Status, digest};
use crate::config::Settings;
use crate::metrics::{EventLabel, OutcomeLabels};
use crate::render::Destination;
use crate::wecom::{Body, ErrorClass, Message, SendOptions, WeComClient, WeComError};

/// The event name of digest notifications.
pub const DIGEST_EVENT: &str = "digest";
/// Finished notifications are pruned at most this often.
const PRUNE_EVERY: Millis = 10 * 60_000;
const IDLE_POLL: Duration = Duration::from_millis(500);
/// "每个机器人发送的消息不能超过20条/分钟" (DOC 91770).
const ROBOT_PER_MINUTE: usize = 20;

struct Inner {
    store: Arc<dyn Store>,
    client: Arc<WeComClient>,
    policy: RetryPolicy,
    limiter: Mutex<Limiter>,
    /// Group robots: 20 messages a minute each.
    robot_limiter: Mutex<Limiter>,
    robots: HashMap<String, SecretString>,
    shared: Arc<Shared>,
    duplicate_window: Duration,
    digest_delay: Millis,
    retention: Millis,
}

/// The running workers; `stop` lets in-flight sends finish.
pub struct Worker {
    task: tokio::task::JoinHandle<()>,
    permits: Arc<Semaphore>,
    concurrency: u32,
    shared: Arc<Shared>,
}

impl Worker {
    pub(super) async fn start(
        settings: &Settings,
        store: Arc<dyn Store>,
        client: Arc<WeComClient>,
        shared: Arc<Shared>,
    ) -> Result<Worker, StoreError> {
        let limits = &settings.limits;
        let mut limiter = Limiter::new(limits.per_member_per_minute, limits.per_member_per_hour);
        // After a restart the limiter remembers what went out in the last hour.
        for (key, at) in store.sends_since(now_ms() - 3_600_000).await? {
            limiter.record(&[key], at);
        }
        for key in store.held_keys().await? {
            limiter.hold(&key);
        }
        let inner = Arc::new(Inner {
            store,
            client,
            policy: RetryPolicy::from_settings(&settings.delivery),
            limiter: Mutex::new(limiter),
            robot_limiter: Mutex::new(Limiter::new(ROBOT_PER_MINUTE, ROBOT_PER_MINUTE * 60)),
            robots: settings.robots.iter().filter_map(|(n, r)| Some((n.clone(), r.key.clone()?))).collect(),
            shared: shared.clone(),
            duplicate_window: settings.delivery.duplicate_check_window,
            digest_delay: limits.digest_delay.as_millis() as Millis,
            retention: settings.queue.retention.as_millis() as Millis,
        });
        let concurrency = settings.delivery.concurrency as u32;
        let permits = Arc::new(Semaphore::new(concurrency as usize));
        let task = tokio::spawn(run(inner, permits.clone()));
        Ok(Worker { task, permits, concurrency, shared })
    }

    /// Stops claiming work and waits up to `grace` for in-flight sends. What is left stays
    /// queued (in a durable store) for the next start.
    pub async fn stop(self, grace: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let _ = self.task.await;
        match tokio::time::timeout(grace, self.permits.acquire_many(self.concurrency)).await {
            Ok(_) => log::info!("all in-flight sends finished"),
            Err(_) => {
                log::warn!("in-flight sends still running after {grace:?}; they resume on the next start")
            }
        }
    }
}

async fn run(inner: Arc<Inner>, permits: Arc<Semaphore>) {
    let mut last_prune = 0;
    let mut last_flush = 0;
    while !inner.shared.stopping.load(Ordering::SeqCst) {
        let now = now_ms();
        let free = permits.available_permits();
        let mut claimed = 0;
        if free > 0 {
            match inner.store.claim(now, free).await {
                Ok(jobs) => {
                    claimed = jobs.len();
                    for job in jobs {
                        let permit = permits.clone().acquire_owned().await.expect("never closed");
                        let inner = inner.clone();
                        tokio::spawn(async move {
                            process(&inner, job).await;
                            drop(permit);
                            inner.shared.wake.notify_one();
                        });
                    }
                }
                Err(e) => log::error!("cannot claim notifications: {e}"),
            }
        }
        if now - last_flush >= 200 {
            last_flush = now;
            if let Err(e) = flush_digests(&inner, now).await {
                log::error!("cannot merge held notifications into digests: {e}");
            }
        }
        if now - last_prune >= PRUNE_EVERY {
            last_prune = now;
            prune(&inner, now).await;
        }
        if claimed > 0 && claimed == free {
            continue; // there may be more due right now
        }
        // Idle from here: a submit from now on wakes us, and one before is seen by next_due.
        inner.shared.idle.store(true, Ordering::SeqCst);
        let pause = match inner.store.next_due().await {
            Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(0, 500) as u64),
            _ => IDLE_POLL,
        };
        let pause = if inner.limiter.lock().expect("poisoned").has_held() {
            pause.min(Duration::from_millis(200))
        } else {
            pause
        };
        tokio::select! {
            _ = inner.shared.wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
        inner.shared.idle.store(false, Ordering::SeqCst);
    }
}

async fn prune(inner: &Inner, now: Millis) {
    let result = inner.store.prune(now - inner.retention, now - 24 * 3_600_000, now - 3_600_000).await;
    if let Err(e) = result {
        log::error!("cannot prune old notifications: {e}");
    }
}

/// A failure that only a fix in the relay can cure; it is not retried.
fn relay_bug(error: String) -> Failure {
    Failure { error, errcode: None, errmsg: None, hint: "this is a relay bug, please report it".into() }
}

/// One attempt at one notification.
async fn process(inner: &Inner, job: Job) {
    match job.payload.target() {
        Ok(Target::App(message)) => process_app(inner, job, message).await,
        Ok(Target::Robot { name, body, mentioned }) => process_robot(inner, job, name, body, mentioned).await,
        Err(e) => {
            let failure = relay_bug(format!("stored notification is unusable: {e}"));
            finish(inner, &job, Status::Failed, Err(failure), vec![], vec![]).await
        }
    }
}

async fn process_app(inner: &Inner, job: Job, message: Message) {
    let keys = limiter::keys(&message.recipients);
    let now = now_ms();
    // Decided and counted under one lock, so that two workers cannot both take the last slot;
    // acted on after it (the guard must not live across an await). A resend after an ambiguous
    // attempt was already counted, and WeCom's duplicate check makes sure that the two reach the
    // member at most once between them.
    let counts = !job.ambiguous;
    let decision = {
        let mut lim = inner.limiter.lock().expect("poisoned");
        let split = if !job.payload.digest {
            Ok(keys.into_iter().partition::<Vec<_>, _>(|k| lim.admits(k, now)))
        } else if keys.iter().all(|k| lim.admits_digest(k, now)) {
            Ok((keys, vec![]))
        } else {
            Err(keys.iter().map(|k| lim.next_free(k, now)).max().unwrap_or(now))
        };
        if let (Ok((allowed, _)), true) = (&split, counts) {
            lim.record(allowed, now);
        }
        split
    };
    let (allowed, held_keys) = match decision {
        Ok(split) => split,
        Err(at) => {
            record(inner, &job, Change::Defer { at }).await;
            return;
        }
    };
    let held: Vec<Held> = held_keys
        .iter()
        .map(|key| Held {
            key: key.clone(),
            notification_id: job.id.clone(),
            event: job.event.clone(),
            label: job.payload.label.clone(),
            summary: job.payload.summary.clone(),
            created_at: now,
        })
        .collect();
    if allowed.is_empty() {
        return finish(inner, &job, Status::Sent, Ok(Default::default()), held, vec![]).await;
    }
    let recipients = match limiter::recipients(&allowed) {
        Ok(r) => r,
        Err(e) => {
            let failure = relay_bug(format!("recipients cannot be addressed: {e}"));
            return finish(inner, &job, Status::Failed, Err(failure), held, vec![]).await;
        }
    };
    let to_send = Message { recipients, ..message };
    let opts = SendOptions { duplicate_check: Some(inner.duplicate_window) };
    match inner.client.send(&to_send, opts).await {
        Ok(receipt) => finish(inner, &job, Status::Sent, Ok(receipt), held, allowed).await,
        Err(error) => {
            if counts && !error.is_ambiguous() {
                // WeCom refused it: nothing reached the members, so it does not count against them.
                inner.limiter.lock().expect("poisoned").forget(&allowed, now);
            }
            failed(inner, job, error, held, now).await
        }
    }
}

/// A group robot: at most `ROBOT_PER_MINUTE` a minute (DOC 91770); over that the message waits
/// (robots have no per-member digest: the group sees every message). `webhook/send` has no
/// duplicate check, so a resend after a timeout may show twice in the group: the safe side,
/// since the alternative is losing it.
async fn process_robot(inner: &Inner, job: Job, name: String, body: Body, mentioned: Vec<String>) {
    let Some(key) = inner.robots.get(&name) else {
        let failure = Failure {
            error: format!("robot `{name}` is no longer configured"),
            errcode: None,
            errmsg: None,
            hint: format!("add [robots.{name}] with its key, then retry the notification"),
        };
        return finish(inner, &job, Status::Failed, Err(failure), vec![], vec![]).await;
    };
    let slot = format!("robot:{name}");
    let now = now_ms();
    let wait = {
        let mut lim = inner.robot_limiter.lock().expect("poisoned");
        if lim.admits_digest(&slot, now) {
            lim.record(std::slice::from_ref(&slot), now);
            None
        } else {
            Some(lim.next_free(&slot, now))
        }
    };
    if let Some(at) = wait {
        record(inner, &job, Change::Defer { at }).await;
        return;
    }
    match inner.client.send_robot(key, &body, &mentioned).await {
        Ok(()) => finish(inner, &job, Status::Sent, Ok(Default::default()), vec![], vec![]).await,
        Err(error) => failed(inner, job, error, vec![], now).await,
    }
}

/// After a failed attempt: fail, give up, or try again later.
async fn failed(inner: &Inner, job: Job, error: WeComError, held: Vec<Held>, now: Millis) {
    let failure = Failure::from(&error);
    if error.class() == ErrorClass::Permanent {
        return finish(inner, &job, Status::Failed, Err(failure), held, vec![]).await;
    }
    let delay = inner.policy.delay(job.attempts, rand::random());
    let age = Duration::from_millis((now - job.created_at).max(0) as u64);
    if inner.policy.gives_up(job.attempts, age, delay) {
        return finish(inner, &job, Status::Dead, Err(failure), held, vec![]).await;
    }
    log::warn!(
        "notification {} event={} attempt={} status=queued errcode={} retry_in={delay:?} error=\"{}\" hint=\"{}\"",
        job.id,
        job.event,
        job.attempts,
        failure.errcode.map_or("none".into(), |c| c.to_string()),
        failure.error,
        failure.hint
    );
    inner.shared.metrics.retries.get_or_create(&EventLabel { event: job.event.clone() }).inc();
    let at = now_ms() + delay.as_millis() as Millis;
    record(inner, &job, Change::Retry { at, error: failure, ambiguous: error.is_ambiguous() }).await;
}

async fn finish(
    inner: &Inner,
    job: &Job,
    status: Status,
    result: Result<crate::wecom::SendReceipt, Failure>,
    held: Vec<Held>,
    sent_keys: Vec<String>,
) {
    {
        let mut lim = inner.limiter.lock().expect("poisoned");
        held.iter().for_each(|h| lim.hold(&h.key));
    }
    let held_for: Vec<String> = held.iter().map(|h| h.key.clone()).collect();
    let errcode = match &result {
        Ok(_) => "0".to_owned(),
        Err(f) => f.errcode.map_or("none".into(), |c| c.to_string()),
    };
    let m = &inner.shared.metrics;
    m.held.inc_by(held.len() as u64);
    let labels =
        OutcomeLabels { event: job.event.clone(), status: status.as_str().into(), errcode: errcode.clone() };
    m.finished.get_or_create(&labels).inc();
    // One line per state change, with what an operator greps for.
    let head = format!(
        "notification {} event={} attempt={} status={}",
        job.id,
        job.event,
        job.attempts,
        status.as_str()
    );
    match &result {
        Ok(r) => log::info!(
            "{head} msgid={} invalid_users={:?} held_for={held_for:?}",
            if r.msgid.is_empty() { "none" } else { &r.msgid },
            r.invalid_users
        ),
        Err(f) => log::error!("{head} errcode={errcode} error=\"{}\" fix=\"{}\"", f.error, f.hint),
    }
    let (receipt, error) = match &result {
        Ok(r) => (Some(r.clone()), None),
        Err(f) => (None, Some(f.clone())),
    };
    let change = Change::Finish { status, receipt, error, held, sent_keys };
    if record(inner, job, change).await {
        let outcome = match result {
            Ok(receipt) => Outcome::Sent { receipt, held_for },
            Err(failure) => Outcome::Failed(failure),
        };
        inner.shared.finished(&job.id, outcome);
    }
}

/// Writes the change; a store failure leaves the job `sending`, to be resumed on the next start.
async fn record(inner: &Inner, job: &Job, change: Change) -> bool {
    match inner.store.update(job.id.clone(), now_ms(), change).await {
        Ok(()) => true,
        Err(e) => {
            log::error!("notification {}: cannot record the outcome: {e}", job.id);
            false
        }
    }
}

/// Turns held items into digest notifications for each member whose window has room again and
/// whose oldest item has waited `digest_delay` (so that a burst ends up in one digest).
async fn flush_digests(inner: &Inner, now: Millis) -> Result<(), StoreError> {
    let ready = inner.limiter.lock().expect("poisoned").held_with_room(now);
    for key in ready {
        let items = inner.store.held(key.clone()).await?;
        let Some(oldest) = items.first() else {
            inner.limiter.lock().expect("poisoned").release(&key);
            continue;
        };
        if now - oldest.held.created_at < inner.digest_delay {
            continue;
        }
        let held: Vec<Held> = items.iter().map(|h| h.held.clone()).collect();
        let recipients = match limiter::recipients(std::slice::from_ref(&key)) {
            Ok(r) => r,
            Err(e) => {
                log::error!("held items for `{key}` cannot be addressed ({e}); they stay held");
                continue;
            }
        };
        let digests: Vec<NewRecord> = digest::build(&held, crate::wecom::MsgType::Text.content_limit())
            .into_iter()
            .map(|text| {
                let destination = Destination::App(recipients.clone());
                NewRecord {
                    id: uuid::Uuid::now_v7().to_string(),
                    event: DIGEST_EVENT.into(),
                    payload: Payload::new(
                        Body::text(&text),
                        &destination,
                        String::new(),
                        String::new(),
                        true,
                    ),
                    idempotency_key: None,
                    now,
                }
            })
            .collect();
        let count = digests.len();
        inner.store.merge_held(items.iter().map(|h| h.seq).collect(), digests).await?;
        inner.shared.unfinished.fetch_add(count, Ordering::SeqCst);
        inner.limiter.lock().expect("poisoned").release(&key);
        inner.shared.metrics.digests.inc_by(count as u64);
        log::info!("merged {} held notifications for {key} into {count} digest(s)", held.len());
        inner.shared.wake.notify_one();
    }
    Ok(())
}
