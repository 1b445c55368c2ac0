//! The Slack app (#15): `/sandpiper` sent as Slack sends it (form-encoded, signed with the app's
//! signing secret) to the real notifier over a real stack, and the admin's workspace mapping.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_integration_tests::receiver::Receiver;
use sandpiper_integration_tests::slack::{sections, signed};
use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, Reply, SLACK_SIGNING_SECRET, TestApp, example};
use serde_json::json;

/// Posts a slash command as Slack does, signed at `timestamp` with `secret`.
async fn slash(app: &TestApp, form: &[(&str, &str)], secret: &str, timestamp: i64, retry: Option<&str>) -> Reply {
    signed(app, "/slack/commands", form, secret, timestamp, retry).await
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn command<'a>(team: &'a str, channel: &'a str, text: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", "deprecated-verification-token"),
        ("team_id", team),
        ("team_domain", "acme-corp"),
        ("channel_id", channel),
        ("user_id", "U2CERLKJA"),
        ("user_name", "roadrunner"),
        ("command", "/sandpiper"),
        ("text", text),
        ("response_url", "https://hooks.slack.com/commands/T1/1/x"),
        (
            "trigger_id",
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        ),
    ]
}

fn text_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body["response_type"], "ephemeral",
        "only the asker sees it: {reply:?}"
    );
    sections(&reply.body)
}

#[tokio::test]
async fn the_slash_command_answers_a_mapped_workspace_with_its_partners_applications_only() {
    let app = TestApp::simulated().await;
    let mut body = example("bedrock-agents-support");
    body["startup"]["name"] = json!("Helpdesk <Autopilot> & Co");
    let id = app.submit(ACME, &body).await;
    let other = app.submit(GLOBEX, &example("amazon-q-business-docs")).await;
    app.wait_for_state(ACME, &id, "in_review").await;

    // Unmapped: a clear message, no data.
    let unmapped = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", &format!("status {id}")),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(unmapped.contains("not connected"), "{unmapped}");
    assert!(!unmapped.contains("Helpdesk"), "{unmapped}");

    // Only an admin maps a workspace.
    let mapping = json!({"partner_id": "acme", "channels": ["C1"]});
    let refused = app
        .send(
            app.http
                .put(app.notifier_url("/v1/slack/workspaces/T0ACME01"))
                .bearer_auth(ACME)
                .json(&mapping),
        )
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let mapped = app
        .send(
            app.http
                .put(app.notifier_url("/v1/slack/workspaces/T0ACME01"))
                .bearer_auth(ADMIN)
                .json(&mapping),
        )
        .await;
    assert_eq!(mapped.status, 200, "{mapped:?}");
    let listed = app
        .send(
            app.http
                .get(app.notifier_url("/v1/slack/workspaces"))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(listed.body[0]["team_id"], "T0ACME01", "{listed:?}");

    // By id and by (part of) the startup's name; partner text is escaped for mrkdwn.
    let by_id = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", &format!("status {id}")),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(
        by_id.contains("Helpdesk &lt;Autopilot&gt; &amp; Co") && by_id.contains("in review"),
        "{by_id}"
    );
    assert!(by_id.contains("*Pool:* innovation_sandbox"), "{by_id}");
    let by_name = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", "status helpdesk"),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(by_name.contains(&id), "{by_name}");
    // Slack's retry of the same request gets the same answer.
    let retried = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", "status helpdesk"),
            SLACK_SIGNING_SECRET,
            now(),
            Some("1"),
        )
        .await,
    );
    assert_eq!(retried, by_name);

    // Another partner's application is not there for this workspace.
    let foreign = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", &format!("status {other}")),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(foreign.contains("No application"), "{foreign}");
    let foreign_name = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", "status docs"),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(foreign_name.contains("No application"), "{foreign_name}");

    // A channel the mapping does not name; help.
    let elsewhere = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C2", "status helpdesk"),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(elsewhere.contains("not in this one"), "{elsewhere}");
    let help = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", "help"),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(help.contains("/sandpiper status"), "{help}");

    // Unmapped again once deleted.
    let deleted = app
        .send(
            app.http
                .delete(app.notifier_url("/v1/slack/workspaces/T0ACME01"))
                .bearer_auth(ADMIN),
        )
        .await;
    assert_eq!(deleted.status, 204);
    let gone = text_of(
        &slash(
            &app,
            &command("T0ACME01", "C1", &format!("status {id}")),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await,
    );
    assert!(gone.contains("not connected"), "{gone}");
}

#[tokio::test]
async fn a_request_not_signed_by_slack_is_refused_before_it_is_read() {
    let app = TestApp::simulated().await;
    let form = command("T0ACME01", "C1", "help");
    for (what, secret, timestamp) in [
        ("another secret", "not-the-secret", now()),
        ("a replay 6 minutes old", SLACK_SIGNING_SECRET, now() - 360),
        ("a timestamp from the future", SLACK_SIGNING_SECRET, now() + 360),
    ] {
        let reply = slash(&app, &form, secret, timestamp, None).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        assert_eq!(reply.content_type, "application/problem+json", "{what}");
    }
    let unsigned = app
        .send(
            app.http
                .post(app.notifier_url("/slack/commands"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("team_id=T0ACME01&text=help"),
        )
        .await;
    assert_eq!(unsigned.status, 401, "{unsigned:?}");
    assert_eq!(slash(&app, &form, SLACK_SIGNING_SECRET, now(), None).await.status, 200);
}

/// Maps `team` to `partner` in every channel.
async fn map(app: &TestApp, team: &str, partner: &str) {
    let mapped = app
        .send(
            app.http
                .put(app.notifier_url(&format!("/v1/slack/workspaces/{team}")))
                .bearer_auth(ADMIN)
                .json(&json!({"partner_id": partner, "channels": []})),
        )
        .await;
    assert_eq!(mapped.status, 200, "{mapped:?}");
}

async fn ask(app: &TestApp, team: &str, text: &str) -> String {
    text_of(&slash(app, &command(team, "C1", text), SLACK_SIGNING_SECRET, now(), None).await)
}

#[tokio::test]
async fn agenda_lists_the_coming_days_as_the_api_does_and_status_finds_startups_by_name() {
    let app = TestApp::simulated().await;
    let agents = app.submit(ACME, &example("bedrock-agents-support")).await;
    let q = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let mut twin = example("amazon-q-business-docs");
    twin["startup"]["name"] = json!("Platform Guild Labs");
    twin["startup"]["aws_account_id"] = json!("777788889999");
    let labs = app.submit(ACME, &twin).await;
    let foreign = app.submit(GLOBEX, &example("amazon-q-business-docs")).await;
    app.advance_days(12).await; // 03-14T09:00: credits applied
    app.advance_days(10).await; // 03-24T09:00
    app.spend(&agents, "2026-03-20", 3_000).await;
    map(&app, "T0ACME01", "acme").await;

    // The coming week (03-24T09:00 → 03-31T09:00): both Q windows' mid-window check-in on Sunday
    // 03-29 (a clawback warning: nothing consumed, TR8) and their sessions moved to Monday 03-30
    // (OH1); the agents' window has nothing due before 04-13.
    let week = ask(&app, "T0ACME01", "agenda").await;
    assert!(
        week.contains("2026-03-24 09:00 UTC → 2026-03-31 09:00 UTC (7 days)"),
        "{week}"
    );
    let lines: Vec<&str> = week.lines().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(lines.len(), 4, "{week}");
    let (first_q, second_q) = if q < labs { (&q, &labs) } else { (&labs, &q) };
    for (line, (when, kind, id)) in lines.iter().zip([
        ("*Sun 2026-03-29*", "mid window (TR6, TR8)", first_q),
        ("*Sun 2026-03-29*", "mid window (TR6, TR8)", second_q),
        ("*Mon 2026-03-30 16:00 UTC*", "office hours (OH1)", first_q),
        ("*Mon 2026-03-30 16:00 UTC*", "office hours (OH1)", second_q),
    ]) {
        assert!(
            line.starts_with(&format!("• {when}")) && line.contains(kind) && line.contains(id.as_str()),
            "{line} should be {when} {kind} {id}"
        );
    }
    assert!(!week.contains(&foreign) && !week.contains(&agents), "{week}");
    // The same items the API lists for the range.
    let api = app.get(ACME, "/v1/agenda?to=2026-03-31T09:00:00Z").await;
    assert_eq!(api.body["items"].as_array().unwrap().len(), 4, "{api:?}");

    // Three weeks reach the agents' check-in and the Q windows' close (TR6: $20K each).
    let three = ask(&app, "T0ACME01", "agenda 21").await;
    assert!(three.contains("(21 days)"), "{three}");
    assert!(
        three.contains("*Mon 2026-04-13* · Platform Guild · window close (TR6)") && three.contains("($20,000)"),
        "{three}"
    );
    assert!(three.contains(&agents), "{three}");
    for bad in ["agenda 0", "agenda 61", "agenda soon"] {
        let refused = ask(&app, "T0ACME01", bad).await;
        assert!(refused.contains("from 1 to 60"), "{bad}: {refused}");
    }

    // By name, case-insensitive: an exact name is that one; a part matching two lists both; none
    // says so; another partner's startup is not found.
    let exact = ask(&app, "T0ACME01", "status PLATFORM GUILD").await;
    assert!(exact.contains(&q) && !exact.contains(&labs), "{exact}");
    let several = ask(&app, "T0ACME01", "status guild").await;
    assert!(several.contains("2 applications match"), "{several}");
    assert!(several.contains(&q) && several.contains(&labs), "{several}");
    let none = ask(&app, "T0ACME01", "status Nobody Inc").await;
    assert!(none.contains("No application of a startup named like"), "{none}");
    let other = ask(&app, "T0ACME01", &format!("status {foreign}")).await;
    assert!(other.contains("No application"), "{other}");

    // A partner with no application at all: the index read ends at once with nothing (it used
    // to wait out a quiet period, and a read that never ended would hang these answers).
    map(&app, "T0INIT01", "initech").await;
    let empty = ask(&app, "T0INIT01", "agenda").await;
    assert!(empty.contains("Nothing falls due in these days."), "{empty}");
    let nobody = ask(&app, "T0INIT01", "status guild").await;
    assert!(nobody.contains("No application of a startup named like"), "{nobody}");
}

/// A `block_actions` payload as Slack sends it when `user` presses the button with `value`.
fn press_payload(team: &str, value: &str, response_url: &str) -> String {
    json!({
        "type": "block_actions",
        "team": {"id": team, "domain": "acme-corp"},
        "user": {"id": "U2CERLKJA", "username": "roadrunner", "name": "roadrunner", "team_id": team},
        "api_app_id": "A02",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1548261231.000200", "channel_id": "C1", "is_ephemeral": false},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": "C1", "name": "credits"},
        "response_url": response_url,
        "actions": [{
            "action_id": "sandpiper_graduate", "block_id": "sandpiper_decision",
            "text": {"type": "plain_text", "text": "Graduate"},
            "value": value, "type": "button", "action_ts": "1548426417.840180"
        }]
    })
    .to_string()
}

/// Posts a button press as Slack does: `payload=<json>`, form-encoded, signed.
async fn press(app: &TestApp, payload: &str, secret: &str, timestamp: i64, retry: Option<&str>) -> Reply {
    signed(
        app,
        "/slack/interactions",
        &[("payload", payload)],
        secret,
        timestamp,
        retry,
    )
    .await
}

/// The value of the button labelled `label` in a message the notifier posted.
fn button(message: &serde_json::Value, label: &str) -> String {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["text"]["text"] == label)
        .unwrap_or_else(|| panic!("no {label} button in {message:#}"))["value"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn decisions(events: &[(String, Option<String>, sandpiper_contracts::events::Envelope)]) -> usize {
    events
        .iter()
        .filter(|(_, _, e)| e.event_type.contains("graduated") || e.event_type.contains("retired"))
        .count()
}

#[tokio::test]
async fn graduate_and_retire_buttons_decide_once_for_the_workspaces_partner_only() {
    let app = TestApp::simulated().await;
    let slack = Receiver::start(vec![]).await;
    let responses = Receiver::start(vec![]).await;
    app.subscribe(ACME, &slack.url(), &["window_closed", "decision_reminder"], "slack")
        .await;
    let q = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let mut second = example("amazon-q-business-docs");
    second["startup"]["name"] = json!("Docs Relay");
    second["startup"]["aws_account_id"] = json!("777788889999");
    let relay = app.submit(ACME, &second).await;
    let foreign = app.submit(GLOBEX, &example("amazon-q-business-docs")).await;
    app.advance_days(12).await;
    for id in [&q, &relay] {
        app.spend(id, "2026-03-14", 400).await;
    }
    let spent = app
        .post(
            GLOBEX,
            &format!("/v1/applications/{foreign}/consumption"),
            &json!({"date": "2026-03-14", "amount_usd": 400}),
        )
        .await;
    assert_eq!(spent.status, 201, "{spent:?}");
    app.advance_days(30).await; // the windows closed with consumption: a decision is owed (G1)
    map(&app, "T0ACME01", "acme").await;

    // The window_closed message carries the buttons, with the application and the decision.
    let posted = slack.wait_until("two window_closed messages", |r| r.len() >= 2).await;
    let message = posted
        .iter()
        .map(|r| r.json())
        .find(|m| m.to_string().contains(&q))
        .unwrap();
    let graduate = button(&message, "Graduate");
    let retire = button(&message, "Retire");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&graduate).unwrap(),
        json!({"application_id": q, "decision": "graduate"})
    );
    assert!(retire.contains("\"retire\""), "{retire}");
    let payload = press_payload("T0ACME01", &graduate, &responses.url());

    // Not Slack's: refused before anything is read, nothing decided.
    for (what, secret, timestamp) in [
        ("another secret", "not-the-secret", now()),
        ("a replay 6 minutes old", SLACK_SIGNING_SECRET, now() - 360),
    ] {
        let refused = press(&app, &payload, secret, timestamp, None).await;
        assert_eq!(refused.status, 401, "{what}: {refused:?}");
    }
    assert_eq!(app.view(ACME, &q).await["state"], "window_closed");

    // The press: graduated, the Slack user in the notes, the message replaced to say who.
    let pressed = press(&app, &payload, SLACK_SIGNING_SECRET, now(), None).await;
    assert_eq!(pressed.status, 200, "{pressed:?}");
    let view = app.view(ACME, &q).await;
    assert_eq!(view["state"], "graduated", "{view:#}");
    assert_eq!(view["team_decision"]["target"], "activate_portfolio", "G2: q family");
    assert!(
        view["team_decision"]["notes"].as_str().unwrap().contains("roadrunner"),
        "{view:#}"
    );
    let update = responses.wait_until("the message update", |r| !r.is_empty()).await[0].json();
    assert_eq!(update["replace_original"], true, "{update:#}");
    let said = update["text"].as_str().unwrap();
    assert!(said.contains("graduated") && said.contains("roadrunner"), "{said}");

    // Slack's retry of the same press, then a second press of Retire: each says it was decided
    // already, and only one decision is stored.
    let retried = press(&app, &payload, SLACK_SIGNING_SECRET, now(), Some("1")).await;
    assert_eq!(retried.status, 200, "{retried:?}");
    let again = press(
        &app,
        &press_payload("T0ACME01", &retire, &responses.url()),
        SLACK_SIGNING_SECRET,
        now(),
        None,
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    let updates = responses.wait_until("three answers", |r| r.len() >= 3).await;
    for later in &updates[1..] {
        let text = later.json()["text"].as_str().unwrap().to_owned();
        assert!(
            text.contains("already *graduated*") && text.contains("changed nothing"),
            "{text}"
        );
    }
    assert_eq!(app.view(ACME, &q).await["state"], "graduated");
    assert_eq!(decisions(&app.stream_events("acme", &q).await), 1, "decided once");

    // Decided elsewhere (the API) before the press: the press says so.
    let api = app
        .post(
            ACME,
            &format!("/v1/applications/{relay}/decision"),
            &json!({"decision": "retire"}),
        )
        .await;
    assert_eq!(api.status, 201, "{api:?}");
    let relay_graduate = json!({"application_id": relay, "decision": "graduate"}).to_string();
    let late = press(
        &app,
        &press_payload("T0ACME01", &relay_graduate, &responses.url()),
        SLACK_SIGNING_SECRET,
        now(),
        None,
    )
    .await;
    assert_eq!(late.status, 200);
    let late = responses.wait_until("four answers", |r| r.len() >= 4).await[3].json();
    assert!(late["text"].as_str().unwrap().contains("already *retired*"), "{late:#}");
    assert_eq!(app.view(ACME, &relay).await["state"], "retired");
    assert_eq!(decisions(&app.stream_events("acme", &relay).await), 1);

    // Another partner's application, pressed from this workspace: not found, nothing decided;
    // from an unmapped workspace: told so.
    let foreign_value = json!({"application_id": foreign, "decision": "retire"}).to_string();
    for (team, expect) in [("T0ACME01", "No application"), ("T0GLOBEX9", "not connected")] {
        let n = responses.received().len() + 1;
        let reply = press(
            &app,
            &press_payload(team, &foreign_value, &responses.url()),
            SLACK_SIGNING_SECRET,
            now(),
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let answer = responses.wait_until("an answer", |r| r.len() >= n).await[n - 1].json();
        assert_eq!(answer["replace_original"], false, "{answer:#}");
        assert!(answer["text"].as_str().unwrap().contains(expect), "{team}: {answer:#}");
    }
    assert_eq!(app.view(GLOBEX, &foreign).await["state"], "window_closed");
    assert_eq!(decisions(&app.stream_events("globex", &foreign).await), 0);
}

#[tokio::test]
async fn a_press_on_the_secured_stack_graduates_with_the_notifiers_own_permissions() {
    let app = TestApp::spawn_secured(sandpiper_runtime::config::ClockMode::Simulated {
        start: sandpiper_integration_tests::SIMULATED_START.parse().unwrap(),
    })
    .await;
    let responses = Receiver::start(vec![]).await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.advance_days(12).await;
    app.spend(&id, "2026-03-14", 3_000).await;
    app.advance_days(61).await; // the 60-day window closed with consumption
    assert_eq!(app.view(ACME, &id).await["state"], "window_closed");
    map(&app, "T0ACME01", "acme").await;
    // The partner's summaries are read from the index under the notifier's own user too.
    let status = ask(&app, "T0ACME01", "status helpdesk").await;
    assert!(status.contains(id.as_str()), "{status}");

    // A Bedrock graduation drafts the linked Bedrock POC first (G2): the notifier's NATS user
    // publishes drafted and graduated and writes them into the read model.
    let value = json!({"application_id": id, "decision": "graduate"}).to_string();
    let pressed = press(
        &app,
        &press_payload("T0ACME01", &value, &responses.url()),
        SLACK_SIGNING_SECRET,
        now(),
        None,
    )
    .await;
    assert_eq!(pressed.status, 200, "{pressed:?}");
    let view = app.view(ACME, &id).await;
    assert_eq!(view["state"], "graduated", "{view:#}");
    assert_eq!(view["team_decision"]["target"], "bedrock_poc", "{view:#}");
    let linked = view["links"]["graduated_to"]
        .as_str()
        .unwrap_or_else(|| panic!("{view:#}"));
    let draft = app.view(ACME, linked).await;
    assert_eq!(draft["state"], "draft", "{draft:#}");
    assert_eq!(draft["programme"], "bedrock_poc", "{draft:#}");
    let update = responses.wait_until("the message update", |r| !r.is_empty()).await[0].json();
    assert!(
        update["text"]
            .as_str()
            .unwrap()
            .contains("graduated* to bedrock_poc by *roadrunner*"),
        "{update:#}"
    );
    let events = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
    assert!(
        events.body.to_string().contains("/sandpiper/notifier"),
        "graduated by the notifier: {events:?}"
    );

    // Still least privilege: the notifier cannot publish an approval.
    let notifier = async_nats::ConnectOptions::with_user_and_password("notifier".into(), "notifier-secret".into())
        .connect(&app.nats_url)
        .await
        .unwrap();
    let mut js = async_nats::jetstream::new(notifier);
    js.set_timeout(std::time::Duration::from_secs(2));
    let forged = format!("sandpiper.v1.events.acme.{id}.approved");
    let result = match js.publish(forged, "{}".into()).await {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    assert!(result.is_err(), "the notifier published an approval: {result:?}");
}
