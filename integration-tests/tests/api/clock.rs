//! The clock of CONTRACT §5: readable by every caller; a simulated one moved only by an admin.

use sandpiper_integration_tests::{ACME, ADMIN, TestApp};
use sandpiper_runtime::config::ClockMode;
use serde_json::json;

#[tokio::test]
async fn a_simulated_clock_starts_where_told_and_moves_on_advance() {
    let start = "2026-03-02T09:00:00Z".parse().unwrap();
    let app = TestApp::spawn_with(ClockMode::Simulated { start }).await;
    let now = app.get(ACME, "/v1/clock").await;
    assert_eq!(now.body, json!({"now": "2026-03-02T09:00:00Z", "mode": "simulated"}));

    assert_eq!(
        app.post(ACME, "/v1/clock/advance", &json!({"days": 1})).await.status,
        403
    );
    assert_eq!(app.post(ADMIN, "/v1/clock/advance", &json!({})).await.status, 422);
    assert_eq!(
        app.post(ADMIN, "/v1/clock/advance", &json!({"days": -1})).await.status,
        422
    );
    let moved = app
        .post(ADMIN, "/v1/clock/advance", &json!({"days": 12, "hours": 3}))
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["now"], "2026-03-14T12:00:00Z");

    // Events carry the system time, not the wall clock.
    let id = app
        .create(ACME, &sandpiper_integration_tests::example("exploring-agents"))
        .await;
    let view = app.get(ACME, &format!("/v1/applications/{id}")).await;
    assert_eq!(view.body["created_at"], "2026-03-14T12:00:00Z");
}

#[tokio::test]
async fn the_wall_clock_cannot_be_advanced() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get(ACME, "/v1/clock").await.body["mode"], "wall");
    let refused = app.post(ADMIN, "/v1/clock/advance", &json!({"days": 1})).await;
    assert_eq!(refused.status, 409, "{refused:?}");
}
