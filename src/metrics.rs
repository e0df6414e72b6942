//! Prometheus metrics: one `Metrics` value, shared by the API, the WeCom client and the workers,
//! and rendered in the text format by `GET /metrics`. Labels never carry a secret or a token.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabel {
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub event: String,
    /// `sent`, `failed` or `dead`.
    pub status: String,
    /// WeCom's errcode; `0` when sent, `none` when the failure had none (HTTP, timeout).
    pub errcode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// `gettoken`, `message/send`, `agent/get`, ...
    pub api: String,
    /// `ok`, or `error`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

type LatencyFamily = Family<ApiLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub accepted: Family<EventLabel, Counter>,
    pub finished: Family<OutcomeLabels, Counter>,
    pub retries: Family<EventLabel, Counter>,
    pub queue_depth: Gauge,
    pub queue_oldest_age: Gauge<f64, AtomicU64>,
    pub token_fetches: Family<ApiLabels, Counter>,
    pub wecom_latency: LatencyFamily,
    pub held: Counter,
    pub digests: Counter,
    pub responses: Family<StatusLabel, Counter>,
}

fn latency_histogram() -> Histogram {
    // 5 ms to about 20 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wecom_relay");
        let m = Metrics {
            accepted: Family::default(),
            finished: Family::default(),
            retries: Family::default(),
            queue_depth: Gauge::default(),
            queue_oldest_age: Gauge::default(),
            token_fetches: Family::default(),
            wecom_latency: Family::new_with_constructor(latency_histogram),
            held: Counter::default(),
            digests: Counter::default(),
            responses: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "notifications_accepted",
            "Notifications accepted (202), by event",
            m.accepted.clone(),
        );
        registry.register(
            "notifications_finished",
            "Notifications that reached a final status, by event, status and WeCom errcode",
            m.finished.clone(),
        );
        registry.register(
            "notifications_retried",
            "Attempts that failed and were scheduled again",
            m.retries.clone(),
        );
        registry.register(
            "queue_depth",
            "Notifications accepted and not yet finished",
            m.queue_depth.clone(),
        );
        registry.register(
            "queue_oldest_age_seconds",
            "Age of the oldest unfinished notification",
            m.queue_oldest_age.clone(),
        );
        registry.register("token_fetches", "gettoken calls, by outcome", m.token_fetches.clone());
        registry.register("wecom_call_duration_seconds", "WeCom API call latency", m.wecom_latency.clone());
        registry.register(
            "held_for_digest",
            "Recipients held back by the per-member limit, to be merged into a digest",
            m.held.clone(),
        );
        registry.register(
            "digests_merged",
            "Digest messages made from held notifications",
            m.digests.clone(),
        );
        registry.register(
            "http_responses",
            "Responses of the relay's HTTP API, by status",
            m.responses.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn observe_call(&self, api: &str, ok: bool, took: Duration) {
        let labels = ApiLabels { api: api.to_owned(), outcome: if ok { "ok" } else { "error" }.to_owned() };
        self.wecom_latency.get_or_create(&labels).observe(took.as_secs_f64());
        if api == "gettoken" {
            self.token_fetches.get_or_create(&labels).inc();
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
