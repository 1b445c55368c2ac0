//! Deliveries to real HTTP receivers (#5): signed, shaped, in order, retried, throttled, isolated,
//! dead-lettered and redriven, refused for internal addresses, and nothing lost across a restart.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::receiver::{Answer, Received, Receiver};
use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, TestApp, example};
use sandpiper_notifier::signing;
use serde_json::json;

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

#[tokio::test]
async fn a_receiver_that_never_answers_does_not_delay_a_healthy_one() {
    let app = TestApp::spawn().await;
    let stuck = Receiver::start(vec![Answer::Hang; 100]).await;
    let healthy = Receiver::start(vec![]).await;
    app.subscribe(ACME, &stuck.url(), &["drafted"], "cloudevents").await;
    app.subscribe(ACME, &healthy.url(), &["drafted"], "cloudevents").await;
    for _ in 0..20 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    healthy.wait_until("all 20", |r| r.len() >= 20).await;
    assert!(
        stuck.received().len() <= 2,
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
    let receiver = Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["drafted"], "cloudevents").await;
    for _ in 0..50 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    app.stack.crash_service(ServiceName::Notifier).await;
    for _ in 0..50 {
        app.create(ACME, &example("exploring-agents")).await;
    }
    app.stack.start_service(ServiceName::Notifier).await.unwrap();
    receiver
        .wait_until("all 100", |r| unique_deliveries(r, true).len() >= 100)
        .await;
    assert_eq!(unique_deliveries(&receiver.received(), true).len(), 100);
}
