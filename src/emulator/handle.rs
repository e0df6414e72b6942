//! [`EmulatorHandle`]: in-process access to what the emulator recorded, and its knobs.

use super::model::{Counters, Fault, Received, RobotReceived};
use super::state::Shared;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A cloneable view of a running emulator for Rust tests (the same things as `/_emulator/`).
#[derive(Clone, Debug)]
pub struct EmulatorHandle {
    pub(crate) shared: Arc<Shared>,
}

impl EmulatorHandle {
    /// Messages delivered to `userid` (case-insensitive), oldest first.
    pub fn received(&self, userid: &str) -> Vec<Received> {
        self.for_user(userid, false)
    }

    /// Messages to `userid` that were silently dropped (rate rule) or suppressed (duplicate
    /// check), oldest first; `reason` says which.
    pub fn dropped(&self, userid: &str) -> Vec<Received> {
        self.for_user(userid, true)
    }

    fn for_user(&self, userid: &str, dropped: bool) -> Vec<Received> {
        let inner = self.shared.lock();
        let map = if dropped { &inner.dropped } else { &inner.inbox };
        map.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(userid))
            .flat_map(|(_, v)| v.iter().cloned())
            .collect()
    }

    /// Every member's delivered messages, by userid.
    pub fn all_received(&self) -> BTreeMap<String, Vec<Received>> {
        let inner = self.shared.lock();
        inner.inbox.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Every member's dropped or suppressed messages, by userid.
    pub fn all_dropped(&self) -> BTreeMap<String, Vec<Received>> {
        let inner = self.shared.lock();
        inner.dropped.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Messages a group robot accepted, oldest first.
    pub fn robot_messages(&self, key: &str) -> Vec<RobotReceived> {
        self.shared.lock().robot.get(key).cloned().unwrap_or_default()
    }

    /// Call and outcome counts.
    pub fn counters(&self) -> Counters {
        self.shared.lock().counters.clone()
    }

    /// Queues a fault for the next `fault.times` matching calls (faults apply in queue order).
    pub fn push_fault(&self, fault: Fault) {
        if fault.times > 0 {
            self.shared.lock().faults.push_back(fault);
        }
    }

    /// Faults not yet used up.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.iter().cloned().collect()
    }

    /// Forgets queued faults.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Invalidates every token early: the next call with one gets 40014.
    pub fn revoke_tokens(&self) {
        self.shared.lock().tokens.revoke_all();
    }

    /// Expires every token now: the next call with one gets 42001.
    pub fn expire_tokens(&self) {
        let now = self.shared.clock.now();
        self.shared.lock().tokens.expire_all(now);
    }

    /// Adds this delay (real time) before every WeCom call is handled.
    pub fn set_latency(&self, d: Duration) {
        self.shared.lock().latency = d;
    }

    /// While down, every WeCom call has its connection dropped without a response
    /// (the control API and the inbox page keep working).
    pub fn set_down(&self, down: bool) {
        self.shared.lock().down = down;
    }

    /// Moves the emulated clock forward (token/media expiry, rate windows, duplicates, recall).
    pub fn advance_clock(&self, d: Duration) {
        self.shared.clock.advance(d);
        self.shared.lock().version += 1;
    }

    /// Forgets tokens, media, messages, counters, faults, latency and "down"; config and clock stay.
    pub fn reset(&self) {
        self.shared.reset();
    }
}
