//! The OpenAPI document against the server (#13 item 6), by schemathesis (pinned, installed by
//! `scripts/install-deps` into `.tools/schemathesis`): it generates requests from
//! `/openapi.json`, valid and not, sends them to a real stack and checks every answer. The run
//! fails on a server error, an answer off the document (status, content type, headers, body), a
//! schema-valid request refused, or a schema-invalid one accepted. Its settings, and the few
//! statuses the document cannot promise away (business rules a schema cannot state), are in
//! `schemathesis.toml` at the repository's root, each with why.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sandpiper_integration_tests::{ACME, ADMIN, TestApp, example};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The pinned schemathesis: `SANDPIPER_SCHEMATHESIS`, else the one `scripts/install-deps` puts in
/// `.tools/schemathesis`. Missing, the test fails saying how to get it.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("SANDPIPER_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/schemathesis/bin/schemathesis"));
    assert!(
        path.exists(),
        "schemathesis is not at {}: run scripts/install-deps (it installs the pinned schemathesis \
         into .tools/schemathesis), or set SANDPIPER_SCHEMATHESIS",
        path.display()
    );
    path
}

/// Runs schemathesis over the operations `only` selects (all when empty) as `token`, and fails
/// with its report when it finds anything.
async fn run(app: &TestApp, token: &str, who: &str, only: &[&str]) {
    let only: Vec<String> = only.iter().map(|s| (*s).to_owned()).collect();
    let binary = schemathesis();
    let url = app.url("/openapi.json");
    // Kept after the run (target/schemathesis/{who}): the NDJSON report says how each case was made.
    let report = repo_root().join("target/schemathesis").join(who.replace(' ', "-"));
    std::fs::create_dir_all(&report).unwrap();
    let authorization = format!("Authorization: Bearer {token}");
    let output = tokio::task::spawn_blocking({
        let report = report.clone();
        move || {
            Command::new(binary)
                // Hypothesis keeps caches in its working directory: the report's, not the
                // repository's.
                .current_dir(&report)
                .arg("--config-file")
                .arg(repo_root().join("schemathesis.toml"))
                .args(["run", &url, "--checks", "all"])
                .args(["-H", &authorization])
                .args(&only)
                // More arguments for a narrower run while working on a finding, e.g.
                // `--phases coverage --include-path /v1/agenda`.
                .args(
                    std::env::var("SANDPIPER_SCHEMATHESIS_ARGS")
                        .unwrap_or_default()
                        .split_whitespace(),
                )
                .args(["--report", "ndjson", "--report-dir"])
                .arg(&report)
                .env("NO_COLOR", "1")
                .output()
                .expect("schemathesis runs")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The summary for the log, whatever the outcome.
    println!("schemathesis as {who}:\n{stdout}\n{stderr}");
    assert!(
        output.status.success(),
        "schemathesis as {who} found problems (exit {:?}):\n{stdout}\n{stderr}",
        output.status.code()
    );
}

#[tokio::test]
async fn schemathesis_finds_the_api_as_strict_as_its_document() {
    let app = TestApp::spawn().await;
    // Some state to read: a draft and a submitted application.
    app.create(ACME, &example("exploring-agents")).await;
    app.submit(ACME, &example("bedrock-agents-support")).await;
    // Every operation as a partner; the admin's own operations (the catalog, the clock, the dead
    // letters) as the admin. An admin on a partner's routes must name the partner (E3), a rule on
    // the caller's role that no schema can state.
    run(&app, ACME, "a partner", &[]).await;
    run(&app, ADMIN, "the admin", &["--include-tag", "system"]).await;
}
