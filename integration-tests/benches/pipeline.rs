//! The pipeline against its physical bound (#8), and the cost of tracing (#7), in one run:
//!
//! ```sh
//! cargo bench -p sandpiper-integration-tests --bench pipeline
//! ```
//!
//! Each phase runs in a fresh process of this binary (its own nats-server, its own peak RSS):
//! - `raw`: a nats-server alone: JetStream acknowledged publishes/s on a stream with the event
//!   stream's settings (file storage, de-duplication by `Nats-Msg-Id`, async publish with 256 in
//!   flight), over four such streams at once (each stream flushes its own file) and over sixteen
//!   (the most the disk flushes: the floor the orchestrator prints under each advance), one
//!   publish's ack latency at a time, and the core NATS request round trip; with
//!   `sync_interval: always` (the deployments') and with JetStream's default (2 minutes);
//! - `pipeline`: applications/s from submit to `active` (simulated clock, the review period
//!   advanced), events per application; repeated with tracing off, with span ids only (the
//!   default), and exporting to an OTLP endpoint on a closed port;
//! - `latency`: submit → `classified` percentiles at a fixed offered rate of 200/s;
//! - `advance`: six months of simulated time over N live (active) applications;
//! - `growth`: pipeline throughput with N drafts already stored;
//! - `idle`: each service's resident memory as its own process (the release binaries, built
//!   first), idle after start-up and after 500 applications went through.
//! - `restart`: N applications of 5 events each stored (the events on the stream, their records
//!   and summaries in the read model, as the services write them), then the `sandpiper-intake`
//!   binary started: seconds until `/readyz`, its RSS, and `GET /v1/applications/{id}` latency
//!   at 200 requests/s on random applications: right after `/readyz`, once the processes are
//!   quiet, and again after 12 s without a read (once nats-server's block caches expired).
//!
//! Sizes: `SANDPIPER_BENCH_APPS` (pipeline, default 500), `SANDPIPER_BENCH_LIVE` (advance,
//! default `10000`; e.g. `10000,100000`), `SANDPIPER_BENCH_STORED` (growth, default
//! `1000,10000`), `SANDPIPER_BENCH_RESTART` (restart, default `200000`),
//! `SANDPIPER_BENCH_PHASES` (default all).
//!
//! What-ifs no deployment runs: `SANDPIPER_BENCH_SYNC=default` runs every phase's nats-server on
//! JetStream's default `sync_interval` instead of flushing each write (what the deployments
//! do): it shows what the flushes cost. `SANDPIPER_BENCH_READ_MODEL=async` keeps the flushes but
//! makes the read model's two buckets with `persist_mode: async` (their writes flushed in the
//! background): it shows what the read model's share of the flushes costs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::stream;
use futures::StreamExt;
use sandpiper_contracts::events::EventType;
use sandpiper_contracts::subjects;
use sandpiper_integration_tests::{ACME, TestApp, example};
use sandpiper_runtime::telemetry::{self, Export};
use serde_json::{Value, json};

const PHASE_ENV: &str = "SANDPIPER_BENCH_PHASE";

fn main() {
    match std::env::var(PHASE_ENV) {
        Ok(phase) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            let result = runtime.block_on(run_phase(&phase));
            println!(
                "RESULT {}",
                json!({"phase": phase, "result": result, "peak_rss_mb": peak_rss_mb()})
            );
        }
        Err(_) => orchestrate(),
    }
}

fn sizes(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Runs every phase in a child process and prints the table.
fn orchestrate() {
    let apps = sizes("SANDPIPER_BENCH_APPS", "500")[0];
    let mut phases: Vec<(String, Vec<(&str, String)>)> = vec![
        // The deployments' setting (every write flushed before its ack), then JetStream's default.
        ("raw".into(), vec![("SANDPIPER_BENCH_SYNC", "always".into())]),
        ("raw".into(), vec![("SANDPIPER_BENCH_SYNC", "default".into())]),
        (
            format!("pipeline:{apps}"),
            vec![("SANDPIPER_BENCH_TRACING", "off".into())],
        ),
        (
            format!("pipeline:{apps}"),
            vec![("SANDPIPER_BENCH_TRACING", "ids".into())],
        ),
        (
            format!("pipeline:{apps}"),
            vec![("SANDPIPER_BENCH_TRACING", "closed-port".into())],
        ),
        ("latency:2000".into(), vec![]),
    ];
    for n in sizes("SANDPIPER_BENCH_LIVE", "10000") {
        phases.push((format!("advance:{n}"), vec![]));
    }
    for n in sizes("SANDPIPER_BENCH_STORED", "1000,10000") {
        phases.push((format!("growth:{n}"), vec![]));
    }
    for n in sizes("SANDPIPER_BENCH_RESTART", "200000") {
        phases.push((format!("restart:{n}"), vec![]));
    }
    phases.push(("idle".into(), vec![]));
    if let Ok(only) = std::env::var("SANDPIPER_BENCH_PHASES") {
        let only: Vec<&str> = only.split(',').collect();
        phases.retain(|(p, _)| only.iter().any(|o| p.starts_with(o)));
    }
    let exe = std::env::current_exe().unwrap();
    if phases.iter().any(|(p, _)| p == "idle" || p.starts_with("restart")) {
        // The idle phase runs the services' own binaries.
        let mut build = std::process::Command::new(env!("CARGO"));
        build.args(["build", "--release", "--locked", "--quiet"]);
        for service in sandpiper_contracts::names::ServiceName::CORE {
            build.args(["-p", &format!("sandpiper-{}", service.as_str())]);
        }
        assert!(
            build.status().unwrap().success(),
            "building the service binaries failed"
        );
    }
    let mut results = Vec::new();
    for (phase, env) in phases {
        let label = match env.first() {
            Some((k, v)) => format!(
                "{phase} ({} {v})",
                k.trim_start_matches("SANDPIPER_BENCH_").to_lowercase()
            ),
            None => phase.clone(),
        };
        eprintln!("== {label}");
        let started = Instant::now();
        let output = std::process::Command::new(&exe)
            .env(PHASE_ENV, &phase)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
            eprintln!("{label}: failed ({}):\n{stdout}", output.status);
            continue;
        };
        let value: Value = serde_json::from_str(line).unwrap();
        eprintln!("   {} ({:.0} s)", value["result"], started.elapsed().as_secs_f64());
        results.push((label, value));
    }
    println!("\n{:<40} {:>10}  figures", "phase", "peak RSS");
    for (label, value) in &results {
        println!(
            "{label:<40} {:>7.0} MB  {}",
            value["peak_rss_mb"].as_f64().unwrap_or(0.0),
            value["result"]
        );
    }
    let raw_with = |sync: &str| {
        results
            .iter()
            .find(|(l, _)| *l == format!("raw (sync {sync})"))
            .map(|(_, v)| &v["result"])
    };
    if let (Some(always), Some(default)) = (raw_with("always"), raw_with("default")) {
        let figure = |v: &Value, key: &str| v[key].as_f64().unwrap_or(0.0);
        println!(
            "\nsync_interval always vs the default (2 min): {:.0} vs {:.0} acknowledged publishes/s ({:+.0}%); one publish at a time p50 {:.0} vs {:.0} µs, p99 {:.0} vs {:.0} µs",
            figure(always, "jetstream_publishes_per_s"),
            figure(default, "jetstream_publishes_per_s"),
            100.0 * (figure(always, "jetstream_publishes_per_s") - figure(default, "jetstream_publishes_per_s"))
                / figure(default, "jetstream_publishes_per_s").max(1.0),
            figure(always, "ack_us_p50"),
            figure(default, "ack_us_p50"),
            figure(always, "ack_us_p99"),
            figure(default, "ack_us_p99"),
        );
    }
    let raw = raw_with("always").and_then(|v| v["jetstream_publishes_per_s"].as_f64());
    let ids = results
        .iter()
        .find(|(l, _)| l.contains("tracing ids"))
        .map(|(_, v)| &v["result"]);
    if let (Some(raw), Some(pipeline)) = (raw, ids) {
        let events_per_s = pipeline["events_per_s"].as_f64().unwrap_or(0.0);
        println!(
            "\npipeline: {events_per_s:.0} events/s stored = {:.0}% of the raw bound ({raw:.0} acknowledged publishes/s)",
            100.0 * events_per_s / raw
        );
    }
    // What the flushing disk allows the advance at best: every write it made at the most the disk
    // flushes with sixteen streams written at once, and its events alone, in order, into the
    // one event stream at that stream's own ceiling.
    let ceilings = raw_with("always").map(|v| {
        (
            v["jetstream_publishes_per_s"].as_f64().unwrap_or(0.0),
            v["over_sixteen_streams_per_s"].as_f64().unwrap_or(0.0),
        )
    });
    if let Some((one_stream, sixteen)) = ceilings.filter(|(one, many)| *one > 0.0 && *many > 0.0) {
        for (label, value) in results.iter().filter(|(l, _)| l.starts_with("advance")) {
            let result = &value["result"];
            let figure = |key: &str| result[key].as_f64().unwrap_or(0.0);
            println!(
                "{label}: {:.2} s; its {:.0} writes take at least {:.2} s at the disk's best ({sixteen:.0}/s over sixteen streams), its {:.0} events at least {:.2} s in one stream ({one_stream:.0}/s)",
                figure("advance_182_days_s"),
                figure("writes_during_advance"),
                figure("writes_during_advance") / sixteen,
                figure("events_during_advance"),
                figure("events_during_advance") / one_stream,
            );
        }
    }
    let rate = |mode: &str| {
        results
            .iter()
            .find(|(l, _)| l.contains(&format!("tracing {mode})")))
            .and_then(|(_, v)| v["result"]["apps_per_s"].as_f64())
    };
    if let (Some(off), Some(ids), Some(closed)) = (rate("off"), rate("ids"), rate("closed-port")) {
        println!(
            "tracing: off {off:.0} apps/s, ids only {ids:.0} apps/s ({:+.1}%), exporting to a closed port {closed:.0} apps/s ({:+.1}%)",
            100.0 * (ids - off) / off,
            100.0 * (closed - off) / off
        );
    }
}

async fn run_phase(phase: &str) -> Value {
    let (name, n) = phase.split_once(':').unwrap_or((phase, "0"));
    let n: usize = n.parse().unwrap_or(0);
    let tracing = std::env::var("SANDPIPER_BENCH_TRACING").unwrap_or_else(|_| "off".into());
    // Kept alive for the phase: dropping it flushes the exporter.
    let _telemetry = match tracing.as_str() {
        "ids" => Some(telemetry::init_for_tests_with(Export::IdsOnly)),
        // Port 9 (discard) is closed here: every export fails fast, as with a collector down.
        "closed-port" => Some(telemetry::init_for_tests_with(Export::Otlp(
            "http://127.0.0.1:9/v1/traces".into(),
        ))),
        _ => None,
    };
    match name {
        "raw" => raw_bound().await,
        "pipeline" => pipeline(n, 0).await,
        "growth" => pipeline(500, n).await,
        "latency" => latency(n).await,
        "advance" => advance(n).await,
        "idle" => idle().await,
        "restart" => restart(n).await,
        other => json!({"error": format!("unknown phase {other}")}),
    }
}

/// Peak resident set of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The bound a nats-server sets, alone (no services): `SANDPIPER_BENCH_SYNC` `always` (the
/// deployments' `sync_interval`) or `default` (JetStream's 2 minutes).
async fn raw_bound() -> Value {
    use sandpiper_cli::local_nats::LocalNats;
    let dir = tempfile::tempdir().unwrap();
    let nats = LocalNats::start_synced(dir.path(), 0, sandpiper_integration_tests::sync_interval())
        .await
        .unwrap();
    let client = async_nats::connect(&nats.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client.clone());
    jetstream
        .create_stream(stream::Config {
            name: "BENCH_RAW".into(),
            subjects: vec!["bench.raw.>".into()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::Limits,
            duplicate_window: Duration::from_secs(120),
            allow_direct: true,
            ..Default::default()
        })
        .await
        .unwrap();
    // A real event's size: a submitted envelope.
    let payload =
        serde_json::to_vec(&json!({"specversion": "1.0", "data": example("bedrock-agents-support")})).unwrap();
    let count = 50_000;
    let window = 256;
    let publishes = flood(&jetstream, &["bench.raw"], count, window, &payload).await;
    // The same writes spread over four streams, as a timer firing spreads its own over the event
    // stream and three buckets: each stream flushes its own file, one message after another.
    // Then over sixteen: what the disk flushes at best with many files written at once, the
    // ceiling no partitioning of the streams could pass.
    let spread_publishes = flood_spread(&jetstream, "four", 4, count, window, &payload).await;
    let sixteen_publishes = flood_spread(&jetstream, "sixteen", 16, count, window, &payload).await;

    // One at a time, as an API request waits for its event's ack.
    let mut acks = Vec::new();
    for i in 0..2_000 {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("one-{i}").as_str());
        let started = Instant::now();
        jetstream
            .publish_with_headers(format!("bench.raw.{}", i % 64), headers, payload.clone().into())
            .await
            .unwrap()
            .await
            .unwrap();
        acks.push(started.elapsed().as_secs_f64() * 1e6);
    }
    acks.sort_by(|a, b| a.total_cmp(b));

    let mut responder = client.subscribe("bench.rtt").await.unwrap();
    let answering = client.clone();
    tokio::spawn(async move {
        while let Some(message) = responder.next().await {
            if let Some(reply) = message.reply {
                let _ = answering.publish(reply, message.payload).await;
            }
        }
    });
    let mut rtts = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        client.request("bench.rtt", "ping".into()).await.unwrap();
        rtts.push(started.elapsed().as_secs_f64() * 1e6);
    }
    rtts.sort_by(|a, b| a.total_cmp(b));
    json!({
        "jetstream_publishes_per_s": publishes.round(),
        "over_four_streams_per_s": spread_publishes.round(),
        "over_sixteen_streams_per_s": sixteen_publishes.round(),
        "ack_us_p50": percentile(&acks, 0.5).round(),
        "ack_us_p99": percentile(&acks, 0.99).round(),
        "payload_bytes": payload.len(),
        "in_flight_window": window,
        "request_rtt_us_p50": percentile(&rtts, 0.5).round(),
        "request_rtt_us_p99": percentile(&rtts, 0.99).round(),
    })
}

/// Acknowledged publishes/s over `streams` new streams named after `label`, `count` in all.
async fn flood_spread(
    jetstream: &async_nats::jetstream::Context,
    label: &str,
    streams: usize,
    count: usize,
    window: usize,
    payload: &[u8],
) -> f64 {
    let mut prefixes = Vec::new();
    for i in 0..streams {
        jetstream
            .create_stream(stream::Config {
                name: format!("BENCH_{}_{i}", label.to_uppercase()),
                subjects: vec![format!("bench.{label}{i}.>")],
                storage: stream::StorageType::File,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .unwrap();
        prefixes.push(format!("bench.{label}{i}"));
    }
    let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    flood(jetstream, &prefixes, count, window, payload).await
}

/// Acknowledged publishes/s: `count` publishes spread round-robin over the streams of `prefixes`,
/// each stream with `window` in flight.
async fn flood(
    jetstream: &async_nats::jetstream::Context,
    prefixes: &[&str],
    count: usize,
    window: usize,
    payload: &[u8],
) -> f64 {
    let started = Instant::now();
    let per_stream = count / prefixes.len();
    futures::future::join_all(prefixes.iter().map(|prefix| async move {
        let mut in_flight = VecDeque::new();
        for i in 0..per_stream {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{prefix}-{i}").as_str());
            let ack = jetstream
                .publish_with_headers(format!("{prefix}.{}", i % 64), headers, payload.to_vec().into())
                .await
                .unwrap();
            in_flight.push_back(ack);
            if in_flight.len() >= window {
                in_flight.pop_front().unwrap().await.unwrap();
            }
        }
        for ack in in_flight {
            ack.await.unwrap();
        }
    }))
    .await;
    (per_stream * prefixes.len()) as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Counts events as they are published, by type, from a core NATS subscription.
#[derive(Clone, Default)]
struct EventTally(Arc<Mutex<Tally>>);

#[derive(Default)]
struct Tally {
    by_type: HashMap<String, usize>,
    total: usize,
    /// When the watched event type arrived, by application.
    seen_at: HashMap<String, Instant>,
}

impl EventTally {
    async fn follow(nats_url: &str, watch_for: EventType) -> EventTally {
        let tally = EventTally::default();
        let client = async_nats::connect(nats_url).await.unwrap();
        let mut events = client.subscribe(subjects::all_events()).await.unwrap();
        let inner = tally.clone();
        let watched = watch_for.as_str().to_owned();
        tokio::spawn(async move {
            let _client = client;
            while let Some(message) = events.next().await {
                let subject = message.subject.as_str();
                let mut parts = subject.rsplit('.');
                let kind = parts.next().unwrap_or_default().to_owned();
                let application = parts.next().unwrap_or_default().to_owned();
                let mut state = inner.0.lock().unwrap();
                state.total += 1;
                if kind == watched {
                    state.seen_at.insert(application.clone(), Instant::now());
                }
                *state.by_type.entry(kind).or_default() += 1;
            }
        });
        tally
    }

    fn count(&self, kind: EventType) -> usize {
        self.0.lock().unwrap().by_type.get(kind.as_str()).copied().unwrap_or(0)
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().total
    }

    fn seen_at(&self, application: &str) -> Option<Instant> {
        self.0.lock().unwrap().seen_at.get(application).copied()
    }

    async fn wait_for(&self, kind: EventType, at_least: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.count(kind) < at_least {
            assert!(
                Instant::now() < deadline,
                "timed out: {} of {at_least} {}",
                self.count(kind),
                kind.as_str()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Files `n` applications with `concurrency` in flight; returns their ids.
async fn file(app: &TestApp, n: usize, submit: bool) -> Vec<String> {
    let body = example("bedrock-agents-support");
    futures::stream::iter(0..n)
        .map(|_| {
            let body = body.clone();
            async move {
                if submit {
                    app.submit(ACME, &body).await
                } else {
                    app.create(ACME, &body).await
                }
            }
        })
        .buffer_unordered(64)
        .collect()
        .await
}

/// Applications/s from submit to `active` with `stored` drafts in the log beforehand.
async fn pipeline(apps: usize, stored: usize) -> Value {
    let app = TestApp::simulated().await;
    let tally = EventTally::follow(&app.nats_url, EventType::CreditsApplied).await;
    if stored > 0 {
        file(&app, stored, false).await;
    }
    let before = tally.total();
    let started = Instant::now();
    file(&app, apps, true).await;
    tally
        .wait_for(EventType::Classified, apps, Duration::from_secs(600))
        .await;
    // The review timers are scheduled once the reviewer has seen every classification.
    wait_for_timers(&app, apps).await;
    let reviewed = Instant::now();
    app.advance_days(12).await;
    tally
        .wait_for(EventType::CreditsApplied, apps, Duration::from_secs(600))
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let events = tally.total() - before;
    json!({
        "applications": apps,
        "stored_before": stored,
        "apps_per_s": (apps as f64 / elapsed).round(),
        "events_per_application": (events as f64 / apps as f64 * 10.0).round() / 10.0,
        "events_per_s": (events as f64 / elapsed).round(),
        "submit_to_in_review_s": ((reviewed - started).as_secs_f64() * 100.0).round() / 100.0,
        "seconds": (elapsed * 100.0).round() / 100.0,
    })
}

/// Waits until the reviewer holds a pending review timer for `n` applications.
async fn wait_for_timers(app: &TestApp, n: usize) {
    let client = async_nats::connect(&app.nats_url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let bucket = sandpiper_contracts::names::ServiceName::Reviewer.timers_bucket();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(store) = jetstream.get_key_value(&bucket).await
            && let Ok(status) = store.status().await
            && status.values() >= n as u64
        {
            return;
        }
        assert!(Instant::now() < deadline, "review timers were not all scheduled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submit → `classified` latency at a fixed offered rate of 200 applications/s.
async fn latency(n: usize) -> Value {
    let app = TestApp::spawn().await;
    let tally = EventTally::follow(&app.nats_url, EventType::Classified).await;
    let drafts = file(&app, n, false).await;
    let rate = 200.0;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut sent = Vec::with_capacity(n);
    let mut requests = Vec::with_capacity(n);
    for (i, id) in drafts.iter().enumerate() {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let at = Instant::now();
        sent.push((id.clone(), at));
        let request = app
            .http
            .post(app.url(&format!("/v1/applications/{id}/submit")))
            .bearer_auth(ACME);
        requests.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status().as_u16())
        }));
    }
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap(), 202);
    }
    tally.wait_for(EventType::Classified, n, Duration::from_secs(120)).await;
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| Some((tally.seen_at(id)? - *at).as_secs_f64() * 1000.0))
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    json!({
        "offered_per_s": rate,
        "applications": n,
        "achieved_per_s": (n as f64 / (started.elapsed().as_secs_f64())).round(),
        "p50_ms": (percentile(&latencies, 0.5) * 100.0).round() / 100.0,
        "p99_ms": (percentile(&latencies, 0.99) * 100.0).round() / 100.0,
        "p999_ms": (percentile(&latencies, 0.999) * 100.0).round() / 100.0,
        "max_ms": (latencies.last().copied().unwrap_or(0.0) * 100.0).round() / 100.0,
    })
}

/// Six months of simulated time over `n` live applications.
async fn advance(n: usize) -> Value {
    let app = TestApp::simulated().await;
    let tally = EventTally::follow(&app.nats_url, EventType::CreditsApplied).await;
    let filing = Instant::now();
    file(&app, n, true).await;
    tally
        .wait_for(EventType::Classified, n, Duration::from_secs(3600))
        .await;
    wait_for_timers(&app, n).await;
    app.advance_days(12).await;
    tally
        .wait_for(EventType::CreditsApplied, n, Duration::from_secs(3600))
        .await;
    let setup = filing.elapsed().as_secs_f64();
    let before = tally.total();
    let writes_before = writes_by_stream(&app.nats_url).await;
    // A marker for a profiler attached from outside: the advance starts now.
    eprintln!("   setup done in {setup:.0} s; advancing {n} applications 182 days");
    let started = Instant::now();
    let reply = app
        .send(
            app.http
                .post(app.url("/v1/clock/advance"))
                .bearer_auth(sandpiper_integration_tests::ADMIN)
                .timeout(Duration::from_secs(3600))
                .json(&json!({"days": 182})),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let took = started.elapsed().as_secs_f64();
    // Every acknowledged write the advance caused, by stream (the event stream, each bucket's):
    // with each write flushed before its ack, these are what the advance waits on.
    let writes_after = writes_by_stream(&app.nats_url).await;
    let writes: BTreeMap<String, u64> = writes_after
        .iter()
        .map(|(name, last)| (name.clone(), last - writes_before.get(name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let events = tally.total() - before;
    let total: u64 = writes.values().sum();
    json!({
        "live_applications": n,
        "advance_182_days_s": (took * 100.0).round() / 100.0,
        "events_during_advance": events,
        "writes_during_advance": total,
        "writes_per_event": ((total as f64 / events.max(1) as f64) * 10.0).round() / 10.0,
        "writes_by_stream": writes,
        "setup_s": setup.round(),
    })
}

/// Each stream's last sequence: the writes it has acknowledged (a bucket's included, whose
/// history of one keeps its message count flat while its sequence counts every put and delete).
async fn writes_by_stream(url: &str) -> BTreeMap<String, u64> {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut streams = js.streams();
    let mut last = BTreeMap::new();
    while let Some(info) = streams.next().await {
        let info = info.unwrap();
        last.insert(info.config.name.clone(), info.state.last_sequence);
    }
    last
}

/// Resident memory (VmRSS) of a process, in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0)
}

/// Waits until the service on `port` answers `/readyz` with 200 (polled every 20 ms).
async fn wait_ready(
    http: &reqwest::Client,
    port: u16,
    service: sandpiper_contracts::names::ServiceName,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "sandpiper-{service} did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Each service as its own process: RSS idle after start-up, then after 500 applications.
async fn idle() -> Value {
    use sandpiper_contracts::names::ServiceName;
    // A stack in this process provides NATS and a second intake to drive; the measured
    // processes share its NATS, so they do the work of their durable consumers alongside.
    let app = TestApp::spawn().await;
    let bin_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let mut children = Vec::new();
    for (i, service) in ServiceName::CORE.iter().enumerate() {
        let binary = bin_dir.join(format!("sandpiper-{}", service.as_str()));
        let port = 39_100 + i as u16;
        let child = tokio::process::Command::new(&binary)
            .env("SANDPIPER_NATS_URL", &app.nats_url)
            .env("SANDPIPER_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("SANDPIPER_API_TOKENS", format!("acme:{ACME}"))
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} cannot start: {e}", binary.display()));
        children.push((*service, port, child));
    }
    for (service, port, _) in &children {
        wait_ready(&app.http, *port, *service, Duration::from_secs(30)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: serde_json::Map<String, Value> = children
        .iter()
        .map(|(s, _, c)| (s.as_str().to_owned(), json!(rss_mb(c.id().unwrap_or(0)))))
        .collect();
    file(&app, 500, true).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: serde_json::Map<String, Value> = children
        .iter()
        .map(|(s, _, c)| (s.as_str().to_owned(), json!(rss_mb(c.id().unwrap_or(0)))))
        .collect();
    json!({"idle_rss_mb": idle, "after_500_applications_rss_mb": after})
}

/// The intake restarted over `n` stored applications of 5 events each.
async fn restart(n: usize) -> Value {
    use sandpiper_contracts::events::{DraftUpdated, Drafted, Envelope, EventPayload};
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_contracts::model::ApplicationDraft;
    use sandpiper_contracts::names::{self, ServiceName};
    use sandpiper_contracts::record::{ApplicationRecord, Summary};

    let dir = tempfile::tempdir().unwrap();
    let nats = sandpiper_cli::local_nats::LocalNats::start(dir.path(), 0)
        .await
        .unwrap();
    let config = sandpiper_runtime::config::CommonConfig::load(
        &HashMap::from([("SANDPIPER_NATS_URL".to_owned(), nats.url())]),
        0,
    )
    .unwrap();
    let bus = sandpiper_runtime::bus::Bus::connect(&config, ServiceName::Intake)
        .await
        .unwrap();
    let views = sandpiper_runtime::views::ViewStore::open(&bus).await.unwrap();
    let views_kv = bus.jetstream.get_key_value(names::VIEWS_BUCKET).await.unwrap();
    let partner = PartnerId::parse("acme").unwrap();
    let draft: ApplicationDraft = serde_json::from_value(example("bedrock-agents-support")).unwrap();
    let started = Instant::now();
    let ids: Vec<ApplicationId> = futures::stream::iter(0..n)
        .map(|i| {
            let (bus, views, views_kv, partner, draft) = (&bus, &views, &views_kv, &partner, &draft);
            async move {
                let application = ApplicationId::generate();
                let mut events: Vec<(u64, Envelope)> = Vec::with_capacity(5);
                for step in 0..5 {
                    let envelope = if step == 0 {
                        envelope(
                            partner,
                            application,
                            &Drafted {
                                draft: draft.clone(),
                                originated_from: None,
                            },
                        )
                    } else {
                        let mut changed = draft.clone();
                        changed.workload = Some(format!("revision {step} of application {i}"));
                        envelope(partner, application, &DraftUpdated { draft: changed })
                    };
                    let kind = envelope.kind().unwrap();
                    let mut headers = HeaderMap::new();
                    headers.insert("Nats-Msg-Id", envelope.id.to_string().as_str());
                    let ack = bus
                        .jetstream
                        .publish_with_headers(
                            subjects::event(partner, &application, kind),
                            headers,
                            envelope.to_json().unwrap().into(),
                        )
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                    events.push((ack.sequence, envelope));
                }
                let record = ApplicationRecord::from_events(events.iter().map(|(s, e)| (*s, e))).unwrap();
                let key = names::view_key(partner, &application);
                views
                    .index()
                    .put(&key, serde_json::to_vec(&Summary::of(&record.view)).unwrap().into())
                    .await
                    .unwrap();
                views_kv
                    .put(&key, serde_json::to_vec(&record).unwrap().into())
                    .await
                    .unwrap();
                application
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let stored_s = started.elapsed().as_secs_f64();
    let events = bus.events_stream().await.unwrap().info().await.unwrap().state.messages;

    fn envelope<P: EventPayload>(partner: &PartnerId, application: ApplicationId, payload: &P) -> Envelope {
        Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            partner.clone(),
            application,
            chrono::Utc::now(),
            payload,
        )
        .unwrap()
    }

    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("sandpiper-intake");
    let port = 39_180;
    let launched = Instant::now();
    let child = tokio::process::Command::new(&binary)
        .env("SANDPIPER_NATS_URL", nats.url())
        .env("SANDPIPER_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("SANDPIPER_API_TOKENS", format!("acme:{ACME}"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        // Its warnings and errors (it logs to stdout) beside the bench's own, on stderr: this
        // process's stdout carries the result.
        .stdout(std::io::stderr())
        .spawn()
        .unwrap_or_else(|e| panic!("{} cannot start: {e}", binary.display()));
    sandpiper_runtime::http::ensure_crypto_provider();
    let http = reqwest::Client::new();
    wait_ready(&http, port, ServiceName::Intake, Duration::from_secs(300)).await;
    let ready_s = launched.elapsed().as_secs_f64();
    let ready_rss = rss_mb(child.id().unwrap_or(0));

    // 200 requests/s for 10 s, each on a stored application: first right after `/readyz` (the
    // intake's index is loaded and its read model warmed by then; nats-server is seconds past
    // the store's last write);
    // then once both are quiet (under 5% of a core over a second), as a running system is.
    let intake_pid = child.id().unwrap_or(0);
    let nats_pid = nats.pid().unwrap_or(0);
    let first = get_latencies(&http, port, &ids, 0, nats_pid).await;
    let rss_after_first = rss_mb(intake_pid);
    let quiet_started = Instant::now();
    wait_quiet(&[intake_pid, nats_pid], Duration::from_secs(300)).await;
    let quiet_s = quiet_started.elapsed().as_secs_f64();
    let settled = get_latencies(&http, port, &ids, 1, nats_pid).await;
    let rss_after_settled = rss_mb(intake_pid);
    // Then after 12 s without a read: nats-server drops a message block's cache after 10 s
    // unread, so this tells cold blocks apart from whatever else slows the first window.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after_pause = get_latencies(&http, port, &ids, 2, nats_pid).await;
    json!({
        "applications": n,
        "events_stored": events,
        "store_s": (stored_s * 10.0).round() / 10.0,
        "intake_ready_s": (ready_s * 100.0).round() / 100.0,
        "intake_rss_mb_ready": ready_rss,
        // After each window: whether the intake's memory grows with the reads, or with how many
        // were in flight at once (a stall holds hundreds of connections open).
        "intake_rss_mb_after_each_window": [rss_after_first, rss_after_settled, rss_mb(intake_pid)],
        "get_first_10s": first.figures(),
        "quiet_after_s": (quiet_s * 10.0).round() / 10.0,
        "get_settled": settled.figures(),
        "get_after_12s_unread": after_pause.figures(),
    })
}

/// What one window of GETs came to: every answer's latency (sorted), and the answers that were
/// not a success (status, body), which count in the latencies too; and second by second, the
/// slowest answer to a request sent in it beside what nats-server did in that second, so a
/// stall can be told apart: nats-server busy, reading from the disk, writing, or idle.
struct Window {
    latencies: Vec<Duration>,
    failed: Vec<(u16, String)>,
    seconds: Vec<Second>,
}

/// One second of a window.
#[derive(Default, Clone, Copy)]
struct Second {
    slowest_ms: f64,
    /// nats-server's CPU in that second, in percent of one core.
    nats_cpu_pct: u64,
    /// What nats-server read from and wrote to the disk in that second (`/proc/PID/io`: the
    /// block layer's bytes, so a read served from the page cache counts nothing).
    nats_read_kb: u64,
    nats_write_kb: u64,
}

impl Window {
    fn figures(&self) -> Value {
        let first_failure = self.failed.first().map(|(status, body)| format!("{status}: {body}"));
        let by_second: Vec<String> = self
            .seconds
            .iter()
            .map(|s| {
                format!(
                    "slowest {:.1} ms; nats-server cpu {}%, read {} KB, wrote {} KB",
                    s.slowest_ms, s.nats_cpu_pct, s.nats_read_kb, s.nats_write_kb
                )
            })
            .collect();
        json!({
            "p50_ms": percentile_ms(&self.latencies, 0.5),
            "p99_ms": percentile_ms(&self.latencies, 0.99),
            "p999_ms": percentile_ms(&self.latencies, 0.999),
            "failed": self.failed.len(),
            "first_failure": first_failure,
            "by_second": by_second,
        })
    }
}

/// A process's CPU ticks (utime + stime, 100 a second on Linux) and its block-layer read and
/// write bytes; zeros for what cannot be read.
fn process_counters(pid: u32) -> (u64, u64, u64) {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let field = |name: &str| {
        io.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks, field("read_bytes:"), field("write_bytes:"))
}

/// `GET /v1/applications/{id}` at 200 requests/s for 10 s, each on one of `ids` (spread by
/// `round`, so a second round asks for others), with nats-server (`nats_pid`) sampled each second.
async fn get_latencies(
    http: &reqwest::Client,
    port: u16,
    ids: &[sandpiper_contracts::ids::ApplicationId],
    round: usize,
    nats_pid: u32,
) -> Window {
    const PER_SECOND: usize = 200;
    const SECONDS: usize = 10;
    let interval = Duration::from_millis(5);
    let mut requests = Vec::with_capacity(PER_SECOND * SECONDS);
    let mut seconds = vec![Second::default(); SECONDS];
    let mut counters = process_counters(nats_pid);
    let mut close_second = |second: &mut Second| {
        let now = process_counters(nats_pid);
        second.nats_cpu_pct = now.0.saturating_sub(counters.0);
        second.nats_read_kb = now.1.saturating_sub(counters.1) / 1024;
        second.nats_write_kb = now.2.saturating_sub(counters.2) / 1024;
        counters = now;
    };
    let begun = Instant::now();
    for i in 0..PER_SECOND * SECONDS {
        if i > 0 && i % PER_SECOND == 0 {
            close_second(&mut seconds[i / PER_SECOND - 1]);
        }
        let at = begun + interval * i as u32;
        tokio::time::sleep_until(at.into()).await;
        let id = ids[(i * 7919 + 13 + round * 104_729) % ids.len()];
        let http = http.clone();
        requests.push(tokio::spawn(async move {
            let sent = Instant::now();
            let reply = http
                .get(format!("http://127.0.0.1:{port}/v1/applications/{id}"))
                .bearer_auth(ACME)
                .send()
                .await
                .unwrap();
            let status = reply.status();
            let body = reply.bytes().await.unwrap();
            let failure =
                (!status.is_success()).then(|| (status.as_u16(), String::from_utf8_lossy(&body).into_owned()));
            (sent.elapsed(), failure)
        }));
    }
    tokio::time::sleep_until((begun + interval * (PER_SECOND * SECONDS) as u32).into()).await;
    close_second(&mut seconds[SECONDS - 1]);
    let mut window = Window {
        latencies: Vec::with_capacity(PER_SECOND * SECONDS),
        failed: Vec::new(),
        seconds,
    };
    for (i, request) in requests.into_iter().enumerate() {
        let (latency, failure) = request.await.unwrap();
        let second = &mut window.seconds[i / PER_SECOND];
        second.slowest_ms = second.slowest_ms.max(latency.as_secs_f64() * 1000.0);
        window.latencies.push(latency);
        window.failed.extend(failure);
    }
    window.latencies.sort();
    window
}

/// The `q` quantile of sorted latencies, in milliseconds to two decimals.
fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted
        .get(i)
        .map_or(0.0, |d| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0)
}

/// Waits (at most `limit`) until each of `pids` used under 5% of a core over the last second.
async fn wait_quiet(pids: &[u32], limit: Duration) {
    let ticks = |pid: u32| process_counters(pid).0;
    let deadline = Instant::now() + limit;
    loop {
        let before: Vec<u64> = pids.iter().map(|p| ticks(*p)).collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busiest = pids
            .iter()
            .zip(&before)
            .map(|(p, b)| ticks(*p).saturating_sub(*b))
            .max()
            .unwrap_or(0);
        if busiest < 5 || Instant::now() > deadline {
            return;
        }
    }
}
