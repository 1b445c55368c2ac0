//! The engagement after approval, end to end over real NATS (#4): credits and tranches, office
//! hours, consumption, the window's close, the team's decision, expiry; and a scheduler killed in
//! the middle of a clock advance.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_integration_tests::{ACME, ADMIN, TestApp, event_names, example};
use serde_json::{Value, json};

/// The stored events of one type, oldest first.
fn of_type<'a>(stored: &'a [(String, Option<String>, Envelope)], t: &str) -> Vec<&'a Envelope> {
    stored
        .iter()
        .filter(|(s, _, _)| s.ends_with(&format!(".{t}")))
        .map(|(_, _, e)| e)
        .collect()
}

/// The .ics feed as text, after a strict RFC 5545 line check: CRLF line ends, lines folded at
/// 75 octets, BEGIN/END balanced, VERSION and PRODID on the calendar, one UID, DTSTAMP and DTSTART
/// per VEVENT. Returns the unfolded content lines.
async fn calendar(app: &TestApp, id: &str) -> Vec<String> {
    let ics = app.office_hours_ics(id).await;
    assert_eq!(ics.status, 200);
    assert!(ics.content_type.starts_with("text/calendar"), "{}", ics.content_type);
    let text = ics.body.as_str().unwrap().to_owned();
    assert!(text.ends_with("\r\n"), "the last line ends with CRLF");
    let raw: Vec<&str> = text.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    for line in &raw {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "a bare LF or CR: {line:?}"
        );
        assert!(line.len() <= 75, "a line longer than 75 octets: {line:?}");
    }
    // Unfold: a line starting with a space or tab continues the one before (RFC 5545 §3.1).
    let mut lines: Vec<String> = Vec::new();
    for line in raw {
        match line.strip_prefix(' ').or_else(|| line.strip_prefix('\t')) {
            Some(rest) => lines.last_mut().expect("a continuation after a line").push_str(rest),
            None => lines.push(line.to_owned()),
        }
    }
    let mut open: Vec<String> = Vec::new();
    let mut event: Vec<String> = Vec::new();
    for line in &lines {
        if let Some(what) = line.strip_prefix("BEGIN:") {
            open.push(what.to_owned());
            if what == "VEVENT" {
                event.clear();
            }
        } else if let Some(what) = line.strip_prefix("END:") {
            assert_eq!(open.pop().as_deref(), Some(what), "END without its BEGIN");
            if what == "VEVENT" {
                for property in ["UID", "DTSTAMP", "DTSTART"] {
                    let n = event
                        .iter()
                        .filter(|l| l.starts_with(&format!("{property}:")) || l.starts_with(&format!("{property};")))
                        .count();
                    assert_eq!(n, 1, "a VEVENT has one {property}: {event:?}");
                }
            }
        } else {
            event.push(line.clone());
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert!(lines.iter().any(|l| l == "VERSION:2.0"));
    assert!(lines.iter().any(|l| l.starts_with("PRODID:")));
    lines
}

/// The DESCRIPTION of the VEVENT with `uid`, unescaped (RFC 5545 §3.3.11).
fn description(lines: &[String], uid: &str) -> String {
    let start = lines
        .iter()
        .position(|l| l == &format!("UID:{uid}"))
        .unwrap_or_else(|| panic!("no VEVENT {uid}"));
    let end = start + lines[start..].iter().position(|l| l == "END:VEVENT").unwrap();
    let begin = lines[..start].iter().rposition(|l| l == "BEGIN:VEVENT").unwrap();
    lines[begin..end]
        .iter()
        .find_map(|l| l.strip_prefix("DESCRIPTION:"))
        .unwrap_or_default()
        .replace("\\n", "\n")
        .replace("\\N", "\n")
        .replace("\\,", ",")
        .replace("\\;", ";")
        .replace("\\\\", "\\")
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

    // OH4: a valid RFC 5545 feed, one VEVENT per session with a stable UID.
    let ics = calendar(&app, &id).await;
    assert_eq!(ics.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 3);
    for (session, start) in [
        ("kickoff", "20260317T160000Z"),
        ("mid_window", "20260413T160000Z"),
        ("closing", "20260513T160000Z"),
    ] {
        let uid = ics.iter().position(|l| *l == format!("UID:{id}-{session}@sandpiper"));
        assert!(uid.is_some(), "{session}: {ics:?}");
        assert!(ics.contains(&format!("DTSTART:{start}")), "{session}: {ics:?}");
    }

    let decided_early = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "graduate"}),
        )
        .await;
    assert_eq!(decided_early.status, 409, "G1: no decision before the window closes");

    app.advance_days(6).await; // 03-20
    app.spend(&id, "2026-03-20", 3000).await;
    let fed = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/kickoff/feedback"),
            &json!({"note": "tool-calling pattern adopted"}),
        )
        .await;
    assert_eq!(fed.status, 201, "{fed:?}");
    // OH6: the note is on the kickoff session, in the view and in the feed; not on the others.
    let noted = app.view(ACME, &id).await;
    assert_eq!(noted["office_hours"][0]["id"], "kickoff");
    assert_eq!(
        noted["office_hours"][0]["feedback"][0]["note"],
        "tool-calling pattern adopted"
    );
    assert_eq!(noted["office_hours"][1]["feedback"], json!([]));
    let ics = calendar(&app, &id).await;
    assert!(
        description(&ics, &format!("{id}-kickoff@sandpiper"))
            .contains("Feedback (2026-03-20): tool-calling pattern adopted"),
        "{ics:?}"
    );
    assert!(!description(&ics, &format!("{id}-mid_window@sandpiper")).contains("Feedback"));
    assert_eq!(
        ics.iter()
            .filter(|l| **l == format!("UID:{id}-kickoff@sandpiper"))
            .count(),
        1,
        "the UID is stable after feedback"
    );
    let unknown = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/nope/feedback"),
            &json!({"note": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 404, "OH6: no such session");
    app.advance_days(26).await; // 04-15, past the mid-window check-in
    let after = app.spend(&id, "2026-04-15", 4000).await;
    assert_eq!(after["credits"]["balance_usd"], 13000);
    assert_eq!(after["credits"]["consumed_usd"], 7000);

    app.advance_days(28).await; // 05-13 09:00: the window closes
    let closed = app.view(ACME, &id).await;
    assert_eq!(closed["state"], "window_closed");
    // OH6: the closing session's feedback is the summary owed to the service team.
    let summary = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/closing/feedback"),
            &json!({"note": "summary: three observability gaps"}),
        )
        .await;
    assert_eq!(summary.status, 201, "{summary:?}");
    assert_eq!(
        summary.body["office_hours"][2]["feedback"][0]["note"],
        "summary: three observability gaps"
    );
    let ics = calendar(&app, &id).await;
    assert!(
        description(&ics, &format!("{id}-closing@sandpiper")).contains("summary: three observability gaps"),
        "{ics:?}"
    );
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

    app.spend(&id, "2026-05-20", 1000).await; // the grace period (G4, TR5)
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
            "feedback_recorded",
            "decision_reminder",
            "graduated",
            "consumption_recorded",
            "credits_expired",
        ]
    );

    // K4, CONTRACT §3: every decision the scheduler published names the approval's catalog version.
    let stored = app.stream_events("acme", &id).await;
    let version = of_type(&stored, "approved")[0].data["catalog_version"].clone();
    assert!(version.as_str().is_some_and(|v| !v.is_empty()), "{version}");
    let decisions = stored
        .iter()
        .filter(|(_, _, e)| e.source == "/sandpiper/scheduler")
        .map(|(_, _, e)| e)
        .collect::<Vec<_>>();
    assert_eq!(
        decisions.len(),
        8,
        "credits, tranche, 3 sessions, closed, reminder, expired"
    );
    for event in decisions {
        assert_eq!(event.data["catalog_version"], version, "{}", event.event_type);
    }
    assert_eq!(
        of_type(&stored, "tranche_released")[0].data["rules"],
        json!(["TR2"]),
        "the single tranche"
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
    let stored = app.stream_events("acme", &released).await;
    assert_eq!(
        of_type(&stored, "tranche_released")[0].data["rules"],
        json!(["TR3"]),
        "tranche 1 of a split is TR3's"
    );

    app.advance_days(20).await; // 04-03, day 20
    app.spend(&released, "2026-04-01", 6000).await;
    app.spend(&withheld, "2026-04-01", 6000).await;
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

/// TR3 decides tranche 2 at day 30; OH1 moves only the mid-window *session* off a weekend.
#[tokio::test]
async fn a_weekend_mid_window_session_moves_but_the_tranche_check_stays_at_day_30() {
    let app = TestApp::simulated().await;
    let mut body = example("bedrock-agents-support");
    body["budget"] = ceiling_budget();
    app.advance_days(5).await; // Saturday 03-07
    let saturday = app.submit(ACME, &body).await; // approved Thursday 03-19; day 30 Saturday 04-18
    app.advance_days(1).await;
    let sunday = app.submit(ACME, &body).await; // approved Friday 03-20; day 30 Sunday 04-19
    app.advance_days(12).await;
    let sat = app.view(ACME, &saturday).await;
    assert_eq!(sat["credits"]["tranches"][1]["due_at"], "2026-04-18T09:00:00Z");
    assert_eq!(
        sat["office_hours"][1]["starts_at"], "2026-04-17T16:00:00Z",
        "OH1: Saturday → Friday"
    );
    let sun = app.view(ACME, &sunday).await;
    assert_eq!(sun["credits"]["tranches"][1]["due_at"], "2026-04-19T09:00:00Z");
    assert_eq!(
        sun["office_hours"][1]["starts_at"], "2026-04-20T16:00:00Z",
        "OH1: Sunday → Monday"
    );
    for id in [&saturday, &sunday] {
        app.spend(id, "2026-03-20", 6000).await;
    }

    // Friday 04-17 17:00: after the moved session, before day 30 → still counts (TR3).
    app.post(ADMIN, "/v1/clock/advance", &json!({"days": 28, "hours": 8}))
        .await;
    assert_eq!(app.get(ACME, "/v1/clock").await.body["now"], "2026-04-17T17:00:00Z");
    let concern = app
        .post(
            ACME,
            &format!("/v1/applications/{saturday}/concerns"),
            &json!({"blocking": true, "note": "tool errors loop"}),
        )
        .await;
    assert_eq!(concern.status, 201);
    app.post(ADMIN, "/v1/clock/advance", &json!({"days": 1, "hours": 17}))
        .await; // Sunday 04-19 10:00
    let held = app.view(ACME, &saturday).await;
    assert_eq!(
        held["credits"]["tranches"][1]["status"], "withheld",
        "recorded by day 30"
    );
    assert_eq!(held["credits"]["balance_usd"], 4000);
    // The Sunday one is decided at day 30, not at Monday's session.
    let released = app.view(ACME, &sunday).await;
    assert_eq!(released["credits"]["tranches"][1]["status"], "released");
    assert_eq!(
        released["credits"]["tranches"][1]["released_at"],
        "2026-04-19T09:00:00Z"
    );
    assert_eq!(released["credits"]["balance_usd"], 19000);
}

/// OH3: past the window no ad-hoc session fits; the partner learns where the concern goes.
#[tokio::test]
async fn a_blocking_concern_too_late_for_an_ad_hoc_session_is_taken_up_at_the_closing_session() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await;
    app.spend(&id, "2026-03-14", 5000).await;
    app.advance_days(59).await; // Tuesday 05-12; the window ends Wednesday 05-13 09:00
    let fed = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/office-hours/closing/feedback"),
            &json!({"note": "early closing note"}),
        )
        .await;
    assert_eq!(fed.status, 201);
    let concern = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/concerns"),
            &json!({"blocking": true, "note": "agent loops on tool errors"}),
        )
        .await;
    assert_eq!(concern.status, 201);
    let concern_id = concern.body["concerns"][0]["id"].as_str().unwrap().to_owned();
    // Two business days later is Thursday 05-14, past the window.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let restated = loop {
        let stored = app.stream_events("acme", &id).await;
        if let Some(e) = of_type(&stored, "office_hours_scheduled").get(3) {
            break (*e).clone();
        }
        assert!(std::time::Instant::now() < deadline, "no answer to the concern");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(restated.data["session"]["id"], "closing");
    assert_eq!(restated.data["session"]["starts_at"], "2026-05-13T16:00:00Z");
    assert_eq!(restated.data["rules"], json!(["OH3", "OH1"]));
    let reason = restated.data["reasons"][0].as_str().unwrap();
    assert!(
        reason.contains(&concern_id) && reason.contains("closing session on 2026-05-13"),
        "{reason}"
    );
    let view = app.view(ACME, &id).await;
    let kinds: Vec<&str> = view["office_hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["kickoff", "mid_window", "closing"], "no ad-hoc session");
    assert_eq!(
        view["office_hours"][2]["feedback"][0]["note"], "early closing note",
        "the restated session keeps its feedback"
    );
}

/// TR6 over a 60-day window: nothing consumed → the whole balance clawed back exactly at day 60.
#[tokio::test]
async fn no_consumption_in_a_60_day_window_is_clawed_back_at_day_60() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await; // 03-14 09:00: approved, $20,000
    app.post(ADMIN, "/v1/clock/advance", &json!({"days": 59, "hours": 23}))
        .await; // 05-13 08:00, an hour before day 60
    let before = app.view(ACME, &id).await;
    assert_eq!(before["state"], "active", "not before day 60");
    assert_eq!(before["credits"]["balance_usd"], 20000);
    app.post(ADMIN, "/v1/clock/advance", &json!({"hours": 1})).await; // 05-13 09:00
    let clawed = app.view(ACME, &id).await;
    assert_eq!(clawed["state"], "clawed_back", "TR6");
    assert_eq!(clawed["credits"]["clawed_back_usd"], 20000);
    assert_eq!(clawed["credits"]["balance_usd"], 0);
    let stored = app.stream_events("acme", &id).await;
    let clawback = of_type(&stored, "clawed_back");
    assert_eq!(clawback.len(), 1);
    assert_eq!(
        clawback[0].time.to_rfc3339(),
        "2026-05-13T09:00:00+00:00",
        "day 60 exactly"
    );
    assert_eq!(clawback[0].data["amount_usd"], 20000);
    assert!(of_type(&stored, "window_closed").is_empty(), "no grace period (TR6)");
}

/// OH5: a Bedrock POC engagement has no office hours.
#[tokio::test]
async fn a_bedrock_poc_gets_no_office_hours() {
    let app = TestApp::simulated().await;
    let mut body = example("bedrock-agents-support");
    body["budget"][1]["monthly_usd"] = 1500.into(); // inference-dominated: redirected to a POC (C2)
    let original = app.submit(ACME, &body).await;
    let redirected = app.wait_for_state(ACME, &original, "redirected").await;
    let poc = redirected["links"]["redirected_to"].as_str().unwrap().to_owned();
    app.advance_days(14).await; // P1: approved, credits applied
    let active = app.view(ACME, &poc).await;
    assert_eq!(active["state"], "active");
    assert_eq!(active["programme"], "bedrock_poc");
    assert_eq!(active["credits"]["amount_usd"], 25000);
    assert_eq!(active["office_hours"], json!([]), "OH5");
    app.advance_days(31).await; // past the mid-window
    let stored = app.stream_events("acme", &poc).await;
    assert!(of_type(&stored, "office_hours_scheduled").is_empty(), "OH5");
    let ics = calendar(&app, &poc).await;
    assert!(!ics.iter().any(|l| l == "BEGIN:VEVENT"), "{ics:?}");
}

/// G2 by family: q → Activate Portfolio (recorded in the stack, no draft); sagemaker, not matured
/// → a new, linked Innovation Sandbox draft.
#[tokio::test]
async fn graduation_follows_the_family() {
    let app = TestApp::simulated().await;
    let q = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let mut sm = example("amazon-q-business-docs");
    sm["service"] = "sagemaker-unified-studio".into();
    sm["workload"] = "ml-training-pipeline".into();
    sm["use_case"] = "Evaluation of SageMaker Unified Studio as the single workspace for our ML training and deployment pipeline across 40 engineers. Target metrics: training throughput within 10% of our current cluster, deployment latency under 5 minutes, and integration with our existing MLOps tooling.".into();
    sm["metrics"] = json!([
        "training throughput per GPU-hour",
        "deployment latency p50 and p95",
        "integration friction with existing MLOps tooling",
        "cost fit against the workload pattern"
    ]);
    sm["budget"][0] = json!({"item": "SageMaker Unified Studio compute and notebooks", "category": "emerging_service", "monthly_usd": 1400});
    let sagemaker = app.submit(ACME, &sm).await;
    app.advance_days(12).await;
    for id in [&q, &sagemaker] {
        assert_eq!(app.view(ACME, id).await["state"], "active", "{id}");
        app.spend(id, "2026-03-14", 2000).await;
    }
    app.advance_days(30).await; // 30-day windows closed
    let to_portfolio = app
        .post(
            ACME,
            &format!("/v1/applications/{q}/decision"),
            &json!({"decision": "graduate"}),
        )
        .await;
    assert_eq!(to_portfolio.status, 201, "{to_portfolio:?}");
    assert_eq!(to_portfolio.body["state"], "graduated");
    assert!(
        to_portfolio.body["links"]["graduated_to"].is_null(),
        "q: no linked draft"
    );
    let stored = app.stream_events("acme", &q).await;
    assert_eq!(of_type(&stored, "graduated")[0].data["target"], "activate_portfolio");
    let position = app.get(ACME, "/v1/accounts/444455556666/credit-position").await;
    assert!(
        position.body["parts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["programme"] == "activate_portfolio" && p["application_id"] == q.as_str()),
        "recorded in the stack: {position:?}"
    );

    let sandbox = app
        .post(
            ACME,
            &format!("/v1/applications/{sagemaker}/decision"),
            &json!({"decision": "graduate"}),
        )
        .await;
    assert_eq!(sandbox.status, 201, "{sandbox:?}");
    let linked = sandbox.body["links"]["graduated_to"]
        .as_str()
        .expect("sagemaker, not matured: a linked draft")
        .to_owned();
    let draft = app.view(ACME, &linked).await;
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["programme"], "innovation_sandbox");
    assert_eq!(draft["service"], "sagemaker-unified-studio");
    assert_eq!(draft["links"]["originated_from"], sagemaker.as_str());
}

/// CP1 and the seed's worked position: Activate Portfolio $80K + Build for Startups $25K + the
/// sandbox's $20K = $125K, then the follow-on Bedrock POC's $25K → about $150K.
#[tokio::test]
async fn the_credit_position_reproduces_the_seed_stack() {
    let app = TestApp::simulated().await;
    let mut body = example("bedrock-agents-support");
    body["stack"] = json!([
        {"programme": "activate_portfolio", "amount_usd": 80000, "status": "approved"},
        {"programme": "build_for_startups", "amount_usd": 25000, "workload": "soc2-architecture", "status": "approved"}
    ]);
    let id = app.submit(ACME, &body).await;
    app.advance_days(12).await;
    app.spend(&id, "2026-03-14", 5000).await;
    let position = app.get(ACME, "/v1/accounts/111122223333/credit-position").await;
    assert_eq!(position.status, 200, "{position:?}");
    assert_eq!(position.body["total_usd"], 125000, "the seed's initial stack");
    assert_eq!(position.body["standard_stack_ceiling_usd"], 150000);
    assert_eq!(position.body["typical_with_sandbox_usd"], json!([160000, 175000]));
    assert_eq!(position.body["rules"], json!(["CP1"]));
    let parts: Vec<(String, i64)> = position.body["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["programme"].as_str().unwrap().to_owned(),
                p["amount_usd"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("activate_portfolio".to_owned(), 80000),
            ("build_for_startups".to_owned(), 25000),
            ("innovation_sandbox".to_owned(), 20000)
        ]
    );

    app.advance_days(60).await; // 05-13: the window closed
    let graduated = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "graduate"}),
        )
        .await;
    assert_eq!(graduated.status, 201, "{graduated:?}");
    let poc = graduated.body["links"]["graduated_to"].as_str().unwrap().to_owned();
    let submitted = app.post_empty(ACME, &format!("/v1/applications/{poc}/submit")).await;
    assert_eq!(submitted.status, 202, "{submitted:?}");
    app.advance_days(14).await; // P1: the POC review
    let approved = app.view(ACME, &poc).await;
    assert_eq!(approved["decision"]["tier_usd"], 25000, "{approved}");
    let position = app.get(ACME, "/v1/accounts/111122223333/credit-position").await;
    assert_eq!(position.body["total_usd"], 150000, "the seed's ~$150K: {position:?}");
    let mut programmes: Vec<&str> = position.body["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["programme"].as_str().unwrap())
        .collect();
    programmes.sort_unstable(); // the parts' order is not part of the contract
    assert_eq!(
        programmes,
        [
            "activate_portfolio",
            "bedrock_poc",
            "build_for_startups",
            "innovation_sandbox"
        ]
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
    app.spend(&id, "2026-03-14", 2500).await;
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

/// The stream forgets message ids after 100 ms: a timer fired twice would be stored twice, not
/// hidden by de-duplication.
async fn shorten_the_duplicate_window(app: &TestApp) -> async_nats::jetstream::Context {
    let js = async_nats::jetstream::new(async_nats::connect(&app.nats_url).await.unwrap());
    let mut stream = js.get_stream(names::EVENTS_STREAM).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.duplicate_window = std::time::Duration::from_millis(100);
    js.update_stream(config).await.unwrap();
    js
}

/// Every event of a $1,000-consumed, never-decided 60-day engagement approved 03-14, exactly once:
/// the warning (under 25% of the $10,000 pro-rata, TR8), reminders 1 to 17 (weekly from 05-20
/// while before validity's end on 09-14, G1), and expiry (TR4).
async fn assert_each_event_once(app: &TestApp, id: &str) {
    let v = app.view(ACME, id).await;
    assert_eq!(v["state"], "closed", "{id}");
    let stored = app.stream_events("acme", id).await;
    let ids: std::collections::HashSet<_> = stored.iter().map(|(_, _, e)| e.id).collect();
    assert_eq!(ids.len(), stored.len(), "an event id stored twice");
    let expected = [
        ("drafted", 1),
        ("submitted", 1),
        ("classified", 1),
        ("approved", 1),
        ("credits_applied", 1),
        ("tranche_released", 1),
        ("office_hours_scheduled", 3),
        ("consumption_recorded", 1),
        ("clawback_warning", 1),
        ("window_closed", 1),
        ("decision_reminder", 17),
        ("credits_expired", 1),
    ];
    for (t, n) in expected {
        assert_eq!(of_type(&stored, t).len(), n, "{t} of {id}");
    }
    let total: usize = expected.iter().map(|(_, n)| n).sum();
    assert_eq!(stored.len(), total, "the application's message count");
    let numbers: Vec<u64> = of_type(&stored, "decision_reminder")
        .iter()
        .map(|e| e.data["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=17).collect::<Vec<u64>>());
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
        app.spend(id, "2026-03-14", 1000).await;
    }
    let js = shorten_the_duplicate_window(&app).await;
    let bucket = js.get_key_value(ServiceName::Scheduler.timers_bucket()).await.unwrap();
    // Advance through the window; kill the scheduler once the first timers have fired.
    let request = app
        .http
        .post(app.url("/v1/clock/advance"))
        .bearer_auth(ADMIN)
        .json(&json!({"days": 200}));
    let advancing = tokio::spawn(request.send());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let stored = app.stream_events("acme", &ids[0]).await;
        if !of_type(&stored, "clawback_warning").is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the advance never reached the mid-window"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    app.stack.crash_service(ServiceName::Scheduler).await;
    let mut pending = Vec::new();
    let mut keys = bucket.keys().await.unwrap();
    while let Some(key) = futures::StreamExt::next(&mut keys).await {
        pending.push(key.unwrap());
    }
    assert!(
        ids.iter().all(|id| pending.contains(&format!("expire.{id}"))),
        "killed with timers pending: {pending:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.stack.start_service(ServiceName::Scheduler).await.unwrap();
    let reply = advancing.await.unwrap().unwrap();
    assert_eq!(reply.status().as_u16(), 200, "{:?}", reply.text().await);
    for id in &ids {
        assert_each_event_once(&app, id).await;
    }
}

#[tokio::test]
async fn a_nats_restart_with_timers_pending_loses_none_and_fires_none_twice() {
    let mut app = TestApp::simulated().await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(app.submit(ACME, &example("bedrock-agents-support")).await);
    }
    app.advance_days(12).await;
    for id in &ids {
        app.spend(id, "2026-03-14", 1000).await;
    }
    app.advance_days(45).await; // 04-28: the mid-window fired, close and expiry pending
    let js = async_nats::jetstream::new(async_nats::connect(&app.nats_url).await.unwrap());
    let bucket = js.get_key_value(ServiceName::Scheduler.timers_bucket()).await.unwrap();
    for id in &ids {
        assert!(bucket.get(format!("close.{id}")).await.unwrap().is_some(), "pending");
    }
    drop(bucket);
    drop(js);
    app.restart_nats().await;
    app.stack.wait_ready(std::time::Duration::from_secs(30)).await.unwrap();
    shorten_the_duplicate_window(&app).await;
    app.advance_days(150).await;
    for id in &ids {
        assert_each_event_once(&app, id).await;
    }
}

/// #13 item 1: a scheduler that died after storing `window_closed` but before setting the first
/// decision reminder left the application waiting forever (the refired window-close timer acted
/// only while the view was `active`; 18 and 24 of 200 in a probe). Reproduced: with the scheduler
/// down and its window-close timer pending, the `window_closed` of that interrupted run is stored
/// on the stream (and, as the run died before writing its record back, not in the read model);
/// the scheduler comes back, the timer fires, its guarded publish meets the stored close, the
/// record catches up to `window_closed`, and it must finish what the run began: reminder 1 a week
/// later (G1), `window_closed` stored once.
#[tokio::test]
async fn a_window_close_interrupted_after_storing_window_closed_still_sets_the_reminders() {
    use sandpiper_contracts::events::WindowClosed;
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_contracts::rule::RuleId;
    use sandpiper_runtime::clock::Clock;
    use sandpiper_runtime::config::ClockMode;
    use sandpiper_runtime::publish::{Outgoing, Publisher};

    let mut app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await;
    app.spend(&id, "2026-03-14", 1000).await;
    // 03-14 + 60 days: the window closes 05-13; advance to the day before.
    app.advance_days(59).await;
    let view = app.view(ACME, &id).await;
    assert_eq!(view["state"], "active", "{view}");
    let ends_at: chrono::DateTime<chrono::Utc> = view["window"]["ends_at"].as_str().unwrap().parse().unwrap();
    let grace_ends_at = view["window"]["grace_ends_at"].as_str().unwrap().parse().unwrap();

    app.stack.crash_service(ServiceName::Scheduler).await;
    let bus = app.bus(ServiceName::Scheduler).await;
    let publisher = Publisher::new(
        bus.jetstream.clone(),
        ServiceName::Scheduler,
        Clock::open(&bus, ClockMode::Wall).await.unwrap(),
    );
    let application = ApplicationId::parse(&id).unwrap();
    publisher
        .publish(Outgoing {
            id: EventId::generate(),
            partner: &PartnerId::parse("acme").unwrap(),
            application,
            payload: &WindowClosed {
                balance_usd: view["credits"]["balance_usd"].as_i64().unwrap(),
                grace_ends_at,
                rules: vec![RuleId::G1, RuleId::TR5],
                reasons: vec!["the window closed (the interrupted run)".into()],
                catalog_version: "2026.1".into(),
            },
            expected_version: None,
            time: Some(ends_at),
        })
        .await
        .unwrap();

    app.stack.start_service(ServiceName::Scheduler).await.unwrap();
    app.advance_days(1).await; // 05-13: the window-close timer fires on a window_closed view
    app.advance_days(7).await; // 05-20: reminder 1 is due
    let stored = app.stream_events("acme", &id).await;
    assert_eq!(of_type(&stored, "window_closed").len(), 1, "not closed twice");
    let reminders: Vec<u64> = of_type(&stored, "decision_reminder")
        .iter()
        .map(|e| e.data["number"].as_u64().unwrap())
        .collect();
    assert_eq!(reminders, [1], "the first reminder is sent a week after the close");
    app.advance_days(7).await;
    let stored = app.stream_events("acme", &id).await;
    assert_eq!(of_type(&stored, "decision_reminder").len(), 2, "and they go on weekly");
    assert_eq!(app.view(ACME, &id).await["state"], "window_closed");
}
