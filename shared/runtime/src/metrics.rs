//! Prometheus metrics, served at `GET /metrics` by every service (OpenMetrics text). One registry
//! per process; every series carries the `service` label, so several services in one process
//! (`sandpiper up`, tests) stay apart.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric Sandpiper records.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<Labels, Counter>,
    pub http_duration: Histograms,
    pub events_consumed: Family<Labels, Counter>,
    pub handler_duration: Histograms,
    pub events_redelivered: Family<Labels, Counter>,
    pub consumer_pending: Family<Labels, Gauge>,
    pub events_published: Family<Labels, Counter>,
    pub timers_fired: Family<Labels, Counter>,
    pub timers_pending: Family<Labels, Gauge>,
    pub deliveries: Family<Labels, Counter>,
    pub events_dead_lettered: Family<Labels, Counter>,
    pub pull_failures: Family<Labels, Counter>,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<Labels, Counter>::default();
        let http_duration = Histograms::new_with_constructor(latency_histogram);
        let events_consumed = Family::<Labels, Counter>::default();
        let handler_duration = Histograms::new_with_constructor(latency_histogram);
        let events_redelivered = Family::<Labels, Counter>::default();
        let consumer_pending = Family::<Labels, Gauge>::default();
        let events_published = Family::<Labels, Counter>::default();
        let timers_fired = Family::<Labels, Counter>::default();
        let timers_pending = Family::<Labels, Gauge>::default();
        let deliveries = Family::<Labels, Counter>::default();
        let events_dead_lettered = Family::<Labels, Counter>::default();
        let pull_failures = Family::<Labels, Counter>::default();
        registry.register(
            "sandpiper_http_requests",
            "HTTP requests by route, method and status",
            http_requests.clone(),
        );
        registry.register(
            "sandpiper_http_request_duration_seconds",
            "HTTP request latency by route",
            http_duration.clone(),
        );
        registry.register(
            "sandpiper_events_consumed",
            "Events handled by type and outcome (ok, retry, failed)",
            events_consumed.clone(),
        );
        registry.register(
            "sandpiper_event_handler_duration_seconds",
            "Event handler latency by type",
            handler_duration.clone(),
        );
        registry.register(
            "sandpiper_events_redelivered",
            "Events delivered to a handler more than once",
            events_redelivered.clone(),
        );
        registry.register(
            "sandpiper_consumer_pending_events",
            "Events on the stream not yet delivered to the service's consumer",
            consumer_pending.clone(),
        );
        registry.register(
            "sandpiper_events_published",
            "Events stored on the stream by type",
            events_published.clone(),
        );
        registry.register("sandpiper_timers_fired", "Durable timers fired", timers_fired.clone());
        registry.register(
            "sandpiper_timers_pending",
            "Durable timers waiting",
            timers_pending.clone(),
        );
        registry.register(
            "sandpiper_deliveries",
            "Webhook and Slack deliveries by outcome (delivered, retried, dead_lettered)",
            deliveries.clone(),
        );
        registry.register(
            "sandpiper_events_dead_lettered",
            "Events a consumer refused and wrote to the dead letters, by type and reason (unreadable, mismatched, refused)",
            events_dead_lettered.clone(),
        );
        registry.register(
            "sandpiper_pull_failures",
            "Pulls from a consumer that failed (a leader lost, NATS away), by service and consumer kind; each is followed by a backoff",
            pull_failures.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            events_consumed,
            handler_duration,
            events_redelivered,
            consumer_pending,
            events_published,
            timers_fired,
            timers_pending,
            deliveries,
            events_dead_lettered,
            pull_failures,
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Label helper: `labels(&[("service", "intake"), ...])`.
pub fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

/// Records a handler's outcome.
pub fn record_handled(service: &str, event_type: &str, outcome: &str, took: Duration, delivered: i64, pending: u64) {
    let m = metrics();
    m.events_consumed
        .get_or_create(&labels(&[
            ("service", service),
            ("type", event_type),
            ("outcome", outcome),
        ]))
        .inc();
    m.handler_duration
        .get_or_create(&labels(&[("service", service), ("type", event_type)]))
        .observe(took.as_secs_f64());
    if delivered > 1 {
        m.events_redelivered
            .get_or_create(&labels(&[("service", service)]))
            .inc();
    }
    m.consumer_pending
        .get_or_create(&labels(&[("service", service)]))
        .set(i64::try_from(pending).unwrap_or(i64::MAX));
}

/// Counts a failed pull of `service`'s `consumer` kind (`events`, `deliveries`): one per backoff,
/// so a leader loss costs a handful, never the thousands a second of a loop without one.
pub fn record_pull_failed(service: &str, consumer: &str) {
    metrics()
        .pull_failures
        .get_or_create(&labels(&[("service", service), ("consumer", consumer)]))
        .inc();
}

/// The failed pulls counted so far in this process, every service and consumer together.
pub fn pull_failures_total() -> u64 {
    let text = metrics().render();
    text.lines()
        .filter(|line| line.starts_with("sandpiper_pull_failures_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Counts an event dead-lettered by `service`'s consumer (or again by a redrive).
pub fn record_dead_lettered(service: &str, event_type: &str, reason: &str) {
    metrics()
        .events_dead_lettered
        .get_or_create(&labels(&[
            ("service", service),
            ("event_type", event_type),
            ("reason", reason),
        ]))
        .inc();
}

/// `GET /metrics`: OpenMetrics text to clients that ask for it (Prometheus does), the classic
/// Prometheus text format (0.0.4) otherwise, which `promtool check metrics` and older scrapers
/// read.
pub async fn serve(headers: axum::http::HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let text = metrics().render();
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            to_prometheus_text(&text),
        )
            .into_response()
    }
}

/// OpenMetrics text → Prometheus text 0.0.4: a counter family is named with its `_total` suffix
/// (OpenMetrics names the family without it), and the `# EOF` and `# UNIT` lines go.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Middleware counting requests and their latency by matched route (never by raw path, which
/// would let clients create series).
pub async fn track(service: &'static str, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let m = metrics();
    let status = response.status().as_u16().to_string();
    m.http_requests
        .get_or_create(&labels(&[
            ("service", service),
            ("route", &route),
            ("method", &method),
            ("status", &status),
        ]))
        .inc();
    m.http_duration
        .get_or_create(&labels(&[("service", service), ("route", &route)]))
        .observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_in_prometheus_text() {
        let openmetrics = "# HELP x_requests Requests.\n# TYPE x_requests counter\nx_requests_total{a=\"1\"} 2\n\
                           # HELP x_pending Pending.\n# TYPE x_pending gauge\nx_pending 3\n# EOF\n";
        assert_eq!(
            to_prometheus_text(openmetrics),
            "# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\nx_requests_total{a=\"1\"} 2\n\
             # HELP x_pending Pending.\n# TYPE x_pending gauge\nx_pending 3\n"
        );
    }
}
