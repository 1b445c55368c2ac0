//! The API's contract at its edges: authentication and tenancy, idempotency, concurrency, and a
//! clear problem+json 4xx for everything a client can get wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, TestApp, example};
use serde_json::{Value, json};

fn assert_problem(reply: &sandpiper_integration_tests::Reply, status: u16) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert!(reply.content_type.starts_with("application/problem+json"), "{reply:?}");
    assert_eq!(reply.body["status"], status, "{reply:?}");
    assert!(
        reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{reply:?}"
    );
    assert!(
        reply.body["type"].is_string() && reply.body["title"].is_string(),
        "{reply:?}"
    );
}

/// An event published on one partner's subjects whose envelope claims another partner's
/// application is refused by every consumer, never folded into that application's record (#13,
/// item 3). It carries the guard header a real publish would, so a consumer that trusted the
/// envelope would fold it at once. Fails without the subject check: the classifier folds it into
/// globex's record (the draft then reads `submitted`, by acme) and retries it forever, since its
/// own guarded publish on globex's subjects can never match.
#[tokio::test]
async fn an_event_on_another_partners_subject_is_refused_not_folded() {
    use sandpiper_contracts::events::{Envelope, EventType, Submitted};
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_contracts::names::{PREVIOUS_SEQUENCE_HEADER, ServiceName};

    let app = TestApp::spawn().await;
    let globex_app = app.create(GLOBEX, &example("bedrock-agents-support")).await;
    let before = app.get(GLOBEX, &format!("/v1/applications/{globex_app}")).await;
    assert_eq!(before.body["state"], "draft", "{before:?}");

    let bus = app.bus(ServiceName::Intake).await;
    let application = ApplicationId::parse(&globex_app).unwrap();
    let body: sandpiper_contracts::model::ApplicationBody =
        serde_json::from_value(example("bedrock-agents-support")).unwrap();
    let envelope = Envelope::new(
        EventId::generate(),
        ServiceName::Intake,
        PartnerId::parse("globex").unwrap(),
        application,
        chrono::Utc::now(),
        &Submitted { application: body },
    )
    .unwrap();
    // On acme's subjects (what acme's NATS user may publish), naming globex's application.
    let subject =
        sandpiper_contracts::subjects::event(&PartnerId::parse("acme").unwrap(), &application, EventType::Submitted);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", envelope.id.to_string().as_str());
    headers.insert(PREVIOUS_SEQUENCE_HEADER, before.body["version"].to_string().as_str());
    bus.jetstream
        .publish_with_headers(subject, headers, envelope.to_json().unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();

    // The classifier (which folds submitted events) has handled it once nothing is pending.
    let stream = bus.events_stream().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut consumer = stream
            .get_consumer::<async_nats::jetstream::consumer::pull::Config>(&ServiceName::Classifier.durable_consumer())
            .await
            .unwrap();
        let info = consumer.info().await.unwrap();
        if info.num_pending == 0 && info.num_ack_pending == 0 && info.delivered.stream_sequence > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the classifier never handled it: {info:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let after = app.get(GLOBEX, &format!("/v1/applications/{globex_app}")).await;
    assert_eq!(after.body["state"], "draft", "{after:?}");
    assert_eq!(after.body["event_count"], 1, "{after:?}");
    assert_eq!(after.body["version"], before.body["version"], "{after:?}");
}

#[tokio::test]
async fn tokens_and_tenancy() {
    let app = TestApp::spawn().await;
    let id = app.create(ACME, &example("bedrock-agents-support")).await;

    assert_problem(&app.send(app.http.get(app.url("/v1/applications"))).await, 401);
    assert_problem(&app.get("not-a-token", "/v1/applications").await, 401);
    assert_problem(
        &app.send(app.http.get(app.url("/v1/applications")).header("authorization", ACME))
            .await,
        401,
    );

    // Another partner's application is 404, exactly like a missing one, for every route.
    for path in [
        format!("/v1/applications/{id}"),
        format!("/v1/applications/{id}/events"),
    ] {
        assert_problem(&app.get(GLOBEX, &path).await, 404);
    }
    assert_problem(
        &app.post_empty(GLOBEX, &format!("/v1/applications/{id}/submit")).await,
        404,
    );
    let patch = app
        .http
        .patch(app.url(&format!("/v1/applications/{id}")))
        .bearer_auth(GLOBEX)
        .json(&json!({"workload": "x"}));
    assert_problem(&app.send(patch).await, 404);
    assert_eq!(
        app.get(ACME, &format!("/v1/applications/{id}")).await.body["workload"],
        "customer-support",
        "unchanged"
    );

    assert_eq!(app.get(GLOBEX, "/v1/applications").await.body["items"], json!([]));
    assert_eq!(
        app.get(ACME, "/v1/applications").await.body["items"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        app.get(ADMIN, &format!("/v1/applications/{id}")).await.status,
        200,
        "admin sees every partner"
    );

    // A partner token naming another partner is refused, not quietly answered with its own
    // partner's data; naming itself is fine.
    for path in [
        "/v1/applications",
        "/v1/agenda",
        "/v1/calendar-feeds",
        "/v1/reports/forecast",
    ] {
        let refused = app.get(ACME, &format!("{path}?partner_id=globex")).await;
        assert_problem(&refused, 403);
        assert!(
            refused.body["detail"].as_str().unwrap().contains("own partner"),
            "{path}: {}",
            refused.body
        );
        assert_eq!(
            app.get(ACME, &format!("{path}?partner_id=acme")).await.status,
            200,
            "{path}"
        );
    }
    assert_eq!(
        app.get(ACME, "/v1/applications?partner_id=acme").await.body["items"][0]["id"],
        id.as_str()
    );

    // A partner files for itself only (403: who it is, not what it sent); an admin must name the
    // partner (E3).
    let other = app
        .post(ACME, "/v1/applications?partner_id=globex", &example("exploring-agents"))
        .await;
    assert_problem(&other, 403);
    let admin_unnamed = app.post(ADMIN, "/v1/applications", &example("exploring-agents")).await;
    assert_problem(&admin_unnamed, 422);
    assert_eq!(admin_unnamed.body["errors"][0]["rule"], "E3");
    let admin_named = app
        .post(
            ADMIN,
            "/v1/applications?partner_id=globex",
            &example("exploring-agents"),
        )
        .await;
    assert_eq!(admin_named.status, 201);
    assert_eq!(admin_named.body["partner_id"], "globex");
}

/// An id with no application answers 404 at once: looking for its events in the stream is a
/// direct get that finds none, not a consumer that waits 5 s for events that never come (which
/// any caller could make the intake do at will).
#[tokio::test]
async fn an_unknown_application_is_404_without_waiting() {
    let app = TestApp::spawn().await;
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let unknown = sandpiper_contracts::ids::ApplicationId::generate();
    for path in [
        format!("/v1/applications/{unknown}"),
        format!("/v1/applications/{unknown}/events"),
    ] {
        let started = std::time::Instant::now();
        assert_problem(&app.get(ACME, &path).await, 404);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    // The rebuild the lookup made for the unknown id did not disturb a real one.
    assert_eq!(app.get(ACME, &format!("/v1/applications/{id}")).await.status, 200);
}

#[tokio::test]
async fn idempotency_key_on_create() {
    let app = TestApp::spawn().await;
    let body = example("amazon-q-business-docs");
    let create = |key: &'static str, body: Value| {
        let request = app
            .http
            .post(app.url("/v1/applications"))
            .bearer_auth(ACME)
            .header("idempotency-key", key)
            .json(&body);
        app.send(request)
    };
    let first = create("key-1", body.clone()).await;
    assert_eq!(first.status, 201);
    let again = create("key-1", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body["id"], first.body["id"],
        "same key, same body: same application"
    );
    assert_eq!(again.location, first.location);

    let mut changed = body.clone();
    changed["workload"] = "something-else".into();
    let reuse = create("key-1", changed).await;
    assert_problem(&reuse, 422);
    assert_eq!(reuse.body["errors"][0]["field"], "Idempotency-Key");

    // Concurrent retries with one key create one application.
    let replies = futures::future::join_all((0..8).map(|_| create("key-2", body.clone()))).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{replies:?}");

    // Keys are per partner: another partner's same key is a new application.
    let globex = app
        .send(
            app.http
                .post(app.url("/v1/applications"))
                .bearer_auth(GLOBEX)
                .header("idempotency-key", "key-1")
                .json(&body),
        )
        .await;
    assert_eq!(globex.status, 201);
    assert_ne!(globex.body["id"], first.body["id"]);

    let listed = app.get(ACME, "/v1/applications").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn idempotency_key_compares_json_not_bytes_and_replays_the_first_answer() {
    let app = TestApp::spawn().await;
    let raw = |key: &'static str, body: String| {
        app.send(
            app.http
                .post(app.url("/v1/applications"))
                .bearer_auth(ACME)
                .header("idempotency-key", key)
                .header("content-type", "application/json")
                .body(body),
        )
    };
    let body = example("amazon-q-business-docs");
    let first = raw("key-json", serde_json::to_string(&body).unwrap()).await;
    assert_eq!(first.status, 201, "{first:?}");

    // The same JSON, pretty-printed and with its keys in reverse order, is the same body.
    let mut reversed: Vec<(String, Value)> = body.as_object().unwrap().clone().into_iter().collect();
    reversed.reverse();
    let reordered = format!(
        "{{\n{}\n}}",
        reversed
            .iter()
            .map(|(k, v)| format!("  {}:  {}", json!(k), serde_json::to_string_pretty(v).unwrap()))
            .collect::<Vec<_>>()
            .join(",\n")
    );
    assert_ne!(reordered, serde_json::to_string(&body).unwrap());
    let again = raw("key-json", reordered).await;
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(again.body["id"], first.body["id"]);

    // The application changes; a retry still gets the answer the key was given (CONTRACT §2: the
    // same key and body give the same answer), not the application as it is now.
    let id = first.body["id"].as_str().unwrap();
    let patch = app
        .http
        .patch(app.url(&format!("/v1/applications/{id}")))
        .bearer_auth(ACME)
        .json(&json!({"workload": "changed-since"}));
    assert_eq!(app.send(patch).await.status, 200);
    let replay = raw("key-json", serde_json::to_string(&body).unwrap()).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.location, first.location);
    assert_eq!(replay.body, first.body, "the first answer, verbatim");
    assert_ne!(app.view(ACME, id).await["workload"], first.body["workload"]);
}

#[tokio::test]
async fn every_client_mistake_is_a_clear_4xx() {
    let app = TestApp::spawn().await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.send(
            app.http
                .post(app.url("/v1/applications"))
                .bearer_auth(ACME)
                .header("content-type", content_type)
                .body(body),
        )
    };
    assert_problem(&raw("{\"use_case\": ", "application/json").await, 400);
    assert_problem(&raw("not json at all", "application/json").await, 400);
    assert_problem(&raw("{}", "text/plain").await, 415);

    let wrong_type = raw(r#"{"evaluation_window_days": "sixty"}"#, "application/json").await;
    assert_problem(&wrong_type, 422);
    assert_eq!(wrong_type.body["errors"][0]["field"], "evaluation_window_days");
    let nested = raw(
        r#"{"budget": [{"item": "x", "monthly_usd": 12.5}]}"#,
        "application/json",
    )
    .await;
    assert_problem(&nested, 422);
    assert_eq!(nested.body["errors"][0]["field"], "budget[0].monthly_usd");
    let unknown = raw(r#"{"servce": "bedrock-agents"}"#, "application/json").await;
    assert_problem(&unknown, 422);
    assert!(unknown.body["detail"].as_str().unwrap().contains("servce"));
    assert_problem(&raw("[1, 2]", "application/json").await, 422);

    let huge = json!({"use_case": "x".repeat(100 * 1024)});
    assert_problem(&app.post(ACME, "/v1/applications", &huge).await, 413);
    let long = json!({"use_case": "word ".repeat(2_100)});
    let too_long = app.post(ACME, "/v1/applications", &long).await;
    assert_problem(&too_long, 422);
    assert_eq!(too_long.body["errors"][0]["field"], "use_case");

    // Control characters (#13, item 5): refused naming the field, never stored to reach a
    // calendar file or a Slack message; a multi-line field keeps its tabs and line breaks.
    let mut evil = example("bedrock-agents-support");
    evil["startup"]["name"] = "Evil\u{0}Corp".into();
    let nul = app.post(ACME, "/v1/applications", &evil).await;
    assert_problem(&nul, 422);
    assert_eq!(nul.body["errors"][0]["field"], "startup.name", "{nul:?}");
    let mut lines = example("bedrock-agents-support");
    lines["use_case"] = "First line.\n\tSecond line.".into();
    let draft = app.create(ACME, &lines).await;
    let reason = app
        .post(
            ACME,
            &format!("/v1/applications/{draft}/cancel"),
            &json!({"reason": "gone\u{1b}[2J"}),
        )
        .await;
    assert_problem(&reason, 422);
    assert_eq!(reason.body["errors"][0]["field"], "reason", "{reason:?}");

    // Submission lists every failing field, with the rule behind it.
    let mut body = example("bedrock-agents-support");
    body["service"] = "bedrock-agent".into();
    body["evaluation_window_days"] = 90.into();
    body["startup"]["aws_account_id"] = "1234".into();
    body["budget"][0]["monthly_usd_range"] = json!([100, 200]);
    body["budget"][1]["monthly_usd"] = (-5).into();
    let id = app.create(ACME, &body).await;
    let refused = app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
    assert_problem(&refused, 422);
    let fields: Vec<(&str, &str)> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["rule"].as_str().unwrap_or("")))
        .collect();
    for expected in [
        ("service", "E5"),
        ("evaluation_window_days", "W"),
        ("startup.aws_account_id", "E1"),
        ("budget[0].monthly_usd", "B"),
        ("budget[1].monthly_usd", ""),
    ] {
        assert!(fields.contains(&expected), "{expected:?} not in {fields:?}");
    }

    assert_problem(&app.get(ACME, "/v1/applications/not-an-id").await, 404);
    assert_problem(&app.get(ACME, "/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV").await, 404);
    assert_problem(&app.get(ACME, "/v1/nowhere").await, 404);
    assert_problem(
        &app.send(app.http.delete(app.url("/v1/catalog")).bearer_auth(ACME))
            .await,
        405,
    );
    assert_problem(&app.get(ACME, "/v1/applications?limit=0").await, 400);
    assert_problem(&app.get(ACME, "/v1/applications?limit=many").await, 400);
    assert_problem(&app.get(ACME, "/v1/applications?state=dreaming").await, 400);
    assert_problem(&app.get(ACME, "/v1/applications?cursor=garbage").await, 400);
}

#[tokio::test]
async fn state_guards_and_concurrent_submissions() {
    let app = TestApp::spawn().await;
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let path = format!("/v1/applications/{id}/submit");
    let (a, b) = tokio::join!(app.post_empty(ACME, &path), app.post_empty(ACME, &path));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "exactly one submission wins: {a:?} {b:?}");

    app.wait_for_state(ACME, &id, "in_review").await;
    assert_problem(&app.post_empty(ACME, &path).await, 409);
    let patch = app
        .http
        .patch(app.url(&format!("/v1/applications/{id}")))
        .bearer_auth(ACME)
        .json(&json!({"workload": "x"}));
    assert_problem(&app.send(patch).await, 409);
    let stored = app.stream_events("acme", &id).await;
    let submitted = stored.iter().filter(|(s, _, _)| s.ends_with(".submitted")).count();
    assert_eq!(submitted, 1);
}

#[tokio::test]
async fn listing_filters_and_pages() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for name in [
        "bedrock-agents-support",
        "amazon-q-business-docs",
        "exploring-agents",
        "bedrock-agents-support",
        "amazon-q-business-docs",
    ] {
        ids.push(app.create(ACME, &example(name)).await);
    }
    app.post_empty(ACME, &format!("/v1/applications/{}/submit", ids[0]))
        .await;
    app.wait_for_state(ACME, &ids[0], "in_review").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/applications?limit=2&cursor={c}"),
            None => "/v1/applications?limit=2".to_owned(),
        };
        let page = app.get(ACME, &path).await;
        assert_eq!(page.status, 200);
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every application once, oldest first");

    let q = app.get(ACME, "/v1/applications?service=amazon-q-business").await;
    assert_eq!(q.body["items"].as_array().unwrap().len(), 2);
    let reviewing = app
        .get(ACME, "/v1/applications?state=in_review&pool=innovation_sandbox")
        .await;
    assert_eq!(reviewing.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(reviewing.body["items"][0]["id"], ids[0].as_str());
    assert_eq!(
        app.get(ACME, "/v1/applications?pool=bedrock_poc").await.body["items"],
        json!([])
    );
}

#[tokio::test]
async fn catalog_openapi_and_health() {
    let app = TestApp::spawn().await;
    let catalog = app.get(ACME, "/v1/catalog").await;
    assert_eq!(catalog.status, 200);
    assert_eq!(catalog.body["version"], "2026.1");
    assert_eq!(catalog.body["services"].as_array().unwrap().len(), 6);

    let doc = app.send(app.http.get(app.url("/openapi.json"))).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/applications", "post"),
        ("/v1/applications", "get"),
        ("/v1/applications/{id}", "get"),
        ("/v1/applications/{id}", "patch"),
        ("/v1/applications/{id}/submit", "post"),
        ("/v1/applications/{id}/events", "get"),
        ("/v1/catalog", "get"),
        ("/v1/catalog", "post"),
        ("/v1/catalog/versions", "get"),
        ("/v1/preflight", "post"),
        ("/v1/clock", "get"),
        ("/v1/clock/advance", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.send(app.http.get(app.url(path))).await.status, 200, "{path}");
    }
}

/// Checks a reply against what `/openapi.json` documents for `method template`: the status must be
/// documented, with a schema for the reply's content type, and the body must validate against it
/// (JSON Schema 2020-12, refs resolved inside the document).
pub(crate) fn assert_documented(doc: &Value, method: &str, template: &str, reply: &sandpiper_integration_tests::Reply) {
    let operation = &doc["paths"][template][method];
    assert!(operation.is_object(), "{method} {template} is not documented");
    let response = &operation["responses"][reply.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} answered {} which is not documented: {reply:?}",
        reply.status
    );
    let essence = reply.content_type.split(';').next().unwrap_or("").trim();
    let schema = &response["content"][essence]["schema"];
    assert!(
        schema.is_object(),
        "{method} {template} {}: no schema documented for {essence:?}",
        reply.status
    );
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&reply.body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {}: the body does not match the documented schema: {errors:?}\n{:#}",
        reply.status,
        reply.body
    );
}

#[tokio::test]
async fn responses_match_the_openapi_document() {
    let app = TestApp::spawn().await;
    let doc = app.send(app.http.get(app.url("/openapi.json"))).await.body;

    let created = app
        .post(ACME, "/v1/applications", &example("bedrock-agents-support"))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_documented(&doc, "post", "/v1/applications", &created);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let one = app.get(ACME, &format!("/v1/applications/{id}")).await;
    assert_eq!(one.status, 200);
    assert_documented(&doc, "get", "/v1/applications/{id}", &one);

    let submitted = app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
    assert_eq!(submitted.status, 202, "{submitted:?}");
    assert_documented(&doc, "post", "/v1/applications/{id}/submit", &submitted);
    app.wait_for_state(ACME, &id, "in_review").await;
    // Reviewed: the view now carries a decision with its components.
    let reviewed = app.get(ACME, &format!("/v1/applications/{id}")).await;
    assert_documented(&doc, "get", "/v1/applications/{id}", &reviewed);

    let list = app.get(ACME, "/v1/applications?limit=5").await;
    assert_eq!(list.status, 200);
    assert_documented(&doc, "get", "/v1/applications", &list);
    let events = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
    assert_eq!(events.status, 200);
    assert_documented(&doc, "get", "/v1/applications/{id}/events", &events);
    let catalog = app.get(ACME, "/v1/catalog").await;
    assert_eq!(catalog.status, 200);
    assert_documented(&doc, "get", "/v1/catalog", &catalog);

    // Errors: each documented for its route, each a Problem.
    let missing = app.get(ACME, "/v1/applications/01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_problem(&missing, 404);
    assert_documented(&doc, "get", "/v1/applications/{id}", &missing);
    let unauthenticated = app.send(app.http.get(app.url("/v1/catalog"))).await;
    assert_problem(&unauthenticated, 401);
    assert_documented(&doc, "get", "/v1/catalog", &unauthenticated);
    let bad_limit = app.get(ACME, "/v1/applications?limit=0").await;
    assert_problem(&bad_limit, 400);
    assert_documented(&doc, "get", "/v1/applications", &bad_limit);
    let wrong_type = app
        .post(ACME, "/v1/applications", &json!({"evaluation_window_days": "sixty"}))
        .await;
    assert_problem(&wrong_type, 422);
    assert_documented(&doc, "post", "/v1/applications", &wrong_type);
    let huge = json!({"use_case": "x".repeat(100 * 1024)});
    let too_large = app.post(ACME, "/v1/applications", &huge).await;
    assert_problem(&too_large, 413);
    assert_documented(&doc, "post", "/v1/applications", &too_large);
    let not_json = app
        .send(
            app.http
                .post(app.url(&format!("/v1/applications/{id}/concerns")))
                .bearer_auth(ACME)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_problem(&not_json, 415);
    assert_documented(&doc, "post", "/v1/applications/{id}/concerns", &not_json);

    for path in ["/healthz", "/readyz"] {
        let reply = app.send(app.http.get(app.url(path))).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_documented(&doc, "get", path, &reply);
    }
}

#[tokio::test]
async fn bad_path_segments_and_query_parameters_are_problems_naming_them() {
    let app = TestApp::spawn().await;
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let feedback = app
        .send(
            app.http
                .post(app.url(&format!("/v1/applications/{id}/office-hours/%FF/feedback")))
                .bearer_auth(ACME)
                .json(&json!({"note": "x"})),
        )
        .await;
    for (reply, field) in [
        (app.get(ACME, "/v1/applications/%FF").await, "id"),
        (app.get(ACME, "/v1/applications/%FF/events").await, "id"),
        (
            app.get(ACME, "/v1/accounts/%FF/credit-position").await,
            "aws_account_id",
        ),
        (feedback, "session"),
    ] {
        assert_problem(&reply, 400);
        assert_eq!(reply.body["errors"][0]["field"], field, "{reply:?}");
    }
    // Well-formed but naming nothing: 404, as ever.
    assert_problem(&app.get(ACME, "/v1/accounts/not-a-number/credit-position").await, 404);

    for (query, field) in [
        ("limit=many", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("state=dreaming", "state"),
        ("pool=lottery", "pool"),
        ("cursor=garbage", "cursor"),
    ] {
        let reply = app.get(ACME, &format!("/v1/applications?{query}")).await;
        assert_problem(&reply, 400);
        assert_eq!(reply.body["errors"][0]["field"], field, "{query}: {reply:?}");
    }
    let reply = app.get(ADMIN, "/v1/applications?partner_id=Not%20A%20Slug").await;
    assert_problem(&reply, 400);
    assert_eq!(reply.body["errors"][0]["field"], "partner_id", "{reply:?}");
}

#[tokio::test]
async fn a_wrong_typed_body_lists_every_failing_field() {
    let app = TestApp::spawn().await;
    let mut body = example("bedrock-agents-support");
    body["evaluation_window_days"] = "sixty".into();
    body["production_monthly_usd"] = json!({"usd": 5});
    body["workload"] = 7.into();
    body["budget"][1]["monthly_usd"] = 12.5.into();
    let reply = app.post(ACME, "/v1/applications", &body).await;
    assert_problem(&reply, 422);
    let mut fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "budget[1].monthly_usd",
            "evaluation_window_days",
            "production_monthly_usd",
            "workload"
        ],
        "{reply:?}"
    );

    // The same through a merge patch.
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let patch = app
        .http
        .patch(app.url(&format!("/v1/applications/{id}")))
        .bearer_auth(ACME)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"evaluation_window_days": "sixty", "workload": 7}"#);
    let reply = app.send(patch).await;
    assert_problem(&reply, 422);
    assert_eq!(reply.body["errors"].as_array().unwrap().len(), 2, "{reply:?}");
}

#[tokio::test]
async fn every_service_serves_metrics_that_move() {
    let app = TestApp::spawn().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
    app.get(ACME, &format!("/v1/applications/{id}")).await;
    for service in app.stack.services() {
        let url = format!("http://{}/metrics", app.stack.addr(service));
        let reply = app
            .send(
                app.http
                    .get(&url)
                    .header("accept", "application/openmetrics-text; version=1.0.0"),
            )
            .await;
        assert_eq!(reply.status, 200, "{service}");
        assert!(
            reply.content_type.starts_with("application/openmetrics-text"),
            "{service}"
        );
        let text = reply.body.as_str().unwrap().to_owned();
        assert!(text.ends_with("# EOF\n"), "{service}: OpenMetrics text ends with # EOF");
        for family in ["sandpiper_http_requests_total", "sandpiper_events_consumed_total"] {
            assert!(
                text.contains(&format!("# TYPE {}", family.trim_end_matches("_total"))),
                "{service}: {family} missing"
            );
        }
    }
    let text = app
        .send(
            app.http
                .get(format!(
                    "http://{}/metrics",
                    app.stack.addr(sandpiper_contracts::names::ServiceName::Intake)
                ))
                .header("accept", "application/openmetrics-text; version=1.0.0"),
        )
        .await
        .body
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains(r#"sandpiper_events_published_total{service="intake",type="submitted"} "#),
        "{text}"
    );
    assert!(
        text.contains(r#"sandpiper_events_consumed_total{service="classifier",type="submitted",outcome="ok"} "#),
        "{text}"
    );
    assert!(text.contains(r#"sandpiper_http_requests_total{service="intake",route="/v1/applications/{id}",method="GET",status="200"} "#), "{text}");
}

/// `promtool check metrics` (Prometheus's own linter) accepts what every service serves to a
/// plain scraper, and the counters it lints move as applications are submitted.
#[tokio::test]
async fn promtool_accepts_every_services_metrics() {
    let promtool = promtool();
    let app = TestApp::spawn().await;
    let events_published = |text: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(r#"sandpiper_events_published_total{service="intake""#))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    async fn scrape(
        app: &TestApp,
        service: sandpiper_contracts::names::ServiceName,
    ) -> sandpiper_integration_tests::Reply {
        app.send(app.http.get(format!("http://{}/metrics", app.stack.addr(service))))
            .await
    }
    let before = events_published(
        scrape(&app, sandpiper_contracts::names::ServiceName::Intake)
            .await
            .body
            .as_str()
            .unwrap(),
    );
    for _ in 0..3 {
        let id = app.submit(ACME, &example("bedrock-agents-support")).await;
        app.wait_for_state(ACME, &id, "in_review").await;
    }
    for service in app.stack.services() {
        let reply = scrape(&app, service).await;
        assert!(
            reply.content_type.starts_with("text/plain; version=0.0.4"),
            "{service}: {}",
            reply.content_type
        );
        let text = reply.body.as_str().unwrap().to_owned();
        let mut check = std::process::Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool runs");
        std::io::Write::write_all(check.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
        let output = check.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{service}: promtool check metrics failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if service == sandpiper_contracts::names::ServiceName::Intake {
            // Two events per application: drafted and submitted.
            assert!(events_published(&text) >= before + 6.0, "{text}");
        }
    }
}

/// promtool from `SANDPIPER_PROMTOOL`, or installed by `scripts/install-promtool` (idempotent).
fn promtool() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("SANDPIPER_PROMTOOL") {
        return path.into();
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-promtool");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .output()
        .expect("scripts/install-promtool runs");
    assert!(
        output.status.success(),
        "promtool is needed and could not be installed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .expect("a path")
        .trim()
        .into()
}

/// A request hyper cannot parse (a raw `>` or space in the path, a malformed header) is answered
/// by hyper itself before any route, with an empty 400; every error body is problem+json, that
/// one included (#13, item 7). Fails before the fix: the answer had `content-length: 0` and no
/// content type. Sent over raw TCP, since an HTTP client would percent-encode the path.
#[tokio::test]
async fn a_request_hyper_cannot_parse_is_answered_with_problem_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn().await;
    for base in [app.url(""), app.notifier_url("")] {
        let authority = base.trim_start_matches("http://").trim_end_matches('/').to_owned();
        for (request, status) in [
            ("GET /v1/applications/a>b HTTP/1.1", 400),
            ("GET /v1/applications/a b HTTP/1.1", 400),
            ("GET /v1/subscriptions/<x> HTTP/1.1", 400),
            ("GET /v1/applications/%ZZ HTTP/1.1", 404),
        ] {
            let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
            let raw =
                format!("{request}\r\nhost: {authority}\r\nauthorization: Bearer {ACME}\r\nconnection: close\r\n\r\n");
            stream.write_all(raw.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
            let head = head.to_ascii_lowercase();
            assert!(
                head.starts_with(&format!("http/1.1 {status} ")),
                "{base} {request}: {answer}"
            );
            assert!(
                head.contains("content-type: application/problem+json"),
                "{base} {request}: {answer}"
            );
            let problem: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
            assert_eq!(problem["status"], status, "{base} {request}: {answer}");
            assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{answer}");
        }
    }
}
