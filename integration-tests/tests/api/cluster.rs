//! The fault suite on a three-node JetStream cluster (#13): the whole pipeline from a cold start
//! on three nats-servers on loopback, the stream and buckets at 3 replicas; the stream's leader,
//! the node the intake is connected to and the delivery stream's leader are killed with SIGKILL
//! mid-run. Nothing acknowledged may be lost, nothing decided or delivered twice, each
//! application's events reach a subscriber in order, and writes may stall no longer than the
//! election.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use sandpiper_contracts::names;
use sandpiper_integration_tests::cluster::Cluster;
use sandpiper_integration_tests::receiver::Receiver;
use sandpiper_integration_tests::{ACME, ADMIN, SIMULATED_START, TestApp, example};
use sandpiper_runtime::config::ClockMode;
use serde_json::Value;

/// How long a client keeps retrying one write through an election (it sends the same
/// `Idempotency-Key`, as the CLI does).
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Creates and submits one application as a careful client would: a create retried under its
/// key, a submit retried while the answer is 503 (a 409 then means an earlier try was stored).
/// Returns the id, how long the filing took with its retries, and how many answers were 503.
async fn file(app: &TestApp, key: &str, body: &Value) -> (String, Duration, u32) {
    let filing = Instant::now();
    let mut unavailable = 0;
    let deadline = Instant::now() + RETRY_FOR;
    let id = loop {
        let reply = app
            .send(
                app.http
                    .post(app.url("/v1/applications"))
                    .bearer_auth(ACME)
                    .header("Idempotency-Key", key)
                    .json(body),
            )
            .await;
        match reply.status {
            200 | 201 => break reply.body["id"].as_str().unwrap().to_owned(),
            503 if Instant::now() < deadline => {
                unavailable += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("create {key}: {reply:?}"),
        }
    };
    loop {
        let reply = app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
        match reply.status {
            202 => break,
            409 if app.view(ACME, &id).await["state"] != "draft" => break,
            503 if Instant::now() < deadline => {
                unavailable += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("submit {id}: {reply:?}"),
        }
    }
    (id, filing.elapsed(), unavailable)
}

/// The stack on `cluster`, on a simulated clock.
async fn stack_on(cluster: &Cluster) -> TestApp {
    let start = SIMULATED_START.parse().unwrap();
    TestApp::spawn_on_cluster(cluster, ClockMode::Simulated { start }).await
}

/// Files `count` applications keyed `{prefix}-{i}` into `filed`; returns the longest filing and
/// how many answers were 503.
async fn file_many(
    app: &TestApp,
    prefix: &str,
    count: usize,
    body: &Value,
    filed: &mut Vec<String>,
) -> (Duration, u32) {
    let (mut longest, mut refused) = (Duration::ZERO, 0);
    for i in 0..count {
        let (id, took, unavailable) = file(app, &format!("{prefix}-{i}"), body).await;
        longest = longest.max(took);
        refused += unavailable;
        filed.push(id);
    }
    (longest, refused)
}

#[tokio::test]
async fn the_stream_leader_killed_mid_run_loses_nothing_acknowledged() {
    let mut cluster = Cluster::start().await;
    let app = stack_on(&cluster).await;
    let body = example("amazon-q-business-docs");
    let mut filed = Vec::new();
    let (calm, _) = file_many(&app, "calm", 10, &body, &mut filed).await;

    // The stream's leader dies mid-run; the next writes wait for the election.
    let leader = cluster.stream_leader(names::EVENTS_STREAM).await;
    let killed = cluster.index_of(&leader).expect("the leader is a node of the cluster");
    let failed_pulls_before = sandpiper_runtime::metrics::pull_failures_total();
    cluster.kill(killed).await;
    let killed_at = Instant::now();
    let election = cluster.watch_election(names::EVENTS_STREAM, &leader, killed_at);
    let (stalled, refused) = file_many(&app, "election", 10, &body, &mut filed).await;
    let through = killed_at.elapsed();
    let elected = election.await.expect("the election watch");
    // Every consumer's pulls fail while the stream has no leader; each failure waits its
    // backoff (#13 item 13: the probe logged ~7,000 failures a second a service). Measured here:
    // 7 with the backoff, 744 with the event consumers' wait set to zero. The count is the
    // process's, so other tests running beside this one add theirs (a few each, backed off).
    let failed_pulls = sandpiper_runtime::metrics::pull_failures_total() - failed_pulls_before;
    eprintln!("cluster: {failed_pulls} failed pulls in the process through the election");
    assert!(
        failed_pulls < 300,
        "{failed_pulls} failed pulls through an election of {elected:?}: a loop without a backoff"
    );
    let new_leader = cluster.stream_leader(names::EVENTS_STREAM).await;
    assert_ne!(new_leader, leader, "another node leads the stream");

    // The node comes back on its store and catches up; the pipeline carries on.
    cluster.start_node(killed).await;
    file_many(&app, "back", 5, &body, &mut filed).await;
    eprintln!(
        "cluster: {} filed; stream leader {leader} killed, {new_leader} leads {} ms after the kill (the election); the longest filing (create + submit, with retries): {} ms calm, {} ms through the election ({} ms past it), {refused} answers 503 meanwhile; the ten filed after the kill took {} ms",
        filed.len(),
        elected.as_millis(),
        calm.as_millis(),
        stalled.as_millis(),
        stalled.saturating_sub(elected).as_millis(),
        through.as_millis()
    );
    // An election takes seconds; the intake's retries of unanswered requests (2 s each) add
    // to it. Measured here: 6.2 to 12.6 s (15 to 20 s with JetStream's 5-second default).
    assert!(
        stalled < Duration::from_secs(25),
        "a filing stalled {stalled:?}: far longer than an election"
    );

    // Twelve days on, every acknowledged submission was classified, reviewed and credited once.
    // The restarted node is still catching up: an advance it cuts short (503, the clock where it
    // stopped) is asked again for what is left, as an operator would.
    let target: chrono::DateTime<chrono::Utc> = "2026-03-14T09:00:00Z".parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now: chrono::DateTime<chrono::Utc> = app.get(ACME, "/v1/clock").await.body["now"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        if now >= target {
            break;
        }
        let hours = (target - now).num_hours().max(1);
        let reply = app
            .post(ADMIN, "/v1/clock/advance", &serde_json::json!({"hours": hours}))
            .await;
        match reply.status {
            200 => {}
            503 if Instant::now() < deadline => {
                eprintln!("cluster: an advance was cut short: {}", reply.body["detail"]);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ => panic!("advance: {reply:?}"),
        }
    }
    for id in &filed {
        let view = app.view(ACME, id).await;
        assert_eq!(view["state"], "active", "{id}: {view}");
        let events = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
        let types: Vec<&str> = events
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        for once in ["submitted", "classified", "approved", "credits_applied"] {
            let kind = format!("dev.sandpiper.{once}.v1");
            assert_eq!(
                types.iter().filter(|t| **t == kind).count(),
                1,
                "{id}: {once} once in {types:?}"
            );
        }
    }
}

/// The event types a receiver got for `application`, in the order they arrived, each once (a
/// delivery sent again after a lost answer has the same delivery id and is counted once).
fn delivered_for(receiver: &Receiver, application: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    receiver
        .received()
        .iter()
        .filter(|r| r.json()["subject"] == application)
        .filter(|r| seen.insert(r.header("x-sandpiper-delivery-id")))
        .map(|r| r.header("x-sandpiper-event-type"))
        .collect()
}

#[tokio::test]
async fn the_intakes_node_and_the_delivery_streams_leader_killed_mid_run_lose_nothing() {
    let mut cluster = Cluster::start().await;
    let app = stack_on(&cluster).await;
    let receiver = Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["*"], "cloudevents").await;
    let body = example("amazon-q-business-docs");
    let mut filed = Vec::new();
    let (calm, _) = file_many(&app, "calm", 5, &body, &mut filed).await;

    // The node the intake is connected to dies: it reconnects to another, and the writes in
    // flight are sent again there.
    let intakes = cluster.node_of_client("sandpiper-intake").await;
    let intakes_name = cluster.name(intakes).to_owned();
    // What a filing writes: the stream, and the buckets of idempotency keys and the read model.
    // Those that node led have an election to wait for, and the filings wait for the last one.
    let mut written = vec![names::EVENTS_STREAM.to_owned()];
    written
        .extend([names::IDEMPOTENCY_BUCKET, names::VIEWS_BUCKET, names::VIEW_INDEX_BUCKET].map(|b| format!("KV_{b}")));
    let mut led = Vec::new();
    for stream in written {
        if cluster.stream_leader(&stream).await == intakes_name {
            led.push(stream);
        }
    }
    cluster.kill(intakes).await;
    let killed_at = Instant::now();
    let elections: Vec<_> = led
        .iter()
        .map(|stream| cluster.watch_election(stream, &intakes_name, killed_at))
        .collect();
    let (intake_stall, refused) = file_many(&app, "intake-node", 5, &body, &mut filed).await;
    let mut elected = Duration::ZERO;
    for watch in elections {
        elected = elected.max(watch.await.expect("the election watch"));
    }
    let election = if led.is_empty() {
        "it led none of what a filing writes".to_owned()
    } else {
        format!(
            "it led {}: the last of them had another leader {} ms after the kill, the longest filing ended {} ms past it",
            led.join(", "),
            elected.as_millis(),
            intake_stall.saturating_sub(elected).as_millis()
        )
    };
    cluster.start_node(intakes).await;
    cluster.wait_for_meta_leader().await;

    // The delivery stream's leader dies: queued deliveries wait for the election, none is lost.
    let leader = cluster.stream_leader(names::DELIVERIES_STREAM).await;
    let deliveries = cluster.index_of(&leader).expect("the leader is a node of the cluster");
    cluster.kill(deliveries).await;
    let killed_at = Instant::now();
    let delivery_election = cluster.watch_election(names::DELIVERIES_STREAM, &leader, killed_at);
    let (first, _, _) = file(&app, "deliveries-node-0", &body).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !delivered_for(&receiver, &first).contains(&"submitted".to_owned()) {
        assert!(Instant::now() < deadline, "no delivery within 60 s of the kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivery_stall = killed_at.elapsed();
    let delivery_election = delivery_election.await.expect("the election watch");
    filed.push(first);
    file_many(&app, "deliveries-node-after", 4, &body, &mut filed).await;
    cluster.start_node(deliveries).await;
    eprintln!(
        "cluster: {} filed; the intake's node {intakes_name} killed ({election}): the longest filing {} ms ({} ms calm), {refused} answers 503; the delivery stream's leader {leader} killed: another led it {} ms after the kill, and the next submission was delivered {} ms after the kill",
        filed.len(),
        intake_stall.as_millis(),
        calm.as_millis(),
        delivery_election.as_millis(),
        delivery_stall.as_millis()
    );
    assert!(
        intake_stall < Duration::from_secs(25),
        "a filing stalled {intake_stall:?} after the intake's node died"
    );
    // An election and the fan-out's retries (a hand-back comes back after 5 s the first time);
    // a fixed 30 s hand-back made this 35 s under CI's load.
    assert!(
        delivery_stall < Duration::from_secs(30),
        "deliveries stalled {delivery_stall:?} after the delivery stream's leader died"
    );

    // Every acknowledged application reaches the subscriber: drafted, submitted, classified, each
    // once and in the order they happened.
    let expected = ["drafted", "submitted", "classified"];
    let deadline = Instant::now() + Duration::from_secs(60);
    for id in &filed {
        loop {
            let got = delivered_for(&receiver, id);
            if got.len() >= expected.len() {
                assert_eq!(got[..expected.len()], expected, "{id}: in order, each once: {got:?}");
                break;
            }
            assert!(Instant::now() < deadline, "{id}: only {got:?} delivered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
