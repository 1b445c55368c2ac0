//! The NATS security configuration (`deploy/nats/nats-server.conf`): the whole pipeline runs with
//! one user per service holding only the permissions it needs, a service cannot publish another's
//! events, and a partner's bot reads that partner's events and nothing else.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt;
use sandpiper_integration_tests::ace_stand_in::AceStandIn;
use sandpiper_integration_tests::receiver::Receiver;
use sandpiper_integration_tests::{ACME, GLOBEX, SIMULATED_START, TestApp, example, poll_async};
use sandpiper_runtime::config::{ClockMode, ReviewMode};

async fn secured() -> TestApp {
    TestApp::spawn_secured(ClockMode::Simulated {
        start: SIMULATED_START.parse().unwrap(),
    })
    .await
}

async fn connect_as(app: &TestApp, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .connect(&app.nats_url)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_pipeline_runs_with_least_privilege_users() {
    let app = secured().await;
    let receiver = Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["approved", "credits_applied"], "cloudevents")
        .await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
    app.advance_days(12).await;
    assert_eq!(
        app.view(ACME, &id).await["state"],
        "active",
        "reviewer and scheduler published under their own users"
    );
    receiver
        .wait_until("the approval and the credits", |r| r.len() >= 2)
        .await;
}

#[tokio::test]
async fn the_ace_connector_files_and_decides_under_its_own_user() {
    // The `ace` user (filings, cursors, ace_filed / ace_status_changed / approved) and the
    // reviewer's review_forecast under `review = ace`: each refused publish would stall this.
    let stand_in = AceStandIn::start().await;
    let app = TestApp::spawn_with_ace_secured(&stand_in, ReviewMode::Ace).await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    let view = poll_async("filed and forecast", || async {
        let view = app.view(ACME, &id).await;
        (!view["ace"].is_null() && !view["forecast"].is_null()).then_some(view)
    })
    .await;
    let benefit = view["ace"]["benefit_application_id"].as_str().unwrap();
    stand_in.review(benefit, "APPROVED", Some(25_000), None).await;
    let view = app.wait_for_state(ACME, &id, "active").await;
    assert_eq!(view["decision"]["tier_usd"], 25_000, "{}", view["decision"]);
}

#[tokio::test]
async fn a_service_cannot_publish_another_services_events() {
    let app = secured().await;
    let classifier = connect_as(&app, "classifier", "classifier-secret").await;
    let mut js = async_nats::jetstream::new(classifier);
    js.set_timeout(Duration::from_secs(2));
    let forged = format!(
        "sandpiper.v1.events.acme.{}.approved",
        sandpiper_contracts::ids::ApplicationId::generate()
    );
    let result = match js.publish(forged, "{}".into()).await {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    assert!(result.is_err(), "the classifier published an approval: {result:?}");
    assert!(
        async_nats::connect(&app.nats_url).await.is_err(),
        "anonymous connections are refused"
    );
}

#[tokio::test]
async fn a_bot_reads_its_partners_events_only() {
    let app = secured().await;
    let bot = connect_as(&app, "bot-acme", "bot-acme-secret").await;
    let mut acme = bot.subscribe("sandpiper.v1.events.acme.>").await.unwrap();
    let mut globex = bot.subscribe("sandpiper.v1.events.globex.>").await.unwrap();
    bot.flush().await.unwrap();
    app.create(GLOBEX, &example("exploring-agents")).await;
    let id = app.create(ACME, &example("exploring-agents")).await;
    let message = tokio::time::timeout(Duration::from_secs(5), acme.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        message.subject.as_str(),
        format!("sandpiper.v1.events.acme.{id}.drafted")
    );
    let other = tokio::time::timeout(Duration::from_millis(500), globex.next()).await;
    assert!(
        !matches!(other, Ok(Some(_))),
        "the bot must not see another partner's events"
    );
    // Publishing anything is denied: nothing reaches the stream.
    bot.publish(format!("sandpiper.v1.events.acme.{id}.approved"), "{}".into())
        .await
        .unwrap();
    bot.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.view(ACME, &id).await["state"], "draft");
}
