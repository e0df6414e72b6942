//! The embedded durable store: SQLite in WAL mode with `synchronous=FULL`. One writer thread owns
//! the write connection and commits every waiting request in one transaction (group commit), so
//! that concurrent requests share one fsync; a caller hears back only after its commit. Reads that
//! change nothing run on a second connection and thread, so that they neither wait for a commit
//! nor lengthen one; a third thread copies the WAL into the database (checkpoints) outside the
//! commits.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};
use tokio::sync::oneshot;

use super::store::{Change, Enqueued, Held, Job, Millis, NewRecord, Requeue, Store, StoreError, StoredHeld};
use super::{NotificationView, Status};

/// Marks a database as a wecom-relay queue (`PRAGMA application_id`), so that a path pointing at
/// someone else's database is refused instead of altered.
const APPLICATION_ID: i32 = 0x5752_4C59; // "WRLY"
const SCHEMA_VERSION: i32 = 1;
/// Most requests committed together; bounds the latency one batch adds.
const MAX_BATCH: usize = 1024;
/// WAL frames (pages) after which the writer itself completes a checkpoint, so that the WAL
/// starts over from its beginning (SQLite's own `wal_autocheckpoint` default). Under steady
/// writes the checkpointer thread has copied nearly all of them by then.
const WAL_RESTART_FRAMES: i64 = 1000;
/// The checkpointer's rest between checkpoints: each one ends with an fsync of the database
/// file, which should not compete with every commit's fsync of the WAL.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(50);
/// Prepared statements kept per connection (rusqlite's default is 16).
const STATEMENT_CACHE: usize = 64;
/// How often the writer logs its group-commit figures (at debug level).
const STATS_EVERY: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,
    event       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    ambiguous   INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    receipt     TEXT,
    held_for    TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX notifications_due ON notifications(next_at) WHERE status = 'queued';
CREATE INDEX notifications_status ON notifications(status, id);
CREATE TABLE idempotency (key TEXT PRIMARY KEY, id TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE held (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, notification_id TEXT NOT NULL,
    event TEXT NOT NULL, label TEXT NOT NULL, summary TEXT NOT NULL, created_at INTEGER NOT NULL
);
CREATE INDEX held_key ON held(key, seq);
CREATE TABLE sends (key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX sends_at ON sends(at);
";

/// What to tell a writer's caller once its batch has (or has not) been committed.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// A unit of work for the writer: runs inside the batch's transaction and says whether it
/// succeeded (a failed one is rolled back alone) and what to reply after the commit.
type Op = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;
/// A read for the reader thread: runs on its own connection, outside any write transaction, and
/// sees everything committed so far.
type ReadOp = Box<dyn FnOnce(&Connection) + Send>;

pub struct SqliteStore {
    ops: mpsc::Sender<Op>,
    reads: mpsc::Sender<ReadOp>,
}

impl SqliteStore {
    /// Opens (or creates) the queue at `path`. A file that is not a readable wecom-relay queue is
    /// refused with the reason and left exactly as it was.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = open_checked(path)?;
        let reader = open_more(path, "reads")?;
        let checkpoints = open_more(path, "checkpoints")?;
        let tune = || -> rusqlite::Result<()> {
            reader.pragma_update(None, "query_only", true)?;
            // Checkpoints are the checkpointer's: none in the middle of a commit.
            conn.pragma_update(None, "wal_autocheckpoint", 0)
        };
        tune().map_err(|e| StoreError(format!("cannot prepare queue.path `{}`: {e}", path.display())))?;
        let overdue = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::sync_channel(1);
        let (ops, rx) = mpsc::channel::<Op>();
        let (reads, read_rx) = mpsc::channel::<ReadOp>();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(drop)
                .map_err(|e| StoreError(format!("cannot start the {name} thread: {e}")))
        };
        let to_writer = Checkpoints { wake, overdue: overdue.clone() };
        spawn("queue-writer", Box::new(move || writer(conn, rx, to_writer)))?;
        spawn("queue-reader", Box::new(move || reader_loop(reader, read_rx)))?;
        spawn("queue-checkpoint", Box::new(move || checkpointer(checkpoints, woken, overdue)))?;
        Ok(SqliteStore { ops, reads })
    }

    /// Runs `f` in the writer's next batch; answers once that batch is committed.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let (tx, rx) = oneshot::channel();
        let op: Op = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply = Box::new(move |commit: Option<&StoreError>| {
                let outcome = match (result, commit) {
                    (Err(e), _) => Err(StoreError(e.to_string())),
                    (Ok(_), Some(e)) => Err(e.clone()),
                    (Ok(v), None) => Ok(v),
                };
                let _ = tx.send(outcome);
            });
            (ok, reply as Reply)
        });
        if self.ops.send(op).is_err() {
            return std::future::ready(Err(StoreError("the queue writer has stopped".into()))).boxed();
        }
        async move { rx.await.unwrap_or_else(|_| Err(StoreError("the queue did not record the request".into()))) }
            .boxed()
    }

    /// Runs the read-only `f` on the reader's connection.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let (tx, rx) = oneshot::channel();
        let op: ReadOp = Box::new(move |conn| {
            let _ = tx.send(f(conn).map_err(|e| StoreError(e.to_string())));
        });
        if self.reads.send(op).is_err() {
            return std::future::ready(Err(StoreError("the queue reader has stopped".into()))).boxed();
        }
        async move { rx.await.unwrap_or_else(|_| Err(StoreError("the queue did not answer the read".into()))) }
            .boxed()
    }
}

fn open_checked(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display();
    let refuse = |why: String| {
        StoreError(format!(
            "queue.path `{shown}` {why}. The file was left untouched: move it aside to start with an \
             empty queue (its notifications are then not delivered), or point queue.path elsewhere"
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError(format!("cannot create the folder of queue.path `{shown}`: {e}")))?;
    }
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError(format!(
            "cannot open queue.path `{shown}` for reading and writing: {e} (check its permissions)"
        ))
    })?;
    // Read-only checks first: nothing is written until the file is known to be ours.
    let read = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let tables = read("SELECT count(*) FROM sqlite_master")
        .map_err(|e| refuse(format!("cannot be read as a queue ({e})")))?;
    let app_id = read("PRAGMA application_id").map_err(|e| refuse(format!("cannot be read ({e})")))?;
    let version = read("PRAGMA user_version").map_err(|e| refuse(format!("cannot be read ({e})")))?;
    if tables > 0 && app_id != i64::from(APPLICATION_ID) {
        return Err(refuse("is another program's SQLite database, not a wecom-relay queue".into()));
    }
    if version > i64::from(SCHEMA_VERSION) {
        return Err(refuse(format!("was written by a newer wecom-relay (schema {version})")));
    }
    if tables > 0 {
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| refuse(format!("is damaged ({e})")))?;
        if check != "ok" {
            return Err(refuse(format!("is damaged ({check})")));
        }
    }
    let setup = || -> rusqlite::Result<()> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Every commit reaches the disk before the caller hears 202.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        if tables == 0 {
            conn.execute_batch(&format!(
                "BEGIN; {SCHEMA} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))?;
        }
        Ok(())
    };
    setup().map_err(|e| StoreError(format!("cannot prepare queue.path `{shown}`: {e}")))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Another connection to the queue that `open_checked` has checked and set up.
fn open_more(path: &Path, purpose: &str) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let setup = || -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(path, flags)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    };
    setup().map_err(|e| StoreError(format!("cannot open queue.path `{}` for {purpose}: {e}", path.display())))
}

/// The writer's side of checkpointing: it wakes the checkpointer after each commit, and completes
/// a checkpoint itself when the checkpointer says that the WAL has grown past its restart size.
struct Checkpoints {
    wake: mpsc::SyncSender<()>,
    overdue: Arc<AtomicBool>,
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Op>, checkpoints: Checkpoints) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    let mut replies: Vec<Reply> = Vec::with_capacity(MAX_BATCH);
    let mut stats = Stats::default();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        batch.extend(rx.try_iter().take(MAX_BATCH - 1));
        let started = Instant::now();
        let requests = batch.len();
        let mut committing = started;
        let commit = (|| -> rusqlite::Result<()> {
            let txn = conn.transaction()?;
            for op in batch.drain(..) {
                // A savepoint per request, so that one failing request does not spoil the others;
                // prepared once (rusqlite's `Savepoint` parses its SQL on every use).
                txn.prepare_cached("SAVEPOINT request")?.execute([])?;
                let (ok, reply) = op(&txn);
                if !ok {
                    txn.prepare_cached("ROLLBACK TO request")?.execute([])?;
                }
                txn.prepare_cached("RELEASE request")?.execute([])?;
                replies.push(reply);
            }
            committing = Instant::now();
            txn.commit()
        })();
        stats.add(requests, committing - started, committing.elapsed());
        let error = commit.err().map(|e| StoreError(format!("commit failed: {e}")));
        if let Some(e) = &error {
            log::error!("{e}");
        }
        for reply in replies.drain(..) {
            reply(error.as_ref());
        }
        // Requests not reached because the transaction broke off are dropped unanswered: their
        // callers get "the queue did not record the request".
        batch.clear();
        if checkpoints.overdue.swap(false, Ordering::Relaxed) {
            // Nothing is appended meanwhile, so this completes, and the next transaction starts
            // the WAL over; the checkpointer has already copied most of it.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                log::warn!("queue checkpoint failed: {e}");
            }
        }
        let _ = checkpoints.wake.try_send(());
        stats.log_every(STATS_EVERY);
    }
}

/// Group-commit figures, logged now and then at debug level: how many requests share a commit and
/// where the writer's time goes.
#[derive(Default)]
struct Stats {
    since: Option<Instant>,
    commits: u64,
    requests: u64,
    largest: usize,
    running: Duration,
    committing: Duration,
    slowest_commit: Duration,
}

impl Stats {
    fn add(&mut self, requests: usize, running: Duration, committing: Duration) {
        self.since.get_or_insert_with(Instant::now);
        self.commits += 1;
        self.requests += requests as u64;
        self.largest = self.largest.max(requests);
        self.running += running;
        self.committing += committing;
        self.slowest_commit = self.slowest_commit.max(committing);
    }

    fn log_every(&mut self, every: Duration) {
        let Some(since) = self.since.filter(|s| s.elapsed() >= every) else { return };
        let secs = since.elapsed().as_secs_f64();
        let per_commit = |d: Duration| d.as_secs_f64() * 1000.0 / self.commits as f64;
        log::debug!(
            "queue writer: {:.0} commits/s, {:.0} requests/s, {:.1} requests a commit (largest {}), \
             {:.2} ms running and {:.2} ms committing a batch (slowest commit {:.1} ms), busy {:.0}%",
            self.commits as f64 / secs,
            self.requests as f64 / secs,
            self.requests as f64 / self.commits as f64,
            self.largest,
            per_commit(self.running),
            per_commit(self.committing),
            self.slowest_commit.as_secs_f64() * 1000.0,
            (self.running + self.committing).as_secs_f64() * 100.0 / secs,
        );
        *self = Stats::default();
    }
}

fn reader_loop(conn: Connection, rx: mpsc::Receiver<ReadOp>) {
    while let Ok(op) = rx.recv() {
        op(&conn);
    }
}

/// Copies committed WAL frames into the database file while the writer goes on committing, so
/// that a commit rarely pays for a checkpoint. A passive checkpoint never blocks the writer; it
/// cannot finish while the writer appends, so when the WAL has grown past `WAL_RESTART_FRAMES`
/// the writer is asked to complete one between two batches.
fn checkpointer(conn: Connection, woken: mpsc::Receiver<()>, overdue: Arc<AtomicBool>) {
    while woken.recv().is_ok() {
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        match frames {
            Ok(frames) if frames >= WAL_RESTART_FRAMES => overdue.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => log::warn!("queue checkpoint failed: {e}"),
        }
        std::thread::sleep(CHECKPOINT_PAUSE);
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn insert(conn: &Connection, r: &NewRecord) -> rusqlite::Result<Enqueued> {
    if let Some(key) = &r.idempotency_key {
        let scoped = format!("{}\n{key}", r.event);
        let fresh = conn
            .prepare_cached("INSERT INTO idempotency (key, id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING")?
            .execute(params![scoped, r.id, r.now])?;
        if fresh == 0 {
            let id = conn
                .prepare_cached("SELECT id FROM idempotency WHERE key = ?1")?
                .query_row([scoped], |row| row.get(0))?;
            return Ok(Enqueued::Existing(id));
        }
    }
    conn.prepare_cached(
        "INSERT INTO notifications (id, event, payload, status, next_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?4, ?4)",
    )?
    .execute(params![r.id, r.event, json(&r.payload), r.now])?;
    Ok(Enqueued::New)
}

const VIEW_COLUMNS: &str =
    "id, event, status, attempts, last_error, receipt, held_for, created_at, updated_at";

fn view(row: &Row) -> rusqlite::Result<NotificationView> {
    let status: String = row.get(2)?;
    let last_error: Option<String> = row.get(4)?;
    let receipt: Option<String> = row.get(5)?;
    Ok(NotificationView::from_parts(
        &row.get::<_, String>(0)?,
        &row.get::<_, String>(1)?,
        status
            .parse()
            .map_err(|e: String| rusqlite::Error::InvalidColumnType(2, e, rusqlite::types::Type::Text))?,
        row.get(3)?,
        last_error.as_deref().map(from_json).transpose()?,
        receipt.as_deref().map(from_json).transpose()?,
        from_json(&row.get::<_, String>(6)?)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn set_queued(conn: &Connection, id: &str, at: Millis, now: Millis) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE notifications SET status = 'queued', next_at = ?2, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, at, now])?;
    Ok(())
}

impl Store for SqliteStore {
    fn enqueue(&self, record: NewRecord) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        self.run(move |c| insert(c, &record))
    }

    fn claim(&self, now: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<Job>, StoreError>> {
        self.run(move |c| {
            // Named indexes: without statistics the planner prefers `notifications_status` and then
            // reads and sorts every queued row, on every claim (and in `next_due`).
            let mut stmt = c.prepare_cached(
                "UPDATE notifications SET status = 'sending', attempts = attempts + 1, updated_at = ?1
                 WHERE id IN (SELECT id FROM notifications INDEXED BY notifications_due
                              WHERE status = 'queued' AND next_at <= ?1
                              ORDER BY next_at LIMIT ?2)
                 RETURNING id, event, payload, attempts, ambiguous, created_at",
            )?;
            let jobs = stmt.query_map(params![now, limit as i64], |row| {
                Ok(Job {
                    id: row.get(0)?,
                    event: row.get(1)?,
                    payload: from_json(&row.get::<_, String>(2)?)?,
                    attempts: row.get(3)?,
                    ambiguous: row.get(4)?,
                    created_at: row.get(5)?,
                })
            })?;
            jobs.collect()
        })
    }

    fn update(&self, id: String, now: Millis, change: Change) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |c| {
            match change {
                Change::Finish { status, receipt, error, held, sent_keys } => {
                    let held_for: Vec<&str> = held.iter().map(|h| h.key.as_str()).collect();
                    c.prepare_cached(
                        "UPDATE notifications SET status = ?2, receipt = ?3, last_error = COALESCE(?4, last_error),
                         held_for = ?5, updated_at = ?6 WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        status.as_str(),
                        receipt.as_ref().map(json),
                        error.as_ref().map(json),
                        json(&held_for),
                        now
                    ])?;
                    let mut hold = c.prepare_cached(
                        "INSERT INTO held (key, notification_id, event, label, summary, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?;
                    for h in &held {
                        hold.execute(params![h.key, h.notification_id, h.event, h.label, h.summary, h.created_at])?;
                    }
                    let mut log = c.prepare_cached("INSERT INTO sends (key, at) VALUES (?1, ?2)")?;
                    for key in &sent_keys {
                        log.execute(params![key, now])?;
                    }
                }
                Change::Retry { at, error, ambiguous } => {
                    c.prepare_cached(
                        "UPDATE notifications SET last_error = ?2, ambiguous = ambiguous OR ?3 WHERE id = ?1",
                    )?
                    .execute(params![id, json(&error), ambiguous])?;
                    set_queued(c, &id, at, now)?;
                }
                Change::Defer { at } => {
                    c.prepare_cached("UPDATE notifications SET attempts = max(attempts - 1, 0) WHERE id = ?1")?
                        .execute([&id])?;
                    set_queued(c, &id, at, now)?;
                }
            }
            Ok(())
        })
    }

    fn get(&self, id: String) -> BoxFuture<'_, Result<Option<NotificationView>, StoreError>> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {VIEW_COLUMNS} FROM notifications WHERE id = ?1"))?
                .query_row([id], view)
                .optional()
        })
    }

    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<NotificationView>, StoreError>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {VIEW_COLUMNS} FROM notifications WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![status.map(Status::as_str), limit as i64], view)?;
            rows.collect()
        })
    }

    fn requeue(&self, id: String, now: Millis) -> BoxFuture<'_, Result<Requeue, StoreError>> {
        self.run(move |c| {
            let status: Option<String> = c
                .prepare_cached("SELECT status FROM notifications WHERE id = ?1")?
                .query_row([&id], |r| r.get(0))
                .optional()?;
            let Some(status) = status else { return Ok(Requeue::NotFound) };
            let status: Status = status.parse().unwrap_or(Status::Queued);
            if !matches!(status, Status::Dead | Status::Failed) {
                return Ok(Requeue::NotRetryable(status));
            }
            c.prepare_cached("UPDATE notifications SET attempts = 0 WHERE id = ?1")?.execute([&id])?;
            set_queued(c, &id, now, now)?;
            Ok(Requeue::Done)
        })
    }

    fn recover(&self, now: Millis) -> BoxFuture<'_, Result<(usize, usize), StoreError>> {
        self.run(move |c| {
            // Whatever was being sent when the process stopped may have reached WeCom.
            let resumed = c.execute(
                "UPDATE notifications SET status = 'queued', ambiguous = 1, updated_at = ?1 WHERE status = 'sending'",
                [now],
            )?;
            let unfinished: i64 =
                c.query_row("SELECT count(*) FROM notifications WHERE status IN ('queued', 'sending')", [], |r| r.get(0))?;
            Ok((resumed, unfinished as usize))
        })
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<Millis>, StoreError>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT min(next_at) FROM notifications INDEXED BY notifications_due WHERE status = 'queued'",
            )?
            .query_row([], |r| r.get(0))
        })
    }

    fn held_keys(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT DISTINCT key FROM held")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn held(&self, key: String) -> BoxFuture<'_, Result<Vec<StoredHeld>, StoreError>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, key, notification_id, event, label, summary, created_at FROM held
                 WHERE key = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([key], |r| {
                Ok(StoredHeld {
                    seq: r.get(0)?,
                    held: Held {
                        key: r.get(1)?,
                        notification_id: r.get(2)?,
                        event: r.get(3)?,
                        label: r.get(4)?,
                        summary: r.get(5)?,
                        created_at: r.get(6)?,
                    },
                })
            })?;
            rows.collect()
        })
    }

    fn merge_held(&self, seqs: Vec<i64>, digests: Vec<NewRecord>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |c| {
            let mut delete = c.prepare_cached("DELETE FROM held WHERE seq = ?1")?;
            for seq in &seqs {
                delete.execute([seq])?;
            }
            for d in &digests {
                insert(c, d)?;
            }
            Ok(())
        })
    }

    fn sends_since(&self, since: Millis) -> BoxFuture<'_, Result<Vec<(String, Millis)>, StoreError>> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached("SELECT key, at FROM sends WHERE at >= ?1 ORDER BY at")?;
            let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn oldest_unfinished(&self) -> BoxFuture<'_, Result<Option<Millis>, StoreError>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT min(created_at) FROM notifications WHERE status IN ('queued', 'sending')",
            )?
            .query_row([], |r| r.get(0))
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        // A real write, committed like any other: proves the disk takes it.
        self.run(|c| c.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}")))
    }

    fn prune(
        &self,
        before: Millis,
        keys_before: Millis,
        sends_before: Millis,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.run(move |c| {
            c.execute(
                "DELETE FROM notifications WHERE status IN ('sent', 'failed') AND updated_at < ?1",
                [before],
            )?;
            c.execute("DELETE FROM idempotency WHERE created_at < ?1", [keys_before])?;
            c.execute("DELETE FROM sends WHERE at < ?1", [sends_before])?;
            Ok(())
        })
    }
}
