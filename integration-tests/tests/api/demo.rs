//! `sandpiper demo`'s story against a real stack: it must run to the end and tell the outcomes the
//! rules imply.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::state::State;
use sandpiper_integration_tests::{ACME, ADMIN, TestApp};
use sandpiper_runtime::config::ClockMode;

#[tokio::test]
async fn the_demo_tells_six_months_to_the_end() {
    let app = TestApp::spawn_with(ClockMode::Simulated {
        start: "2026-03-02T09:00:00Z".parse().unwrap(),
    })
    .await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/examples");
    let rows = sandpiper_cli::commands::demo::against(&app.stack.api_url(), ACME, ADMIN, &examples)
        .await
        .unwrap();
    let states: Vec<(&str, State)> = rows.iter().map(|(label, view)| (*label, view.state)).collect();
    assert_eq!(
        states,
        [
            ("worked example", State::Closed),
            ("split tranches", State::Closed),
            ("30-day Q Business", State::Closed),
            ("vague", State::Rejected)
        ]
    );
    let credits = |i: usize| rows[i].1.credits.clone().unwrap();
    assert_eq!(credits(0).expired_usd, 2900);
    assert_eq!(credits(1).forfeited_usd, 1000);
    assert_eq!(credits(2).clawed_back_usd, 20000);
}
