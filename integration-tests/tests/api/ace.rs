//! The ACE export (#16 items 4 and 5): `GET /v1/applications/{id}/ace` (and `sandpiper ace
//! export`) answers Partner Central request bodies that botocore's own parameter validator accepts
//! against the published models, for every example and a generated cohort, in every state they
//! reach; the bodies stay the same as the application moves on (one filing, one ClientToken).
//!
//! The validator is `scripts/validate-ace.py`, run with the Python of `.tools/venv` (made by
//! `scripts/install-deps`, which pins botocore) or `SANDPIPER_ACE_PYTHON`. Without it these tests
//! fail, never skip.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sandpiper_cli::commands::ace::Operation;
use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, TestApp, example};
use serde_json::{Value, json};

const EXAMPLES: [&str; 3] = ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The botocore version `scripts/install-deps` pins.
fn pinned_botocore() -> String {
    let script = std::fs::read_to_string(repo_root().join("scripts/install-deps")).unwrap();
    script
        .lines()
        .find_map(|line| line.strip_prefix("BOTOCORE_VERSION="))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("scripts/install-deps pins BOTOCORE_VERSION")
}

/// The Python that has the pinned botocore. Panics, with what to do, when there is none: a
/// missing validator must fail the suite, not pass it.
fn validator_python() -> PathBuf {
    let python = std::env::var_os("SANDPIPER_ACE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/venv/bin/python"));
    let pinned = pinned_botocore();
    let fix = format!(
        "run scripts/install-deps (it installs botocore=={pinned} into .tools/venv), or set SANDPIPER_ACE_PYTHON to a Python that has it"
    );
    let probe = Command::new(&python)
        .args(["-c", "import botocore; print(botocore.__version__)"])
        .output()
        .unwrap_or_else(|e| panic!("the ACE tests need {}: {e}; {fix}", python.display()));
    assert!(
        probe.status.success(),
        "{} cannot import botocore ({}); {fix}",
        python.display(),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    let version = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
    assert_eq!(
        version,
        pinned,
        "{} has botocore {version}, not the pinned {pinned}; {fix}",
        python.display()
    );
    python
}

/// Runs `scripts/validate-ace.py` over `document` (an export, an array of them, or bare bodies
/// of `operation`); its exit code and what it printed.
fn validate(document: &Value, operation: Option<&str>) -> (i32, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(document).unwrap()).unwrap();
    let mut command = Command::new(validator_python());
    command.arg(repo_root().join("scripts/validate-ace.py")).arg("--quiet");
    if let Some(operation) = operation {
        command.args(["--operation", operation]);
    }
    let output = command.arg(file.path()).output().expect("the validator runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

async fn export(app: &TestApp, token: &str, id: &str) -> Value {
    let reply = app.get(token, &format!("/v1/applications/{id}/ace")).await;
    assert_eq!(reply.status, 200, "export {id}: {reply:?}");
    reply.body
}

/// Waits until the classifier has moved a submitted application on.
async fn classified(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = app.view(ACME, id).await;
        if view["state"] != "submitted" {
            return view;
        }
        assert!(Instant::now() < deadline, "{id} stayed submitted: {view}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The status the export must show for a state (the README's table).
fn expected_status(state: &str) -> (&'static str, &'static str) {
    match state {
        "draft" => ("Pending Submission", "PENDING_SUBMISSION"),
        "submitted" => ("Submitted", "IN_REVIEW"),
        "in_review" => ("In review", "IN_REVIEW"),
        "approved" | "active" | "window_closed" | "graduated" | "retired" | "closed" | "clawed_back" => {
            ("Approved", "APPROVED")
        }
        "rejected" => ("Rejected", "REJECTED"),
        "redirected" => ("Action Required", "ACTION_REQUIRED"),
        "canceled" => ("Pending Submission", "CANCELED"),
        other => panic!("no expected ACE status for state {other}"),
    }
}

fn assert_status(export: &Value) {
    let state = export["state"].as_str().unwrap();
    let (review, benefit) = expected_status(state);
    assert_eq!(export["status"]["review_status"], review, "{state}: {export}");
    assert_eq!(export["status"]["benefit_application_status"], benefit, "{state}");
}

/// A varied application: names with quotes, markup, unicode and emoji, or longer than Partner
/// Central allows; use cases from a few characters to 10,000; exact amounts and ranges; every
/// catalog service; industries inside and outside AWS's enumeration.
fn generated(i: usize) -> Value {
    let names = [
        "O'Brien & Daughters \"Labs\"".to_owned(),
        "Zürich Ünïcödé Datenwerk AG".to_owned(),
        "東京スタートアップ株式会社".to_owned(),
        "Rocket 🚀 Science, Inc.".to_owned(),
        "<script>alert('x')</script> Ltd".to_owned(),
        "Back\\slash / Forward Co.".to_owned(),
        "X".to_owned(),
        format!("The Extremely Long Name Startup Number {i} ")
            .repeat(4)
            .trim()
            .to_owned(),
        "Ελληνική Εταιρεία Λογισμικού".to_owned(),
        // Tabs and line breaks are refused in a name (#13, item 5); other odd spacing is not.
        "Non\u{a0}breaking\u{2003}spaces\u{2009}GmbH".to_owned(),
    ];
    let industries = [
        "saas",
        "fintech",
        "Healthcare",
        "developer-tools",
        "quantum basket weaving",
        "government",
        "e-commerce",
        "Non-Profit",
        "édition numérique",
        "Media and Entertainment",
    ];
    let services = [
        "bedrock-agents",
        "amazon-q-business",
        "amazon-q-developer",
        "bedrock-knowledge-bases-v2",
        "sagemaker-hyperpod-recipes",
    ];
    let sentence = "The team evaluates the service on production-shaped traffic, measuring latency, accuracy and cost per request against the current baseline. ";
    let use_case = match i % 6 {
        0 => "Agents.".to_owned(),
        1 => sentence.repeat(14), // ~2,000 characters: at the model's limit
        2 => sentence.repeat(70), // ~10,000: cut at a word boundary
        3 => "ü".repeat(2500),    // one long word: cut mid-word
        4 => format!("Évaluation « {i} » — 評価と測定 with \"quotes\" and \\ backslashes. {sentence}"),
        _ => sentence.to_owned(),
    };
    let service = services[i % services.len()];
    let mut budget =
        vec![json!({"item": format!("{service} usage"), "category": "emerging_service", "monthly_usd": 100 + 37 * i})];
    match i % 4 {
        0 => budget.push(json!({"item": "Lambda", "category": "supporting", "monthly_usd_range": [1, 1]})),
        1 => budget.push(json!({"item": "Inference", "category": "model_inference", "monthly_usd_range": [500, 2001]})),
        2 => {
            for k in 0..8 {
                budget.push(json!({"item": format!("line {k}"), "category": "other", "monthly_usd": k + 1}));
            }
        }
        _ => budget.push(json!({"item": "Big", "category": "supporting", "monthly_usd_range": [1, 100_000_000]})),
    }
    let mut body = json!({
        "startup": {
            "name": names[i % names.len()],
            "aws_account_id": format!("{:012}", 100_000_000_000u64 + i as u64 * 7919),
            "industry": industries[i % industries.len()],
        },
        "service": service,
        "workload": format!("workload-{i}"),
        "use_case": use_case,
        "target_metrics": [{"name": format!("métrique {i} « p95 »"), "target": "< 200 ms"}],
        "metrics": ["latency p50 and p95", "cost per request"],
        "feedback_checkpoints_days": [15, 30],
        "evaluation_window_days": 30 + (i % 31),
        "budget": budget,
    });
    if i.is_multiple_of(5) && service.starts_with("bedrock") {
        body["programme"] = "bedrock_poc".into();
    }
    if i.is_multiple_of(3) {
        body["production_monthly_usd"] = (5000 + i).into();
    }
    body
}

#[tokio::test]
async fn every_export_of_the_examples_and_a_cohort_is_valid_for_botocore_in_every_state() {
    // Fails here, before any stack starts, when the validator is missing.
    validator_python();
    let app = TestApp::simulated().await;
    let mut exports = Vec::new();
    let mut submitted = Vec::new();

    for name in EXAMPLES {
        let draft = app.create(ACME, &example(name)).await;
        let drafted = export(&app, ACME, &draft).await;
        assert_eq!(drafted["status"]["review_status"], "Pending Submission", "{name}");
        assert_eq!(drafted["catalog"], "Sandbox");
        exports.push(drafted);
        submitted.push(app.submit(ACME, &example(name)).await);
    }
    const COHORT: usize = 50;
    for i in 0..COHORT {
        // Two in three submitted; the moduli of `generated` mix over both halves.
        if i % 3 != 2 {
            submitted.push(app.submit(ACME, &generated(i)).await);
        } else {
            let id = app.create(ACME, &generated(i)).await;
            exports.push(export(&app, ACME, &id).await);
        }
    }

    // A canceled draft still exports, as CANCELED.
    let withdrawn = app.create(ACME, &example(EXAMPLES[0])).await;
    let canceled = app
        .post(
            ACME,
            &format!("/v1/applications/{withdrawn}/cancel"),
            &serde_json::json!({"reason": "filed elsewhere"}),
        )
        .await;
    assert_eq!(canceled.status, 200, "{canceled:?}");
    let canceled = export(&app, ACME, &withdrawn).await;
    assert_status(&canceled);
    assert_eq!(canceled["status"]["benefit_application_status"], "CANCELED");
    exports.push(canceled);

    // Classified (in review, or redirected with a linked application, or rejected at once).
    let mut before = Vec::new();
    for id in &submitted {
        let view = classified(&app, id).await;
        let exported = export(&app, ACME, id).await;
        assert_status(&exported);
        let shown = app.view(ACME, id).await;
        assert_eq!(
            shown["partner_central"], exported["status"],
            "the view says it as the export does"
        );
        if let Some(linked) = view["links"]["redirected_to"].as_str() {
            let linked = export(&app, ACME, linked).await;
            assert!(
                linked["create_opportunity"]["Project"]["AdditionalComments"]
                    .as_str()
                    .unwrap()
                    .contains(id.as_str()),
                "a linked application names its parent: {linked}"
            );
            exports.push(linked);
        }
        before.push(exported.clone());
        exports.push(exported);
    }
    assert!(
        before.iter().any(|e| e["state"] == "in_review"),
        "some applications are in review"
    );

    // Past the review period (T6: 12 days, 14 for bedrock_poc): decided, credits applied. The
    // bodies are the same as before the decision: a re-export files the same thing once.
    app.advance_days(15).await;
    let mut decided = Vec::new();
    for (id, earlier) in submitted.iter().zip(&before) {
        let later = export(&app, ACME, id).await;
        assert_status(&later);
        for body in ["create_opportunity", "create_benefit_application"] {
            assert_eq!(later[body], earlier[body], "{id}: {body} changed with the state");
        }
        decided.push(later["status"]["review_status"].as_str().unwrap().to_owned());
        exports.push(later);
    }
    assert_eq!(decided[0], "Approved", "the worked example is approved");
    assert_eq!(decided[2], "Rejected", "the vague example is rejected");

    let count = exports.len();
    // What the cohort must have exercised, so the validation below covers it.
    let has = |what: &dyn Fn(&Value) -> bool| exports.iter().any(what);
    assert!(has(&|e| e["state"] == "redirected"), "a redirection (C2)");
    assert!(
        has(&|e| e["create_opportunity"]["Project"]["AdditionalComments"]
            .as_str()
            .is_some_and(|c| c.contains("Follows Sandpiper application"))),
        "a linked application"
    );
    assert!(
        has(&|e| e["notes"].to_string().contains("CompanyName was shortened")),
        "a name over the model's 120 characters"
    );
    assert!(
        has(&|e| e["create_opportunity"]["Customer"]["Account"]["Industry"] == "Other"),
        "an industry outside the model's list"
    );
    let (code, report) = validate(&Value::Array(exports), None);
    assert_eq!(code, 0, "botocore refused exported bodies:\n{report}");
    assert!(
        report.contains(&format!(
            "{} bodies checked against botocore {}",
            2 * count,
            pinned_botocore()
        )),
        "{report}"
    );

    // `sandpiper ace export ID --operation …` prints one body, as --cli-input-json takes it.
    let client = sandpiper_cli::client::ApiClient::new(&app.stack.api_url(), ACME).unwrap();
    for (operation, flag) in [
        (Operation::CreateOpportunity, "create-opportunity"),
        (Operation::CreateBenefitApplication, "create-benefit-application"),
    ] {
        let mut bodies = Vec::new();
        for id in &submitted {
            let (body, notes) = sandpiper_cli::commands::ace::export(&client, id, Some(operation))
                .await
                .unwrap();
            assert!(body.get("ClientToken").is_some(), "{body}");
            assert!(!notes.is_empty(), "the notes come along");
            bodies.push(body);
        }
        let (code, report) = validate(&Value::Array(bodies), Some(flag));
        assert_eq!(code, 0, "{flag}:\n{report}");
    }
}

#[tokio::test]
async fn the_validator_refuses_what_the_models_refuse() {
    validator_python();
    let app = TestApp::spawn().await;
    let id = app.create(ACME, &example("bedrock-agents-support")).await;
    let good = export(&app, ACME, &id).await;
    let (code, report) = validate(&good, None);
    assert_eq!(code, 0, "{report}");

    type Break = fn(&mut Value);
    let broken: [(&str, Break, &str); 8] = [
        (
            "no-client-token",
            |e| {
                e["create_opportunity"].as_object_mut().unwrap().remove("ClientToken");
            },
            "Missing required parameter in input: \"ClientToken\"",
        ),
        (
            "no-benefit",
            |e| {
                e["create_benefit_application"]
                    .as_object_mut()
                    .unwrap()
                    .remove("BenefitIdentifier");
            },
            "Missing required parameter in input: \"BenefitIdentifier\"",
        ),
        (
            "bad-industry",
            |e| e["create_opportunity"]["Customer"]["Account"]["Industry"] = "saas".into(),
            "Customer.Account.Industry: 'saas' is not one of the model's values",
        ),
        (
            "bad-fulfillment",
            |e| e["create_benefit_application"]["FulfillmentTypes"] = json!(["MONEY"]),
            "FulfillmentTypes[0]: 'MONEY' is not one of the model's values",
        ),
        (
            "long-company-name",
            |e| e["create_opportunity"]["Customer"]["Account"]["CompanyName"] = "n".repeat(121).into(),
            "Customer.Account.CompanyName: 'nnnn",
        ),
        (
            "bad-account",
            |e| e["create_opportunity"]["Customer"]["Account"]["AwsAccountId"] = "1234-5678-9012".into(),
            "does not match the model's pattern '([0-9]{12}|\\\\w{1,12})'",
        ),
        (
            "unknown-member",
            |e| e["create_opportunity"]["ReviewStatus"] = "Approved".into(),
            "Unknown parameter in input: \"ReviewStatus\"",
        ),
        (
            "long-description",
            |e| e["create_benefit_application"]["Description"] = "d".repeat(1001).into(),
            "Description: 1001 characters, at most 1000 allowed",
        ),
    ];
    let mut all = Vec::new();
    for (label, breaks, _) in &broken {
        let mut export = good.clone();
        export["application_id"] = (*label).into();
        breaks(&mut export);
        all.push(export);
    }
    let (code, report) = validate(&Value::Array(all), None);
    assert_eq!(code, 1, "{report}");
    for (label, _, expected) in &broken {
        assert!(
            report.contains(&format!("INVALID {label} ")),
            "{label} passed:\n{report}"
        );
        assert!(report.contains(expected), "{label}: no {expected:?} in\n{report}");
    }
    assert!(report.contains(": 8 invalid"), "{report}");
}

#[tokio::test]
async fn the_export_keeps_tenancy_and_names_what_a_draft_lacks() {
    let app = TestApp::spawn().await;
    let id = app.create(ACME, &example("amazon-q-business-docs")).await;
    let other = app.get(GLOBEX, &format!("/v1/applications/{id}/ace")).await;
    assert_eq!(other.status, 404, "another partner's application: {other:?}");
    assert_eq!(other.content_type, "application/problem+json");
    let doc = app.get(ACME, "/openapi.json").await.body;
    let template = "/v1/applications/{id}/ace";
    crate::api::assert_documented(&doc, "get", template, &other);
    let own = app.get(ACME, &format!("/v1/applications/{id}/ace")).await;
    assert_eq!(own.status, 200, "{own:?}");
    crate::api::assert_documented(&doc, "get", template, &own);
    let admin = app.get(ADMIN, &format!("/v1/applications/{id}/ace")).await;
    assert_eq!(admin.body, own.body, "an admin sees the same export");
    let missing = app.get(ACME, "/v1/applications/01J9ZQ4V6S7KX0C2M8N5T3W1Y4/ace").await;
    assert_eq!(missing.status, 404);

    let sparse = app
        .create(
            ACME,
            &json!({"startup": {"name": "Half Done", "aws_account_id": "12345"}}),
        )
        .await;
    let refused = app.get(ACME, &format!("/v1/applications/{sparse}/ace")).await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(refused.content_type, "application/problem+json");
    assert_eq!(refused.body["type"], "urn:sandpiper:problem:ace-incomplete");
    crate::api::assert_documented(&doc, "get", template, &refused);
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "startup.aws_account_id",
            "startup.industry",
            "service",
            "workload",
            "use_case",
            "budget"
        ]
    );
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Customer.Account.AwsAccountId"),
        "{refused:?}"
    );

    let operation = &doc["paths"][template]["get"];
    assert_eq!(
        operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AceExport"
    );
    assert!(operation["responses"]["409"].is_object());
}
