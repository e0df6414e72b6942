//! Sliding rate windows (per member per app, per robot) and the duplicate-check cache.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Instants of accepted events per key, kept for one hour.
///
/// WeCom does not say whether its windows are fixed or sliding; sliding windows are the
/// stricter reading, so a relay that passes here also passes a fixed-window server.
#[derive(Debug)]
pub(crate) struct Windows<K> {
    seen: HashMap<K, VecDeque<Instant>>,
}

impl<K> Default for Windows<K> {
    fn default() -> Self {
        Windows { seen: HashMap::new() }
    }
}

/// Which limit refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Minute(u32),
    Hour(u32),
}

impl<K: Hash + Eq> Windows<K> {
    /// Records an event for `key` unless that would exceed `per_minute` or `per_hour`
    /// (`None` = no hourly limit). Refused events are not recorded: only deliveries count.
    pub(crate) fn admit(
        &mut self,
        key: K,
        now: Instant,
        per_minute: u32,
        per_hour: Option<u32>,
    ) -> Result<(), Over> {
        let q = self.seen.entry(key).or_default();
        while q.front().is_some_and(|t| now.saturating_duration_since(*t) >= HOUR) {
            q.pop_front();
        }
        let last_minute = q.iter().rev().take_while(|t| now.saturating_duration_since(**t) < MINUTE).count();
        if last_minute >= per_minute as usize {
            return Err(Over::Minute(per_minute));
        }
        if let Some(h) = per_hour {
            if q.len() >= h as usize {
                return Err(Over::Hour(h));
            }
        }
        q.push_back(now);
        Ok(())
    }
}

/// Requests sent with `enable_duplicate_check`, by app and exact JSON, with the answer given.
#[derive(Debug, Default)]
pub(crate) struct DuplicateCache {
    seen: HashMap<(i64, String), (Instant, serde_json::Value)>,
}

impl DuplicateCache {
    /// The earlier answer if the same request was accepted less than `interval` ago.
    pub(crate) fn earlier(
        &mut self,
        agent_id: i64,
        request: &str,
        now: Instant,
        interval: Duration,
    ) -> Option<serde_json::Value> {
        let key = (agent_id, request.to_owned());
        match self.seen.get(&key) {
            Some((at, answer)) if now.saturating_duration_since(*at) < interval => Some(answer.clone()),
            _ => None,
        }
    }

    /// Remembers an accepted request and its answer.
    pub(crate) fn remember(
        &mut self,
        agent_id: i64,
        request: String,
        now: Instant,
        answer: serde_json::Value,
    ) {
        // WeCom's interval is at most 4 h, so older entries can never match again.
        self.seen.retain(|_, (at, _)| now.saturating_duration_since(*at) < 4 * HOUR);
        self.seen.insert((agent_id, request), (now, answer));
    }
}
