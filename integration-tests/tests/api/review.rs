//! The rules end to end over real NATS (#3): classification, redirection with linked applications,
//! the review period on the simulated clock, catalog versions published at run time, preflight.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::{ACME, ADMIN, TestApp, event_names, example};
use serde_json::{Value, json};

fn rules(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// Publishes catalog `version`, in force from the simulated start, with `service` matured the day
/// before (K1, K4).
async fn publish_matured(app: &TestApp, version: &str, service: &str) {
    let mut catalog = app.get(ACME, "/v1/catalog").await.body;
    catalog["version"] = version.into();
    catalog["effective_from"] = "2026-03-02".into();
    for entry in catalog["services"].as_array_mut().unwrap() {
        if entry["id"] == service {
            entry["matured_at"] = "2026-03-01".into();
        }
    }
    let published = app.post(ADMIN, "/v1/catalog", &catalog).await;
    assert_eq!(published.status, 201, "{published:?}");
}

#[tokio::test]
async fn the_examples_are_decided_when_the_review_period_ends_and_not_before() {
    let app = TestApp::simulated().await;
    let support = app.submit(ACME, &example("bedrock-agents-support")).await;
    let docs = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let vague = app.submit(ACME, &example("exploring-agents")).await;
    for id in [&support, &docs, &vague] {
        app.wait_for_state(ACME, id, "in_review").await;
    }
    let classified = app.view(ACME, &support).await;
    assert_eq!(classified["decision"]["figures"]["emerging_service_monthly_usd"], 1200);
    assert_eq!(classified["decision"]["figures"]["model_inference_monthly_usd"], 850);
    assert!(rules(&classified["decision"]["rules"]).contains(&"C2".to_owned()));

    app.advance_days(11).await;
    for id in [&support, &docs, &vague] {
        assert_eq!(
            app.view(ACME, id).await["state"],
            "in_review",
            "T6: no decision before 12 days"
        );
    }

    app.advance_days(1).await;
    let approved = app.view(ACME, &support).await;
    assert_eq!(
        approved["state"], "active",
        "approved, and the scheduler applied the credits at once"
    );
    assert_eq!(
        approved["decision"]["tier_usd"], 20000,
        "the seed's worked example: $20K (T5)"
    );
    assert!(rules(&approved["decision"]["rules"]).contains(&"T5".to_owned()));
    for component in ["use_case", "metrics", "window", "budget"] {
        assert_eq!(
            approved["decision"]["components"][component]["strength"], "strong",
            "{component}"
        );
    }
    assert_eq!(approved["decision"]["catalog_version"], "2026.1");
    assert_eq!(
        approved["decision"]["decided_at"], "2026-03-14T09:00:00Z",
        "decided 12 days after submission"
    );

    let rejected = app.view(ACME, &vague).await;
    assert_eq!(rejected["state"], "rejected");
    assert!(
        rules(&rejected["decision"]["rules"]).contains(&"T2".to_owned()),
        "{rejected}"
    );
    assert!(rules(&rejected["decision"]["components"]["use_case"]["rules"]).contains(&"U4".to_owned()));

    let q = app.view(ACME, &docs).await;
    assert_eq!(q["state"], "active", "{q}");

    let history = app.get(ACME, &format!("/v1/applications/{support}/events")).await;
    assert_eq!(
        event_names(&history.body)[..4],
        ["drafted", "submitted", "classified", "approved"]
    );
}

#[tokio::test]
async fn inference_dominated_budgets_are_redirected_to_a_linked_bedrock_poc() {
    let app = TestApp::simulated().await;
    let mut body = example("bedrock-agents-support");
    body["budget"][1]["monthly_usd"] = 1500.into(); // model inference above the emerging service (C2)
    let original = app.submit(ACME, &body).await;
    let redirected = app.wait_for_state(ACME, &original, "redirected").await;
    assert_eq!(redirected["decision"]["pool"], "bedrock_poc");
    let redirected_rules = rules(&redirected["decision"]["rules"]);
    assert!(
        redirected_rules.contains(&"C2".to_owned()) && redirected_rules.contains(&"C3".to_owned()),
        "{redirected_rules:?}"
    );
    let linked = redirected["links"]["redirected_to"]
        .as_str()
        .expect("a linked application")
        .to_owned();

    let carried = app.wait_for_state(ACME, &linked, "in_review").await;
    assert_eq!(carried["programme"], "bedrock_poc");
    assert_eq!(carried["links"]["originated_from"], original.as_str());
    assert_eq!(carried["decision"]["pool"], "bedrock_poc");

    app.advance_days(12).await;
    assert_eq!(
        app.view(ACME, &linked).await["state"],
        "in_review",
        "P1: a Bedrock POC review takes 14 days"
    );
    app.advance_days(2).await;
    let approved = app.view(ACME, &linked).await;
    assert_eq!(
        approved["state"], "active",
        "approved, and the scheduler applied the credits at once"
    );
    assert_eq!(approved["decision"]["tier_usd"], 25000, "P1: all four strong → $25K");
    assert!(rules(&approved["decision"]["rules"]).contains(&"P1".to_owned()));
    assert_eq!(
        app.view(ACME, &original).await["state"],
        "redirected",
        "the original does not go on"
    );
}

#[tokio::test]
async fn stacking_overlaps_redirect_or_reject() {
    let app = TestApp::simulated().await;
    let mut poc = example("bedrock-agents-support");
    poc["stack"] = json!([{"programme": "bedrock_poc", "workload": "Customer Support", "status": "pending"}]);
    let onto_poc = app.submit(ACME, &poc).await;
    let redirected = app.wait_for_state(ACME, &onto_poc, "redirected").await;
    assert!(
        rules(&redirected["decision"]["rules"]).contains(&"C4a".to_owned()),
        "{redirected}"
    );
    assert!(
        redirected["links"]["redirected_to"].is_null(),
        "C4a: it is not a second application"
    );

    let mut bfs = example("bedrock-agents-support");
    bfs["stack"] = json!([{"programme": "build_for_startups", "amount_usd": 25000, "workload": "customer_support", "status": "approved"}]);
    let overlapping = app.submit(ACME, &bfs).await;
    app.wait_for_state(ACME, &overlapping, "in_review").await;

    let mut restricted = example("bedrock-agents-support");
    restricted["startup"]["industry"] = "gambling".into();
    let ineligible = app.submit(ACME, &restricted).await;
    app.wait_for_state(ACME, &ineligible, "in_review").await;

    app.advance_days(12).await;
    let rejected = app.view(ACME, &overlapping).await;
    assert_eq!(rejected["state"], "rejected");
    assert!(
        rules(&rejected["decision"]["rules"]).contains(&"C4b".to_owned()),
        "{rejected}"
    );
    assert!(
        rejected["decision"]["reasons"]
            .to_string()
            .contains("scope overlaps Build for Startups engagement")
    );
    let e2 = app.view(ACME, &ineligible).await;
    assert_eq!(e2["state"], "rejected");
    let e2_rules = rules(&e2["decision"]["rules"]);
    assert!(
        e2_rules.contains(&"T1".to_owned()) && e2_rules.contains(&"E2".to_owned()),
        "{e2_rules:?}"
    );
}

#[tokio::test]
async fn a_catalog_published_at_run_time_changes_the_next_decision_not_earlier_ones() {
    let app = TestApp::simulated().await;
    let before = app.submit(ACME, &example("amazon-q-business-docs")).await;
    app.wait_for_state(ACME, &before, "in_review").await;

    // 2026.2 takes effect today: Amazon Q Business has matured (K1).
    let mut catalog = app.get(ACME, "/v1/catalog").await.body;
    catalog["version"] = "2026.2".into();
    catalog["effective_from"] = "2026-03-02".into();
    for service in catalog["services"].as_array_mut().unwrap() {
        if service["id"] == "amazon-q-business" {
            service["matured_at"] = "2026-03-01".into();
        }
    }
    assert_eq!(
        app.post(ACME, "/v1/catalog", &catalog).await.status,
        403,
        "partners cannot publish"
    );
    let published = app.post(ADMIN, "/v1/catalog", &catalog).await;
    assert_eq!(published.status, 201, "{published:?}");
    assert_eq!(
        app.post(ADMIN, "/v1/catalog", &catalog).await.status,
        409,
        "a version is immutable"
    );
    assert_eq!(app.get(ACME, "/v1/catalog").await.body["version"], "2026.2");

    let after = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let redirected = app.wait_for_state(ACME, &after, "redirected").await;
    assert_eq!(
        redirected["decision"]["pool"], "activate_portfolio",
        "K1: a matured q-family service goes to Activate"
    );
    assert!(rules(&redirected["decision"]["rules"]).contains(&"K1".to_owned()));
    assert_eq!(redirected["decision"]["catalog_version"], "2026.2");

    app.advance_days(12).await;
    let earlier = app.view(ACME, &before).await;
    assert_eq!(
        earlier["state"], "active",
        "the earlier application keeps the catalog it was classified under"
    );
    assert_eq!(earlier["decision"]["catalog_version"], "2026.1");
}

#[tokio::test]
async fn review_timers_survive_a_reviewer_crash_and_fire_once() {
    let mut app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
    app.stack.crash_service(ServiceName::Reviewer).await;
    app.stack.start_service(ServiceName::Reviewer).await.unwrap();
    app.stack.wait_ready(std::time::Duration::from_secs(20)).await.unwrap();
    app.advance_days(12).await;
    assert_eq!(app.view(ACME, &id).await["state"], "active");

    // A second restart after the decision fires nothing again.
    app.stack.crash_service(ServiceName::Reviewer).await;
    app.stack.start_service(ServiceName::Reviewer).await.unwrap();
    app.stack.wait_ready(std::time::Duration::from_secs(20)).await.unwrap();
    app.advance_days(1).await;
    let stored = app.stream_events("acme", &id).await;
    let approvals = stored.iter().filter(|(s, _, _)| s.ends_with(".approved")).count();
    assert_eq!(approvals, 1);
}

#[tokio::test]
async fn preflight_scores_without_storing() {
    let app = TestApp::simulated().await;
    let support = app
        .post(ACME, "/v1/preflight", &example("bedrock-agents-support"))
        .await;
    assert_eq!(support.status, 200, "{support:?}");
    assert_eq!(support.body["tier_usd"], 20000);
    assert_eq!(support.body["pool"], "innovation_sandbox");
    assert_eq!(support.body["review_period_days"], 12);
    assert!(
        !support.body["next_tier"].as_array().unwrap().is_empty(),
        "it says how to reach $25K"
    );

    let vague = app.post(ACME, "/v1/preflight", &example("exploring-agents")).await;
    assert_eq!(vague.status, 200);
    assert!(vague.body["tier_usd"].is_null());
    assert_eq!(vague.body["components"]["use_case"]["strength"], "weak");

    let mut invalid = example("bedrock-agents-support");
    invalid["evaluation_window_days"] = 90.into();
    assert_eq!(app.post(ACME, "/v1/preflight", &invalid).await.status, 422);

    assert_eq!(
        app.get(ACME, "/v1/applications").await.body["items"],
        json!([]),
        "nothing stored"
    );
}

#[tokio::test]
async fn preflight_reviews_only_what_the_pipeline_reviews() {
    let app = TestApp::simulated().await;

    // C4a: it continues the startup's pending Bedrock POC; nothing is reviewed, so no tier.
    let mut onto_poc = example("bedrock-agents-support");
    onto_poc["stack"] = json!([{"programme": "bedrock_poc", "workload": "Customer Support", "status": "pending"}]);
    let c4a = app.post(ACME, "/v1/preflight", &onto_poc).await;
    assert_eq!(c4a.status, 200, "{c4a:?}");
    assert_eq!(c4a.body["decision"], "redirected", "{}", c4a.body);
    assert_eq!(c4a.body["pool"], "bedrock_poc");
    assert!(
        c4a.body["tier_usd"].is_null() && c4a.body["components"].is_null(),
        "{}",
        c4a.body
    );
    assert!(c4a.body["review_period_days"].is_null());
    assert!(rules(&c4a.body["rules"]).contains(&"C4a".to_owned()), "{}", c4a.body);

    // C3: a new linked Bedrock POC is opened, and it is what gets reviewed (P1, 14 days).
    let mut inference = example("bedrock-agents-support");
    inference["budget"][1]["monthly_usd"] = 1500.into();
    let c3 = app.post(ACME, "/v1/preflight", &inference).await;
    assert_eq!(c3.body["decision"], "approved", "{}", c3.body);
    assert_eq!(c3.body["pool"], "bedrock_poc");
    assert_eq!(c3.body["tier_usd"], 25000);
    assert_eq!(c3.body["review_period_days"], 14);

    // K1 outside the bedrock family: recorded in the stack as Activate Portfolio, not reviewed.
    publish_matured(&app, "2026.2", "amazon-q-business").await;
    let k1 = app
        .post(ACME, "/v1/preflight", &example("amazon-q-business-docs"))
        .await;
    assert_eq!(k1.body["decision"], "redirected", "{}", k1.body);
    assert_eq!(k1.body["pool"], "activate_portfolio");
    assert!(k1.body["tier_usd"].is_null(), "{}", k1.body);
    assert!(rules(&k1.body["rules"]).contains(&"K1".to_owned()), "{}", k1.body);

    // The pipeline agrees: the same C4a body is redirected with no review and no linked application.
    let id = app.submit(ACME, &onto_poc).await;
    let redirected = app.wait_for_state(ACME, &id, "redirected").await;
    assert!(redirected["links"]["redirected_to"].is_null(), "{redirected}");
    assert!(redirected["decision"]["tier_usd"].is_null(), "{redirected}");
}

#[tokio::test]
async fn a_matured_bedrock_service_opens_a_linked_60_day_bedrock_poc() {
    let app = TestApp::simulated().await;
    publish_matured(&app, "2026.2", "bedrock-agents").await;
    // A 30-day sandbox filing: the linked Bedrock POC must still run 60 days (P1).
    let mut body = example("bedrock-agents-support");
    body["evaluation_window_days"] = 30.into();
    body["feedback_checkpoints_days"] = json!([15, 30]);
    let original = app.submit(ACME, &body).await;

    let redirected = app.wait_for_state(ACME, &original, "redirected").await;
    assert_eq!(redirected["decision"]["pool"], "bedrock_poc", "{redirected}");
    let k1_rules = rules(&redirected["decision"]["rules"]);
    assert!(
        k1_rules.contains(&"K1".to_owned()) && k1_rules.contains(&"C3".to_owned()),
        "{k1_rules:?}"
    );
    let linked = redirected["links"]["redirected_to"]
        .as_str()
        .expect("K1 in the bedrock family opens a linked application")
        .to_owned();

    let carried = app.wait_for_state(ACME, &linked, "in_review").await;
    assert_eq!(carried["programme"], "bedrock_poc");
    assert_eq!(carried["evaluation_window_days"], 60, "P1: window 60 days");
    assert_eq!(carried["links"]["originated_from"], original.as_str());

    app.advance_days(14).await;
    let approved = app.view(ACME, &linked).await;
    assert_eq!(approved["state"], "active", "{approved}");
    assert_eq!(approved["decision"]["tier_usd"], 25000, "P1: all four strong");
    assert_eq!(approved["decision"]["components"]["window"]["strength"], "strong");
    let window = &approved["window"];
    let day = |field: &str| {
        window[field]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert_eq!(
        day("ends_at") - day("starts_at"),
        chrono::Duration::days(60),
        "P1: the credits run a 60-day window: {window}"
    );
}
