//! The engagement's partner-facing records after the window, end to end over real NATS (#4):
//! the credit position with its parts (CP1), a graduation that can be retried (G2), feedback owed
//! after the engagement ended (OH6, G3), and the calendar's revisions (OH4).

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_integration_tests::{ACME, TestApp, example};
use serde_json::{Value, json};

async fn decide(app: &TestApp, id: &str, decision: &str) -> sandpiper_integration_tests::Reply {
    app.post(
        ACME,
        &format!("/v1/applications/{id}/decision"),
        &json!({ "decision": decision }),
    )
    .await
}

async fn position(app: &TestApp) -> sandpiper_integration_tests::Reply {
    app.get(ACME, "/v1/accounts/444455556666/credit-position").await
}

async fn ics(app: &TestApp, id: &str) -> String {
    let reply = app.office_hours_ics(id).await;
    // Unfolded (RFC 5545 §3.1), to read whole properties.
    reply.body.as_str().unwrap().replace("\r\n ", "")
}

fn parts(position: &Value) -> Vec<(String, i64)> {
    position["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["programme"].as_str().unwrap().to_owned(),
                p["amount_usd"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_clawed_back_engagement_stays_out_of_the_position_after_it_closes() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("amazon-q-business-docs")).await;
    app.advance_days(12 + 30).await; // approved at $20K; nothing consumed by window close
    assert_eq!(app.view(ACME, &id).await["state"], "clawed_back", "TR6");
    assert_eq!(position(&app).await.body["total_usd"], 0);

    // Feedback on the closing session is still owed after the clawback (OH6, G3).
    let feedback = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/closing/feedback"),
            &json!({"note": "Connector sync was the blocker; summary sent to the Q Business team."}),
        )
        .await;
    assert_eq!(feedback.status, 201, "{feedback:?}");

    app.advance_days(190).await; // validity ends: credits_expired, closed
    assert_eq!(app.view(ACME, &id).await["state"], "closed");
    let after = position(&app).await;
    assert_eq!(
        after.body["total_usd"], 0,
        "the clawed-back $20K does not come back: {after:?}"
    );
    assert_eq!(parts(&after.body), Vec::<(String, i64)>::new());
}

#[tokio::test]
async fn a_q_graduation_is_recorded_in_the_stack_and_declared_entries_count_once() {
    let app = TestApp::simulated().await;
    let mut body = example("amazon-q-business-docs");
    body["stack"] = json!([
        {"programme": "activate_portfolio", "amount_usd": 80000, "status": "approved"},
        {"programme": "build_for_startups", "amount_usd": 25000, "workload": "soc2-buildout", "status": "approved"},
        {"programme": "build_for_startups", "amount_usd": 25000, "workload": "data-platform", "status": "approved"}
    ]);
    let id = app.submit(ACME, &body).await;
    // A second application of the same startup declares one of the same entries.
    let mut second = example("amazon-q-business-docs");
    second["stack"] = json!([{"programme": "activate_portfolio", "amount_usd": 80000, "status": "approved"}]);
    app.create(ACME, &second).await;

    app.advance_days(12).await;
    app.spend(&id, "2026-03-14", 400).await;
    app.advance_days(30).await; // window closed with consumption
    let graduated = decide(&app, &id, "graduate").await;
    assert_eq!(graduated.status, 201, "{graduated:?}");
    assert_eq!(
        graduated.body["team_decision"]["target"], "activate_portfolio",
        "G2: q family"
    );

    let position = app.get(ACME, "/v1/accounts/444455556666/credit-position").await;
    let mut got = parts(&position.body);
    got.sort();
    assert_eq!(
        got,
        [
            ("activate_portfolio".to_owned(), 0),
            ("activate_portfolio".to_owned(), 80000),
            ("build_for_startups".to_owned(), 25000),
            ("build_for_startups".to_owned(), 25000),
            ("innovation_sandbox".to_owned(), 20000),
        ],
        "{position:?}"
    );
    assert_eq!(position.body["total_usd"], 150000);
    let graduation = position.body["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["amount_usd"] == 0)
        .unwrap();
    assert!(graduation["source"].as_str().unwrap().contains("G2"), "{graduation}");
}

#[tokio::test]
async fn a_bedrock_graduation_opens_one_linked_draft_under_an_id_a_retry_finds_again() {
    use sandpiper_contracts::ids::ApplicationId;
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await;
    app.spend(&id, "2026-03-14", 3000).await;
    app.advance_days(60).await; // window closed
    let graduated = decide(&app, &id, "graduate").await;
    assert_eq!(graduated.status, 201, "{graduated:?}");
    // Derived from the application, not random: a graduation retried after a conflict (another
    // event landed between its read and its write) drafts the very same application again,
    // which the stream refuses as a second first event, instead of a second draft.
    let expected = ApplicationId::derived(&ApplicationId::parse(&id).unwrap().as_cause(), "graduation.linked");
    assert_eq!(
        graduated.body["links"]["graduated_to"],
        expected.to_string(),
        "{graduated:?}"
    );
    let list = app.get(ACME, "/v1/applications?state=draft&limit=200").await;
    let drafts: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["programme"] == "bedrock_poc")
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(drafts, [expected.to_string()], "one linked bedrock_poc draft (G2)");
    let linked = app.view(ACME, &expected.to_string()).await;
    assert_eq!(linked["evaluation_window_days"], 60, "P1");
    assert_eq!(linked["links"]["originated_from"], id);
    assert_eq!(decide(&app, &id, "graduate").await.status, 409, "decided once (G1)");
}

#[tokio::test]
async fn the_calendar_says_when_a_session_was_revised() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await; // credits applied 2026-03-14T09:00Z: sessions scheduled
    let before = ics(&app, &id).await;
    let kickoff = |text: &str| {
        text.split("BEGIN:VEVENT")
            .find(|e| e.contains("-kickoff@sandpiper"))
            .unwrap()
            .to_owned()
    };
    assert!(kickoff(&before).contains("DTSTAMP:20260314T090000Z"), "{before}");
    assert!(kickoff(&before).contains("SEQUENCE:0"), "{before}");

    app.advance_days(4).await; // 2026-03-18, after the kickoff
    let note = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/kickoff/feedback"),
            &json!({"note": "Tool-calling pattern suggested by the service team."}),
        )
        .await;
    assert_eq!(note.status, 201, "{note:?}");
    let after = ics(&app, &id).await;
    assert!(kickoff(&after).contains("DTSTAMP:20260318T090000Z"), "{after}");
    assert!(kickoff(&after).contains("SEQUENCE:1"), "{after}");
    assert!(kickoff(&after).contains("Tool-calling pattern"), "{after}");
}
