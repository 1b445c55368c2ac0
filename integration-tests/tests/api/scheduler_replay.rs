//! A scheduler timer that fires again after the stream's duplicate window (a crash between
//! publishing and deleting it, then a long outage) stores nothing twice.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_integration_tests::{ACME, ADMIN, TestApp, example};
use sandpiper_runtime::handler::Timer;
use sandpiper_runtime::timers::Timers;
use serde_json::json;

#[tokio::test]
async fn a_timer_fired_again_after_the_duplicate_window_stores_nothing_twice() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await; // 03-14 09:00: approved
    let spent = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/consumption"),
            &json!({"date": "2026-03-14", "amount_usd": 1000}),
        )
        .await;
    assert_eq!(spent.status, 201);
    // Mid-window (04-13 09:00): $1,000 < 25% of $10,000 → a warning (TR8).
    app.advance_days(30).await; // 04-13 09:00
    let count = |events: &[(String, Option<String>, sandpiper_contracts::events::Envelope)], t: &str| {
        events.iter().filter(|(s, _, _)| s.ends_with(&format!(".{t}"))).count()
    };
    let stored = app.stream_events("acme", &id).await;
    assert_eq!(count(&stored, "clawback_warning"), 1);
    let approved = stored
        .iter()
        .find(|(s, _, _)| s.ends_with(".approved"))
        .map(|(_, _, e)| e.id)
        .unwrap();

    // The stream forgets message ids after 100 ms from now on.
    let client = async_nats::connect(&app.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(names::EVENTS_STREAM).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.duplicate_window = std::time::Duration::from_millis(100);
    js.update_stream(config).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    let bus = app.bus(ServiceName::Scheduler).await;
    let timers = Timers::open(&bus, ServiceName::Scheduler).await.unwrap();
    let bucket = js.get_key_value(ServiceName::Scheduler.timers_bucket()).await.unwrap();
    let application = ApplicationId::parse(&id).unwrap();
    // Puts a timer back as it was before it fired (a crash between publishing and deleting), lets
    // it fire (the advance answers once every timer due by then fired) and returns what is stored.
    let refire = |timer_id: String, due_at: &str, payload: serde_json::Value| {
        let timer = Timer {
            id: timer_id.clone(),
            due_at: due_at.parse().unwrap(),
            partner: PartnerId::parse("acme").unwrap(),
            application: Some(application),
            cause: approved,
            payload,
            traceparent: None,
        };
        let (app, timers, bucket, id) = (&app, &timers, &bucket, &id);
        async move {
            timers.schedule(&timer).await.unwrap();
            let moved = app.post(ADMIN, "/v1/clock/advance", &json!({"hours": 1})).await;
            assert_eq!(moved.status, 200, "{moved:?}");
            assert!(
                bucket.get(&timer_id).await.unwrap().is_none(),
                "the re-stored {timer_id} fired"
            );
            app.stream_events("acme", id).await
        }
    };

    let after = refire(
        format!("mid.{id}"),
        "2026-04-13T09:00:00Z",
        json!({"kind": "mid_window"}),
    )
    .await;
    assert_eq!(count(&after, "clawback_warning"), 1, "TR8's warning stored once");
    assert_eq!(after.len(), stored.len(), "nothing new stored");

    // The window closes (05-13); reminder 1 goes out on 05-20 (G1).
    app.advance_days(37).await; // 05-20 10:00
    let stored = app.stream_events("acme", &id).await;
    assert_eq!(count(&stored, "decision_reminder"), 1);
    let after = refire(
        format!("remind.{id}.1"),
        "2026-05-20T09:00:00Z",
        json!({"kind": "reminder", "number": 1}),
    )
    .await;
    assert_eq!(count(&after, "decision_reminder"), 1, "G1's reminder 1 stored once");
    assert_eq!(after.len(), stored.len(), "nothing new stored");

    // The chain goes on: reminder 2 on 05-27.
    app.advance_days(7).await;
    let later = app.stream_events("acme", &id).await;
    let numbers: Vec<u64> = later
        .iter()
        .filter(|(s, _, _)| s.ends_with(".decision_reminder"))
        .map(|(_, _, e)| e.data["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2]);
}

/// The review timer fired again after the duplicate window (a crash between publishing the
/// decision and deleting the timer, then a long outage) stores no second decision: before the
/// read model it published through the stream's de-duplication alone, and a second `approved`
/// reached the stream (and Slack).
#[tokio::test]
async fn a_review_timer_fired_again_after_the_duplicate_window_decides_once() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await; // 03-14 09:00: approved
    let stored = app.stream_events("acme", &id).await;
    let of_type = |events: &[(String, Option<String>, sandpiper_contracts::events::Envelope)], t: &str| {
        events
            .iter()
            .filter(|(s, _, _)| s.ends_with(&format!(".{t}")))
            .map(|(_, _, e)| e.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(of_type(&stored, "approved").len(), 1);
    let classified = of_type(&stored, "classified").remove(0);

    let client = async_nats::connect(&app.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(names::EVENTS_STREAM).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.duplicate_window = std::time::Duration::from_millis(100);
    js.update_stream(config).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    let bus = app.bus(ServiceName::Reviewer).await;
    let timers = Timers::open(&bus, ServiceName::Reviewer).await.unwrap();
    let bucket = js.get_key_value(ServiceName::Reviewer.timers_bucket()).await.unwrap();
    let timer_id = format!("review.{id}");
    // The timer as the reviewer stored it at classification.
    let timer = Timer {
        id: timer_id.clone(),
        due_at: "2026-03-14T09:00:00Z".parse().unwrap(),
        partner: PartnerId::parse("acme").unwrap(),
        application: Some(ApplicationId::parse(&id).unwrap()),
        cause: classified.id,
        payload: json!({
            "pool": classified.data["pool"],
            "catalog_version": classified.data["catalog_version"],
            "eligibility_failures": classified.data["eligibility_failures"],
        }),
        traceparent: None,
    };
    timers.schedule(&timer).await.unwrap();
    let moved = app.post(ADMIN, "/v1/clock/advance", &json!({"hours": 1})).await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert!(
        bucket.get(&timer_id).await.unwrap().is_none(),
        "the re-stored review timer fired"
    );
    let after = app.stream_events("acme", &id).await;
    assert_eq!(of_type(&after, "approved").len(), 1, "the decision is stored once");
    assert_eq!(after.len(), stored.len(), "nothing new stored");
}
