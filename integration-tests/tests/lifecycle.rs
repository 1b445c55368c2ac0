//! The engagement after approval, end to end over real NATS (#4): credits and tranches, office
//! hours, consumption, the window's close, the team's decision, expiry; and a scheduler killed in
//! the middle of a clock advance.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::{ACME, ADMIN, TestApp, event_names, example};
use serde_json::{Value, json};

async fn spend(app: &TestApp, id: &str, date: &str, amount: i64) -> Value {
    let reply = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/consumption"),
            &json!({"date": date, "amount_usd": amount}),
        )
        .await;
    assert_eq!(reply.status, 201, "consumption: {reply:?}");
    reply.body
}

fn ceiling_budget() -> Value {
    json!([
        {"item": "Bedrock Agents invocations", "category": "emerging_service", "monthly_usd": 1800},
        {"item": "Claude Sonnet 4 for agent reasoning", "category": "model_inference", "monthly_usd": 800},
        {"item": "Lambda orchestration", "category": "supporting", "monthly_usd": 200},
        {"item": "OpenSearch Serverless", "category": "supporting", "monthly_usd": 300},
        {"item": "CloudWatch logging", "category": "supporting", "monthly_usd": 50}
    ])
}

#[tokio::test]
async fn the_worked_example_lives_six_months_and_closes() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await; // 2026-03-14: approved, credits applied (a Saturday)
    let active = app.view(ACME, &id).await;
    assert_eq!(active["state"], "active");
    assert_eq!(active["credits"]["amount_usd"], 20000);
    assert_eq!(
        active["credits"]["balance_usd"], 20000,
        "single tranche at credits-applied (TR2)"
    );
    assert_eq!(active["window"]["starts_at"], "2026-03-14T09:00:00Z");
    assert_eq!(active["window"]["ends_at"], "2026-05-13T09:00:00Z");
    assert_eq!(active["window"]["expires_at"], "2026-09-14T09:00:00Z");
    let sessions: Vec<(&str, &str)> = active["office_hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["starts_at"].as_str().unwrap()))
        .collect();
    // Day 3 is Tuesday 03-17; day 30 Monday 04-13; day 60 Wednesday 05-13.
    assert_eq!(
        sessions,
        [
            ("kickoff", "2026-03-17T16:00:00Z"),
            ("mid_window", "2026-04-13T16:00:00Z"),
            ("closing", "2026-05-13T16:00:00Z")
        ]
    );
    assert_eq!(
        active["office_hours"][0]["participants"][0],
        "Bedrock Agents product management"
    );

    let ics = app
        .send(
            app.http
                .get(app.url(&format!("/v1/applications/{id}/office-hours.ics")))
                .bearer_auth(ACME),
        )
        .await;
    assert!(ics.content_type.starts_with("text/calendar"));
    let text = ics.body.as_str().unwrap().to_owned();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 3);
    assert!(text.contains(&format!("UID:{id}-kickoff@sandpiper")), "{text}");
    assert!(text.contains("DTSTART:20260317T160000Z"), "{text}");

    let decided_early = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "graduate"}),
        )
        .await;
    assert_eq!(decided_early.status, 409, "G1: no decision before the window closes");

    app.advance_days(6).await; // 03-20
    spend(&app, &id, "2026-03-20", 3000).await;
    let fed = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/kickoff/feedback"),
            &json!({"note": "tool-calling pattern adopted"}),
        )
        .await;
    assert_eq!(fed.status, 201, "{fed:?}");
    app.advance_days(26).await; // 04-15, past the mid-window check-in
    let after = spend(&app, &id, "2026-04-15", 4000).await;
    assert_eq!(after["credits"]["balance_usd"], 13000);
    assert_eq!(after["credits"]["consumed_usd"], 7000);

    app.advance_days(28).await; // 05-13 09:00: the window closes
    let closed = app.view(ACME, &id).await;
    assert_eq!(closed["state"], "window_closed");
    app.advance_days(7).await; // 05-20: a reminder
    let graduated = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "graduate", "notes": "go to production"}),
        )
        .await;
    assert_eq!(graduated.status, 201, "{graduated:?}");
    assert_eq!(graduated.body["state"], "graduated");
    let linked = graduated.body["links"]["graduated_to"]
        .as_str()
        .expect("G2: a linked Bedrock POC draft")
        .to_owned();
    let poc = app.view(ACME, &linked).await;
    assert_eq!(poc["state"], "draft");
    assert_eq!(poc["programme"], "bedrock_poc");
    assert_eq!(
        poc["budget"][0]["monthly_usd"], 7800,
        "the production projection as budget"
    );
    assert_eq!(poc["links"]["originated_from"], id.as_str());

    spend(&app, &id, "2026-05-20", 1000).await; // the grace period (G4, TR5)
    app.advance_days(120).await; // past validity (09-14)
    let done = app.view(ACME, &id).await;
    assert_eq!(done["state"], "closed");
    assert_eq!(done["credits"]["expired_usd"], 12000);
    assert_eq!(done["credits"]["balance_usd"], 0);

    let history = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
    assert_eq!(
        event_names(&history.body),
        [
            "drafted",
            "submitted",
            "classified",
            "approved",
            "credits_applied",
            "tranche_released",
            "office_hours_scheduled",
            "office_hours_scheduled",
            "office_hours_scheduled",
            "consumption_recorded",
            "feedback_recorded",
            "consumption_recorded",
            "window_closed",
            "decision_reminder",
            "graduated",
            "consumption_recorded",
            "credits_expired",
        ]
    );
}

#[tokio::test]
async fn split_tranches_release_at_day_30_unless_a_blocking_concern_came_first() {
    let app = TestApp::simulated().await;
    let mut body = example("bedrock-agents-support");
    body["budget"] = ceiling_budget();
    let released = app.submit(ACME, &body).await;
    let withheld = app.submit(ACME, &body).await;
    app.advance_days(12).await; // 03-14: approved at $25K, split
    let split = app.view(ACME, &released).await;
    assert_eq!(split["credits"]["amount_usd"], 25000);
    assert_eq!(split["credits"]["split"], true);
    assert_eq!(split["credits"]["balance_usd"], 10000, "$10K now (TR3)");
    assert_eq!(split["credits"]["tranches"][1]["due_at"], "2026-04-13T09:00:00Z");

    app.advance_days(20).await; // 04-03, day 20
    spend(&app, &released, "2026-04-01", 6000).await;
    spend(&app, &withheld, "2026-04-01", 6000).await;
    let concern = app
        .post(
            ACME,
            &format!("/v1/applications/{withheld}/concerns"),
            &json!({"blocking": true, "note": "agent loops on tool errors"}),
        )
        .await;
    assert_eq!(concern.status, 201);
    app.advance_days(10).await; // 04-13, day 30

    let ok = app.view(ACME, &released).await;
    assert_eq!(ok["credits"]["tranches"][1]["status"], "released");
    assert_eq!(ok["credits"]["balance_usd"], 19000, "$15K more at day 30");
    let held = app.view(ACME, &withheld).await;
    assert_eq!(
        held["credits"]["tranches"][1]["status"], "withheld",
        "TR3: a blocking concern by day 30"
    );
    assert_eq!(held["credits"]["balance_usd"], 4000);
    let ad_hoc: Vec<&Value> = held["office_hours"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "ad_hoc")
        .collect();
    assert_eq!(ad_hoc.len(), 1, "OH3");
    assert_eq!(
        ad_hoc[0]["starts_at"], "2026-04-07T16:00:00Z",
        "two business days after Friday 04-03"
    );
}

#[tokio::test]
async fn no_consumption_is_clawed_back_at_window_close() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("amazon-q-business-docs")).await;
    app.advance_days(12).await; // approved, a 30-day window
    app.advance_days(15).await; // the mid-window check-in: nothing consumed → warning (TR8)
    let names = event_names(&app.get(ACME, &format!("/v1/applications/{id}/events")).await.body);
    assert!(names.contains(&"clawback_warning".to_owned()), "{names:?}");
    app.advance_days(15).await; // day 30: the window closes
    let clawed = app.view(ACME, &id).await;
    assert_eq!(clawed["state"], "clawed_back", "TR6");
    assert_eq!(clawed["credits"]["clawed_back_usd"], 20000);
    assert_eq!(clawed["credits"]["balance_usd"], 0);
    let late = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/consumption"),
            &json!({"date": "2026-04-13", "amount_usd": 100}),
        )
        .await;
    assert_eq!(late.status, 409);
}

#[tokio::test]
async fn retirement_forfeits_the_balance_and_the_position_counts_the_stack() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await;
    spend(&app, &id, "2026-03-14", 2500).await;
    app.advance_days(60).await;
    let retired = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "retire"}),
        )
        .await;
    assert_eq!(retired.status, 201, "{retired:?}");
    app.advance_days(1).await;
    let after = app.view(ACME, &id).await;
    assert_eq!(after["state"], "retired");
    assert_eq!(after["credits"]["forfeited_usd"], 17500, "G3");
    assert_eq!(
        app.post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "graduate"})
        )
        .await
        .status,
        409,
        "decided once"
    );

    let position = app.get(ACME, "/v1/accounts/111122223333/credit-position").await;
    assert_eq!(position.status, 200, "{position:?}");
    assert_eq!(
        position.body["total_usd"], 20000,
        "the stack's entries are pending; the sandbox's $20K counts"
    );
    assert_eq!(position.body["standard_stack_ceiling_usd"], 150000);
    assert_eq!(
        app.get(ACME, "/v1/accounts/999999999999/credit-position").await.status,
        404
    );
}

#[tokio::test]
async fn a_scheduler_killed_mid_advance_loses_no_timer_and_fires_none_twice() {
    let mut app = TestApp::simulated().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.submit(ACME, &example("bedrock-agents-support")).await);
    }
    app.advance_days(12).await;
    for id in &ids {
        spend(&app, id, "2026-03-14", 1000).await;
    }
    // Advance through the window while the scheduler is killed and restarted.
    let request = app
        .http
        .post(app.url("/v1/clock/advance"))
        .bearer_auth(ADMIN)
        .json(&json!({"days": 200}));
    let advancing = tokio::spawn(request.send());
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    app.stack.crash_service(ServiceName::Scheduler).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.stack.start_service(ServiceName::Scheduler).await.unwrap();
    let reply = advancing.await.unwrap().unwrap();
    assert_eq!(reply.status().as_u16(), 200, "{:?}", reply.text().await);

    for id in &ids {
        let v = app.view(ACME, id).await;
        assert_eq!(v["state"], "closed", "{id}");
        let stored = app.stream_events("acme", id).await;
        let count = |t: &str| stored.iter().filter(|(s, _, _)| s.ends_with(&format!(".{t}"))).count();
        assert_eq!(count("credits_applied"), 1);
        assert_eq!(count("window_closed"), 1);
        assert_eq!(count("credits_expired"), 1);
        assert!(count("decision_reminder") >= 1);
    }
}
