//! The console's pages with many applications stored for one partner (#14: each page ≤ 50 ms p99
//! server time with 10,000 applications):
//!
//! ```sh
//! cargo bench -p sandpiper-integration-tests --bench console
//! ```
//!
//! Stores `SANDPIPER_BENCH_CONSOLE_APPS` drafts (default 10,000) for one partner through the
//! API, plus one application taken through review to `active` (so its page has credits, a
//! chart, office hours and a history), then times each page over loopback HTTP, one request at a
//! time (`SANDPIPER_BENCH_CONSOLE_REQUESTS` per page, default 200). The client's time includes
//! the loopback round trip, so it bounds the server's time from above.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use futures::StreamExt;
use sandpiper_integration_tests::console::ConsoleSession;
use sandpiper_integration_tests::{ACME, TestApp, example};
use serde_json::json;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let apps = env_or("SANDPIPER_BENCH_CONSOLE_APPS", 10_000);
    let requests = env_or("SANDPIPER_BENCH_CONSOLE_REQUESTS", 200);
    let app = TestApp::simulated().await;
    let body = example("bedrock-agents-support");

    let started = Instant::now();
    let created: Vec<String> = futures::stream::iter(0..apps)
        .map(|n| {
            let app = &app;
            let mut draft = body.clone();
            draft["startup"]["name"] = json!(format!("Startup {n:05}"));
            // Each startup its own account, as a partner's portfolio has.
            draft["startup"]["aws_account_id"] = json!(format!("{:012}", 200_000_000_000u64 + n as u64));
            async move { app.create(ACME, &draft).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    eprintln!(
        "stored {} drafts in {:.1} s",
        created.len(),
        started.elapsed().as_secs_f64()
    );
    let active = app.submit(ACME, &body).await;
    app.wait_for_state(ACME, &active, "in_review").await;
    app.advance_days(13).await;
    app.wait_for_state(ACME, &active, "active").await;
    app.spend(&active, "2026-03-15", 2500).await;
    let draft = created[created.len() / 2].clone();

    let console = ConsoleSession::sign_in(&app, ACME).await;
    let preflight_form: Vec<(&str, String)> = vec![
        ("csrf", console.csrf.clone()),
        ("startup.name", "Bench".into()),
        ("startup.aws_account_id", "111122223333".into()),
        ("startup.industry", "saas".into()),
        ("service", "bedrock-agents".into()),
        ("workload", "support".into()),
        ("use_case", body["use_case"].as_str().unwrap().into()),
        ("evaluation_window_days", "60".into()),
        ("budget[0].item", "Agents".into()),
        ("budget[0].category", "emerging_service".into()),
        ("budget[0].monthly_usd", "1200".into()),
    ];
    let pages: Vec<(&str, String)> = vec![
        ("pipeline (first page)", "/console".into()),
        ("pipeline, state filter", "/console?state=active".into()),
        ("pipeline, name search", "/console?q=startup%2009999".into()),
        ("application (active)", format!("/console/applications/{active}")),
        ("application (draft)", format!("/console/applications/{draft}")),
        (
            "edit draft (with preflight)",
            format!("/console/applications/{draft}/edit"),
        ),
        ("agenda", "/console/agenda".into()),
        ("credit position", "/console/position?account=111122223333".into()),
        ("new application", "/console/applications/new".into()),
    ];
    println!("console pages, {apps} applications stored for the partner, {requests} requests each (ms):");
    println!("{:<32} {:>8} {:>8} {:>8} {:>8}", "page", "p50", "p90", "p99", "max");
    let mut worst_p99: f64 = 0.0;
    let mut report = |name: &str, mut times: Vec<f64>| {
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p99 = percentile(&times, 0.99);
        worst_p99 = worst_p99.max(p99);
        println!(
            "{name:<32} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            p99,
            times.last().copied().unwrap_or(0.0)
        );
    };
    for (name, path) in &pages {
        // Warm up once (the first read of a view loads it).
        let (status, _) = console.get(path).await;
        assert_eq!(status, 200, "{name}: {path}");
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            let at = Instant::now();
            let (status, page) = console.get(path).await;
            times.push(at.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200);
            assert!(!page.is_empty());
        }
        report(name, times);
    }
    let form: Vec<(&str, &str)> = preflight_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let at = Instant::now();
        let (status, _) = console.post("/console/preflight", &form).await;
        times.push(at.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200);
    }
    report("live preflight (POST)", times);
    println!("worst p99: {worst_p99:.2} ms (target: 50 ms)");
}
