//! The emulator's shared state: one lock over tokens, media, inboxes, windows and knobs.

use super::clock::Clock;
use super::config::EmulatorConfig;
use super::limits::{DuplicateCache, Windows};
use super::model::{Counters, Endpoint, Fault, Received, RobotReceived};
use super::tokens::Tokens;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An uploaded media file.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    /// image | voice | video | file
    pub kind: String,
    pub filename: String,
    pub size: usize,
    pub at: Instant,
    /// Robot uploads are usable only with the same key.
    pub robot_key: Option<String>,
}

/// What `message/recall` needs to know about a sent message.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub agent_id: i64,
    pub at: Instant,
    pub users: Vec<String>,
    pub recalled: bool,
}

/// Everything that changes while the emulator runs.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub tokens: Tokens,
    pub media: HashMap<String, Media>,
    pub sent: HashMap<String, Sent>,
    pub inbox: HashMap<String, Vec<Received>>,
    pub dropped: HashMap<String, Vec<Received>>,
    pub robot: HashMap<String, Vec<RobotReceived>>,
    pub member_windows: Windows<(i64, String)>,
    pub robot_windows: Windows<String>,
    pub duplicates: DuplicateCache,
    pub counters: Counters,
    pub faults: VecDeque<Fault>,
    pub latency: Duration,
    pub down: bool,
    /// Bumped on every recorded change, so the inbox page knows when to redraw.
    pub version: u64,
}

impl Inner {
    /// Counts a call to `ep`.
    pub(crate) fn count(&mut self, ep: Endpoint) {
        let c = &mut self.counters;
        match ep {
            Endpoint::GetToken => c.gettoken += 1,
            Endpoint::MessageSend => c.send += 1,
            Endpoint::AgentGet => c.agent_get += 1,
            Endpoint::UserGet => c.user_get += 1,
            Endpoint::MediaUpload => c.media_upload += 1,
            Endpoint::Recall => c.recall += 1,
            Endpoint::Webhook => c.webhook += 1,
            Endpoint::WebhookUpload => c.webhook_upload += 1,
        }
    }

    /// Takes one use of the first queued fault that applies to `ep`.
    pub(crate) fn take_fault(&mut self, ep: Endpoint) -> Option<Fault> {
        let pos = self.faults.iter().position(|f| f.endpoint.is_none() || f.endpoint == Some(ep))?;
        let fault = self.faults.get_mut(pos)?;
        let taken = fault.clone();
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            self.faults.remove(pos);
        }
        Some(taken)
    }

    /// A label ("name, N bytes") for a valid (unexpired) media of this kind, uploaded by
    /// an app (`robot_key` None) or by that robot.
    pub(crate) fn media_label(
        &self,
        id: &str,
        kind: &str,
        robot_key: Option<&str>,
        now: Instant,
        ttl: Duration,
    ) -> Option<String> {
        self.media
            .get(id)
            .filter(|m| m.kind == kind && m.robot_key.as_deref() == robot_key && now < m.at + ttl)
            .map(|m| format!("{}, {} bytes", m.filename, m.size))
    }
}

/// Config, clock and state, shared by the server's handlers and every [`EmulatorHandle`].
///
/// [`EmulatorHandle`]: super::EmulatorHandle
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub clock: Clock,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig) -> Arc<Shared> {
        Arc::new(Shared { config, clock: Clock::default(), inner: Mutex::new(Inner::default()) })
    }

    /// Locks the state. A panic elsewhere must not wedge the emulator, so poison is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything recorded and every knob; config and clock stay.
    pub(crate) fn reset(&self) {
        let mut inner = self.lock();
        let version = inner.version + 1;
        *inner = Inner::default();
        inner.version = version;
    }

    pub(crate) fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.config.token_ttl_secs)
    }

    pub(crate) fn media_ttl(&self) -> Duration {
        Duration::from_secs(self.config.media_ttl_secs)
    }
}
