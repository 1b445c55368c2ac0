//! The weekly digest (#15): a subscription's coming-week agenda posted on its weekday and hour in
//! its timezone, on the system clock, produced by advancing a simulated clock through weeks; and
//! a slow slash command answered through `response_url`.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sandpiper_contracts::names::ServiceName;
use sandpiper_integration_tests::receiver::{Received, Receiver};
use sandpiper_integration_tests::slack::{sections, signed};
use sandpiper_integration_tests::{ACME, GLOBEX, SIMULATED_START, TestApp, example};
use sandpiper_runtime::config::ClockMode;
use serde_json::{Value, json};

async fn subscribe_digest(app: &TestApp, url: &str, format: &str, digest: Value) -> Value {
    let reply = app
        .send(
            app.http
                .post(app.notifier_url("/v1/subscriptions"))
                .bearer_auth(ACME)
                .json(&json!({"url": url, "events": [], "format": format, "digest": digest})),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

fn bodies(received: &[Received]) -> Vec<Value> {
    received.iter().map(Received::json).collect()
}

#[tokio::test]
async fn a_weekly_digest_posts_the_coming_weeks_agenda_at_its_local_hour_on_the_system_clock() {
    let app = TestApp::simulated().await;
    let agents = app.submit(ACME, &example("bedrock-agents-support")).await;
    let q = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let foreign = app.submit(GLOBEX, &example("amazon-q-business-docs")).await;
    app.advance_days(12).await; // 03-14T09:00 (a Saturday): credits applied

    let hook = Receiver::start(vec![]).await;
    let slack = Receiver::start(vec![]).await;
    // Tuesday 10:00 in Berlin (UTC+1 until 03-29) and Tuesday 05:00 in New York (UTC-4 from
    // 03-08): both 09:00 UTC.
    let berlin = subscribe_digest(
        &app,
        &hook.url(),
        "cloudevents",
        json!({"cadence": "weekly", "weekday": "tuesday", "hour": 10, "timezone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(berlin["next_digest_at"], "2026-03-17T09:00:00Z", "{berlin}");
    assert_eq!(berlin["digest"]["timezone"], "Europe/Berlin", "{berlin}");
    let new_york = subscribe_digest(
        &app,
        &slack.url(),
        "slack",
        json!({"cadence": "weekly", "weekday": "tuesday", "hour": 5, "timezone": "America/New_York"}),
    )
    .await;
    assert_eq!(new_york["next_digest_at"], "2026-03-17T09:00:00Z", "{new_york}");

    // Ten days pass two Tuesdays: 03-17 and 03-24 at 09:00 UTC (the advance ends on the second).
    app.advance_days(10).await; // 03-24T09:00
    let got = bodies(&hook.wait_until("two digests", |r| r.len() >= 2).await);
    assert_eq!(got.len(), 2, "{got:?}");
    for (digest, at) in got.iter().zip(["2026-03-17T09:00:00Z", "2026-03-24T09:00:00Z"]) {
        assert_eq!(digest["type"], "dev.sandpiper.agenda_digest.v1", "{digest}");
        assert_eq!(digest["specversion"], "1.0");
        assert_eq!(digest["subject"], "acme");
        assert_eq!(digest["partnerid"], "acme");
        assert_eq!(digest["time"], at, "it fell due at its hour on the system clock");
        assert_eq!(digest["data"]["from"], at);
        assert_eq!(digest["data"]["subscription_id"], berlin["id"]);
        for item in digest["data"]["items"].as_array().unwrap() {
            let id = item["application_id"].as_str().unwrap();
            assert!(id == agents || id == q, "only acme's applications: {item}");
            assert_ne!(id, foreign);
        }
    }
    assert_ne!(got[0]["id"], got[1]["id"], "one id per occurrence");
    // The week from 03-24T09:00 is what the API's agenda lists for it, item for item: the Q
    // window's mid-window check-in on Sunday 03-29 (TR6, TR8) and its session on Monday 03-30.
    let week = &got[1]["data"];
    assert_eq!(week["to"], "2026-03-31T09:00:00Z");
    let api = app
        .get(ACME, "/v1/agenda?from=2026-03-24T09:00:00Z&to=2026-03-31T09:00:00Z")
        .await;
    assert_eq!(week["items"], api.body["items"], "{week} vs {api:?}");
    let kinds: Vec<&str> = week["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mid_window", "office_hours"], "{week}");
    let signed = hook.received()[1].clone();
    assert_eq!(signed.header("x-sandpiper-event-type"), "agenda_digest");
    assert_eq!(signed.header("content-type"), "application/cloudevents+json");

    // The Slack one, in New York's time: the session at 16:00 UTC is 12:00 EDT.
    let messages = bodies(&slack.wait_until("two Slack digests", |r| r.len() >= 2).await);
    let text = sections(&messages[1]);
    assert!(
        text.contains("*Weekly digest* · 2026-03-24 05:00 EDT → 2026-03-31 05:00 EDT (7 days)"),
        "{text}"
    );
    assert!(
        text.contains("*Mon 2026-03-30 12:00 EDT*") && text.contains(&q),
        "{text}"
    );
    assert!(text.contains("*Sun 2026-03-29*") && !text.contains(&foreign), "{text}");
    assert!(
        messages[1]["text"]
            .as_str()
            .unwrap()
            .starts_with("Sandpiper weekly digest: 2 item(s)"),
        "{}",
        messages[1]["text"]
    );

    // The 03-24 timer put back as it was before it fired (a crash between queueing and removing
    // it): it fires again and queues the same delivery, which the queue drops.
    let js = async_nats::jetstream::new(async_nats::connect(&app.nats_url).await.unwrap());
    let bucket = js.get_key_value(ServiceName::Notifier.timers_bucket()).await.unwrap();
    // Berlin's 10:00 is 08:00 UTC from 03-29 (summer time): the next one is due then.
    let next_id = format!("digest.{}.20260331T080000Z", berlin["id"].as_str().unwrap());
    let next = bucket
        .get(&next_id)
        .await
        .unwrap()
        .expect("the next occurrence's timer is stored");
    let mut again: Value = serde_json::from_slice(&next).unwrap();
    again["id"] = json!(format!("digest.{}.20260324T090000Z", berlin["id"].as_str().unwrap()));
    again["due_at"] = json!("2026-03-24T09:00:00Z");
    again["payload"]["at"] = json!("2026-03-24T09:00:00Z");
    bucket
        .put(
            again["id"].as_str().unwrap(),
            serde_json::to_vec(&again).unwrap().into(),
        )
        .await
        .unwrap();
    let refired = again["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while bucket.get(&refired).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the refired timer was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.received().len(), 2, "a digest fired twice is delivered once");

    // Deleted, a subscription's digests end; the other goes on, a week later.
    let deleted = app
        .send(
            app.http
                .delete(app.notifier_url(&format!("/v1/subscriptions/{}", berlin["id"].as_str().unwrap())))
                .bearer_auth(ACME),
        )
        .await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    app.advance_days(7).await; // 03-31T09:00
    let messages = bodies(&slack.wait_until("the third Slack digest", |r| r.len() >= 3).await);
    assert!(
        sections(&messages[2]).contains("2026-03-31 05:00 EDT"),
        "{}",
        messages[2]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hook.received().len(), 2, "nothing for the deleted subscription");
}

#[tokio::test]
async fn a_digest_is_checked_field_by_field() {
    let app = TestApp::simulated().await;
    let hook = Receiver::start(vec![]).await;
    for (body, field) in [
        (json!({"url": hook.url(), "events": [], "format": "slack"}), "events"),
        (
            json!({"url": hook.url(), "events": [], "format": "slack",
                   "digest": {"cadence": "weekly", "timezone": "Mars/Olympus"}}),
            "digest.timezone",
        ),
        (
            json!({"url": hook.url(), "events": ["approved"], "format": "slack",
                   "digest": {"cadence": "weekly", "hour": 24}}),
            "digest.hour",
        ),
    ] {
        let reply = app
            .send(
                app.http
                    .post(app.notifier_url("/v1/subscriptions"))
                    .bearer_auth(ACME)
                    .json(&body),
            )
            .await;
        assert_eq!(reply.status, 422, "{body}: {reply:?}");
        let fields: Vec<&str> = reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{reply:?}");
    }
    // A cadence other than weekly, or a weekday spelled short, does not read at all.
    for digest in [
        json!({"cadence": "daily"}),
        json!({"cadence": "weekly", "weekday": "tue"}),
    ] {
        let reply = app
            .send(
                app.http
                    .post(app.notifier_url("/v1/subscriptions"))
                    .bearer_auth(ACME)
                    .json(&json!({"url": hook.url(), "events": [], "format": "slack", "digest": digest})),
            )
            .await;
        assert!(matches!(reply.status, 400 | 422), "{digest}: {reply:?}");
    }
    // Events and a digest together: both, from one subscription. Only `cadence` is required.
    let both = app
        .send(
            app.http
                .post(app.notifier_url("/v1/subscriptions"))
                .bearer_auth(ACME)
                .json(&json!({"url": hook.url(), "events": ["approved"], "format": "slack",
                              "digest": {"cadence": "weekly"}})),
        )
        .await;
    assert_eq!(both.status, 201, "{both:?}");
    // Monday 09:00 UTC: the simulated clock starts on one, so the next is a week on.
    assert_eq!(SIMULATED_START, "2026-03-02T09:00:00Z");
    assert_eq!(both.body["next_digest_at"], "2026-03-09T09:00:00Z", "{both:?}");
    assert_eq!(
        both.body["digest"],
        json!({"cadence": "weekly", "weekday": "monday", "hour": 9, "timezone": "UTC"})
    );
}

#[tokio::test]
async fn a_slash_command_not_answered_in_time_answers_through_response_url() {
    // Nothing is answered on its own request: every answer goes the slow way.
    let app = TestApp::spawn_customized(
        ClockMode::Simulated {
            start: SIMULATED_START.parse().unwrap(),
        },
        |c| c.slack_answer_within = Duration::ZERO,
    )
    .await;
    let q = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let mapped = app
        .send(
            app.http
                .put(app.notifier_url("/v1/slack/workspaces/T0ACME01"))
                .bearer_auth(sandpiper_integration_tests::ADMIN)
                .json(&json!({"partner_id": "acme", "channels": []})),
        )
        .await;
    assert_eq!(mapped.status, 200, "{mapped:?}");
    let slack = Receiver::start(vec![]).await;
    let form = [
        ("team_id", "T0ACME01"),
        ("channel_id", "C1"),
        ("user_id", "U2CERLKJA"),
        ("command", "/sandpiper"),
        ("text", &format!("status {q}")),
        ("response_url", &slack.url()),
    ];
    let reply = signed(
        &app,
        "/slack/commands",
        &form,
        sandpiper_integration_tests::SLACK_SIGNING_SECRET,
        chrono::Utc::now().timestamp(),
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["response_type"], "ephemeral");
    assert_eq!(reply.body["text"], "Working on it…", "{reply:?}");
    let later = slack
        .wait_until("the answer through response_url", |r| !r.is_empty())
        .await;
    let answer = later[0].json();
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    let text = sections(&answer);
    assert!(text.contains(&q) && text.contains("Platform Guild"), "{text}");
}
