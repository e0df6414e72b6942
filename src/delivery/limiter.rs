//! The per-member limiter. WeCom silently drops what one app sends to one member beyond 30 a
//! minute or 1000 an hour (DOC 90236: "超过部分会被丢弃不下发", errcode still 0), so the relay counts
//! its own sends and holds back the excess for a digest instead.
//!
//! Keys are member ids, plus `@all`, `party:<id>` and `tag:<id>` for broadcast recipients. Who is
//! inside a department or tag is not known here, so the count is conservative: every broadcast
//! send counts against every member, and a broadcast is held to the busiest member's count.

use std::collections::{HashMap, HashSet, VecDeque};

use super::store::Millis;
use crate::wecom::Recipients;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;

pub struct Limiter {
    per_minute: usize,
    per_hour: usize,
    own: HashMap<String, VecDeque<Millis>>,
    broadcast: VecDeque<Millis>,
    /// Keys with items waiting for a digest: new items for them wait too, to keep order.
    held: HashSet<String>,
    records: u64,
}

/// Sends to one key in the last minute and in the last hour. Queues are kept sorted.
fn counts(q: &VecDeque<Millis>, now: Millis) -> (usize, usize) {
    (q.len() - q.partition_point(|t| *t <= now - MINUTE), q.len() - q.partition_point(|t| *t <= now - HOUR))
}

/// Sends are recorded nearly in time order; the rare late one is slotted into place.
fn insert_sorted(q: &mut VecDeque<Millis>, at: Millis) {
    let pos = q.partition_point(|t| *t <= at);
    q.insert(pos, at);
}

/// The limiter keys of a recipient list. WeCom treats member ids case-insensitively.
pub fn keys(r: &Recipients) -> Vec<String> {
    let mut keys: Vec<String> =
        r.users().iter().map(|u| if u == "@all" { u.clone() } else { u.to_lowercase() }).collect();
    keys.extend(r.parties().iter().map(|p| format!("party:{p}")));
    keys.extend(r.tags().iter().map(|t| format!("tag:{t}")));
    let mut seen = HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys
}

/// The recipient list that reaches exactly `keys`.
pub fn recipients(keys: &[String]) -> Result<Recipients, crate::wecom::RecipientsError> {
    let (mut users, mut parties, mut tags) = (vec![], vec![], vec![]);
    for k in keys {
        if let Some(p) = k.strip_prefix("party:") {
            parties.push(p.to_owned());
        } else if let Some(t) = k.strip_prefix("tag:") {
            tags.push(t.to_owned());
        } else {
            users.push(k.clone());
        }
    }
    Recipients::new(&users, &parties, &tags)
}

fn is_broadcast(key: &str) -> bool {
    key == "@all" || key.starts_with("party:") || key.starts_with("tag:")
}

impl Limiter {
    pub fn new(per_minute: usize, per_hour: usize) -> Self {
        Limiter {
            per_minute,
            per_hour,
            own: HashMap::new(),
            broadcast: VecDeque::new(),
            held: HashSet::new(),
            records: 0,
        }
    }

    /// Whether a single notification may go to `key` now. One slot of each window is kept for
    /// the digest, so that held items can always go out in the same window.
    pub fn admits(&mut self, key: &str, now: Millis) -> bool {
        !self.held.contains(key) && self.fits(key, now, 1)
    }

    /// Whether a digest may go to `key` now.
    pub fn admits_digest(&mut self, key: &str, now: Millis) -> bool {
        self.fits(key, now, 0)
    }

    fn fits(&mut self, key: &str, now: Millis, reserve: usize) -> bool {
        let (broadcast_minute, broadcast_hour) = counts(&self.broadcast, now);
        let (own_minute, own_hour) = if is_broadcast(key) {
            let busiest = self.own.values().map(|q| counts(q, now));
            busiest.fold((0, 0), |(m, h), (qm, qh)| (m.max(qm), h.max(qh)))
        } else {
            self.own.get(key).map_or((0, 0), |q| counts(q, now))
        };
        own_minute + broadcast_minute + reserve < self.per_minute
            && own_hour + broadcast_hour + reserve < self.per_hour
    }

    /// The send times in the last hour that count for `key`, oldest first.
    fn merged(&self, key: &str, now: Millis) -> Vec<Millis> {
        let own = if is_broadcast(key) {
            self.own.values().max_by_key(|q| counts(q, now).1)
        } else {
            self.own.get(key)
        };
        let mut all: Vec<Millis> = own
            .into_iter()
            .flatten()
            .chain(self.broadcast.iter())
            .copied()
            .filter(|t| *t > now - HOUR)
            .collect();
        all.sort_unstable();
        all
    }

    /// When a digest to `key` will fit.
    pub fn next_free(&mut self, key: &str, now: Millis) -> Millis {
        let times = self.merged(key, now);
        let minute: Vec<Millis> = times.iter().copied().filter(|t| *t > now - MINUTE).collect();
        let mut at = now;
        if minute.len() >= self.per_minute {
            at = at.max(minute[minute.len() - self.per_minute] + MINUTE);
        }
        if times.len() >= self.per_hour {
            at = at.max(times[times.len() - self.per_hour] + HOUR);
        }
        at
    }

    /// Counts one send to each of `keys` at `at`.
    pub fn record(&mut self, keys: &[String], at: Millis) {
        let mut broadcast = false;
        for k in keys {
            if is_broadcast(k) {
                broadcast = true;
            } else {
                insert_sorted(self.own.entry(k.clone()).or_default(), at);
            }
        }
        if broadcast {
            insert_sorted(&mut self.broadcast, at);
        }
        self.records += 1;
        if self.records % 1024 == 0 {
            // Now and then, forget what left the hour window, and members with nothing in it.
            let cutoff = at - HOUR;
            let prune = |q: &mut VecDeque<Millis>| {
                let old = q.partition_point(|t| *t <= cutoff);
                q.drain(..old);
            };
            prune(&mut self.broadcast);
            self.own.values_mut().for_each(prune);
            self.own.retain(|_, q| !q.is_empty());
        }
    }

    /// Takes back a send that WeCom certainly did not deliver.
    pub fn forget(&mut self, keys: &[String], at: Millis) {
        let remove = |q: &mut VecDeque<Millis>| {
            if let Some(i) = q.iter().rposition(|t| *t == at) {
                q.remove(i);
            }
        };
        for k in keys.iter().filter(|k| !is_broadcast(k)) {
            self.own.get_mut(k).map(remove);
        }
        if keys.iter().any(|k| is_broadcast(k)) {
            remove(&mut self.broadcast);
        }
    }

    pub fn hold(&mut self, key: &str) {
        self.held.insert(key.to_owned());
    }

    pub fn release(&mut self, key: &str) {
        self.held.remove(key);
    }

    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// The keys with held items whose window has room for a digest now.
    pub fn held_with_room(&mut self, now: Millis) -> Vec<String> {
        let keys: Vec<String> = self.held.iter().cloned().collect();
        keys.into_iter().filter(|k| self.admits_digest(k, now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Vec<String> {
        vec![k.to_owned()]
    }

    #[test]
    fn a_member_gets_29_singles_and_the_30th_slot_is_kept_for_a_digest() {
        let mut l = Limiter::new(30, 1000);
        for i in 0..29 {
            assert!(l.admits("alice", i), "send {i}");
            l.record(&key("alice"), i);
        }
        assert!(!l.admits("alice", 29));
        assert!(l.admits_digest("alice", 29));
        l.record(&key("alice"), 29);
        assert!(!l.admits_digest("alice", 30));
        assert_eq!(l.next_free("alice", 30), MINUTE, "the first send leaves the window at 60 s");
        assert!(l.admits("bob", 30), "other members are not affected");
    }

    #[test]
    fn the_hour_window_applies_too() {
        let mut l = Limiter::new(30, 1000);
        for i in 0..999 {
            l.record(&key("alice"), i * 3_000); // 20 a minute, under the minute limit
        }
        let now = 999 * 3_000;
        assert!(!l.admits("alice", now));
        assert!(l.admits_digest("alice", now));
        assert!(l.admits("alice", HOUR + 10 * 3_000), "old sends leave the hour window");
    }

    #[test]
    fn broadcasts_count_against_every_member() {
        let mut l = Limiter::new(3, 1000);
        l.record(&key("@all"), 0);
        l.record(&key("party:2"), 1);
        assert!(!l.admits("alice", 2), "two broadcasts already reached alice");
        l.record(&key("bob"), 2);
        assert!(!l.admits_digest("tag:7", 3), "bob may be in tag 7");
    }

    #[test]
    fn held_members_wait_for_their_digest_and_forget_frees_a_slot() {
        let mut l = Limiter::new(30, 1000);
        l.hold("alice");
        assert!(!l.admits("alice", 0));
        l.release("alice");
        assert!(l.admits("alice", 0));
        let mut l = Limiter::new(2, 1000);
        l.record(&key("carol"), 5);
        assert!(!l.admits("carol", 6));
        l.forget(&key("carol"), 5);
        assert!(l.admits("carol", 6));
    }

    #[test]
    fn keys_round_trip_to_recipients() {
        let r = Recipients::new(&["Alice".into(), "@all".into()], &["2".into()], &["7".into()]).unwrap();
        let k = keys(&r);
        assert_eq!(k, ["alice", "@all", "party:2", "tag:7"]);
        let back = recipients(&k).unwrap();
        assert_eq!(
            back,
            Recipients::new(&["alice".into(), "@all".into()], &["2".into()], &["7".into()]).unwrap()
        );
    }
}
