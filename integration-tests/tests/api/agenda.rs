//! The agenda and the calendar feeds (#15 items 1 and 2), end to end on a simulated clock: what a
//! portfolio owes in the middle of a window (exact dates and kinds, what each checkpoint will
//! decide), and feeds fetched with no `Authorization` header and read by a real RFC 5545 parser
//! (Python's `icalendar`, pinned by `scripts/install-deps`, run through `scripts/parse-ics.py`),
//! as an ad-hoc session, a withheld tranche and a retirement change them; revoked, rotated and
//! other partners' feeds answer 404.
//!
//! Without `.tools/venv` (or `SANDPIPER_ICS_PYTHON`) holding the pinned icalendar these tests
//! fail, never skip.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, TestApp, example};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The icalendar version `scripts/install-deps` pins.
fn pinned_icalendar() -> String {
    let script = std::fs::read_to_string(repo_root().join("scripts/install-deps")).unwrap();
    script
        .lines()
        .find_map(|line| line.strip_prefix("ICALENDAR_VERSION="))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("scripts/install-deps pins ICALENDAR_VERSION")
}

/// The Python with the pinned icalendar; panics, saying what to do, when there is none.
fn parser_python() -> PathBuf {
    let python = std::env::var_os("SANDPIPER_ICS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/venv/bin/python"));
    let pinned = pinned_icalendar();
    let fix = format!(
        "run scripts/install-deps (it installs icalendar=={pinned} into .tools/venv), or set SANDPIPER_ICS_PYTHON to a Python that has it"
    );
    let probe = Command::new(&python)
        .args(["-c", "import icalendar; print(icalendar.__version__)"])
        .output()
        .unwrap_or_else(|e| panic!("the calendar tests need {}: {e}; {fix}", python.display()));
    assert!(
        probe.status.success(),
        "{} cannot import icalendar ({}); {fix}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
    assert_eq!(version, pinned, "{} has icalendar {version}; {fix}", python.display());
    python
}

/// The feed at `url`, fetched as a calendar app does (no Authorization header), checked to be
/// CRLF-terminated and folded at 75 octets, then parsed by icalendar: its VEVENTs by UID.
async fn subscribe(app: &TestApp, url: &str) -> Vec<Value> {
    let reply = app.send(app.http.get(url)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.content_type.starts_with("text/calendar"),
        "{}",
        reply.content_type
    );
    let text = reply.body.as_str().unwrap().to_owned();
    for line in text.strip_suffix("\r\n").unwrap().split("\r\n") {
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "a bare line break: {line:?}"
        );
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let output = Command::new(parser_python())
        .arg(repo_root().join("scripts/parse-ics.py"))
        .arg(file.path())
        .output()
        .expect("the parser runs");
    assert!(
        output.status.success(),
        "icalendar refused the feed: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
    parsed["events"].as_array().unwrap().clone()
}

fn event<'a>(events: &'a [Value], uid: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["uid"] == uid)
        .unwrap_or_else(|| panic!("no VEVENT {uid} in {events:#?}"))
}

/// A budget of $3,150 a month (lifecycle's ceiling budget): the worked example then splits (TR3)
/// when approved at $25K.
fn split_body() -> Value {
    let mut body = example("bedrock-agents-support");
    body["budget"] = json!([
        {"item": "Bedrock Agents invocations", "category": "emerging_service", "monthly_usd": 1800},
        {"item": "Claude Sonnet 4 for agent reasoning", "category": "model_inference", "monthly_usd": 800},
        {"item": "Lambda orchestration", "category": "supporting", "monthly_usd": 200},
        {"item": "OpenSearch Serverless", "category": "supporting", "monthly_usd": 300},
        {"item": "CloudWatch logging", "category": "supporting", "monthly_usd": 50},
    ]);
    body
}

fn summary(items: &Value) -> Vec<(String, String, String)> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["at"].as_str().unwrap().to_owned(),
                i["kind"].as_str().unwrap().to_owned(),
                i["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_agenda_of_a_portfolio_in_the_middle_of_a_window() {
    let app = TestApp::simulated().await;
    let agents = app.submit(ACME, &example("bedrock-agents-support")).await;
    let q = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let other = app.submit(GLOBEX, &example("bedrock-agents-support")).await;
    app.advance_days(12).await; // 03-14T09:00: credits applied to all three
    app.advance_days(10).await; // 03-24T09:00
    app.spend(&agents, "2026-03-20", 3_000).await;

    // Default range: now (03-24T09:00) to now + 28 days (04-21T09:00).
    let page = app.get(ACME, "/v1/agenda").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body["from"], "2026-03-24T09:00:00Z");
    assert_eq!(page.body["to"], "2026-04-21T09:00:00Z");
    let items = &page.body["items"];
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["application_id"] != other.as_str()),
        "another partner's application is not on ACME's agenda"
    );
    let of = |id: &str| -> Vec<(String, String, String)> {
        let only: Vec<Value> = items
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["application_id"] == id)
            .cloned()
            .collect();
        summary(&Value::Array(only))
    };
    let row = |at: &str, kind: &str, id: &str| (at.to_owned(), kind.to_owned(), id.to_owned());
    // The 60-day sandbox: day 30 is 04-13, a Monday; the window closes on 05-13 (out of range).
    assert_eq!(
        of(&agents),
        [
            row("2026-04-13T09:00:00Z", "mid_window", "due.mid_window"),
            row("2026-04-13T16:00:00Z", "office_hours", "mid_window"),
        ]
    );
    // The 30-day one: day 15 is Sunday 03-29, its session moves to Monday 03-30 (OH1); the window
    // closes on 04-13 with nothing consumed so far, so the $20K would be clawed back (TR6); the
    // closing session that day, and its feedback after it (OH6).
    assert_eq!(
        of(&q),
        [
            row("2026-03-29T09:00:00Z", "mid_window", "due.mid_window"),
            row("2026-03-30T16:00:00Z", "office_hours", "mid_window"),
            row("2026-04-13T09:00:00Z", "window_close", "due.window_close"),
            row("2026-04-13T16:00:00Z", "office_hours", "closing"),
            row("2026-04-13T17:00:00Z", "feedback_owed", "due.feedback"),
        ]
    );
    let item = |app_id: &str, id: &str| -> Value {
        items
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["application_id"] == app_id && i["id"] == id)
            .unwrap()
            .clone()
    };
    let close = item(&q, "due.window_close");
    assert_eq!(close["rules"], json!(["TR6"]));
    assert_eq!(close["amount_usd"], 20_000);
    assert_eq!(close["decides"][0]["event"], "clawed_back");
    assert_eq!(close["startup_name"], "Platform Guild");
    let warned = item(&q, "due.mid_window");
    assert_eq!(
        warned["decides"][0]["event"], "clawback_warning",
        "nothing consumed (TR8)"
    );
    assert_eq!(
        item(&agents, "due.mid_window")["decides"],
        json!([]),
        "$3K consumed: on track"
    );
    assert_eq!(item(&agents, "mid_window")["rules"], json!(["OH1"]));

    // Filters, paging and the refusals, each naming its parameter.
    let only = app.get(ACME, "/v1/agenda?kind=window_close,feedback_owed").await;
    assert_eq!(summary(&only.body["items"]).len(), 2);
    let first = app.get(ACME, "/v1/agenda?limit=2").await;
    assert_eq!(summary(&first.body["items"]).len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app.get(ACME, &format!("/v1/agenda?limit=200&cursor={cursor}")).await;
    let mut paged = summary(&first.body["items"]);
    paged.extend(summary(&rest.body["items"]));
    assert_eq!(paged, summary(items), "two pages are the whole agenda");
    assert!(rest.body["next_cursor"].is_null());
    for (query, field) in [
        ("kind=office_hours,party", "kind"),
        ("from=2026-03-24T09:00:00Z&to=2027-03-26T09:00:00Z", "to"),
        ("to=2026-03-01T00:00:00Z", "to"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let reply = app.get(ACME, &format!("/v1/agenda?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {reply:?}");
        assert!(reply.content_type.starts_with("application/problem+json"));
        assert_eq!(reply.body["errors"][0]["field"], field, "{query}: {reply:?}");
    }
    // An admin sees one partner's agenda with partner_id.
    let globex = app.get(ADMIN, "/v1/agenda?partner_id=globex").await;
    assert!(
        globex.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["application_id"] == other.as_str())
    );
}

#[tokio::test]
async fn a_subscribed_feed_follows_an_ad_hoc_session_a_withheld_tranche_and_a_retirement() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &split_body()).await;
    app.advance_days(12).await; // 03-14: approved at $25K, split (TR3)
    assert_eq!(app.view(ACME, &id).await["credits"]["split"], true);

    let created = app.post(ACME, "/v1/calendar-feeds", &json!({"scope": "partner"})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let url = created.body["url"].as_str().unwrap().to_owned();
    let token = created.body["token"].as_str().unwrap();
    assert!(url.ends_with(&format!("/{token}.ics")), "{url}");
    assert!(url.starts_with("http://127.0.0.1:"), "the request's Host: {url}");
    assert_eq!(
        created.body["webcal_url"].as_str().unwrap(),
        url.replacen("http://", "webcal://", 1)
    );
    let listed = app.get(ACME, "/v1/calendar-feeds").await;
    assert_eq!(listed.body[0]["id"], created.body["id"]);
    assert!(listed.body[0].get("token").is_none(), "the token is shown once");

    let before = subscribe(&app, &url).await;
    let uid = |what: &str| format!("{id}-{what}@sandpiper");
    let kickoff = event(&before, &uid("kickoff"));
    assert_eq!(
        (&kickoff["dtstart"], &kickoff["dtend"], &kickoff["all_day"]),
        (
            &json!("2026-03-17T16:00:00+00:00"),
            &json!("2026-03-17T17:00:00+00:00"),
            &json!(false)
        ),
        "a session is a timed event"
    );
    assert_eq!(kickoff["status"], "CONFIRMED");
    let mid = event(&before, &uid("due.mid_window"));
    assert_eq!(
        (&mid["dtstart"], &mid["dtend"], &mid["all_day"], &mid["sequence"]),
        (&json!("2026-04-13"), &json!("2026-04-14"), &json!(true), &json!(0)),
        "a deadline is an all-day event"
    );
    assert!(
        mid["summary"]
            .as_str()
            .unwrap()
            .contains("tranche 2 ($15,000) released"),
        "{mid}"
    );
    assert_eq!(mid["dtstamp"], "2026-03-14T09:00:00+00:00");
    assert!(before.iter().all(|e| e["uid"] != uid("ad-hoc-1")));

    // A blocking concern on 03-24 (Tuesday): an ad-hoc session two business days later (OH3),
    // and tranche 2 withheld at day 30 (TR3): the deadline's SEQUENCE goes up.
    app.advance_days(10).await;
    let concern = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/concerns"),
            &json!({"blocking": true, "note": "Throttled at 5 TPS; the \"agent\" loops, retries; backs off\\nthen fails"}),
        )
        .await;
    assert_eq!(concern.status, 201, "{concern:?}");
    // The scheduler schedules the ad-hoc session as it reads the concern.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let after = loop {
        let events = subscribe(&app, &url).await;
        if events.iter().any(|e| e["uid"] == uid("ad-hoc-1")) {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "no ad-hoc session: {events:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let ad_hoc = event(&after, &uid("ad-hoc-1"));
    assert_eq!(ad_hoc["dtstart"], "2026-03-26T16:00:00+00:00");
    assert_eq!(ad_hoc["sequence"], 0);
    let mid = event(&after, &uid("due.mid_window"));
    assert_eq!(mid["sequence"], 1, "{mid}");
    assert_eq!(mid["dtstamp"], "2026-03-24T09:00:00+00:00");
    assert_eq!(mid["last_modified"], "2026-03-24T09:00:00+00:00");
    assert!(
        mid["summary"]
            .as_str()
            .unwrap()
            .contains("tranche 2 ($15,000) withheld"),
        "{mid}"
    );
    assert!(
        mid["description"]
            .as_str()
            .unwrap()
            .contains("Throttled at 5 TPS; the \"agent\" loops, retries")
    );
    assert_eq!(event(&after, &uid("kickoff"))["sequence"], 0, "unchanged");

    // Consumption, then the window closes on 05-13 at 09:00; retired at once, the closing session
    // at 16:00 no longer happens: it stays in the feed, CANCELLED, for calendars to remove.
    app.spend(&id, "2026-03-24", 4_000).await;
    app.advance_days(50).await;
    assert_eq!(app.view(ACME, &id).await["state"], "window_closed");
    let retired = app
        .post(
            ACME,
            &format!("/v1/applications/{id}/decision"),
            &json!({"decision": "retire"}),
        )
        .await;
    assert_eq!(retired.status, 201, "{retired:?}");
    let closed = subscribe(&app, &url).await;
    let closing = event(&closed, &uid("closing"));
    assert_eq!(closing["status"], "CANCELLED", "{closing}");
    assert!(closing["sequence"].as_i64().unwrap() >= 1);
    assert_eq!(closing["dtstamp"], "2026-05-13T09:00:00+00:00");
    assert_eq!(event(&closed, &uid("mid_window"))["status"], "CONFIRMED", "it happened");
    let feedback = event(&closed, &uid("due.feedback"));
    assert!(
        feedback["summary"]
            .as_str()
            .unwrap()
            .contains("feedback summary is owed")
    );

    // The application's own feed agrees (same UIDs), and so does the office-hours calendar.
    let one = app
        .post(
            ACME,
            "/v1/calendar-feeds",
            &json!({"scope": "application", "application_id": id}),
        )
        .await;
    assert_eq!(one.status, 201, "{one:?}");
    let single = subscribe(&app, one.body["url"].as_str().unwrap()).await;
    assert_eq!(event(&single, &uid("closing"))["status"], "CANCELLED");
    let ics = app.office_hours_ics(&id).await;
    let text = ics.body.as_str().unwrap().replace("\r\n ", "");
    assert!(text.contains(&format!("UID:{}", uid("closing"))), "{text}");
    assert!(text.contains("STATUS:CANCELLED"), "{text}");
}

#[tokio::test]
async fn revoked_rotated_and_other_partners_feeds_answer_404() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await;
    let created = app
        .post(
            ACME,
            "/v1/calendar-feeds",
            &json!({"scope": "application", "application_id": id}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let feed_id = created.body["id"].as_str().unwrap().to_owned();
    let old = created.body["url"].as_str().unwrap().to_owned();
    // Nothing consumed yet: the close would claw back, leaving no grace and nothing to expire.
    assert_eq!(
        subscribe(&app, &old).await.len(),
        3 + 3,
        "3 sessions; mid-window, close, feedback"
    );

    // Another partner can neither open a feed on ACME's application nor see, rotate or revoke
    // ACME's feed.
    let foreign = app
        .post(
            GLOBEX,
            "/v1/calendar-feeds",
            &json!({"scope": "application", "application_id": id}),
        )
        .await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    assert_eq!(app.get(GLOBEX, "/v1/calendar-feeds").await.body, json!([]));
    let revoke = |token: &'static str| {
        app.send(
            app.http
                .delete(app.url(&format!("/v1/calendar-feeds/{feed_id}")))
                .bearer_auth(token),
        )
    };
    assert_eq!(revoke(GLOBEX).await.status, 404);
    let rotate = format!("/v1/calendar-feeds/{feed_id}/rotate");
    assert_eq!(app.post_empty(GLOBEX, &rotate).await.status, 404);

    // Rotation: the new token works, the old one answers 404 (problem+json).
    let rotated = app.post_empty(ACME, &rotate).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let new = rotated.body["url"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let gone = app.send(app.http.get(&old)).await;
    assert_eq!(gone.status, 404, "{gone:?}");
    assert!(gone.content_type.starts_with("application/problem+json"));
    assert_eq!(subscribe(&app, &new).await.len(), 6);
    for bad in [
        new.replace(".ics", ""),
        new.replace(&feed_id, "cal_00000000000000000000"),
        format!("{}x.ics", new.trim_end_matches(".ics")),
    ] {
        assert_eq!(app.send(app.http.get(&bad)).await.status, 404, "{bad}");
    }

    // Revocation: the feed is gone for good.
    assert_eq!(revoke(ACME).await.status, 204);
    assert_eq!(app.send(app.http.get(&new)).await.status, 404);
    assert_eq!(app.get(ACME, "/v1/calendar-feeds").await.body, json!([]));
    assert_eq!(revoke(ACME).await.status, 404);
}
