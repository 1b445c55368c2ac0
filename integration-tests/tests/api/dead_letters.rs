//! The dead letters of refused events (#13): an event a consumer must refuse is stored with its
//! reason before it is terminated, listed for an admin (`GET /v1/dead-letters`), counted in
//! `sandpiper_events_dead_lettered_total`, and redriven (`POST /v1/dead-letters/{id}/redrive`)
//! through the refusing service's own handler; the services keep serving meanwhile.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sandpiper_contracts::events::{Drafted, Envelope, EventPayload, EventType, Submitted};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::subjects;
use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, SIMULATED_START, TestApp, example};
use sandpiper_runtime::config::ClockMode;
use serde_json::Value;

/// Stores `envelope` on `subject` as a publisher that bypasses the intake would, and returns
/// its stream sequence.
async fn inject(js: &async_nats::jetstream::Context, subject: String, envelope: &Envelope) -> u64 {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", envelope.id.to_string().as_str());
    js.publish_with_headers(subject, headers, envelope.to_json().unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence
}

fn envelope<P: EventPayload>(partner: &str, application: ApplicationId, payload: &P) -> Envelope {
    Envelope::new(
        EventId::generate(),
        ServiceName::Intake,
        PartnerId::parse(partner).unwrap(),
        application,
        chrono::Utc::now(),
        payload,
    )
    .unwrap()
}

fn submitted(application: ApplicationId, partner: &str) -> Envelope {
    let body: sandpiper_contracts::model::ApplicationBody =
        serde_json::from_value(example("bedrock-agents-support")).unwrap();
    envelope(partner, application, &Submitted { application: body })
}

/// Every dead letter the admin can list, walking the pages (a small page size, so the cursor
/// is exercised too).
async fn all_letters(app: &TestApp) -> Vec<Value> {
    let mut letters = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/dead-letters?limit=2&cursor={cursor}"),
            None => "/v1/dead-letters?limit=2".to_owned(),
        };
        let page = app.get(ADMIN, &path).await;
        assert_eq!(page.status, 200, "{page:?}");
        letters.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return letters,
        }
    }
}

/// Waits until the `service`'s dead letter of the event stored at `sequence` is listed.
async fn letter_of(app: &TestApp, service: &str, sequence: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = all_letters(app)
            .await
            .into_iter()
            .find(|l| l["service"] == service && l["stream_sequence"] == sequence);
        if let Some(letter) = found {
            return letter;
        }
        assert!(
            Instant::now() < deadline,
            "no {service} dead letter for sequence {sequence}: {:?}",
            all_letters(app).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The counter's value for these labels in the process's metrics (0 if absent). The registry is
/// the process's, shared by the tests running beside this one: compare before and after.
async fn dead_lettered(app: &TestApp, service: &str, event_type: &str, reason: &str) -> u64 {
    let text = app.send(app.http.get(app.url("/metrics"))).await.body;
    let series = format!(
        "sandpiper_events_dead_lettered_total{{service=\"{service}\",event_type=\"{event_type}\",reason=\"{reason}\"}} "
    );
    text.as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// #13 item 3 and the fault suite's poison events: an event on acme's subjects naming globex's
/// application is refused by every consumer that receives it. The classifier's refusal is now a
/// dead letter with the event, the subject and the reason, counted in the metric; the services
/// go on serving; a redrive of it is refused again (the subject still disagrees) and its new
/// letter replaces the old; a partner can neither list nor redrive. Before, the refusal was a
/// log line and a `Term`, and the event was lost from view.
#[tokio::test]
async fn a_mismatched_event_is_dead_lettered_counted_and_a_redrive_is_refused_again() {
    let app = TestApp::spawn().await;
    let globex_app = app.create(GLOBEX, &example("bedrock-agents-support")).await;
    let application = ApplicationId::parse(&globex_app).unwrap();
    let before = dead_lettered(&app, "classifier", "submitted", "mismatched").await;

    let bus = app.bus(ServiceName::Intake).await;
    let forged = submitted(application, "globex");
    let acme_subject = subjects::event(&PartnerId::parse("acme").unwrap(), &application, EventType::Submitted);
    let sequence = inject(&bus.jetstream, acme_subject.clone(), &forged).await;

    let letter = letter_of(&app, "classifier", sequence).await;
    assert_eq!(letter["consumer"], "sandpiper-classifier", "{letter}");
    assert_eq!(letter["subject"], acme_subject, "{letter}");
    assert_eq!(letter["event_id"], forged.id.to_string(), "{letter}");
    assert_eq!(letter["event_type"], "dev.sandpiper.submitted.v1", "{letter}");
    assert_eq!(letter["application_id"], globex_app, "{letter}");
    assert_eq!(letter["partner_id"], "globex", "{letter}");
    assert_eq!(letter["reason_kind"], "mismatched", "{letter}");
    let reason = letter["reason"].as_str().unwrap();
    assert!(
        reason.contains("but arrived on") && reason.contains(&acme_subject),
        "{reason}"
    );
    assert!(letter["deliveries"].as_i64().unwrap() >= 1, "{letter}");
    assert_eq!(letter["redrives"], 0, "{letter}");
    // The notifier, which consumes every event, refused it too, in a letter of its own.
    letter_of(&app, "notifier", sequence).await;
    let after = dead_lettered(&app, "classifier", "submitted", "mismatched").await;
    assert!(after > before, "counted: {before} → {after}");

    // Not even an envelope: refused as unreadable, with nothing but the subject to show.
    let garbage_subject = subjects::event(
        &PartnerId::parse("acme").unwrap(),
        &ApplicationId::generate(),
        EventType::Submitted,
    );
    let garbage = bus
        .jetstream
        .publish(garbage_subject.clone(), "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence;
    let unreadable = letter_of(&app, "classifier", garbage).await;
    assert_eq!(unreadable["reason_kind"], "unreadable", "{unreadable}");
    assert_eq!(unreadable["subject"], garbage_subject, "{unreadable}");
    assert_eq!(unreadable["event_id"], Value::Null, "{unreadable}");
    assert!(
        unreadable["reason"].as_str().unwrap().contains("not a valid envelope"),
        "{unreadable}"
    );

    // The services keep serving: a real application goes through, globex's is untouched.
    let real = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &real, "in_review").await;
    assert_eq!(app.view(GLOBEX, &globex_app).await["state"], "draft");

    // Partners see none of it, and cannot redrive; the admin's answers are as documented.
    let doc = app.get(ACME, "/openapi.json").await.body;
    let (listing, redriving) = ("/v1/dead-letters", "/v1/dead-letters/{id}/redrive");
    let id = letter["id"].as_u64().unwrap();
    let redrive = format!("/v1/dead-letters/{id}/redrive");
    for (reply, method, template, status) in [
        (app.get(ACME, "/v1/dead-letters").await, "get", listing, 403),
        // Authorization before the query is read: a partner gets 403, not 400.
        (
            app.get(ACME, "/v1/dead-letters?limit=nonsense").await,
            "get",
            listing,
            403,
        ),
        (app.post_empty(ACME, &redrive).await, "post", redriving, 403),
        (app.get(ADMIN, "/v1/dead-letters?limit=0").await, "get", listing, 400),
        (app.get(ADMIN, "/v1/dead-letters?cursor=x").await, "get", listing, 400),
        (
            app.get(ADMIN, "/v1/dead-letters?service=nobody").await,
            "get",
            listing,
            400,
        ),
        (
            app.get(ADMIN, "/v1/dead-letters?service=notifier").await,
            "get",
            listing,
            200,
        ),
    ] {
        assert_eq!(reply.status, status, "{method} {template}: {reply:?}");
        crate::api::assert_documented(&doc, method, template, &reply);
    }
    let notifiers = app.get(ADMIN, "/v1/dead-letters?service=notifier&limit=200").await;
    let items = notifiers.body["items"].as_array().unwrap();
    assert!(
        !items.is_empty() && items.iter().all(|l| l["service"] == "notifier"),
        "{notifiers:?}"
    );

    // Redriven, the classifier refuses it again for the same reason: a new letter replaces it.
    let answer = app.post_empty(ADMIN, &redrive).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    crate::api::assert_documented(&doc, "post", redriving, &answer);
    assert_eq!(answer.body["outcome"], "refused", "{answer:?}");
    assert_eq!(answer.body["service"], "classifier", "{answer:?}");
    assert!(
        answer.body["reason"].as_str().unwrap().contains("but arrived on"),
        "{answer:?}"
    );
    let again = answer.body["dead_letter"].as_u64().unwrap();
    assert!(again > id, "{answer:?}");
    let letters = all_letters(&app).await;
    assert!(
        letters.iter().all(|l| l["id"] != id),
        "the old letter is gone: {letters:?}"
    );
    let new = letters
        .iter()
        .find(|l| l["id"] == again)
        .expect("the new letter is listed");
    assert_eq!(
        (new["stream_sequence"].as_u64(), new["redrives"].as_u64()),
        (Some(sequence), Some(1))
    );
    let gone = app.post_empty(ADMIN, &redrive).await;
    assert_eq!(gone.status, 404, "the old id is gone: {gone:?}");
    crate::api::assert_documented(&doc, "post", redriving, &gone);
    assert_eq!(
        app.view(GLOBEX, &globex_app).await["event_count"],
        1,
        "still not folded"
    );
}

/// #13 item 4: a `submitted` for an application never drafted is refused by the classifier (the
/// application has no record) and dead-lettered. Redriven while the cause stands, it is refused
/// again; once the cause is gone (the application's draft is stored), a redrive runs it through
/// the classifier's handler, which finds a draft, not a filing in force, and acknowledges it:
/// the letter is removed, and still nothing is classified.
#[tokio::test]
async fn a_redrive_once_the_cause_is_gone_removes_the_letter() {
    let app = TestApp::spawn().await;
    let bus = app.bus(ServiceName::Intake).await;
    let ghost = ApplicationId::generate();
    let event = submitted(ghost, "acme");
    let sequence = inject(&bus.jetstream, event.nats_subject().unwrap(), &event).await;

    let letter = letter_of(&app, "classifier", sequence).await;
    assert_eq!(letter["reason_kind"], "refused", "{letter}");
    assert!(
        letter["reason"].as_str().unwrap().contains(&ghost.to_string()),
        "the reason names the application: {letter}"
    );
    let first = letter["id"].as_u64().unwrap();

    let still = app
        .post_empty(ADMIN, &format!("/v1/dead-letters/{first}/redrive"))
        .await;
    assert_eq!(
        (still.status, &still.body["outcome"]),
        (200, &Value::from("refused")),
        "{still:?}"
    );
    let second = still.body["dead_letter"].as_u64().unwrap();

    // The cause goes away: the application's draft is stored (after the filing, as a repair).
    let draft: sandpiper_contracts::model::ApplicationDraft =
        serde_json::from_value(example("bedrock-agents-support")).unwrap();
    let drafted = envelope(
        "acme",
        ghost,
        &Drafted {
            draft,
            originated_from: None,
        },
    );
    inject(&bus.jetstream, drafted.nats_subject().unwrap(), &drafted).await;

    let fixed = app
        .post_empty(ADMIN, &format!("/v1/dead-letters/{second}/redrive"))
        .await;
    assert_eq!(fixed.status, 200, "{fixed:?}");
    assert_eq!(fixed.body["outcome"], "redriven", "{fixed:?}");
    assert!(fixed.body.get("dead_letter").is_none(), "{fixed:?}");
    let letters = all_letters(&app).await;
    assert!(
        letters
            .iter()
            .all(|l| !(l["service"] == "classifier" && l["stream_sequence"] == sequence)),
        "the classifier's letter is removed: {letters:?}"
    );
    let names: Vec<String> = app
        .stream_events("acme", &ghost.to_string())
        .await
        .iter()
        .map(|(subject, _, _)| subject.rsplit('.').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["submitted", "drafted"], "nothing classified: {names:?}");
}

/// Under `deploy/nats/nats-server.conf`'s per-service users: the classifier may store its own
/// dead letters and answer its redrives (an answer on the request's reply subject only), the
/// intake may ask; a service may not write another service's letters.
#[tokio::test]
async fn dead_letters_and_redrives_work_with_least_privilege_users() {
    let app = TestApp::spawn_secured(ClockMode::Simulated {
        start: SIMULATED_START.parse().unwrap(),
    })
    .await;
    let connect = |user: &'static str| {
        let url = app.nats_url.clone();
        async move {
            async_nats::ConnectOptions::with_user_and_password(user.into(), format!("{user}-secret"))
                .connect(url)
                .await
                .unwrap()
        }
    };
    let intake = async_nats::jetstream::new(connect("intake").await);
    let ghost = ApplicationId::generate();
    let event = submitted(ghost, "acme");
    let sequence = inject(&intake, event.nats_subject().unwrap(), &event).await;
    let letter = letter_of(&app, "classifier", sequence).await;
    let id = letter["id"].as_u64().unwrap();
    let answer = app.post_empty(ADMIN, &format!("/v1/dead-letters/{id}/redrive")).await;
    assert_eq!(
        (answer.status, &answer.body["outcome"]),
        (200, &Value::from("refused")),
        "{answer:?}"
    );

    let mut classifier = async_nats::jetstream::new(connect("classifier").await);
    classifier.set_timeout(Duration::from_secs(2));
    let forged = subjects::event_dead_letters(ServiceName::Scheduler);
    let result = match classifier.publish(forged, "{}".into()).await {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    assert!(
        result.is_err(),
        "the classifier wrote the scheduler's dead letter: {result:?}"
    );
}

/// A refusal whose dead letter cannot be stored is not terminated: with the dead-letter stream
/// gone, the classifier hands the refused event back (its consumer's ack floor stays below it)
/// and, once the stream is back, refuses it again and stores the letter. Never lost silently.
#[tokio::test]
async fn a_refusal_whose_letter_cannot_be_stored_is_handed_back_not_terminated() {
    use async_nats::jetstream::consumer::pull;
    use sandpiper_contracts::names;

    let app = TestApp::spawn().await;
    let bus = app.bus(ServiceName::Intake).await;
    bus.jetstream.delete_stream(names::DEAD_LETTERS_STREAM).await.unwrap();

    let ghost = ApplicationId::generate();
    let event = submitted(ghost, "acme");
    let sequence = inject(&bus.jetstream, event.nats_subject().unwrap(), &event).await;

    // Delivered and refused, but not acknowledged: no letter could be stored.
    let events = bus.events_stream().await.unwrap();
    let consumer = || async {
        events
            .get_consumer::<pull::Config>(&ServiceName::Classifier.durable_consumer())
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .clone()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while consumer().await.delivered.stream_sequence < sequence {
        assert!(Instant::now() < deadline, "the classifier never received it");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = consumer().await;
    assert!(
        held.ack_floor.stream_sequence < sequence,
        "terminated without its dead letter: {held:?}"
    );

    // The stream is back (as any service's start would provision it): the letter is stored.
    sandpiper_runtime::dead_letters::stream(&bus).await.unwrap();
    let letter = letter_of(&app, "classifier", sequence).await;
    assert_eq!(letter["reason_kind"], "refused", "{letter}");
    assert!(
        letter["deliveries"].as_i64().unwrap() >= 2,
        "refused again on redelivery: {letter}"
    );
}

/// #13 item 4, inside an existing record: a second `submitted` for an application already in
/// review is refused by the state machine (kept in its history as refused, the view unchanged).
/// The classifier dead-letters it instead of handing it to its handler, which used to find the
/// filing "not in force" and acknowledge it without a trace.
#[tokio::test]
async fn an_event_the_state_machine_refuses_is_dead_lettered_not_acted_on() {
    let app = TestApp::spawn().await;
    let receiver = sandpiper_integration_tests::receiver::Receiver::start(vec![]).await;
    app.subscribe(ACME, &receiver.url(), &["submitted"], "cloudevents")
        .await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    let before = app.wait_for_state(ACME, &id, "in_review").await;
    receiver.wait_until("the real submission", |r| !r.is_empty()).await;

    let bus = app.bus(ServiceName::Intake).await;
    let again = submitted(ApplicationId::parse(&id).unwrap(), "acme");
    let sequence = inject(&bus.jetstream, again.nats_subject().unwrap(), &again).await;

    let letter = letter_of(&app, "classifier", sequence).await;
    assert_eq!(letter["reason_kind"], "refused", "{letter}");
    let reason = letter["reason"].as_str().unwrap();
    assert!(
        reason.contains("the state machine refuses submitted") && reason.contains("in_review"),
        "{reason}"
    );
    let after = app.view(ACME, &id).await;
    assert_eq!(after["state"], "in_review", "{after}");
    assert_eq!(
        after["submitted_at"], before["submitted_at"],
        "the view is unchanged: {after}"
    );
    // The notifier, which keeps the read model too, refuses it as well: subscribers never hear
    // of a submission that did not happen.
    let letter = letter_of(&app, "notifier", sequence).await;
    assert_eq!(letter["reason_kind"], "refused", "{letter}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        !heard.contains(&again.id.to_string()),
        "the refused submission was delivered: {heard:?}"
    );
    assert_eq!(heard.len(), 1, "only the real submission: {heard:?}");
}
