//! Faults at the event store's edge (#13): an ack that never comes must not be reported as
//! "nothing was changed" when the change was stored.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use sandpiper_contracts::events::Drafted;
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::{ACME, ADMIN, TestApp, bare_bus, example};
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::config::ClockMode;
use sandpiper_runtime::publish::{Outgoing, PublishError, Publisher};
use serde_json::json;

/// What resolving an unconfirmed write rests on, as nats-server does it: the very same message
/// sent again is answered as a duplicate with the original sequence when unguarded, but refused
/// as a conflict when it carries a sequence guard (the guard is checked before the duplicate
/// window). So a caller of a guarded write resolves a conflict from the stream: the intake and
/// `Effects` catch the record up and look for the event's id in it.
#[tokio::test]
async fn the_same_message_sent_twice_is_a_duplicate_unguarded_and_a_conflict_guarded() {
    let (_server, bus) = bare_bus(ServiceName::Intake).await;
    bus.events_stream().await.unwrap();
    let clock = Clock::open(&bus, ClockMode::Wall).await.unwrap();
    let publisher = Publisher::new(bus.jetstream.clone(), ServiceName::Intake, clock);
    let partner = PartnerId::parse("acme").unwrap();
    let drafted = Drafted {
        draft: Default::default(),
        originated_from: None,
    };
    for guarded in [false, true] {
        let application = ApplicationId::generate();
        let outgoing = || Outgoing {
            id: EventId::derived(&application.as_cause(), "probe"),
            partner: &partner,
            application,
            payload: &drafted,
            expected_version: guarded.then_some(0),
            time: None,
        };
        let first = publisher.publish(outgoing()).await.unwrap();
        assert!(!first.duplicate);
        match publisher.publish(outgoing()).await {
            Ok(again) if !guarded => assert!(again.duplicate && again.sequence == first.sequence, "{again:?}"),
            Err(PublishError::Conflict(id)) if guarded => assert_eq!(id, application),
            other => panic!("guarded {guarded}: {other:?}"),
        }
    }
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}

/// A probe found 503 "nothing was changed" answered for writes that were stored (#13 item 2):
/// the ack timed out while NATS was away, and a create retried without `Idempotency-Key` filed a
/// second draft. Here NATS is paused (SIGSTOP) past the client's 5-second ack timeout while a
/// create is in flight (its first NATS operation is the publish): the intake sends the same event
/// again, the stream answers it as a duplicate once NATS is back, and the create answers 201.
/// One draft is stored. Before, it answered 503 "nothing was changed" with the draft stored.
#[tokio::test]
async fn a_create_whose_ack_is_lost_while_nats_is_paused_is_confirmed_and_stored_once() {
    let app = TestApp::simulated().await;
    let pid = app
        .nats
        .as_ref()
        .and_then(|n| n.pid())
        .expect("the test's own nats-server");
    let mut body = example("bedrock-agents-support");
    body["workload"] = json!("filed-while-nats-was-paused");

    signal(pid, "-STOP");
    let started = Instant::now();
    let create = app.send(
        app.http
            .post(app.url("/v1/applications"))
            .bearer_auth(ACME)
            .timeout(Duration::from_secs(60))
            .json(&body),
    );
    let resume = async {
        tokio::time::sleep(Duration::from_secs(6)).await;
        signal(pid, "-CONT");
    };
    let (reply, ()) = tokio::join!(create, resume);
    assert!(started.elapsed() > Duration::from_secs(5), "the ack did time out once");
    assert_eq!(
        reply.status, 201,
        "a stored write is confirmed, not reported unchanged: {reply:?}"
    );

    let listed = app.get(ACME, "/v1/applications").await;
    let filed: Vec<&serde_json::Value> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["workload"] == "filed-while-nats-was-paused")
        .collect();
    assert_eq!(filed.len(), 1, "one draft: {listed:?}");
    assert_eq!(filed[0]["id"], reply.body["id"]);
}

/// #13 item 4: a well-formed `submitted` for an application that was never drafted was once
/// classified, approved and credited while `GET` answered 404. The state machine refuses it (no
/// `drafted` came first), so nothing acts on it: no classification, no review, still 404; and
/// the pipeline goes on for real applications.
#[tokio::test]
async fn a_submitted_for_an_application_never_drafted_is_not_acted_on() {
    use sandpiper_contracts::events::Submitted;

    let app = TestApp::simulated().await;
    let bus = app.bus(ServiceName::Intake).await;
    let publisher = Publisher::new(
        bus.jetstream.clone(),
        ServiceName::Intake,
        Clock::open(&bus, ClockMode::Wall).await.unwrap(),
    );
    let draft: sandpiper_contracts::model::ApplicationDraft =
        serde_json::from_value(example("bedrock-agents-support")).unwrap();
    let catalog = sandpiper_contracts::catalog::Catalog::builtin().unwrap();
    let application = draft.validate(&catalog, chrono::Utc::now()).unwrap();
    let ghost = ApplicationId::generate();
    publisher
        .publish(Outgoing {
            id: EventId::generate(),
            partner: &PartnerId::parse("acme").unwrap(),
            application: ghost,
            payload: &Submitted { application },
            expected_version: None,
            time: None,
        })
        .await
        .unwrap();

    // A real application filed after it goes all the way through: the pipeline did not stall.
    let real = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &real, "in_review").await;
    app.advance_days(13).await;
    app.wait_for_state(ACME, &real, "active").await;

    let ghost = ghost.to_string();
    assert_eq!(app.get(ACME, &format!("/v1/applications/{ghost}")).await.status, 404);
    let stored = app.stream_events("acme", &ghost).await;
    let names: Vec<String> = stored
        .iter()
        .map(|(subject, _, _)| subject.rsplit('.').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["submitted"], "nothing acted on the ghost: {names:?}");
}

/// `SANDPIPER_NATS_URL` takes a list, as every NATS client does (#13, item 11): with the list's
/// first server down (a port nothing listens on) and the second the real one, every service
/// starts and the pipeline runs. Fails before the fix: the whole list was taken as one URL,
/// which passed the config check and failed at connect, so the stack never started.
#[tokio::test]
async fn a_nats_url_list_with_a_dead_first_server_still_starts_the_stack() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("nats://127.0.0.1:{}", dead.local_addr().unwrap().port());
    drop(dead);
    let app = TestApp::spawn_with_nats_list(|url| format!("{dead_url},{url}")).await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
}

/// A service started before its nats-server (a fresh cluster, a pod scheduled first) waits for
/// NATS and JetStream with backoff and starts once they are up (#13, item 8). The services here
/// are started 2.5 s before nats-server comes up on their port, on the simulated clock (whose
/// bucket and key are provisioned at start too); they all become ready and the pipeline runs.
/// Fails before the fix: the first service's connect failed at once ("cannot connect to NATS")
/// and the stack never started.
#[tokio::test]
async fn services_started_before_nats_wait_for_it_and_become_ready() {
    let started = Instant::now();
    let clock = ClockMode::Simulated {
        start: sandpiper_integration_tests::SIMULATED_START.parse().unwrap(),
    };
    let app = TestApp::spawn_before_nats(Duration::from_millis(2500), clock).await;
    assert!(started.elapsed() >= Duration::from_millis(2500));
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
}

/// Files applications one after another, keeping the ids of those the API acknowledged: a draft
/// (201) and, when its submission was acknowledged too (202), a submission. Requests that fail
/// while NATS is down are the client's to retry; only acknowledged writes are promised.
async fn file_until(app: &TestApp, count: usize, acknowledged: &std::sync::Mutex<Vec<(String, bool)>>) {
    for n in 0..count {
        let mut body = example("bedrock-agents-support");
        body["startup"]["name"] = json!(format!("Crash {n:03}"));
        let created = app.post(ACME, "/v1/applications", &body).await;
        if created.status != 201 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let id = created.body["id"].as_str().unwrap().to_owned();
        let submitted = app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
        acknowledged.lock().unwrap().push((id, submitted.status == 202));
    }
}

/// Kills nats-server (SIGKILL) once `ready` holds, waits half a second and starts it again on its
/// store and port; returns the new server.
async fn crash_when(
    nats: sandpiper_cli::local_nats::LocalNats,
    store: std::path::PathBuf,
    ready: impl Fn() -> bool,
) -> sandpiper_cli::local_nats::LocalNats {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "the crash's moment never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let port = nats.port();
    nats.kill().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sandpiper_cli::local_nats::LocalNats::start(&store, port)
        .await
        .expect("nats restarts on its store")
}

/// A nats-server killed with SIGKILL mid-submissions, and again mid-advance, and restarted on its
/// store loses no acknowledged write: every acknowledged draft is there, every acknowledged
/// submission is reviewed and credited exactly once, and the pipeline carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_mid_submissions_and_mid_advance_loses_no_acknowledged_write() {
    let mut app = TestApp::simulated().await;
    let store = app.nats_store();
    let acknowledged = std::sync::Mutex::new(Vec::new());

    // Submissions: the server dies after the 20th acknowledged application of 60.
    let nats = app.nats.take().expect("nats runs");
    let (nats, ()) = tokio::join!(
        crash_when(nats, store.clone(), || acknowledged.lock().unwrap().len() >= 20),
        file_until(&app, 60, &acknowledged),
    );
    app.nats = Some(nats);
    let acknowledged = acknowledged.into_inner().unwrap();
    let submitted = acknowledged.iter().filter(|(_, s)| *s).count();
    eprintln!(
        // Most requests in flight across the crash are still acknowledged: the intake re-sends
        // an unconfirmed publish, and NATS is back within a second.
        "of 60 filed across the crash: {} drafts and {submitted} submissions acknowledged",
        acknowledged.len()
    );
    assert!(acknowledged.len() >= 20, "{} acknowledged", acknowledged.len());
    for (id, submitted) in &acknowledged {
        let view = app.view(ACME, id).await;
        assert_eq!(view["id"], id.as_str(), "acknowledged draft {id} is lost: {view}");
        if *submitted {
            app.wait_for_state(ACME, id, "in_review").await;
        }
    }

    // Mid-advance: the server dies while the review period is being advanced.
    let started = Instant::now();
    let nats = app.nats.take().expect("nats runs");
    let thirteen_days = json!({"days": 13});
    let (nats, _) = tokio::join!(
        crash_when(nats, store, || started.elapsed() >= Duration::from_millis(100)),
        app.post(ADMIN, "/v1/clock/advance", &thirteen_days),
    );
    app.nats = Some(nats);
    // The advance may have stored the new time before the crash (the timers due then fire as
    // the services reconnect) or not (advance again): either way each fires once.
    let target: chrono::DateTime<chrono::Utc> = "2026-03-15T09:00:00Z".parse().expect("a time");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let clock = app.get(ADMIN, "/v1/clock").await;
        let now = clock.body["now"]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
        match now {
            Some(now) if now >= target => break,
            Some(now) => {
                let days = (target - now).num_days().max(1);
                let _ = app.post(ADMIN, "/v1/clock/advance", &json!({"days": days})).await;
            }
            None => {}
        }
        assert!(
            Instant::now() < deadline,
            "the clock does not move after the crash: {clock:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (id, _) in acknowledged.iter().filter(|(_, submitted)| *submitted) {
        let view = app.wait_for_state(ACME, id, "active").await;
        let events = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
        let names = sandpiper_integration_tests::event_names(&events.body);
        for once in ["submitted", "classified", "approved", "credits_applied"] {
            assert_eq!(
                names.iter().filter(|n| n.as_str() == once).count(),
                1,
                "{id}: {once} exactly once in {names:?}"
            );
        }
        assert!(view["credits"]["amount_usd"].as_i64().unwrap() > 0, "{view}");
    }
}

/// #13 item 15: with JetStream's default `sync_interval` (an fsync every 2 minutes, acking at
/// once) a power loss takes acknowledged writes with it. The nats-server `sandpiper up` and the
/// tests run, and the one `deploy/nats/nats-server.conf` configures (compose, the secured
/// tests), flush every write before acknowledging it: the server itself says so in `/varz`.
#[tokio::test]
async fn every_nats_server_the_project_configures_flushes_each_write_before_its_ack() {
    for app in [TestApp::spawn().await, TestApp::spawn_secured(ClockMode::Wall).await] {
        let nats = app.nats.as_ref().expect("the test's own nats-server");
        let varz: serde_json::Value = reqwest::get(format!("{}/varz", nats.monitor_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            varz["jetstream"]["config"]["sync_always"], true,
            "{}",
            varz["jetstream"]
        );
    }
}

/// A handler that fails every attempt at one event on its first delivery (a dependency down for
/// as long as the consumer retries in place), and records what it handled, in order.
struct FailsFirstDelivery {
    failing: u64,
    handled: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
}

impl sandpiper_runtime::handler::Handler for FailsFirstDelivery {
    fn event_types(&self) -> Vec<sandpiper_contracts::events::EventType> {
        sandpiper_contracts::events::EventType::ALL.to_vec()
    }

    async fn handle(
        &self,
        delivery: sandpiper_runtime::handler::Delivery,
    ) -> Result<(), sandpiper_runtime::handler::HandlerError> {
        if delivery.stream_sequence == self.failing && delivery.delivered == 1 {
            return Err(sandpiper_runtime::handler::HandlerError::transient(
                "the test's dependency is down",
            ));
        }
        self.handled.lock().unwrap().push(delivery.stream_sequence);
        Ok(())
    }
}

/// #13 item 10: an event that failed its attempts in place is handed back for redelivery (5 s
/// later, the first time), and its application's later events wait behind it instead of being handled first (the
/// probe's receiver got `drafted` after `submitted` and `classified`). Another application's
/// events go on meanwhile. The consumer loop is every service's, so this holds in each.
#[tokio::test]
async fn an_event_handed_back_holds_its_applications_later_events_behind_it() {
    use sandpiper_runtime::health::Gate;
    use sandpiper_runtime::shutdown::Shutdown;

    let (_server, bus) = bare_bus(ServiceName::Notifier).await;
    bus.events_stream().await.unwrap();
    let partner = PartnerId::parse("acme").unwrap();
    let (held, other) = (ApplicationId::generate(), ApplicationId::generate());
    let drafted = Drafted {
        draft: Default::default(),
        originated_from: None,
    };
    let publish = |application: ApplicationId| {
        let (bus, partner, drafted) = (bus.clone(), partner.clone(), drafted.clone());
        async move {
            let event = sandpiper_contracts::events::Envelope::new(
                EventId::generate(),
                ServiceName::Intake,
                partner,
                application,
                chrono::Utc::now(),
                &drafted,
            )
            .unwrap();
            let subject = event.nats_subject().unwrap();
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
            bus.jetstream
                .publish_with_headers(subject, headers, event.to_json().unwrap().into())
                .await
                .unwrap()
                .await
                .unwrap()
                .sequence
        }
    };
    let first = publish(held).await;
    let handled = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = FailsFirstDelivery {
        failing: first,
        handled: handled.clone(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = tokio::spawn(sandpiper_runtime::consume::run(
        bus.clone(),
        ServiceName::Notifier,
        handler,
        None,
        Shutdown::on(async move {
            let _ = stopped.await;
        }),
        Gate::new("consumer"),
    ));
    // The later events arrive while the first is retried in place.
    let later = [publish(held).await, publish(held).await];
    let unrelated = publish(other).await;

    let started = Instant::now();
    let other_done = loop {
        if handled.lock().unwrap().contains(&unrelated) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the other application waited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    loop {
        if handled.lock().unwrap().len() == 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not everything handled after its redelivery: {:?}",
            handled.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = handled.lock().unwrap().clone();
    let of_held: Vec<u64> = all.iter().copied().filter(|s| *s != unrelated).collect();
    assert_eq!(
        of_held,
        [first, later[0], later[1]],
        "the handed-back event first, then the ones behind it, in stream order"
    );
    assert_eq!(
        all[0], unrelated,
        "the other application went on meanwhile ({other_done:?})"
    );
    // Nothing handled twice meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(handled.lock().unwrap().len(), 4, "{:?}", handled.lock().unwrap());
    let _ = stop.send(());
    consumer.await.unwrap().unwrap();
}
