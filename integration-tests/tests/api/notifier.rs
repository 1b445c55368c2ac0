//! Deliveries to real HTTP receivers (#5): signed, shaped, in order, retried, throttled, isolated,
//! dead-lettered and redriven, refused for internal addresses, and nothing lost across a restart.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_integration_tests::receiver::{Answer, Received, Receiver};
use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, TestApp, example};
use sandpiper_notifier::config::{NotifierConfig, RetryPolicy};
use sandpiper_notifier::signing;
use sandpiper_runtime::config::{ClockMode, CommonConfig};
use sandpiper_runtime::http::auth::Tokens;
use serde_json::json;

/// A notifier of the test's own beside the stack's, on the same NATS: a second replica, or one
/// with other delivery settings. It runs until the returned sender is dropped.
async fn extra_notifier(app: &TestApp, retry: RetryPolicy) -> (String, tokio::sync::oneshot::Sender<()>) {
    let notifier = sandpiper_notifier::Notifier::build(NotifierConfig {
        common: CommonConfig {
            nats_url: app.nats_url.clone(),
            nats_user: None,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            clock: ClockMode::Wall,
            stream_replicas: 1,
            review: Default::default(),
        },
        tokens: Tokens::parse(&format!("acme:{ACME},globex:{GLOBEX},admin:{ADMIN}")).unwrap(),
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        retry,
        slack_signing_secret: None,
        slack_answer_within: sandpiper_notifier::config::DEFAULT_SLACK_ANSWER_WITHIN,
    })
    .await
    .unwrap();
    let url = format!("http://{}", notifier.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(notifier.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    for _ in 0..200 {
        if app.send(app.http.get(format!("{url}/readyz"))).await.status == 200 {
            return (url, stop);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the extra notifier did not become ready");
}

/// Subscribes through the notifier at `notifier`; returns the id.
async fn subscribe_at(app: &TestApp, notifier: &str, url: &str, events: &[&str]) -> String {
    let reply = app
        .send(
            app.http
                .post(format!("{notifier}/v1/subscriptions"))
                .bearer_auth(ACME)
                .json(&json!({"url": url, "events": events, "format": "cloudevents"})),
        )
        .await;
    assert_eq!(reply.status, 201, "subscribe: {reply:?}");
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The test settings of the stack's notifier, with another attempt timeout.
fn retry_with_timeout(timeout: Duration) -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(3),
        timeout,
        slack_interval: Duration::from_millis(20),
    }
}

fn event_type(r: &Received) -> String {
    r.header("x-sandpiper-event-type")
}

fn unique_deliveries(received: &[Received], ok_only: bool) -> HashSet<String> {
    received
        .iter()
        .filter(|r| !ok_only || !r.header("x-sandpiper-delivery-id").is_empty())
        .map(|r| r.header("x-sandpiper-delivery-id"))
        .collect()
}

#[tokio::test]
async fn cloudevents_deliveries_are_signed_ordered_and_tenant_scoped() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![]).await;
    let (_, secret) = app.subscribe(ACME, &receiver.url(), &["*"], "cloudevents").await;
    app.submit(GLOBEX, &example("exploring-agents")).await; // another partner's: never delivered
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    receiver.wait_until("three events", |r| r.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received();
    assert_eq!(
        received.iter().map(event_type).collect::<Vec<_>>(),
        ["drafted", "submitted", "classified"],
        "only acme's, in order"
    );
    for r in &received {
        let timestamp: i64 = r.header(signing::TIMESTAMP_HEADER).parse().unwrap();
        let signature = r.header(signing::SIGNATURE_HEADER);
        assert!(
            signing::verify(&secret, timestamp, &r.body, &signature, chrono::Utc::now().timestamp()),
            "the signature verifies"
        );
        assert!(!signing::verify(
            "wrong",
            timestamp,
            &r.body,
            &signature,
            chrono::Utc::now().timestamp()
        ));
        assert_eq!(r.header("content-type"), "application/cloudevents+json");
        let envelope = r.json();
        assert_eq!(envelope["specversion"], "1.0");
        assert_eq!(envelope["subject"], id.as_str());
        assert_eq!(envelope["partnerid"], "acme");
    }
    assert_eq!(unique_deliveries(&received, true).len(), 3);
}

#[tokio::test]
async fn slack_messages_are_block_kit_with_the_facts() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["classified"], "slack").await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    let received = receiver.wait_until("the classification", |r| !r.is_empty()).await;
    let message = received[0].json();
    assert!(
        message["text"].as_str().unwrap().contains("Helpdesk Autopilot"),
        "{message}"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "🧭 Classified");
    let all = message.to_string();
    assert!(all.contains("*Pool:* innovation_sandbox"), "{all}");
    assert!(all.contains("$1,200/month") && all.contains("$850/month"), "{all}");
    assert!(all.contains("Rules: C1, C4, C2"), "{all}");
    assert!(all.contains(&format!("Application `{id}`")), "{all}");
}

#[tokio::test]
async fn failures_are_retried_and_nothing_is_lost_across_200_events() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![Answer::Status(500), Answer::Status(500), Answer::Status(500)]).await;
    app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    for _ in 0..200 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    receiver
        .wait_until("200 distinct deliveries", |r| unique_deliveries(r, true).len() >= 200)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received();
    assert_eq!(
        received.len(),
        203,
        "the first delivery three times more, every other once"
    );
    assert_eq!(
        received[0].header("x-sandpiper-delivery-id"),
        received[3].header("x-sandpiper-delivery-id"),
        "retried, not skipped"
    );
    assert_eq!(unique_deliveries(&received, true).len(), 200);
}

#[tokio::test]
async fn a_429_is_honoured_with_its_retry_after() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![Answer::Throttle(2)]).await;
    app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    app.create(ACME, &example("exploring-agents")).await;
    let received = receiver.wait_until("the retry", |r| r.len() >= 2).await;
    assert!(
        received[1].at.duration_since(received[0].at) >= Duration::from_secs(2),
        "waited Retry-After"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_does_not_delay_a_healthy_one() {
    // Attempts time out after 10 s here, so a healthy receiver served within 3 s was not queued
    // behind the stuck one's attempt.
    const HANG_TIMEOUT: Duration = Duration::from_secs(10);
    const HEALTHY_BOUND: Duration = Duration::from_secs(3);
    let mut app = TestApp::spawn().await;
    app.stack.crash_service(ServiceName::Notifier).await;
    let (notifier, _running) = extra_notifier(&app, retry_with_timeout(HANG_TIMEOUT)).await;
    let stuck = Receiver::start(vec![Answer::Hang; 100]).await;
    let healthy = Receiver::start(vec![]).await;
    subscribe_at(&app, &notifier, &stuck.url(), &["drafted"]).await;
    subscribe_at(&app, &notifier, &healthy.url(), &["drafted"]).await;
    let started = Instant::now();
    for _ in 0..20 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    let received = healthy.wait_until("all 20", |r| r.len() >= 20).await;
    let last = received.iter().map(|r| r.at).max().unwrap();
    assert!(
        last.duration_since(started) < HEALTHY_BOUND,
        "the healthy receiver had all 20 after {:?}",
        last.duration_since(started)
    );
    assert_eq!(
        stuck.received().len(),
        1,
        "the stuck one is still on its first delivery"
    );
}

#[tokio::test]
async fn dead_letters_can_be_listed_and_redriven() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![Answer::Status(503); 4]).await;
    let (subscription, _) = app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    app.create(ACME, &example("exploring-agents")).await;
    receiver.wait_until("the retry budget", |r| r.len() >= 4).await;

    let dead_url = app.notifier_url("/v1/deliveries/dead");
    let mut dead = serde_json::Value::Null;
    for _ in 0..100 {
        dead = app.send(app.http.get(&dead_url).bearer_auth(ADMIN)).await.body;
        if dead.as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead.as_array().unwrap().len(), 1, "{dead}");
    assert_eq!(dead[0]["subscription"], subscription.as_str());
    assert_eq!(dead[0]["attempts"], 4);
    assert!(dead[0]["last_error"].as_str().unwrap().contains("503"));
    assert_eq!(
        app.send(app.http.get(&dead_url).bearer_auth(ACME)).await.status,
        403,
        "admins only"
    );

    let sequence = dead[0]["sequence"].as_u64().unwrap();
    let redriven = app
        .send(
            app.http
                .post(app.notifier_url(&format!("/v1/deliveries/dead/{sequence}/redrive")))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(redriven.status, 202, "{redriven:?}");
    let received = receiver.wait_until("the redriven delivery", |r| r.len() >= 5).await;
    assert_eq!(
        received[4].header("x-sandpiper-delivery-id"),
        received[0].header("x-sandpiper-delivery-id"),
        "the same delivery id"
    );
    assert_eq!(
        app.send(app.http.get(&dead_url).bearer_auth(ADMIN)).await.body,
        json!([])
    );

    // A path that is not a sequence number: problem+json like every other error.
    let bad = app
        .send(
            app.http
                .post(app.notifier_url("/v1/deliveries/dead/latest/redrive"))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.content_type, "application/problem+json", "{bad:?}");

    // A dead letter whose subscription is gone is refused, and kept, rather than orphaned.
    receiver.script(vec![Answer::Status(503); 4]);
    app.create(ACME, &example("exploring-agents")).await;
    let mut dead = serde_json::Value::Null;
    for _ in 0..200 {
        dead = app.send(app.http.get(&dead_url).bearer_auth(ADMIN)).await.body;
        if dead.as_array().is_some_and(|d| !d.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sequence = dead[0]["sequence"].as_u64().unwrap();
    let deleted = app
        .send(
            app.http
                .delete(app.notifier_url(&format!("/v1/subscriptions/{subscription}")))
                .bearer_auth(ACME),
        )
        .await;
    assert_eq!(deleted.status, 204);
    let orphaned = app
        .send(
            app.http
                .post(app.notifier_url(&format!("/v1/deliveries/dead/{sequence}/redrive")))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(orphaned.status, 409, "{orphaned:?}");
    assert_eq!(orphaned.content_type, "application/problem+json");
    assert_eq!(
        app.send(app.http.get(&dead_url).bearer_auth(ADMIN)).await.body[0]["sequence"],
        sequence,
        "the dead letter is kept"
    );
}

#[tokio::test]
async fn internal_destinations_and_bad_subscriptions_are_refused() {
    let app = TestApp::spawn().await;
    let subscribe = |body: serde_json::Value| {
        app.send(
            app.http
                .post(app.notifier_url("/v1/subscriptions"))
                .bearer_auth(ACME)
                .json(&body),
        )
    };
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "ftp://example.com/hook",
    ] {
        let reply = subscribe(json!({"url": url, "events": ["approved"], "format": "slack"})).await;
        assert_eq!(reply.status, 422, "{url}: {reply:?}");
        assert_eq!(reply.body["errors"][0]["field"], "url");
    }
    let typo = subscribe(json!({"url": "http://127.0.0.1:9/hook", "events": ["aproved"], "format": "slack"})).await;
    assert_eq!(typo.status, 422);
    assert_eq!(typo.body["errors"][0]["field"], "events[0]");
    let bad_format =
        subscribe(json!({"url": "http://127.0.0.1:9/hook", "events": ["approved"], "format": "teams"})).await;
    assert_eq!(bad_format.status, 422);

    // Tenancy: lists and deletes only one's own.
    let (id, _) = app
        .subscribe(ACME, "http://127.0.0.1:9/hook", &["approved"], "slack")
        .await;
    let listed = app
        .send(app.http.get(app.notifier_url("/v1/subscriptions")).bearer_auth(ACME))
        .await;
    assert_eq!(listed.body[0]["id"], id.as_str());
    assert!(listed.body[0].get("secret").is_none(), "the secret is shown once");
    assert_eq!(
        app.send(app.http.get(app.notifier_url("/v1/subscriptions")).bearer_auth(GLOBEX))
            .await
            .body,
        json!([])
    );
    assert_eq!(
        app.send(
            app.http
                .delete(app.notifier_url(&format!("/v1/subscriptions/{id}")))
                .bearer_auth(GLOBEX)
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.send(
            app.http
                .delete(app.notifier_url(&format!("/v1/subscriptions/{id}")))
                .bearer_auth(ACME)
        )
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn a_notifier_restart_mid_burst_loses_no_delivery() {
    let mut app = TestApp::spawn().await;
    // The eleventh delivery is held by the receiver: in flight when the notifier dies.
    let mut script = vec![Answer::Status(200); 10];
    script.push(Answer::Hold);
    let receiver = Receiver::start(script).await;
    app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    for _ in 0..50 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    let in_flight = receiver
        .wait_until("a delivery held in flight", |r| r.len() >= 11)
        .await[10]
        .header("x-sandpiper-delivery-id");
    app.stack.crash_service(ServiceName::Notifier).await;
    receiver.release();
    for _ in 0..50 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    app.stack.start_service(ServiceName::Notifier).await.unwrap();
    receiver
        .wait_until("all 100", |r| unique_deliveries(r, true).len() >= 100)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received();
    assert_eq!(unique_deliveries(&received, true).len(), 100, "nothing lost");
    assert!(
        received
            .iter()
            .filter(|r| r.header("x-sandpiper-delivery-id") == in_flight)
            .count()
            >= 2,
        "the delivery cut off by the crash was delivered again"
    );
    // A repeated delivery id always carries the same event: receivers can de-duplicate on it.
    let mut events_of: HashMap<String, HashSet<String>> = HashMap::new();
    for r in &received {
        events_of
            .entry(r.header("x-sandpiper-delivery-id"))
            .or_default()
            .insert(r.json()["id"].as_str().unwrap().to_owned());
    }
    assert!(events_of.values().all(|events| events.len() == 1), "{events_of:?}");
    let events: HashSet<&String> = events_of.values().flatten().collect();
    assert_eq!(events.len(), 100, "one delivery id per event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_backlogged_while_the_notifier_was_down_reach_a_subscription_it_has_yet_to_load() {
    let mut app = TestApp::spawn().await;
    // Thousands of older bucket entries ahead of the subscription: a restarted notifier takes a
    // while to load it, and must not fan out the backlog before it has.
    let jetstream = async_nats::jetstream::new(async_nats::connect(&app.nats_url).await.unwrap());
    let bucket = jetstream.get_key_value(names::SUBSCRIPTIONS_BUCKET).await.unwrap();
    let written: Vec<_> = futures::stream::iter(0..5_000)
        .map(|i| {
            let bucket = bucket.clone();
            async move { bucket.delete(format!("gone-{i}")).await }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(written.iter().all(Result::is_ok));
    let receiver = Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    app.stack.crash_service(ServiceName::Notifier).await;
    for _ in 0..20 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    app.stack.start_service(ServiceName::Notifier).await.unwrap();
    receiver
        .wait_until("all 20", |r| unique_deliveries(r, true).len() >= 20)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_on_one_replica_is_served_by_another() {
    let mut app = TestApp::spawn().await;
    let (other, _running) = extra_notifier(&app, retry_with_timeout(Duration::from_secs(2))).await;
    let receiver = Receiver::start(vec![]).await;
    let id = subscribe_at(&app, &app.notifier_url(""), &receiver.url(), &["drafted"]).await;
    // At once, only the other replica is left to fan out and deliver.
    app.stack.crash_service(ServiceName::Notifier).await;
    let listed = app
        .send(app.http.get(format!("{other}/v1/subscriptions")).bearer_auth(ACME))
        .await;
    assert_eq!(listed.body[0]["id"], id.as_str(), "{listed:?}");
    for _ in 0..5 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    receiver
        .wait_until("all 5", |r| unique_deliveries(r, true).len() >= 5)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_keep_one_slack_pace_between_them() {
    // Consecutive deliveries of one subscription may be handled by either replica: the pace is
    // claimed in a bucket they share, so the webhook never gets two messages within the interval.
    const INTERVAL: Duration = Duration::from_millis(300);
    let mut app = TestApp::spawn().await;
    app.stack.crash_service(ServiceName::Notifier).await;
    let retry = RetryPolicy {
        slack_interval: INTERVAL,
        ..retry_with_timeout(Duration::from_secs(5))
    };
    let (first, _first_running) = extra_notifier(&app, retry).await;
    let (_second, _second_running) = extra_notifier(&app, retry).await;
    let receiver = Receiver::start(vec![]).await;
    let reply = app
        .send(
            app.http
                .post(format!("{first}/v1/subscriptions"))
                .bearer_auth(ACME)
                .json(&json!({"url": receiver.url(), "events": ["drafted"], "format": "slack"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    for _ in 0..8 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    let received = receiver.wait_until("all 8", |r| r.len() >= 8).await;
    let mut arrivals: Vec<Instant> = received.iter().map(|r| r.at).collect();
    arrivals.sort();
    for pair in arrivals.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        // Arrivals, not slots, are what the receiver sees: on a loaded machine one request can
        // arrive a few tens of milliseconds after its slot began and shorten the gap to the
        // next. Two replicas pacing separately would put messages ~0 ms apart, so a third of
        // the interval still tells them apart (it failed at 269 ms with a 15 ms margin while
        // the machine built in parallel).
        assert!(gap + INTERVAL / 3 >= INTERVAL, "two messages {gap:?} apart");
    }
}
