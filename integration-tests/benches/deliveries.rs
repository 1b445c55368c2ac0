//! Delivery throughput and latency to a local webhook receiver (#5's figures).
//!
//! `cargo bench -p sandpiper-integration-tests --bench deliveries` (needs SANDPIPER_NATS_SERVER or
//! nats-server on PATH). Creates N drafts with one CloudEvents subscription and reports deliveries
//! per second and the latency from the event's time to its arrival at the receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime};

use sandpiper_integration_tests::receiver::Receiver;
use sandpiper_integration_tests::{ACME, TestApp, example};

const EVENTS: usize = 1_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    let body = example("exploring-agents");
    let started = Instant::now();
    for _ in 0..EVENTS {
        app.create(ACME, &body).await;
    }
    let created = started.elapsed();
    let received = receiver.wait_until("every delivery", |r| r.len() >= EVENTS).await;
    let elapsed = started.elapsed();
    let now_wall = SystemTime::now();
    let now_instant = Instant::now();
    let mut latencies: Vec<f64> = received
        .iter()
        .map(|r| {
            let arrived = now_wall - now_instant.duration_since(r.at);
            let sent: chrono::DateTime<chrono::Utc> = r.json()["time"].as_str().unwrap().parse().unwrap();
            let arrived: chrono::DateTime<chrono::Utc> = arrived.into();
            (arrived - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "deliveries: {EVENTS} events (created in {:.2} s), all delivered after {:.2} s",
        created.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "throughput: {:.0} deliveries/s (one subscription, in order, one in flight)",
        EVENTS as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency event→receiver: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}
