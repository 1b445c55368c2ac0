//! Recall, cancel and revisions (#16) over the real pipeline: a recalled filing is never decided,
//! a re-submission gets a review period of its own, a cancel ends a draft, and two editors racing
//! on one draft with `If-Match` cannot both win.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_integration_tests::{ACME, GLOBEX, Reply, TestApp, event_names, example};
use serde_json::{Value, json};

async fn recall(app: &TestApp, id: &str, reason: &str) -> Reply {
    app.post(
        ACME,
        &format!("/v1/applications/{id}/recall"),
        &json!({"reason": reason}),
    )
    .await
}

async fn cancel(app: &TestApp, id: &str, reason: &str) -> Reply {
    app.post(
        ACME,
        &format!("/v1/applications/{id}/cancel"),
        &json!({"reason": reason}),
    )
    .await
}

async fn history(app: &TestApp, id: &str) -> Vec<String> {
    let reply = app.get(ACME, &format!("/v1/applications/{id}/events")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    event_names(&reply.body)
}

/// A PATCH with `If-Match: "revision"`.
async fn patch_if(app: &TestApp, id: &str, revision: &str, patch: &Value) -> Reply {
    app.send(
        app.http
            .patch(app.url(&format!("/v1/applications/{id}")))
            .bearer_auth(ACME)
            .header("if-match", revision)
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string()),
    )
    .await
}

#[tokio::test]
async fn a_recalled_filing_is_never_decided_and_its_resubmission_gets_a_review_period_of_its_own() {
    let app = TestApp::simulated().await;
    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
    app.advance_days(5).await;

    let recalled = recall(&app, &id, "the budget lines were for last quarter").await;
    assert_eq!(recalled.status, 200, "{recalled:?}");
    assert_eq!(recalled.body["state"], "draft");
    assert!(recalled.body["submitted_at"].is_null() && recalled.body["decision"].is_null());
    assert_eq!(
        recalled.body["recalled"]["reason"],
        "the budget lines were for last quarter"
    );
    assert_eq!(
        recalled.etag,
        Some(format!("\"{}\"", recalled.body["revision"])),
        "the answer carries the new revision"
    );

    // The recalled filing's review would have fallen due on day 12: nothing is decided.
    app.advance_days(10).await;
    let still = app.view(ACME, &id).await;
    assert_eq!(still["state"], "draft", "{still}");
    let events = history(&app, &id).await;
    assert!(
        !events.iter().any(|e| e == "approved" || e == "rejected"),
        "no decision for a recalled filing: {events:?}"
    );

    // Editable again, then filed again: a new review period of 12 days from the new submission.
    let edited = app
        .send(
            app.http
                .patch(app.url(&format!("/v1/applications/{id}")))
                .bearer_auth(ACME)
                .header("content-type", "application/merge-patch+json")
                .body(json!({"workload": "customer-support-v2"}).to_string()),
        )
        .await;
    assert_eq!(edited.status, 200, "a recalled application is a draft: {edited:?}");
    let resubmitted = app.post_empty(ACME, &format!("/v1/applications/{id}/submit")).await;
    assert_eq!(resubmitted.status, 202, "{resubmitted:?}");
    let submitted_at = resubmitted.body["submitted_at"].as_str().unwrap().to_owned();
    app.wait_for_state(ACME, &id, "in_review").await;
    app.advance_days(11).await;
    assert_eq!(
        app.view(ACME, &id).await["state"],
        "in_review",
        "T6 runs from the new filing"
    );
    app.advance_days(1).await;
    let approved = app.view(ACME, &id).await;
    assert_eq!(approved["state"], "active", "{approved}");
    let decided_at =
        chrono::DateTime::parse_from_rfc3339(approved["decision"]["decided_at"].as_str().unwrap()).unwrap();
    let filed_at = chrono::DateTime::parse_from_rfc3339(&submitted_at).unwrap();
    assert_eq!(
        (decided_at - filed_at).num_days(),
        12,
        "decided 12 days after the re-submission"
    );

    let events = history(&app, &id).await;
    let count = |name: &str| events.iter().filter(|e| *e == name).count();
    assert_eq!(
        (
            count("submitted"),
            count("recalled"),
            count("classified"),
            count("approved")
        ),
        (2, 1, 2, 1),
        "each filing classified, one decision, of the second filing: {events:?}"
    );

    // After a decision a recall is refused, naming the state; so is a cancel.
    let late = recall(&app, &id, "too late").await;
    assert_eq!(late.status, 409, "{late:?}");
    assert!(late.body["detail"].as_str().unwrap().contains("active"), "{late:?}");
    assert_eq!(cancel(&app, &id, "too late").await.status, 409);
}

#[tokio::test]
async fn a_recall_before_classification_is_not_classified_and_a_cancel_ends_the_draft() {
    let app = TestApp::simulated().await;
    // Recalled at once: the classifier may meet the `submitted` after the recall, and must not
    // classify a withdrawn filing.
    let id = app.submit(ACME, &example("amazon-q-business-docs")).await;
    let recalled = recall(&app, &id, "filed by mistake").await;
    assert!(
        recalled.status == 200 || recalled.status == 409,
        "recalled before or after classification: {recalled:?}"
    );
    if recalled.status == 200 {
        app.advance_days(15).await;
        let view = app.view(ACME, &id).await;
        assert_eq!(view["state"], "draft", "{view}");
        assert!(
            view["decision"].is_null(),
            "no classification of a withdrawn filing: {view}"
        );
    }

    // Cancel: only a draft; a submitted one is recalled first.
    let other = app.submit(ACME, &example("bedrock-agents-support")).await;
    let refused = cancel(&app, &other, "changed our mind").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body["detail"].as_str().unwrap().contains("recall it first"),
        "{refused:?}"
    );

    // On a draft, so that the state allows a cancel and only the body is wrong (the recall above
    // may have lost its race with the classifier and left `id` in review).
    let draft = app.create(ACME, &example("exploring-agents")).await;
    let blank = cancel(&app, &draft, "   ").await;
    assert_eq!(
        (blank.status, blank.body["errors"][0]["field"].as_str()),
        (422, Some("reason")),
        "{blank:?}"
    );
    let unknown = app
        .post(
            ACME,
            &format!("/v1/applications/{draft}/cancel"),
            &json!({"reason": "x", "why": "y"}),
        )
        .await;
    assert_eq!(unknown.status, 422, "an unknown member is refused: {unknown:?}");

    let canceled = cancel(&app, &draft, "the startup chose Activate instead").await;
    assert_eq!(canceled.status, 200, "{canceled:?}");
    assert_eq!(canceled.body["state"], "canceled");
    assert_eq!(
        canceled.body["canceled"]["reason"],
        "the startup chose Activate instead"
    );
    // Terminal: no edit, no submit, no second cancel.
    assert_eq!(patch_if(&app, &draft, "*", &json!({"workload": "x"})).await.status, 409);
    assert_eq!(
        app.post_empty(ACME, &format!("/v1/applications/{draft}/submit"))
            .await
            .status,
        409
    );
    assert_eq!(cancel(&app, &draft, "again").await.status, 409);
    let listed = app.get(ACME, "/v1/applications?state=canceled").await;
    assert_eq!(listed.status, 200);
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&draft.as_str()), "{ids:?}");

    // Tenancy as everywhere: another partner's application is 404.
    let foreign = app
        .post(
            GLOBEX,
            &format!("/v1/applications/{draft}/recall"),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
}

#[tokio::test]
async fn two_editors_racing_on_one_draft_with_if_match_cannot_both_win() {
    let app = TestApp::simulated().await;
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let read = app.get(ACME, &format!("/v1/applications/{id}")).await;
    let first_tag = read.etag.clone().expect("GET answers an ETag");
    assert_eq!(first_tag, format!("\"{}\"", read.body["revision"]));

    for round in 0..12 {
        let read = app.get(ACME, &format!("/v1/applications/{id}")).await;
        let tag = read.etag.clone().unwrap();
        let a = json!({"workload": format!("editor-a-{round}")});
        let b = json!({"use_case": format!("{} (editor B, round {round})", example("bedrock-agents-support")["use_case"].as_str().unwrap())});
        let (ra, rb) = tokio::join!(patch_if(&app, &id, &tag, &a), patch_if(&app, &id, &tag, &b));
        let mut statuses = [ra.status, rb.status];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "round {round}: exactly one wins: {ra:?} {rb:?}");
        let (winner, loser, redo) = if ra.status == 200 {
            (&ra, &rb, &b)
        } else {
            (&rb, &ra, &a)
        };
        assert_eq!(loser.content_type, "application/problem+json");
        assert_eq!(
            loser.body["current_revision"], winner.body["revision"],
            "the 412 names the revision that won: {loser:?}"
        );
        assert_eq!(loser.etag, winner.etag, "and sends it as the ETag");
        // The loser loses nothing it cannot redo: with the current revision its change goes in.
        let redone = patch_if(&app, &id, loser.etag.as_deref().unwrap(), redo).await;
        assert_eq!(redone.status, 200, "{redone:?}");
        let view = &redone.body;
        assert_eq!(view["workload"], a["workload"], "round {round}");
        assert_eq!(view["use_case"], b["use_case"], "round {round}");
    }

    // A stale revision on a command is a 412 too, and so is an entity tag this API never sends
    // (weak, or not a revision): it cannot match (RFC 9110 §13.1.1). Text that is no entity tag
    // is a 400; no If-Match is as before.
    let submit_stale = app
        .send(
            app.http
                .post(app.url(&format!("/v1/applications/{id}/submit")))
                .bearer_auth(ACME)
                .header("if-match", &first_tag),
        )
        .await;
    assert_eq!(submit_stale.status, 412, "{submit_stale:?}");
    for (tag, status, problem) in [
        ("42", 400, "bad-if-match"),
        ("W/\"1\"", 412, "precondition-failed"),
        ("\"abc\"", 412, "precondition-failed"),
    ] {
        let reply = patch_if(&app, &id, tag, &json!({"workload": "x"})).await;
        assert_eq!(reply.status, status, "If-Match {tag:?}: {reply:?}");
        assert_eq!(reply.body["type"], format!("urn:sandpiper:problem:{problem}"));
    }
    let current = app.get(ACME, &format!("/v1/applications/{id}")).await;
    let submitted = app
        .send(
            app.http
                .post(app.url(&format!("/v1/applications/{id}/submit")))
                .bearer_auth(ACME)
                .header("if-match", current.etag.unwrap()),
        )
        .await;
    assert_eq!(submitted.status, 202, "{submitted:?}");
    // (Once classified: a write racing the pipeline's own is a 409 to fetch and retry.)
    app.wait_for_state(ACME, &id, "in_review").await;
    let no_precondition = recall(&app, &id, "without If-Match the last writer wins").await;
    assert_eq!(no_precondition.status, 200, "{no_precondition:?}");
}
