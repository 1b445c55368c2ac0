//! The ACE connector (#17) over the real stack: the real AWS SDK for Rust against
//! `scripts/ace-stand-in.py`, which checks every request against botocore's Partner Central
//! models and counts calls per second. Each test asserts the stand-in rejected nothing and found
//! no answer of its own invalid: a request the models refuse fails the test.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::ace_stand_in::AceStandIn;
use sandpiper_integration_tests::console::ConsoleSession;
use sandpiper_integration_tests::{ACME, TestApp, event_names, example, poll_async};
use sandpiper_runtime::config::ReviewMode;
use serde_json::{Value, json};

/// Nothing the connector sent was refused by the models, and nothing the stand-in answered was
/// invalid by them; no call went over a quota.
async fn assert_clean(stand_in: &AceStandIn) -> Value {
    let state = stand_in.state().await;
    assert_eq!(state["rejected"], json!([]), "requests the models refuse");
    assert_eq!(state["stand_in_bugs"], json!([]), "answers the models refuse");
    assert_eq!(state["quota_exceeded"], json!(0), "calls over Partner Central's quotas");
    let max = &state["max_attempted_per_second"];
    assert!(max["writes"].as_u64().unwrap_or(0) <= 1, "writes per second: {max}");
    assert!(max["reads"].as_u64().unwrap_or(0) <= 10, "reads per second: {max}");
    state
}

/// Waits until the application's view shows its Partner Central filing.
async fn filed(app: &TestApp, id: &str) -> Value {
    poll_async(&format!("{id} filed in Partner Central"), || async {
        let view = app.view(ACME, id).await;
        (!view["ace"].is_null()).then_some(view)
    })
    .await
}

/// A command as a client sends it while the connector may still be recording Partner Central's
/// answers on the same application: a 409 ("changed while this request was handled") is fetched
/// and retried, as the README tells clients to.
async fn command(app: &TestApp, path: &str, body: &Value) -> sandpiper_integration_tests::Reply {
    for _ in 0..10 {
        let reply = app.post(ACME, path, body).await;
        if reply.status != 409 {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.post(ACME, path, body).await
}

async fn history(app: &TestApp, id: &str) -> Vec<String> {
    event_names(&app.get(ACME, &format!("/v1/applications/{id}/events")).await.body)
}

#[tokio::test]
async fn a_crash_between_create_and_record_files_the_application_once() {
    let stand_in = AceStandIn::start().await;
    let mut app = TestApp::spawn_with_ace(&stand_in, ReviewMode::Simulated).await;
    // AWS creates the opportunity but its answer is late: the connector dies waiting for it.
    stand_in.hold("CreateOpportunity", 3.0).await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    poll_async("the opportunity created in AWS", || async {
        let state = stand_in.state().await;
        (state["opportunities"].as_object().map_or(0, |o| o.len()) == 1).then_some(())
    })
    .await;
    app.stack.crash_service(ServiceName::Ace).await;
    app.stack.start_service(ServiceName::Ace).await.unwrap();

    let view = filed(&app, &id).await;
    let state = assert_clean(&stand_in).await;
    let opportunities = state["opportunities"].as_object().unwrap();
    let benefits = state["benefit_applications"].as_object().unwrap();
    assert_eq!(
        opportunities.len(),
        1,
        "one opportunity despite the crash: {opportunities:?}"
    );
    assert_eq!(benefits.len(), 1, "one benefit application: {benefits:?}");
    assert!(
        state["calls"]["CreateOpportunity"].as_u64().unwrap() >= 2,
        "the create was sent again after the crash: {}",
        state["calls"]
    );
    let ace = &view["ace"];
    assert!(
        opportunities.contains_key(ace["opportunity_id"].as_str().unwrap()),
        "{ace}"
    );
    let benefit = &benefits[ace["benefit_application_id"].as_str().unwrap()];
    assert_eq!(benefit["Status"], "IN_REVIEW", "submitted to AWS: {benefit}");
    let names = history(&app, &id).await;
    assert_eq!(names.iter().filter(|n| *n == "ace_filed").count(), 1, "{names:?}");
    // The stand-in saw the engagement started and the opportunity submitted for review.
    let opportunity = &opportunities[ace["opportunity_id"].as_str().unwrap()];
    assert_eq!(opportunity["ReviewStatus"], "Submitted", "{opportunity}");
}

#[tokio::test]
async fn a_scripted_approval_starts_the_engagement_on_aws_date_and_a_rejection_ends_it() {
    let stand_in = AceStandIn::start().await;
    let app = TestApp::spawn_with_ace(&stand_in, ReviewMode::Ace).await;
    let approved = app.submit(ACME, &example("bedrock-agents-support")).await;
    let rejected = app.submit(ACME, &example("amazon-q-business-docs")).await;
    for id in [&approved, &rejected] {
        let view = filed(&app, id).await;
        assert_eq!(view["ace"]["catalog"], "Sandbox");
        let view = poll_async("the forecast", || async {
            let view = app.view(ACME, id).await;
            (!view["forecast"].is_null()).then_some(view)
        })
        .await;
        // AWS decides: the simulation only forecasts, and the application waits in review.
        assert_eq!(view["state"], "in_review", "{view}");
        assert!(view["decision"]["outcome"].is_null(), "{}", view["decision"]);
    }
    let benefit = |id: &str| {
        let app = &app;
        let id = id.to_owned();
        async move {
            filed(app, &id).await["ace"]["benefit_application_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };

    // Approved for $20K, with comments.
    let approved_benefit = benefit(&approved).await;
    stand_in.review(&approved_benefit, "IN_REVIEW", None, None).await;
    let answer = stand_in
        .review(&approved_benefit, "APPROVED", Some(20_000), Some("Fits the programme."))
        .await;
    let approved_at = answer["UpdatedAt"].as_str().expect("AWS's UpdatedAt").to_owned();
    app.wait_for_state(ACME, &approved, "active").await;
    // The first tranche's release is the scheduler's next event after the credits: read the
    // view once it is folded too (reading it at `active` alone raced it in a CI run).
    let view = poll_async("the first tranche released", || async {
        let view = app.view(ACME, &approved).await;
        (view["credits"]["tranches"][0]["status"] == "released").then_some(view)
    })
    .await;
    let decision = &view["decision"];
    assert_eq!(decision["tier_usd"], 20_000, "{decision}");
    let decided_at: chrono::DateTime<chrono::Utc> = decision["decided_at"].as_str().unwrap().parse().unwrap();
    let aws_at: chrono::DateTime<chrono::Utc> = approved_at.parse().unwrap();
    assert_eq!(decided_at, aws_at, "the decision is dated when AWS made it");
    let reasons = decision["reasons"].to_string();
    assert!(
        reasons.contains("Approved by AWS") && reasons.contains("Fits the programme."),
        "{reasons}"
    );
    assert!(!view["forecast"].is_null(), "the forecast stays beside the decision");
    let credits = &view["credits"];
    assert_eq!(credits["amount_usd"], 20_000, "{credits}");
    let first = &credits["tranches"][0];
    assert_eq!(first["status"], "released", "{credits}");
    let released: chrono::DateTime<chrono::Utc> = first["released_at"].as_str().unwrap().parse().unwrap();
    assert!(released >= aws_at, "{released} after {aws_at}");
    let starts: chrono::DateTime<chrono::Utc> = view["window"]["starts_at"].as_str().unwrap().parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> = first["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        (starts.date_naive(), due.date_naive()),
        (aws_at.date_naive(), aws_at.date_naive()),
        "the window and tranche 1 start on AWS's approval date: {}",
        view["window"]
    );
    assert_eq!(view["ace"]["benefit_application_status"], "APPROVED");
    let names = history(&app, &approved).await;
    for expected in [
        "ace_filed",
        "review_forecast",
        "ace_status_changed",
        "approved",
        "credits_applied",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }

    // Rejected, with AWS's comments as a reason.
    let rejected_benefit = benefit(&rejected).await;
    stand_in
        .review(&rejected_benefit, "REJECTED", None, Some("Not an emerging service."))
        .await;
    let view = app.wait_for_state(ACME, &rejected, "rejected").await;
    let reasons = view["decision"]["reasons"].to_string();
    assert!(reasons.contains("Not an emerging service."), "{reasons}");

    // The decisions were made once, however often the poller saw them.
    for id in [&approved, &rejected] {
        let names = history(&app, id).await;
        let decisions = names.iter().filter(|n| *n == "approved" || *n == "rejected").count();
        assert_eq!(decisions, 1, "{names:?}");
    }

    // The console shows the filing and the forecast beside AWS's decision.
    let console = ConsoleSession::sign_in(&app, ACME).await;
    let (status, html) = console.get(&format!("/console/applications/{approved}")).await;
    assert_eq!(status, 200, "{html}");
    for shown in [
        "AWS Partner Central",
        "Forecast (review simulation)",
        "Approved at $20K",
        "APPROVED",
        "Fits the programme.",
    ] {
        assert!(html.contains(shown), "{shown:?} on the page: {html}");
    }

    // The calibration: both decided, each forecast beside AWS's decision.
    let report = app.get(ACME, "/v1/reports/forecast").await;
    assert_eq!(report.status, 200, "{report:?}");
    let report = report.body;
    assert_eq!(
        (report["decided"].clone(), report["pending"].clone()),
        (json!(2), json!(0)),
        "{report}"
    );
    let compared = report["applications"].as_array().unwrap();
    let actual = |id: &str| compared.iter().find(|c| c["application_id"] == id).unwrap()["actual"].clone();
    assert_eq!(
        actual(&approved),
        json!({"decision": "approved", "tier_usd": 20000}),
        "{report}"
    );
    assert_eq!(actual(&rejected), json!({"decision": "rejected"}), "{report}");
    let matched = compared.iter().filter(|c| c["outcome_matched"] == true).count();
    assert_eq!(report["outcome_matched"], json!(matched), "{report}");
    assert_clean(&stand_in).await;
}

#[tokio::test]
async fn throttling_and_an_outage_slow_the_connector_and_lose_nothing_within_the_quotas() {
    let mut stand_in = AceStandIn::start().await;
    let app = TestApp::spawn_with_ace(&stand_in, ReviewMode::Simulated).await;
    stand_in.throttle(3.0).await;
    let ids = [
        app.submit(ACME, &example("bedrock-agents-support")).await,
        app.submit(ACME, &example("amazon-q-business-docs")).await,
    ];
    // Partner Central goes away for a while, then comes back with everything it had.
    tokio::time::sleep(Duration::from_secs(4)).await;
    stand_in.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stand_in.restart().await;
    for id in &ids {
        filed(&app, id).await;
    }
    let state = assert_clean(&stand_in).await;
    assert!(
        state["throttled"].as_u64().unwrap() > 0,
        "the connector was throttled: {state}"
    );
    assert_eq!(state["opportunities"].as_object().unwrap().len(), 2);
    let benefits = state["benefit_applications"].as_object().unwrap();
    assert_eq!(benefits.len(), 2);
    assert!(benefits.values().all(|b| b["Status"] == "IN_REVIEW"), "{benefits:?}");
}

#[tokio::test]
async fn a_recall_and_a_cancel_here_are_a_recall_and_a_cancel_in_partner_central() {
    let stand_in = AceStandIn::start().await;
    let app = TestApp::spawn_with_ace(&stand_in, ReviewMode::Simulated).await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    let view = filed(&app, &id).await;
    let benefit = view["ace"]["benefit_application_id"].as_str().unwrap().to_owned();
    async fn status(stand_in: &AceStandIn, benefit: &str) -> Value {
        stand_in.state().await["benefit_applications"][benefit]["Status"].clone()
    }

    let reply = command(
        &app,
        &format!("/v1/applications/{id}/recall"),
        &json!({"reason": "Budget changed."}),
    )
    .await;
    assert!(reply.status < 300, "{reply:?}");
    poll_async("recalled in Partner Central", || async {
        (status(&stand_in, &benefit).await == "PENDING_SUBMISSION").then_some(())
    })
    .await;
    let reply = command(
        &app,
        &format!("/v1/applications/{id}/cancel"),
        &json!({"reason": "Startup paused."}),
    )
    .await;
    assert!(reply.status < 300, "{reply:?}");
    poll_async("canceled in Partner Central", || async {
        (status(&stand_in, &benefit).await == "CANCELED").then_some(())
    })
    .await;
    assert_clean(&stand_in).await;
}

#[tokio::test]
async fn the_stand_in_answers_botocore_as_the_models_say() {
    // The stand-in's own check with botocore's clients (what the AWS CLI and boto3 send), so the
    // stand-in the SDK tests trust is itself held to the models.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("SANDPIPER_ACE_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join(".tools/venv/bin/python"));
    let output = tokio::process::Command::new(&python)
        .arg(root.join("scripts/ace-stand-in-selftest.py"))
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/install-deps", python.display()));
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
