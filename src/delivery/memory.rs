//! The in-memory store, for those who want no disk: fast, and everything is lost on a restart.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::store::{
    Change, Enqueued, Job, Millis, NewRecord, Payload, Requeue, Store, StoreError, StoredHeld,
};
use super::{Failure, NotificationView, Status};
use crate::wecom::SendReceipt;

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rows: HashMap<String, Row>,
    /// (due time, id) of every `queued` row.
    due: BTreeSet<(Millis, String)>,
    keys: HashMap<String, (String, Millis)>,
    held: Vec<StoredHeld>,
    next_seq: i64,
    sends: Vec<(String, Millis)>,
    /// Finished rows, oldest first: only the newest `KEEP_FINISHED` stay, so that memory does
    /// not grow with traffic. `dead` ones stay until retried.
    finished: VecDeque<String>,
}

/// How many finished notifications the in-memory store keeps for `GET /notifications/{id}`.
const KEEP_FINISHED: usize = 10_000;

struct Row {
    event: String,
    payload: Payload,
    status: Status,
    attempts: u32,
    next_at: Millis,
    ambiguous: bool,
    last_error: Option<Failure>,
    receipt: Option<SendReceipt>,
    held_for: Vec<String>,
    created_at: Millis,
    updated_at: Millis,
}

impl Row {
    fn view(&self, id: &str) -> NotificationView {
        NotificationView::from_parts(
            id,
            &self.event,
            self.status,
            self.attempts,
            self.last_error.clone(),
            self.receipt.clone(),
            self.held_for.clone(),
            self.created_at,
            self.updated_at,
        )
    }
}

impl MemoryStore {
    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inner) -> T,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let result = f(&mut self.inner.lock().expect("poisoned"));
        std::future::ready(Ok(result)).boxed()
    }
}

impl Inner {
    fn insert(&mut self, r: NewRecord) -> Enqueued {
        if let Some(key) = &r.idempotency_key {
            let scoped = format!("{}\n{key}", r.event);
            if let Some((id, _)) = self.keys.get(&scoped) {
                return Enqueued::Existing(id.clone());
            }
            self.keys.insert(scoped, (r.id.clone(), r.now));
        }
        self.due.insert((r.now, r.id.clone()));
        let row = Row {
            event: r.event,
            payload: r.payload,
            status: Status::Queued,
            attempts: 0,
            next_at: r.now,
            ambiguous: false,
            last_error: None,
            receipt: None,
            held_for: vec![],
            created_at: r.now,
            updated_at: r.now,
        };
        self.rows.insert(r.id, row);
        Enqueued::New
    }

    fn queue(&mut self, id: &str, at: Millis, now: Millis) {
        if let Some(row) = self.rows.get_mut(id) {
            row.status = Status::Queued;
            row.next_at = at;
            row.updated_at = now;
            self.due.insert((at, id.to_owned()));
        }
    }
}

impl Store for MemoryStore {
    fn enqueue(&self, record: NewRecord) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        self.with(|m| m.insert(record))
    }

    fn claim(&self, now: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<Job>, StoreError>> {
        self.with(|m| {
            let ready: Vec<(Millis, String)> =
                m.due.iter().take_while(|(at, _)| *at <= now).take(limit).cloned().collect();
            ready
                .into_iter()
                .filter_map(|entry| {
                    m.due.remove(&entry);
                    let row = m.rows.get_mut(&entry.1)?;
                    row.status = Status::Sending;
                    row.attempts += 1;
                    row.updated_at = now;
                    Some(Job {
                        id: entry.1,
                        event: row.event.clone(),
                        payload: row.payload.clone(),
                        attempts: row.attempts,
                        ambiguous: row.ambiguous,
                        created_at: row.created_at,
                    })
                })
                .collect()
        })
    }

    fn update(&self, id: String, now: Millis, change: Change) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(move |m| match change {
            Change::Finish { status, receipt, error, held, sent_keys } => {
                m.sends.extend(sent_keys.into_iter().map(|k| (k, now)));
                let held_for = held.iter().map(|h| h.key.clone()).collect();
                for h in held {
                    m.next_seq += 1;
                    m.held.push(StoredHeld { seq: m.next_seq, held: h });
                }
                if let Some(row) = m.rows.get_mut(&id) {
                    row.status = status;
                    row.receipt = receipt;
                    row.held_for = held_for;
                    row.last_error = error.or(row.last_error.take());
                    row.updated_at = now;
                    m.finished.push_back(id);
                }
                while m.finished.len() > KEEP_FINISHED {
                    let Some(old) = m.finished.pop_front() else { break };
                    if m.rows.get(&old).is_some_and(|r| r.status != Status::Dead) {
                        m.rows.remove(&old);
                    }
                }
            }
            Change::Retry { at, error, ambiguous } => {
                if let Some(row) = m.rows.get_mut(&id) {
                    row.last_error = Some(error);
                    row.ambiguous |= ambiguous;
                }
                m.queue(&id, at, now);
            }
            Change::Defer { at } => {
                if let Some(row) = m.rows.get_mut(&id) {
                    row.attempts = row.attempts.saturating_sub(1);
                }
                m.queue(&id, at, now);
            }
        })
    }

    fn get(&self, id: String) -> BoxFuture<'_, Result<Option<NotificationView>, StoreError>> {
        self.with(move |m| m.rows.get(&id).map(|r| r.view(&id)))
    }

    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<NotificationView>, StoreError>> {
        self.with(move |m| {
            let mut views: Vec<NotificationView> = m
                .rows
                .iter()
                .filter(|(_, r)| status.is_none_or(|s| r.status == s))
                .map(|(id, r)| r.view(id))
                .collect();
            // Ids are UUIDv7: newest first is descending id order.
            views.sort_by(|a, b| b.id.cmp(&a.id));
            views.truncate(limit);
            views
        })
    }

    fn requeue(&self, id: String, now: Millis) -> BoxFuture<'_, Result<Requeue, StoreError>> {
        self.with(move |m| match m.rows.get_mut(&id) {
            None => Requeue::NotFound,
            Some(row) if !matches!(row.status, Status::Dead | Status::Failed) => {
                Requeue::NotRetryable(row.status)
            }
            Some(row) => {
                row.attempts = 0;
                m.queue(&id, now, now);
                Requeue::Done
            }
        })
    }

    fn recover(&self, _now: Millis) -> BoxFuture<'_, Result<(usize, usize), StoreError>> {
        // Nothing survives a restart in memory.
        self.with(|_| (0, 0))
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<Millis>, StoreError>> {
        self.with(|m| m.due.first().map(|(at, _)| *at))
    }

    fn held_keys(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.with(|m| {
            let keys: std::collections::BTreeSet<String> =
                m.held.iter().map(|h| h.held.key.clone()).collect();
            keys.into_iter().collect()
        })
    }

    fn held(&self, key: String) -> BoxFuture<'_, Result<Vec<StoredHeld>, StoreError>> {
        self.with(move |m| m.held.iter().filter(|h| h.held.key == key).cloned().collect())
    }

    fn merge_held(&self, seqs: Vec<i64>, digests: Vec<NewRecord>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(move |m| {
            m.held.retain(|h| !seqs.contains(&h.seq));
            for d in digests {
                m.insert(d);
            }
        })
    }

    fn sends_since(&self, since: Millis) -> BoxFuture<'_, Result<Vec<(String, Millis)>, StoreError>> {
        self.with(move |m| m.sends.iter().filter(|(_, at)| *at >= since).cloned().collect())
    }

    fn oldest_unfinished(&self) -> BoxFuture<'_, Result<Option<Millis>, StoreError>> {
        self.with(|m| m.rows.values().filter(|r| !r.status.is_final()).map(|r| r.created_at).min())
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(|_| ())
    }

    fn prune(
        &self,
        before: Millis,
        keys_before: Millis,
        sends_before: Millis,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.with(move |m| {
            m.rows
                .retain(|_, r| !(matches!(r.status, Status::Sent | Status::Failed) && r.updated_at < before));
            m.keys.retain(|_, (_, at)| *at >= keys_before);
            m.sends.retain(|(_, at)| *at >= sends_before);
        })
    }
}
