//! The Slack app (#15): `/sandpiper` sent as Slack sends it (form-encoded, signed with the app's
//! signing secret) to the real notifier over a real stack, and the admin's workspace mapping.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, Reply, SLACK_SIGNING_SECRET, TestApp, example};
use serde_json::json;

/// Posts a slash command as Slack does, signed at `timestamp` with `secret`.
async fn slash(app: &TestApp, form: &[(&str, &str)], secret: &str, timestamp: i64, retry: Option<&str>) -> Reply {
    let body = serde_urlencoded::to_string(form).unwrap();
    let signature = sandpiper_notifier::signing::sign(secret, timestamp, body.as_bytes());
    let mut request = app
        .http
        .post(app.notifier_url("/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body);
    if let Some(n) = retry {
        request = request
            .header("x-slack-retry-num", n)
            .header("x-slack-retry-reason", "http_timeout");
    }
    app.send(request).await
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
    reply.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
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
