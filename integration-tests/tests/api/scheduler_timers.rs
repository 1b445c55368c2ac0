//! The timer loop over real NATS: it loads the whole index before it reports ready or fires.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::handler::{HandlerError, Timer, TimerHandler, TimerKind};
use sandpiper_runtime::health::Gate;
use sandpiper_runtime::timers::{self, Timers};

/// Records the due time of every timer it fires, and whether the loop reported ready by then.
#[derive(Clone)]
struct Recorder {
    fired: Arc<Mutex<Vec<DateTime<Utc>>>>,
    ready: Gate,
    fired_before_ready: Arc<Mutex<bool>>,
}

/// The test's timer kind: no payload (stored as `null`).
#[derive(serde::Serialize, serde::Deserialize)]
struct Mark;

impl TimerKind for Mark {
    fn timer_id(&self, application: &ApplicationId) -> String {
        format!("t.{application}")
    }
}

impl TimerHandler for Recorder {
    type Kind = Mark;

    async fn fire(&self, timer: Timer, Mark: Mark) -> Result<(), HandlerError> {
        if !self.ready.is_open() {
            *self.fired_before_ready.lock().unwrap() = true;
        }
        self.fired.lock().unwrap().push(timer.due_at);
        Ok(())
    }
}

#[tokio::test]
async fn timers_stored_before_start_up_fire_in_due_order_once_the_index_is_loaded() {
    let (_server, bus) = sandpiper_integration_tests::bare_bus(ServiceName::Scheduler).await;
    let store = Timers::open(&bus, ServiceName::Scheduler).await.unwrap();

    // Stored latest-due first: an index read half-way holds only the later ones, and firing
    // from it would fire those before the earlier ones still on their way.
    const N: i64 = 2_000;
    let base: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let partner = PartnerId::parse("acme").unwrap();
    let cause = EventId::parse("01M8K1D1JPCWC49Q1QN30E73D7").unwrap();
    for i in (0..N).rev() {
        let timer = Timer {
            id: format!("t.{i}"),
            due_at: base + chrono::Duration::seconds(i),
            partner: partner.clone(),
            application: Some(ApplicationId::generate()),
            cause,
            payload: serde_json::Value::Null,
            traceparent: None,
        };
        store.schedule(&timer).await.unwrap();
    }

    let ready = Gate::new("timers running");
    let recorder = Recorder {
        fired: Arc::default(),
        ready: ready.clone(),
        fired_before_ready: Arc::default(),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = sandpiper_runtime::shutdown::Shutdown::on(async move {
        let _ = stop_rx.await;
    });
    // The wall clock: every timer above is long due.
    let running = tokio::spawn(timers::run(
        bus.clone(),
        ServiceName::Scheduler,
        sandpiper_runtime::clock::Clock::Wall,
        recorder.clone(),
        shutdown,
        ready.clone(),
    ));

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while recorder.fired.lock().unwrap().len() < N as usize {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {N} timers fired",
            recorder.fired.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fired = recorder.fired.lock().unwrap().clone();
    let out_of_order = fired.windows(2).filter(|w| w[0] > w[1]).count();
    assert_eq!(out_of_order, 0, "timers fired out of due order: {:?}", &fired[..10]);
    assert_eq!(fired.first(), Some(&base));
    assert!(
        !*recorder.fired_before_ready.lock().unwrap(),
        "a timer fired before the loop reported ready"
    );
    assert!(ready.is_open());

    let _ = stop_tx.send(());
    running.await.unwrap().unwrap();
}
