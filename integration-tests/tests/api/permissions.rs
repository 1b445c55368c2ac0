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

/// What only provisioning may do (#13, item 14), tried with each service's user: delete or purge
/// the event stream, make a consumer on it with a filter of its own choosing, write a bucket that
/// is another service's (or, for all but the intake, the clock and the catalog). Each must be
/// refused, and the stream must hold what it held. The same calls made as the provisioning user
/// succeed, so a refusal here is the permission, not a malformed call.
#[tokio::test]
async fn only_provisioning_may_delete_purge_consume_at_will_or_write_anothers_bucket() {
    use async_nats::jetstream::consumer::pull;
    use sandpiper_contracts::names::{self, ServiceName};

    let app = secured().await;
    let id = app.create(ACME, &example("exploring-agents")).await;
    let stored = || async {
        let provisioner = connect_as(&app, "provision", "provision-secret").await;
        let js = async_nats::jetstream::new(provisioner);
        let mut stream = js.get_stream(names::EVENTS_STREAM).await.unwrap();
        stream.info().await.unwrap().state.messages
    };
    let held = stored().await;
    assert!(held >= 1);
    let foreign_buckets = |service: ServiceName| -> Vec<String> {
        let mut buckets = vec![match service {
            ServiceName::Scheduler => ServiceName::Reviewer.timers_bucket(),
            _ => ServiceName::Scheduler.timers_bucket(),
        }];
        if service != ServiceName::Intake {
            buckets.extend([names::IDEMPOTENCY_BUCKET, names::CLOCK_BUCKET, names::CATALOG_BUCKET].map(str::to_owned));
        }
        if service != ServiceName::Notifier {
            buckets.push(names::SUBSCRIPTIONS_BUCKET.to_owned());
        }
        buckets
    };
    // A refused request is never answered: a short wait suffices (an allowed one answers in
    // milliseconds), and the users are tried at once.
    let attempts = |client: async_nats::Client, timeout: Duration, buckets: Vec<String>, name: &'static str| async move {
        let mut js = async_nats::jetstream::new(client);
        js.set_timeout(timeout);
        let events = js.get_stream_no_info(names::EVENTS_STREAM).await.unwrap();
        let mut outcomes: Vec<(String, Result<(), String>)> = Vec::new();
        let consumer = events
            .create_consumer(pull::Config {
                durable_name: Some(format!("snoop-{name}")),
                filter_subject: "sandpiper.v1.events.>".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        outcomes.push(("a consumer of every event".into(), consumer));
        for bucket in buckets {
            let put = match js.publish(format!("$KV.{bucket}.probe"), "{}".into()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            outcomes.push((format!("a write to {bucket}"), put));
        }
        let scratch = format!("SCRATCH_{}", name.to_ascii_uppercase());
        let create = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: scratch.clone(),
                subjects: vec![format!("scratch.{name}")],
                ..Default::default()
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        outcomes.push(("creating a stream".into(), create));
        let purge = events.purge().await.map(|_| ()).map_err(|e| e.to_string());
        outcomes.push(("purging the event stream".into(), purge));
        let delete = js
            .delete_stream(names::EVENTS_STREAM)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        outcomes.push(("deleting the event stream".into(), delete));
        outcomes
    };
    let tries = ServiceName::ALL.into_iter().map(|service| {
        let buckets = foreign_buckets(service);
        let app = &app;
        async move {
            let user = service.as_str();
            let client = connect_as(app, user, &format!("{user}-secret")).await;
            (
                service,
                attempts(client, Duration::from_millis(1500), buckets, user).await,
            )
        }
    });
    for (service, outcomes) in futures::future::join_all(tries).await {
        for (what, outcome) in outcomes {
            assert!(outcome.is_err(), "{service} was allowed {what}");
        }
    }
    assert_eq!(stored().await, held, "the event stream holds what it held");
    assert_eq!(app.view(ACME, &id).await["state"], "draft");

    // The control: the provisioning user may do each of these (the purge and the delete last).
    let provisioner = connect_as(&app, "provision", "provision-secret").await;
    let outcomes = attempts(
        provisioner,
        Duration::from_secs(10),
        vec![names::CLOCK_BUCKET.to_owned(), names::CATALOG_BUCKET.to_owned()],
        "provision",
    )
    .await;
    for (what, outcome) in outcomes {
        assert!(outcome.is_ok(), "provisioning was refused {what}: {outcome:?}");
    }
}

/// Deleting a dead letter: a service's redrive answers, and the intake removes the letter, so only
/// the intake (and the notifier, for its deliveries' letters) may delete from the shared
/// dead-letter stream; the classifier, reviewer, scheduler and connector may not remove anyone's
/// letters. Each user asks to delete a letter that is not there: an allowed user gets an answer
/// (no such message), a refused one none at all.
#[tokio::test]
async fn only_the_intake_and_the_notifier_may_delete_a_dead_letter() {
    use async_nats::jetstream::stream::DeleteMessageErrorKind;
    use sandpiper_contracts::names::{self, ServiceName};

    let app = secured().await;
    let tries = ServiceName::ALL
        .into_iter()
        .map(|s| s.as_str())
        .chain(["provision"])
        .map(|user| {
            let app = &app;
            async move {
                let client = connect_as(app, user, &format!("{user}-secret")).await;
                let mut js = async_nats::jetstream::new(client);
                js.set_timeout(Duration::from_millis(1500));
                let letters = js.get_stream_no_info(names::DEAD_LETTERS_STREAM).await.unwrap();
                let answered = match letters.delete_message(1_000_000).await {
                    Ok(_) => true,
                    Err(err) => match err.kind() {
                        DeleteMessageErrorKind::TimedOut => false,
                        DeleteMessageErrorKind::JetStream(_) => true,
                        other => panic!("{user}: deleting a dead letter failed otherwise: {other:?} {err}"),
                    },
                };
                (user, answered)
            }
        });
    for (user, answered) in futures::future::join_all(tries).await {
        let allowed = matches!(user, "intake" | "notifier" | "provision");
        assert_eq!(
            answered,
            allowed,
            "{user}: {} to delete a dead letter",
            if answered { "allowed" } else { "refused" }
        );
    }
}
