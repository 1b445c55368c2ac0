//! `sandpiper simulate` against a real stack: a small cohort runs to the end, its report adds up,
//! and the same seed gives the same report.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_cli::simulate::{self, Options, Report};
use sandpiper_integration_tests::{ACME, ADMIN, TestApp};

async fn cohort(seed: u64) -> Report {
    let app = TestApp::simulated().await;
    let options = Options {
        cohort: 40,
        seed,
        concurrency: 8,
        progress: false,
    };
    let (run, report) = simulate::against(&app.stack.api_url(), ACME, ADMIN, &options)
        .await
        .unwrap();
    assert!(run.refused.is_empty(), "refused team actions: {:?}", run.refused);
    report
}

#[tokio::test]
async fn a_small_cohort_runs_to_the_end_and_its_report_adds_up() {
    let report = cohort(7).await;
    assert_eq!(report.filed, 40);
    assert!(report.inconsistencies().is_empty(), "{:?}", report.inconsistencies());
    let open = report.outcomes.iter().find(|c| c.label == "still open").unwrap();
    assert_eq!(open.count, 0, "every application finished");
    let engagements: usize = report.pools.iter().map(|p| p.engagements).sum();
    assert!(engagements > 20, "{engagements} engagements");
    let sandbox = report.approval.iter().find(|a| a.pool == "innovation_sandbox").unwrap();
    assert_eq!(sandbox.max_days, 12.0, "decided on the review period's last day (T6)");
    let html = simulate::html::render(&report);
    assert!(html.contains("<svg") && html.contains("Against DOMAIN §10"));

    // The same seed, another stack: the same figures.
    assert_eq!(cohort(7).await, report);
}
