//! The in-memory store, for those who want no disk: fast, and everything is lost on a restart.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

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

/// A notification id: the relay makes them as UUIDs (v7), kept here as the number they spell,
/// which orders as the text does and needs no allocation.
type Id = u128;

fn parse_id(id: &str) -> Option<Id> {
    let parsed = uuid::Uuid::try_parse(id).ok()?;
    // Only the form the relay hands out names a notification, as in the SQLite store.
    (parsed.hyphenated().to_string() == id).then(|| parsed.as_u128())
}

fn show_id(id: Id) -> String {
    uuid::Uuid::from_u128(id).hyphenated().to_string()
}

#[derive(Default)]
struct Inner {
    rows: HashMap<Id, Row>,
    /// (due time, id) of every `queued` row.
    due: BTreeSet<(Millis, Id)>,
    keys: HashMap<String, (String, Millis)>,
    /// Event names, shared by the rows: there are only a few.
    events: HashSet<Arc<str>>,
    held: Vec<StoredHeld>,
    next_seq: i64,
    sends: Vec<(String, Millis)>,
    /// Finished rows, oldest first: only the newest `KEEP_FINISHED` stay, so that memory does
    /// not grow with traffic. `dead` ones stay until retried.
    finished: VecDeque<Id>,
}

/// How many finished notifications the in-memory store keeps for `GET /notifications/{id}`.
const KEEP_FINISHED: usize = 10_000;

/// A notification. Kept small, because a full queue holds `delivery.queue_capacity` of them: the
/// payload is its JSON text (one allocation instead of one per field), and what only an attempt
/// produces is boxed apart.
struct Row {
    event: Arc<str>,
    payload: Box<str>,
    status: Status,
    ambiguous: bool,
    attempts: u32,
    next_at: Millis,
    created_at: Millis,
    updated_at: Millis,
    tried: Option<Box<Tried>>,
}

/// What attempts have recorded on a row.
#[derive(Default)]
struct Tried {
    last_error: Option<Failure>,
    receipt: Option<SendReceipt>,
    held_for: Vec<String>,
}

impl Row {
    fn view(&self, id: Id) -> NotificationView {
        let tried = self.tried.as_deref();
        NotificationView::from_parts(
            &show_id(id),
            &self.event,
            self.status,
            self.attempts,
            tried.and_then(|t| t.last_error.clone()),
            tried.and_then(|t| t.receipt.clone()),
            tried.map(|t| t.held_for.clone()).unwrap_or_default(),
            self.created_at,
            self.updated_at,
        )
    }

    fn tried(&mut self) -> &mut Tried {
        self.tried.get_or_insert_with(Box::default)
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
    fn insert(&mut self, r: NewRecord) -> Result<Enqueued, StoreError> {
        let id = parse_id(&r.id).ok_or_else(|| StoreError(format!("`{}` is not a notification id", r.id)))?;
        // Done before the key is taken: a failure leaves nothing behind.
        let payload = serde_json::to_string(&r.payload)
            .map_err(|e| StoreError(format!("cannot store the notification: {e}")))?
            .into_boxed_str();
        if let Some(key) = &r.idempotency_key {
            let scoped = format!("{}\n{key}", r.event);
            if let Some((first, _)) = self.keys.get(&scoped) {
                return Ok(Enqueued::Existing(first.clone()));
            }
            self.keys.insert(scoped, (r.id, r.now));
        }
        let event = match self.events.get(r.event.as_str()) {
            Some(shared) => shared.clone(),
            None => {
                let shared: Arc<str> = r.event.into();
                self.events.insert(shared.clone());
                shared
            }
        };
        self.due.insert((r.now, id));
        let row = Row {
            event,
            payload,
            status: Status::Queued,
            ambiguous: false,
            attempts: 0,
            next_at: r.now,
            created_at: r.now,
            updated_at: r.now,
            tried: None,
        };
        self.rows.insert(id, row);
        Ok(Enqueued::New)
    }

    fn queue(&mut self, id: Id, at: Millis, now: Millis) {
        if let Some(row) = self.rows.get_mut(&id) {
            row.status = Status::Queued;
            row.next_at = at;
            row.updated_at = now;
            self.due.insert((at, id));
        }
    }
}

impl Store for MemoryStore {
    fn enqueue(&self, record: NewRecord) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        let result = self.inner.lock().expect("poisoned").insert(record);
        std::future::ready(result).boxed()
    }

    fn claim(&self, now: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<Job>, StoreError>> {
        let mut m = self.inner.lock().expect("poisoned");
        let ready: Vec<(Millis, Id)> =
            m.due.iter().take_while(|(at, _)| *at <= now).take(limit).copied().collect();
        // Every payload is read before anything changes, so that a claim is all or nothing.
        let payloads: Result<Vec<Option<Payload>>, StoreError> = ready
            .iter()
            .map(|(_, id)| {
                m.rows.get(id).map(|row| serde_json::from_str(&row.payload)).transpose().map_err(|e| {
                    StoreError(format!("stored notification {} is unreadable: {e}", show_id(*id)))
                })
            })
            .collect();
        let jobs = payloads.map(|payloads| {
            ready
                .into_iter()
                .zip(payloads)
                .filter_map(|(entry, payload)| {
                    m.due.remove(&entry);
                    let row = m.rows.get_mut(&entry.1)?;
                    row.status = Status::Sending;
                    row.attempts += 1;
                    row.updated_at = now;
                    Some(Job {
                        id: show_id(entry.1),
                        event: row.event.to_string(),
                        payload: payload?,
                        attempts: row.attempts,
                        ambiguous: row.ambiguous,
                        created_at: row.created_at,
                    })
                })
                .collect()
        });
        std::future::ready(jobs).boxed()
    }

    fn update(&self, id: String, now: Millis, change: Change) -> BoxFuture<'_, Result<(), StoreError>> {
        let Some(id) = parse_id(&id) else { return self.with(|_| ()) };
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
                    row.updated_at = now;
                    let tried = row.tried();
                    tried.receipt = receipt;
                    tried.held_for = held_for;
                    tried.last_error = error.or(tried.last_error.take());
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
                    row.tried().last_error = Some(error);
                    row.ambiguous |= ambiguous;
                }
                m.queue(id, at, now);
            }
            Change::Defer { at } => {
                if let Some(row) = m.rows.get_mut(&id) {
                    row.attempts = row.attempts.saturating_sub(1);
                }
                m.queue(id, at, now);
            }
        })
    }

    fn get(&self, id: String) -> BoxFuture<'_, Result<Option<NotificationView>, StoreError>> {
        self.with(move |m| {
            let id = parse_id(&id)?;
            m.rows.get(&id).map(|r| r.view(id))
        })
    }

    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<NotificationView>, StoreError>> {
        self.with(move |m| {
            let mut ids: Vec<Id> = m
                .rows
                .iter()
                .filter(|(_, r)| status.is_none_or(|s| r.status == s))
                .map(|(id, _)| *id)
                .collect();
            // Ids are UUIDv7: newest first is descending id order.
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.truncate(limit);
            ids.into_iter().map(|id| m.rows[&id].view(id)).collect()
        })
    }

    fn requeue(&self, id: String, now: Millis) -> BoxFuture<'_, Result<Requeue, StoreError>> {
        let Some(id) = parse_id(&id) else { return self.with(|_| Requeue::NotFound) };
        self.with(move |m| match m.rows.get_mut(&id) {
            None => Requeue::NotFound,
            Some(row) if !matches!(row.status, Status::Dead | Status::Failed) => {
                Requeue::NotRetryable(row.status)
            }
            Some(row) => {
                row.attempts = 0;
                m.queue(id, now, now);
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
        let mut m = self.inner.lock().expect("poisoned");
        // All or nothing: a digest that cannot be stored leaves the held items where they are.
        let result = match digests.iter().find(|d| parse_id(&d.id).is_none()) {
            Some(bad) => Err(StoreError(format!("`{}` is not a notification id", bad.id))),
            None => {
                m.held.retain(|h| !seqs.contains(&h.seq));
                digests.into_iter().try_for_each(|d| m.insert(d).map(drop))
            }
        };
        std::future::ready(result).boxed()
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

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;
    use crate::delivery::store::Held;

    fn record(id: &str, key: Option<&str>, now: Millis) -> NewRecord {
        // A version 1 payload, which every later relay still reads.
        let payload = serde_json::from_value(serde_json::json!({
            "v": 1, "msgtype": "text", "content": "新用户已加入：alice", "to_user": ["zhangsan"],
            "summary": "alice", "label": "新用户"
        }))
        .unwrap();
        NewRecord {
            id: id.to_owned(),
            event: "user-added".into(),
            payload,
            idempotency_key: key.map(str::to_owned),
            now,
        }
    }

    fn now<T>(f: BoxFuture<'_, Result<T, StoreError>>) -> Result<T, StoreError> {
        f.now_or_never().expect("the memory store answers at once")
    }

    fn uuid(n: u128) -> String {
        uuid::Uuid::from_u128(n).hyphenated().to_string()
    }

    #[test]
    fn a_notification_goes_from_queued_to_sent_with_its_payload_intact() {
        let store = MemoryStore::default();
        let (older, newer) = (uuid(1 << 80), uuid(2 << 80));
        assert_eq!(now(store.enqueue(record(&older, None, 10))).unwrap(), Enqueued::New);
        assert_eq!(now(store.enqueue(record(&newer, None, 20))).unwrap(), Enqueued::New);
        assert_eq!(now(store.next_due()).unwrap(), Some(10));

        let jobs = now(store.claim(15, 10)).unwrap();
        assert_eq!(jobs.len(), 1, "only the one due by 15");
        assert_eq!(
            (jobs[0].id.as_str(), jobs[0].attempts, jobs[0].event.as_str()),
            (older.as_str(), 1, "user-added")
        );
        assert_eq!(jobs[0].payload, record(&older, None, 10).payload);

        let finish = Change::Finish {
            status: Status::Sent,
            receipt: Some(SendReceipt { msgid: "m1".into(), ..Default::default() }),
            error: None,
            held: vec![],
            sent_keys: vec!["zhangsan".into()],
        };
        now(store.update(older.clone(), 30, finish)).unwrap();
        let view = now(store.get(older.clone())).unwrap().unwrap();
        assert_eq!(
            (view.id.as_str(), view.status, view.msgid.as_deref()),
            (older.as_str(), Status::Sent, Some("m1"))
        );
        let listed: Vec<String> = now(store.list(None, 10)).unwrap().into_iter().map(|v| v.id).collect();
        assert_eq!(listed, [newer.clone(), older.clone()], "newest first");
        assert_eq!(now(store.sends_since(0)).unwrap(), [("zhangsan".to_owned(), 30)]);
    }

    #[test]
    fn a_repeated_key_returns_the_first_id_and_unknown_ids_are_not_found() {
        let store = MemoryStore::default();
        let first = uuid(0xabc);
        now(store.enqueue(record(&first, Some("k"), 1))).unwrap();
        assert_eq!(
            now(store.enqueue(record(&uuid(8), Some("k"), 2))).unwrap(),
            Enqueued::Existing(first.clone())
        );
        assert!(now(store.get(first.to_uppercase())).unwrap().is_none(), "ids are matched exactly");
        assert!(now(store.get("not-an-id".into())).unwrap().is_none());
        assert_eq!(now(store.requeue("not-an-id".into(), 3)).unwrap(), Requeue::NotFound);
        assert!(now(store.enqueue(record("not-an-id", None, 1))).is_err());
    }

    #[test]
    fn retries_keep_the_error_and_a_failed_merge_keeps_the_held_items() {
        let store = MemoryStore::default();
        let id = uuid(9);
        now(store.enqueue(record(&id, None, 1))).unwrap();
        now(store.claim(1, 1)).unwrap();
        let error = Failure { error: "timeout".into(), errcode: None, errmsg: None, hint: "wait".into() };
        now(store.update(id.clone(), 2, Change::Retry { at: 50, error: error.clone(), ambiguous: true }))
            .unwrap();
        let view = now(store.get(id.clone())).unwrap().unwrap();
        assert_eq!((view.status, view.last_error), (Status::Queued, Some(error)));
        assert!(now(store.claim(50, 1)).unwrap()[0].ambiguous);

        let held = Held {
            key: "zhangsan".into(),
            notification_id: id.clone(),
            event: "user-added".into(),
            label: "新用户".into(),
            summary: "alice".into(),
            created_at: 60,
        };
        let finish = Change::Finish {
            status: Status::Sent,
            receipt: None,
            error: None,
            held: vec![held],
            sent_keys: vec![],
        };
        now(store.update(id, 60, finish)).unwrap();
        let items = now(store.held("zhangsan".into())).unwrap();
        assert!(now(store.merge_held(vec![items[0].seq], vec![record("bad", None, 70)])).is_err());
        assert_eq!(now(store.held("zhangsan".into())).unwrap(), items, "nothing merged");
        now(store.merge_held(vec![items[0].seq], vec![record(&uuid(10), None, 70)])).unwrap();
        assert!(now(store.held("zhangsan".into())).unwrap().is_empty());
        assert_eq!(now(store.next_due()).unwrap(), Some(70));
    }
}
