//! Two replicas of a service share its durable consumer: each event is handled by one of them,
//! none twice.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_integration_tests::{ACME, TestApp, example};
use sandpiper_runtime::config::{ClockMode, CommonConfig};

#[tokio::test]
async fn two_classifier_replicas_split_the_work_without_double_processing() {
    let app = TestApp::spawn().await;
    let config = CommonConfig {
        nats_url: app.nats_url.clone(),
        nats_user: None,
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        clock: ClockMode::Wall,
        stream_replicas: 1,
        review: Default::default(),
    };
    let second = sandpiper_classifier::build(&config).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let replica = tokio::spawn(second.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let client = async_nats::connect(&app.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(names::EVENTS_STREAM).await.unwrap();
    let name = ServiceName::Classifier.durable_consumer();
    // Both replicas are pulling from the one durable consumer.
    let mut waiting = 0;
    for _ in 0..100 {
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer(&name).await.unwrap();
        waiting = consumer.info().await.unwrap().num_waiting;
        if waiting >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(waiting >= 2, "both replicas pull from {name}: {waiting} waiting");

    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(app.submit(ACME, &example("bedrock-agents-support")).await);
    }
    for id in &ids {
        app.wait_for_state(ACME, id, "in_review").await;
        let classified = app
            .stream_events("acme", id)
            .await
            .iter()
            .filter(|(s, _, _)| s.ends_with(".classified"))
            .count();
        assert_eq!(classified, 1, "{id}");
    }
    let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer(&name).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.num_redelivered, 0, "no event was handed to a second replica");
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(
        info.delivered.consumer_sequence, 30,
        "each submission delivered once, to one replica"
    );

    let _ = stop.send(());
    replica.await.unwrap().unwrap();
}

/// The notifier's deliveries and dead-letter streams take `SANDPIPER_STREAM_REPLICAS` like the
/// event stream (#13, item 9). On one node with 1 replica nothing changes; with 3 configured, the
/// config the notifier provisions from carries 3, and the server sees it: a single node refuses a
/// 3-replica stream. Fails before the fix, which created both streams with the default (1
/// replica) whatever was configured, so the build succeeded and the count was 0.
#[tokio::test]
async fn the_notifiers_streams_carry_the_configured_replicas() {
    let app = TestApp::spawn().await;
    let client = async_nats::connect(&app.nats_url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    for name in [
        names::EVENTS_STREAM,
        names::DELIVERIES_STREAM,
        names::DEAD_LETTERS_STREAM,
    ] {
        let mut stream = js.get_stream(name).await.unwrap();
        assert_eq!(stream.info().await.unwrap().config.num_replicas, 1, "{name}");
    }

    let config = CommonConfig {
        nats_url: app.nats_url.clone(),
        nats_user: None,
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        clock: ClockMode::Wall,
        stream_replicas: 3,
        review: Default::default(),
    };
    // The event stream exists, so connecting finds it rather than creating it.
    let bus = sandpiper_runtime::bus::Bus::connect(&config, ServiceName::Notifier)
        .await
        .unwrap();
    assert_eq!(sandpiper_runtime::provision::deliveries_config(&bus).num_replicas, 3);
    assert_eq!(sandpiper_runtime::dead_letters::stream_config(&bus).num_replicas, 3);

    js.delete_stream(names::DEAD_LETTERS_STREAM).await.unwrap();
    let refused = sandpiper_runtime::dead_letters::stream(&bus).await.unwrap_err();
    assert!(
        refused.to_string().contains(names::DEAD_LETTERS_STREAM),
        "a 3-replica stream on one node is refused: {refused}"
    );
}
