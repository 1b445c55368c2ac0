//! The shared examples go through the real pipeline (intake → stream → classifier → stream →
//! projection) and reach `in_review`, with their events in order on the stream and in the API.

use sandpiper_integration_tests::{ACME, TestApp, event_names, example};

#[tokio::test]
async fn the_examples_reach_in_review_with_their_events_in_order() {
    let app = TestApp::spawn().await;
    for name in ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"] {
        let id = app.submit(ACME, &example(name)).await;
        let view = app.wait_for_state(ACME, &id, "in_review").await;
        assert_eq!(view["partner_id"], "acme", "{name}");
        assert_eq!(view["decision"]["pool"], "innovation_sandbox", "{name}");
        assert_eq!(view["decision"]["catalog_version"], "2026.1", "{name}");
        assert!(view["submitted_at"].is_string(), "{name}");
        assert_eq!(
            view["service"],
            example(name)["service"],
            "{name}: the body is served at top level"
        );

        let history = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
        assert_eq!(history.status, 200);
        assert_eq!(
            event_names(&history.body),
            ["drafted", "submitted", "classified"],
            "{name}"
        );

        let stored = app.stream_events("acme", &id).await;
        let subjects: Vec<&str> = stored.iter().map(|(s, _, _)| s.as_str()).collect();
        assert_eq!(
            subjects,
            [
                format!("sandpiper.v1.events.acme.{id}.drafted"),
                format!("sandpiper.v1.events.acme.{id}.submitted"),
                format!("sandpiper.v1.events.acme.{id}.classified")
            ],
            "{name}"
        );
        for (index, (_, msg_id, envelope)) in stored.iter().enumerate() {
            assert_eq!(
                msg_id.as_deref(),
                Some(envelope.id.to_string().as_str()),
                "Nats-Msg-Id is the event id"
            );
            assert_eq!(envelope.specversion, "1.0");
            assert_eq!(envelope.subject.to_string(), id);
            assert_eq!(envelope.partnerid.as_str(), "acme");
            assert_eq!(
                serde_json::to_value(envelope).unwrap(),
                history.body[index],
                "the API serves the stored envelope"
            );
        }
        assert_eq!(stored[0].2.source, "/sandpiper/intake");
        assert_eq!(stored[2].2.source, "/sandpiper/classifier");
    }
}

#[tokio::test]
async fn a_draft_can_be_patched_then_submitted() {
    let app = TestApp::spawn().await;
    let mut body = example("bedrock-agents-support");
    body["evaluation_window_days"] = 90.into();
    let id = app.create(ACME, &body).await;

    let refused = app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.body["errors"][0]["field"], "evaluation_window_days");
    assert_eq!(refused.body["errors"][0]["rule"], "W");
    let still = app.get(ACME, &format!("/v1/applications/{id}")).await;
    assert_eq!(
        still.body["state"], "draft",
        "a refused submission loses nothing and changes nothing"
    );
    assert_eq!(still.body["evaluation_window_days"], 90);

    let patch = app
        .send(
            app.http
                .patch(app.url(&format!("/v1/applications/{id}")))
                .bearer_auth(ACME)
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"evaluation_window_days": 60, "production_monthly_usd": null}"#),
        )
        .await;
    assert_eq!(patch.status, 200, "{patch:?}");
    assert_eq!(patch.body["evaluation_window_days"], 60);
    assert!(patch.body.get("production_monthly_usd").is_none_or(|v| v.is_null()));

    app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
    let history = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
    assert_eq!(
        event_names(&history.body),
        ["drafted", "draft_updated", "submitted", "classified"]
    );
}
