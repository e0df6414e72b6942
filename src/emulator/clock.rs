//! The emulator's clock: real time plus an offset that tests advance instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Real time shifted by however far the control API has advanced it. Token expiry, media
/// expiry, rate windows, duplicate checks and recall age all read this clock.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: Mutex<Duration>,
}

impl Clock {
    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulated monotonic now.
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.offset()
    }

    /// The emulated wall-clock now (used for timestamps shown to callers).
    pub(crate) fn wall(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.offset()
    }

    /// Moves time forward; it never goes back, so recorded instants stay ordered.
    pub(crate) fn advance(&self, d: Duration) {
        let mut off = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *off = off.saturating_add(d);
    }
}
