//! Restarting services, gracefully or by crashing them, while applications are in flight loses
//! nothing and does nothing twice: the stream holds the work, consumers are durable, the
//! projection is rebuilt from the log.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::names::ServiceName;
use std::time::Duration;

use sandpiper_integration_tests::{ACME, ADMIN, TestApp, event_names, example};

#[tokio::test]
async fn work_waits_for_a_crashed_classifier_and_is_done_once() {
    let mut app = TestApp::spawn().await;
    app.stack.crash_service(ServiceName::Classifier).await;
    let mut ids = Vec::new();
    for name in ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"] {
        ids.push(app.submit(ACME, &example(name)).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for id in &ids {
        assert_eq!(
            app.get(ACME, &format!("/v1/applications/{id}")).await.body["state"],
            "submitted"
        );
    }
    app.stack.start_service(ServiceName::Classifier).await.unwrap();
    for id in &ids {
        app.wait_for_state(ACME, id, "in_review").await;
        let history = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
        assert_eq!(event_names(&history.body), ["drafted", "submitted", "classified"]);
    }
}

#[tokio::test]
async fn restarting_every_service_mid_flight_loses_nothing() {
    let mut app = TestApp::spawn().await;
    let before = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &before, "in_review").await;
    let drafted = app.create(ACME, &example("amazon-q-business-docs")).await;

    // Submit a burst and crash everything while it is being classified.
    let mut burst = Vec::new();
    for _ in 0..10 {
        burst.push(app.submit(ACME, &example("exploring-agents")).await);
    }
    for service in app.stack.services() {
        app.stack.crash_service(service).await;
    }
    for service in app.stack.services() {
        app.stack.start_service(service).await.unwrap();
    }
    app.stack.wait_ready(std::time::Duration::from_secs(20)).await.unwrap();

    // The rebuilt projection has everything, and the burst finishes, each exactly once.
    assert_eq!(
        app.get(ACME, &format!("/v1/applications/{drafted}")).await.body["state"],
        "draft"
    );
    app.wait_for_state(ACME, &before, "in_review").await;
    for id in &burst {
        app.wait_for_state(ACME, id, "in_review").await;
        let stored = app.stream_events("acme", id).await;
        let names: Vec<&str> = stored.iter().map(|(s, _, _)| s.rsplit('.').next().unwrap()).collect();
        assert_eq!(names, ["drafted", "submitted", "classified"], "{id}");
    }
    let all = app.get(ACME, "/v1/applications?limit=200").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn graceful_stops_finish_cleanly_and_restart() {
    let mut app = TestApp::spawn().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    for service in app.stack.services() {
        app.stack
            .stop_service(service)
            .await
            .unwrap_or_else(|e| panic!("{service} did not stop cleanly: {e}"));
    }
    for service in app.stack.services() {
        app.stack.start_service(service).await.unwrap();
    }
    app.stack.wait_ready(std::time::Duration::from_secs(20)).await.unwrap();
    app.wait_for_state(ACME, &id, "in_review").await;
}

#[tokio::test]
async fn a_nats_restart_is_ridden_out() {
    let mut app = TestApp::spawn().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;

    // Same port and store: the services reconnect on their own.
    app.restart_nats().await;
    app.stack.wait_ready(std::time::Duration::from_secs(30)).await.unwrap();
    let after = app.submit(ACME, &example("exploring-agents")).await;
    app.wait_for_state(ACME, &after, "in_review").await;
    assert_eq!(
        app.get(ACME, &format!("/v1/applications/{id}")).await.body["state"],
        "in_review"
    );
}

/// A cause handled again after the stream's duplicate window (its handler crashed before the
/// ack, and no replica came back for a while) finds its effect in the application's record and
/// stores nothing twice; the stream alone would have stored it again.
#[tokio::test]
async fn a_replayed_cause_publishes_nothing_twice_after_the_duplicate_window() {
    use sandpiper_contracts::events::{DraftUpdated, Drafted};
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_runtime::effects::Effects;
    use sandpiper_runtime::publish::Outgoing;
    use sandpiper_runtime::views::ViewStore;

    // A bare server whose stream forgets message ids after 100 ms, set before anything is stored.
    let (_server, bus) = sandpiper_integration_tests::bare_bus(ServiceName::Intake).await;
    let mut stream = bus.events_stream().await.unwrap();
    let mut stream_config = stream.info().await.unwrap().config.clone();
    stream_config.duplicate_window = std::time::Duration::from_millis(100);
    bus.jetstream.update_stream(stream_config).await.unwrap();

    let publisher = sandpiper_runtime::publish::Publisher::new(
        bus.jetstream.clone(),
        ServiceName::Intake,
        sandpiper_runtime::clock::Clock::Wall,
    );
    let views = ViewStore::open(&bus).await.unwrap();
    let partner = PartnerId::parse("acme").unwrap();
    let application = ApplicationId::parse("01M8K1D1JM779N3XA7YD5NTZYT").unwrap();
    let cause = EventId::parse("01M8K1D1JPCWC49Q1QN30E73D7").unwrap();
    let drafted = publisher
        .publish(Outgoing {
            id: EventId::generate(),
            partner: &partner,
            application,
            payload: &Drafted {
                draft: Default::default(),
                originated_from: None,
            },
            expected_version: Some(0),
            time: None,
        })
        .await
        .unwrap();
    views.fold(&drafted.envelope, drafted.sequence).await.unwrap();
    let update = DraftUpdated {
        draft: Default::default(),
    };
    let stored = || async {
        sandpiper_runtime::history::events(&bus, &partner, &application)
            .await
            .unwrap()
            .len()
    };
    // The first run stores the effect, then "crashes" before writing its record back.
    let record = views.load(&partner, &application).await.unwrap().unwrap();
    Effects::new(&views, &publisher, cause, record.clone())
        .publish("update", &update)
        .await
        .unwrap();
    assert_eq!(
        views
            .load(&partner, &application)
            .await
            .unwrap()
            .unwrap()
            .record
            .events
            .len(),
        1,
        "not written back without finish"
    );
    assert_eq!(stored().await, 2);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    // Run again from the record as the first run read it: the guarded publish finds the
    // application moved on, catches up and finds the effect there.
    Effects::new(&views, &publisher, cause, record)
        .publish("update", &update)
        .await
        .unwrap();
    assert_eq!(stored().await, 2);
    // Run again from the current record: it holds the effect, nothing is published.
    let current = views.load(&partner, &application).await.unwrap().unwrap();
    assert!(current.record.holds(&EventId::derived(&cause, "update")));
    Effects::new(&views, &publisher, cause, current)
        .publish("update", &update)
        .await
        .unwrap();
    assert_eq!(stored().await, 2);

    // Without the guard the stream, past its window, stores it again: the record is what helps.
    publisher
        .publish(Outgoing {
            id: EventId::derived(&cause, "update"),
            partner: &partner,
            application,
            payload: &update,
            expected_version: None,
            time: None,
        })
        .await
        .unwrap();
    assert_eq!(stored().await, 3);
}

/// An intake whose request died between storing an event and folding it leaves the record
/// behind; the next command on the application finds the guard failing (409), which catches the
/// record up, so the client's fetch-and-retry succeeds and every read includes the event.
#[tokio::test]
async fn an_event_stored_but_never_folded_is_caught_up_by_the_next_command() {
    use sandpiper_contracts::events::DraftUpdated;
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_runtime::publish::Outgoing;

    let mut app = TestApp::spawn().await;
    // The notifier keeps the read model and consumes every event: it would fold the stored
    // event itself, and the command would find the record current. Stopped, nobody does.
    app.stack.stop_service(ServiceName::Notifier).await.unwrap();
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let view = app.get(ACME, &format!("/v1/applications/{id}")).await.body;
    let version = view["version"].as_u64().unwrap();

    // Stored as the intake would, but nobody folds it (the request "died" right after).
    let bus = app.bus(ServiceName::Intake).await;
    let publisher = sandpiper_runtime::publish::Publisher::new(
        bus.jetstream.clone(),
        ServiceName::Intake,
        sandpiper_runtime::clock::Clock::Wall,
    );
    let mut draft: sandpiper_contracts::model::ApplicationDraft =
        serde_json::from_value(example("bedrock-agents-support")).unwrap();
    draft.workload = Some("changed while nobody folded it".into());
    let stored = publisher
        .publish(Outgoing {
            id: EventId::generate(),
            partner: &PartnerId::parse("acme").unwrap(),
            application: ApplicationId::parse(&id).unwrap(),
            payload: &DraftUpdated { draft },
            expected_version: Some(version),
            time: None,
        })
        .await
        .unwrap();

    let patch = || {
        app.send(
            reqwest::Client::new()
                .patch(app.url(&format!("/v1/applications/{id}")))
                .bearer_auth(ACME)
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"production_monthly_usd": 8200}"#),
        )
    };
    let refused = patch().await;
    assert_eq!(refused.status, 409, "the guard finds the record behind: {refused:?}");
    let view = app.get(ACME, &format!("/v1/applications/{id}")).await.body;
    assert_eq!(
        view["workload"], "changed while nobody folded it",
        "caught up by the 409"
    );
    assert_eq!(view["version"].as_u64(), Some(stored.sequence));
    let retried = patch().await;
    assert_eq!(retried.status, 200, "{retried:?}");
    let history = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
    assert_eq!(
        event_names(&history.body),
        ["drafted", "draft_updated", "draft_updated"]
    );
}

/// A small deterministic sequence (no dependency): the same seed, the same crashes.
struct Sequence(u64);

impl Sequence {
    /// The seed of this run's faults: `SANDPIPER_FAULT_SEED` when set (to replay a failed run),
    /// else drawn from the clock, so each run kills at other moments; printed either way.
    fn seed() -> u64 {
        let seed = std::env::var("SANDPIPER_FAULT_SEED")
            .ok()
            .map(|s| s.parse().expect("SANDPIPER_FAULT_SEED is a number"))
            .unwrap_or_else(|| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                now.map_or(7, |d| d.as_nanos() as u64 % 1_000_000)
            });
        eprintln!("faults: seed {seed} (SANDPIPER_FAULT_SEED={seed} replays these kills)");
        seed
    }

    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// What an application ended as: what must not depend on crashes.
fn outcome(view: &serde_json::Value) -> String {
    let credits = &view["credits"];
    format!(
        "{} tier={} granted={} balance={} consumed={} clawed_back={} forfeited={} expired={} team={}",
        view["state"],
        view["decision"]["tier_usd"],
        credits["amount_usd"],
        credits["balance_usd"],
        credits["consumed_usd"],
        credits["clawed_back_usd"],
        credits["forfeited_usd"],
        credits["expired_usd"],
        view["team_decision"]["decision"],
    )
}

/// Whole engagements, scripted: nine applications filed, reviewed, credited, consumed, closed,
/// decided and expired over eight simulated months. With `crashes`, after every step a service
/// drawn from the sequence (the intake included) is killed mid-work, and started again 0.5 to
/// 2 s later. Returns each application's outcome by startup name.
async fn engagements(faults: Faults) -> std::collections::BTreeMap<String, String> {
    let mut app = TestApp::simulated().await;
    let (mut crashes, mut timer) = match faults {
        Faults::None => (None, None),
        Faults::BetweenSteps(sequence) => (Some(sequence), None),
        Faults::OnATimer(sequence) => (None, Some(sequence)),
    };
    let bodies: Vec<serde_json::Value> = ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"]
        .iter()
        .cycle()
        .take(9)
        .enumerate()
        .map(|(n, name)| {
            let mut body = example(name);
            body["startup"]["name"] = serde_json::json!(format!("Engagement {n}"));
            body
        })
        .collect();
    let mut ids = Vec::new();
    if let Some(sequence) = timer.as_mut() {
        let api = Api::of(&app);
        let client = api.clone();
        ids = under_kills(&mut app, &api, sequence, async move {
            let mut ids = Vec::new();
            for (n, body) in bodies.iter().enumerate() {
                ids.push(client.submit(n, body).await);
            }
            ids
        })
        .await;
    } else {
        for body in &bodies {
            ids.push(app.submit(ACME, body).await);
            crash_one(&mut app, crashes.as_mut()).await;
        }
    }
    for id in &ids {
        app.wait_for_state(ACME, id, "in_review").await;
    }
    let steps: [(i64, Option<i64>); 5] = [
        (14, Some(2_000)),
        (20, Some(3_000)),
        (30, None),
        (40, None),
        (150, None),
    ];
    for (step, (days, spend)) in steps.into_iter().enumerate() {
        match timer.as_mut() {
            Some(sequence) => {
                let api = Api::of(&app);
                let client = api.clone();
                under_kills(&mut app, &api, sequence, async move { client.advance_days(days).await }).await;
            }
            None => app.advance_days(days).await,
        }
        crash_one(&mut app, crashes.as_mut()).await;
        let today = app.get(ADMIN, "/v1/clock").await.body["now"].as_str().unwrap()[..10].to_owned();
        for (n, id) in ids.iter().enumerate() {
            let view = app.view(ACME, id).await;
            // Every other engagement consumes, so some are clawed back at window close (TR6).
            if let Some(amount) = spend
                && n % 2 == 0
                && view["state"] == "active"
            {
                app.spend(id, &today, amount).await;
            }
            if view["state"] == "window_closed" && step >= 2 {
                let decision = if n % 3 == 0 { "retire" } else { "graduate" };
                let reply = app
                    .post(
                        ACME,
                        &format!("/v1/applications/{id}/decision"),
                        &serde_json::json!({"decision": decision}),
                    )
                    .await;
                assert_eq!(reply.status, 201, "{reply:?}");
            }
        }
        crash_one(&mut app, crashes.as_mut()).await;
    }
    // Let whatever a restarted service still had to do finish, then read the ends.
    app.advance_days(1).await;
    let mut outcomes = std::collections::BTreeMap::new();
    for id in &ids {
        let view = app.view(ACME, id).await;
        outcomes.insert(view["startup"]["name"].as_str().unwrap().to_owned(), outcome(&view));
        let events = app.stream_events("acme", id).await;
        let ids: std::collections::HashSet<_> = events.iter().map(|(_, _, e)| e.id.to_string()).collect();
        assert_eq!(ids.len(), events.len(), "{id}: an event stored twice");
        for once in [
            "approved",
            "rejected",
            "credits_applied",
            "window_closed",
            "graduated",
            "retired",
            "clawed_back",
            "credits_expired",
            "credits_forfeited",
        ] {
            let count = events
                .iter()
                .filter(|(s, _, _)| s.ends_with(&format!(".{once}")))
                .count();
            assert!(count <= 1, "{id}: {once} {count} times");
        }
    }
    outcomes
}

/// Runs `work` (spawned: it owns what it needs, so the stack stays free to be changed) while a
/// service drawn from `sequence` (the intake included) is killed 20 to 150 ms in and then every
/// 0.5 to 2 s, and started again 0.5 to 2 s later; answers what `work` did once it is done and
/// every service is back. A restarted intake listens on a new port, which `api` is told.
async fn under_kills<T: Send + 'static>(
    app: &mut TestApp,
    api: &Api,
    sequence: &mut Sequence,
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let work = tokio::spawn(work);
    let services = app.stack.services();
    let started = std::time::Instant::now();
    let mut kills = Vec::new();
    loop {
        // The first kill soon, so even a short step has one; then every 0.5 to 2 s.
        let pause = if kills.is_empty() {
            20 + sequence.next(130)
        } else {
            500 + sequence.next(1_500)
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if work.is_finished() {
            break;
        }
        let service = services[sequence.next(services.len() as u64) as usize];
        app.stack.crash_service(service).await;
        kills.push(service.as_str());
        tokio::time::sleep(Duration::from_millis(500 + sequence.next(1_500))).await;
        app.stack.start_service(service).await.unwrap();
        api.moved_to(app.url(""));
    }
    app.stack.wait_ready(Duration::from_secs(20)).await.unwrap();
    eprintln!(
        "restart: {} killed on a timer during a step of {} ms: {kills:?}",
        kills.len(),
        started.elapsed().as_millis()
    );
    work.await.expect("the step under kills")
}

/// The few calls a step makes, as a client that rides out an intake restart would: owning its
/// client (for work spawned beside the kills), following the intake to its new port, sending a
/// call again when the intake is away (a create under its `Idempotency-Key`).
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: std::sync::Arc<std::sync::RwLock<String>>,
}

impl Api {
    fn of(app: &TestApp) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .unwrap(),
            base: std::sync::Arc::new(std::sync::RwLock::new(app.url(""))),
        }
    }

    fn moved_to(&self, base: String) {
        *self.base.write().unwrap() = base;
    }

    /// Sends until the intake answers something other than 503, for at most a minute.
    async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(answer) = self.call_once(method.clone(), token, path, body, key).await {
                return answer;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path}: no answer within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends once; none when the intake was away or answered 503 (said on stderr).
    async fn call_once(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        key: Option<&str>,
    ) -> Option<(u16, serde_json::Value)> {
        let base = self.base.read().unwrap().clone();
        let mut request = self.http.request(method, format!("{base}{path}")).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        match request.send().await {
            Ok(response) if response.status() != 503 => {
                let status = response.status().as_u16();
                Some((status, response.json().await.unwrap_or_default()))
            }
            Ok(response) => {
                eprintln!("restart: {path}: 503 {}", response.text().await.unwrap_or_default());
                None
            }
            Err(err) => {
                eprintln!("restart: {path}: {err}");
                None
            }
        }
    }

    async fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, token, path, None, None).await
    }

    async fn submit(&self, n: usize, body: &serde_json::Value) -> String {
        let key = format!("engagement-{n}");
        let (status, created) = self
            .call(reqwest::Method::POST, ACME, "/v1/applications", Some(body), Some(&key))
            .await;
        assert!(status == 201 || status == 200, "create: {status} {created}");
        let id = created["id"].as_str().expect("an id").to_owned();
        let (status, submitted) = self
            .call(
                reqwest::Method::POST,
                ACME,
                &format!("/v1/applications/{id}/submit"),
                None,
                None,
            )
            .await;
        if status == 409 {
            // A submit whose answer a kill cut off, sent again: stored the first time.
            let (_, view) = self.get(ACME, &format!("/v1/applications/{id}")).await;
            assert_ne!(view["state"], "draft", "409 on a draft's submit: {submitted}");
        } else {
            assert_eq!(status, 202, "submit: {submitted}");
        }
        id
    }

    /// Moves the clock `days` on. An advance a kill cut short (its answer lost, or 503 having
    /// moved part of the way) is asked again for the rest of the way, to the same end: never
    /// sent again as it was, since it is relative (a first version of this client did, and
    /// overshot by the part the cut-off advance had already moved).
    async fn advance_days(&self, days: i64) {
        let now = || async {
            let (_, clock) = self.get(ADMIN, "/v1/clock").await;
            chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().expect("now")).expect("a time")
        };
        let target = now().await + chrono::Duration::days(days);
        for _ in 0..20 {
            let left = target - now().await;
            if left <= chrono::Duration::zero() {
                return;
            }
            let hours = (left.num_minutes() + 59) / 60;
            let answer = self
                .call_once(
                    reqwest::Method::POST,
                    ADMIN,
                    "/v1/clock/advance",
                    Some(&serde_json::json!({"hours": hours})),
                    None,
                )
                .await;
            match answer {
                Some((200, _)) => {}
                Some((status, reply)) => panic!("advance: {status} {reply}"),
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("the clock did not reach {target} in twenty advances");
    }
}

async fn crash_one(app: &mut TestApp, crashes: Option<&mut Sequence>) {
    let Some(sequence) = crashes else {
        return;
    };
    let services = app.stack.services();
    let service = services[sequence.next(services.len() as u64) as usize];
    let down = Duration::from_millis(500 + sequence.next(1_500));
    app.stack.crash_service(service).await;
    tokio::time::sleep(down).await;
    app.stack.start_service(service).await.unwrap();
    app.stack.wait_ready(Duration::from_secs(20)).await.unwrap();
}

#[tokio::test]
async fn services_killed_at_random_through_whole_engagements_change_no_outcome() {
    let calm = engagements(Faults::None).await;
    let seed = Sequence::seed();
    let crashed = engagements(Faults::BetweenSteps(Sequence(seed))).await;
    let timed = engagements(Faults::OnATimer(Sequence(seed + 1))).await;
    assert_eq!(calm.len(), 9);
    for (name, end) in &calm {
        eprintln!("{name}: {end}");
    }
    for (name, end) in &calm {
        assert_eq!(
            crashed.get(name),
            Some(end),
            "{name}: {end} without crashes (SANDPIPER_FAULT_SEED={seed})"
        );
        assert_eq!(
            timed.get(name),
            Some(end),
            "{name}: {end} without kills, killed on a timer mid-step (SANDPIPER_FAULT_SEED={seed})"
        );
    }
}

/// How [`engagements`] is disturbed.
enum Faults {
    None,
    /// After every step, a service drawn from the sequence (the intake included) is killed and
    /// started again 0.5 to 2 s later, the step's work still in flight.
    BetweenSteps(Sequence),
    /// While the applications are filed and while each advance runs (timers firing), a service
    /// drawn from the sequence (the intake included) is killed 20 to 150 ms in and then every
    /// 0.5 to 2 s, and started again 0.5 to 2 s later; the client sends again what a kill cut off.
    OnATimer(Sequence),
}
