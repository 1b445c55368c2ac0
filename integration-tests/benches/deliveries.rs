//! Delivery throughput and latency to local webhook receivers (#5's figures).
//!
//! `cargo bench -p sandpiper-integration-tests --bench deliveries` (needs SANDPIPER_NATS_SERVER or
//! nats-server on PATH). Each phase starts a fresh stack, subscribes N receivers (each its own
//! destination) to `drafted` in CloudEvents format, creates 1,000 drafts as fast as the API takes
//! them and reports deliveries per second and the latency from the event's time to its arrival.
//! `SANDPIPER_BENCH_SUBSCRIPTIONS` (default `1,8`) sets the phases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant, SystemTime};

use sandpiper_integration_tests::receiver::{Received, Receiver};
use sandpiper_integration_tests::{ACME, TestApp, example};

const EVENTS: usize = 1_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Milliseconds from each event's `time` to its arrival at the receiver.
fn latencies(received: &[Received]) -> Vec<f64> {
    let now_wall = SystemTime::now();
    let now_instant = Instant::now();
    received
        .iter()
        .map(|r| {
            let arrived = now_wall - now_instant.duration_since(r.at);
            let sent: chrono::DateTime<chrono::Utc> = r.json()["time"].as_str().unwrap().parse().unwrap();
            let arrived: chrono::DateTime<chrono::Utc> = arrived.into();
            (arrived - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0
        })
        .collect()
}

async fn phase(subscriptions: usize) {
    let app = TestApp::spawn().await;
    let mut receivers = Vec::new();
    for _ in 0..subscriptions {
        let receiver = Receiver::start(vec![]).await;
        app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
        receivers.push(receiver);
    }
    let body = example("exploring-agents");
    let started = Instant::now();
    for _ in 0..EVENTS {
        app.create(ACME, &body).await;
    }
    let created = started.elapsed();
    let mut all = Vec::new();
    for receiver in &receivers {
        let received = receiver.wait_until("every delivery", |r| r.len() >= EVENTS).await;
        all.extend(latencies(&received));
    }
    let elapsed = started.elapsed();
    all.sort_by(|a, b| a.total_cmp(b));
    let deliveries = EVENTS * subscriptions;
    println!(
        "{subscriptions} subscription(s): {EVENTS} events created in {:.2} s ({:.0}/s); \
         {deliveries} deliveries done after {:.2} s = {:.0} deliveries/s; \
         event→receiver p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        created.as_secs_f64(),
        EVENTS as f64 / created.as_secs_f64(),
        elapsed.as_secs_f64(),
        deliveries as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(0.0)
    );
    drop(app);
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::main]
async fn main() {
    let phases = std::env::var("SANDPIPER_BENCH_SUBSCRIPTIONS").unwrap_or_else(|_| "1,8".into());
    for subscriptions in phases.split(',').filter_map(|n| n.trim().parse::<usize>().ok()) {
        phase(subscriptions).await;
    }
}
