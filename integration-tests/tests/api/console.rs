//! The web console (#14) in a real browser (Debian's headless Chromium over WebDriver) against
//! the real stack, and its security edges over plain HTTP.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_integration_tests::browser::Browser;
use sandpiper_integration_tests::console::{ConsoleSession, set_cookie};
use sandpiper_integration_tests::{ACME, ADMIN, GLOBEX, TestApp, example};
use serde_json::json;

const USE_CASE_VAGUE: &str = "Exploring what Bedrock Agents can do for our workflows.";

/// Fails the test with every WCAG A/AA violation axe-core finds on the page.
async fn assert_accessible(browser: &Browser, page: &str) {
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "axe-core on {page}:\n{}", violations.join("\n"));
}

async fn sign_in(browser: &Browser, app: &TestApp, token: &str) {
    browser.goto(&app.url("/console")).await;
    // An unauthenticated page goes to sign-in.
    browser.find("#token").await;
    assert!(
        browser.url().await.contains("/console/sign-in"),
        "{}",
        browser.url().await
    );
    browser.fill("#token", token).await;
    browser.click(&browser.find("#sign-in").await).await;
    browser.find("#who").await;
}

async fn sign_out(browser: &Browser) {
    browser.click(&browser.find("#sign-out").await).await;
    browser.find("#token").await;
}

async fn preflight_reads(browser: &Browser, what: &str, done: impl Fn(&str) -> bool) -> String {
    browser.wait_for_text("#preflight-headline", what, done).await
}

#[tokio::test]
async fn a_partner_files_follows_and_decides_in_the_browser() {
    let app = TestApp::simulated().await;
    let browser = Browser::start().await;

    // Sign in: a wrong token is refused on the page; the right one opens the pipeline.
    browser.goto(&app.url("/console/applications/new")).await;
    browser.find("#token").await;
    assert_accessible(&browser, "sign-in").await;
    browser.screenshot("sign-in").await;
    browser.fill("#token", "not-a-token").await;
    browser.click(&browser.find("#sign-in").await).await;
    let refused = browser.text_of("#sign-in-error").await;
    assert!(refused.contains("not known"), "{refused}");
    browser.fill("#token", ACME).await;
    browser.click(&browser.find("#sign-in").await).await;
    // The sign-in returns to the page asked for.
    browser.find("#draft-form").await;
    assert_eq!(browser.text_of("#who").await, "acme");
    assert_accessible(&browser, "new application").await;

    // A weak, vague draft: rejected (T2), live as the fields are typed.
    let name = "Helpdesk <script>alert('x')</script> \"Autopilot\"";
    browser.fill("[name='startup.name']", name).await;
    browser.fill("[name='startup.aws_account_id']", "111122223333").await;
    browser.fill("[name='startup.industry']", "saas").await;
    browser.select("[name='service']", "bedrock-agents").await;
    browser.fill("[name='workload']", "customer-support").await;
    browser.fill("[name='use_case']", USE_CASE_VAGUE).await;
    browser.fill("[name='evaluation_window_days']", "45").await;
    browser
        .fill("[name='budget[0].item']", "Bedrock Agents invocations")
        .await;
    browser.select("[name='budget[0].category']", "emerging_service").await;
    browser.fill("[name='budget[0].monthly_usd']", "900-1500").await;
    let rejected = preflight_reads(&browser, "a vague, weak draft", |t| t.contains("rejected")).await;
    assert!(rejected.contains("Innovation Sandbox"), "{rejected}");

    // A clear use case with a target: still weak elsewhere, so the floor (T3).
    let body = example("bedrock-agents-support");
    let use_case = body["use_case"].as_str().unwrap();
    browser.fill("[name='use_case']", use_case).await;
    preflight_reads(&browser, "the floor", |t| t.contains("approved at $10K")).await;

    // Every component strong, two checkpoints and $3,040 a month: the ceiling (T4).
    browser.fill("[name='evaluation_window_days']", "60").await;
    let metrics: Vec<&str> = body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    browser.fill("[name='metrics']", &metrics.join("\n")).await;
    browser.fill("[name='feedback_checkpoints_days']", "30, 60").await;
    browser.fill("[name='budget[0].monthly_usd']", "1700").await;
    for (row, (item, category, amount)) in [
        (
            "Claude Sonnet 4 inference for agent reasoning",
            "model_inference",
            "850",
        ),
        ("Lambda orchestration for tool execution", "supporting", "180"),
        ("OpenSearch Serverless knowledge-base vector index", "supporting", "250"),
        ("CloudWatch logging", "supporting", "60"),
    ]
    .iter()
    .enumerate()
    {
        let row = row + 1;
        browser.fill(&format!("[name='budget[{row}].item']"), item).await;
        browser
            .select(&format!("[name='budget[{row}].category']"), category)
            .await;
        browser
            .fill(&format!("[name='budget[{row}].monthly_usd']"), amount)
            .await;
    }
    preflight_reads(&browser, "the ceiling", |t| t.contains("approved at $25K")).await;
    assert_eq!(browser.attribute("#preflight-result", "data-tier").await, "25000");
    let advice = browser.text_of("#preflight").await;
    assert!(advice.contains("strong"), "{advice}");
    browser.screenshot("preflight").await;

    // Submit: the application page, in review.
    browser.click(&browser.find("#submit").await).await;
    browser.find("#notice").await;
    let heading = browser.text_of("h1").await;
    assert!(
        heading.contains("<script>alert('x')</script>"),
        "the name is shown as text: {heading}"
    );
    let id = browser
        .url()
        .await
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let submitted = app.wait_for_state(ACME, &id, "in_review").await;
    assert_eq!(submitted["startup"]["name"], name);
    assert_accessible(&browser, "application (in review)").await;

    // The pipeline lists it with its state and what is next.
    browser.goto(&app.url("/console")).await;
    let row = browser.text_of(&format!("tr[data-id='{id}']")).await;
    assert!(
        row.contains("in review") && row.contains("Review decision pending"),
        "{row}"
    );
    assert_accessible(&browser, "pipeline").await;
    sign_out(&browser).await;

    // The admin advances the simulated clock past the review period (T6).
    sign_in(&browser, &app, ADMIN).await;
    browser.goto(&app.url("/console/admin/clock")).await;
    assert_accessible(&browser, "clock").await;
    browser.fill("#days", "13").await;
    browser.click(&browser.find("#advance").await).await;
    // The page before the submit has a `#clock-now` too: wait for the answer's, not that one.
    browser
        .wait_for_text("#clock-now", "the clock after the advance", |now| {
            now.starts_with("2026-03-15")
        })
        .await;
    sign_out(&browser).await;

    // The partner sees the approval, the split tranches and the office hours.
    sign_in(&browser, &app, ACME).await;
    browser.goto(&app.url(&format!("/console/applications/{id}"))).await;
    assert_eq!(browser.attribute("#state", "data-state").await, "active");
    let standing = browser.text_of("#standing").await;
    assert!(standing.contains("Approved at $25K"), "{standing}");
    let tranches = browser.text_of("#tranches").await;
    assert!(
        tranches.contains("$10,000") && tranches.contains("$15,000"),
        "{tranches}"
    );
    let sessions = browser.text_of("#sessions").await;
    assert!(
        sessions.contains("kickoff") && sessions.contains("closing"),
        "{sessions}"
    );
    assert!(browser.has("#ics").await);
    let points_before = browser
        .execute("return document.querySelectorAll('#burn-down circle').length", vec![])
        .await;
    assert_accessible(&browser, "application (active)").await;

    // Report consumption: the balance and the chart move.
    browser.fill("#c-amount", "4000").await;
    browser.fill("#c-note", "first week <b>load test</b>").await;
    browser.click(&browser.find("#report-consumption").await).await;
    let notice = browser.text_of("#notice").await;
    assert_eq!(notice, "Consumption recorded.");
    let credits = browser.text_of("#credits").await;
    assert!(
        credits.contains("Balance\n$6,000") || credits.contains("Balance $6,000"),
        "{credits}"
    );
    let points_after = browser
        .execute("return document.querySelectorAll('#burn-down circle').length", vec![])
        .await;
    assert_eq!(
        points_after.as_u64(),
        points_before.as_u64().map(|n| n + 1),
        "one more point on the chart"
    );
    browser.screenshot("application").await;

    // A report the API refuses is shown with its reason, and changes nothing.
    browser.fill("#c-amount", "0").await;
    browser.click(&browser.find("#report-consumption").await).await;
    let refused = browser.text_of("#action-error").await;
    assert!(refused.contains("amount_usd"), "{refused}");
    assert!(browser.text_of("#credits").await.contains("$6,000"));

    // The agenda and the credit position, for the same partner, are accessible too.
    browser.goto(&app.url("/console/agenda")).await;
    assert!(browser.has("#agenda tbody tr").await, "the sessions are on the agenda");
    assert_accessible(&browser, "agenda").await;
    browser.goto(&app.url("/console/position?account=111122223333")).await;
    assert_eq!(browser.text_of("#total").await, "$25,000");
    assert_accessible(&browser, "credit position").await;

    // At window close the team decides: graduate.
    app.advance_days(61).await;
    browser.goto(&app.url(&format!("/console/applications/{id}"))).await;
    assert_eq!(browser.attribute("#state", "data-state").await, "window_closed");
    browser.click(&browser.find("#d-graduate").await).await;
    browser.fill("#d-notes", "moving to production").await;
    browser.click(&browser.find("#decide").await).await;
    assert_eq!(browser.text_of("#notice").await, "Decision recorded.");
    assert_eq!(browser.attribute("#state", "data-state").await, "graduated");
    assert!(browser.text_of("#links").await.contains("Graduated to"));

    // The pipeline, for the README, with a few more applications in it.
    for name in ["exploring-agents", "amazon-q-business-docs"] {
        app.submit(ACME, &example(name)).await;
    }
    let mut another = example("bedrock-agents-support");
    another["startup"]["name"] = json!("Northwind Analytics");
    app.create(ACME, &another).await;
    browser.goto(&app.url("/console")).await;
    assert_eq!(
        browser
            .execute("return document.querySelectorAll('#pipeline tbody tr').length", vec![])
            .await,
        5
    );
    browser.screenshot("pipeline").await;

    sign_out(&browser).await;
    // Signed out: the pages go back to sign-in.
    browser.goto(&app.url(&format!("/console/applications/{id}"))).await;
    browser.find("#token").await;
    browser.quit().await;
}

#[tokio::test]
async fn the_console_escapes_isolates_and_refuses_forgeries() {
    let app = TestApp::spawn().await;
    let mut hostile = example("bedrock-agents-support");
    hostile["startup"]["name"] = json!("<script>alert(\"pwned\")</script> & 'Q'");
    hostile["use_case"] = json!(format!(
        "{} <img src=x onerror=alert(1)> \"quoted\"",
        hostile["use_case"].as_str().unwrap()
    ));
    let id = app.create(ACME, &hostile).await;

    let acme = ConsoleSession::sign_in(&app, ACME).await;
    for path in [
        "/console".to_owned(),
        format!("/console/applications/{id}"),
        format!("/console/applications/{id}/edit"),
    ] {
        let (status, page) = acme.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!page.contains("<script>alert"), "{path} shows partner text as markup");
        assert!(!page.contains("<img src=x"), "{path} shows partner text as markup");
        assert!(page.contains("&#60;script&#62;alert"), "{path} shows the name, escaped");
    }

    // Every answer carries the policy: no inline script, nothing from elsewhere.
    let response = acme
        .http
        .get(app.url("/console"))
        .header("cookie", format!("sandpiper_console={}", acme.cookie))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(response.headers()["x-frame-options"], "DENY");

    // Another partner's application answers 404, as a missing one does.
    let globex = ConsoleSession::sign_in(&app, GLOBEX).await;
    let (status, page) = globex.get(&format!("/console/applications/{id}")).await;
    assert_eq!(status, 404, "{page}");
    assert!(!page.contains("Helpdesk"));
    let (status, _) = globex
        .post(
            &format!("/console/applications/{id}/cancel"),
            &[("csrf", globex.csrf.as_str()), ("reason", "not mine")],
        )
        .await;
    assert_eq!(status, 404);

    // A post without the session's CSRF token is refused and changes nothing.
    let (status, _) = acme
        .post(&format!("/console/applications/{id}/cancel"), &[("reason", "forged")])
        .await;
    assert_eq!(status, 403);
    let (status, _) = acme
        .post(
            &format!("/console/applications/{id}/cancel"),
            &[("csrf", globex.csrf.as_str()), ("reason", "forged")],
        )
        .await;
    assert_eq!(status, 403, "another session's token is not this one's");
    assert_eq!(app.view(ACME, &id).await["state"], "draft");

    // A stale revision is refused with the API's reason (412), and changes nothing.
    let (status, page) = acme
        .post(
            &format!("/console/applications/{id}/cancel"),
            &[("csrf", acme.csrf.as_str()), ("reason", "stale"), ("revision", "999")],
        )
        .await;
    assert_eq!(status, 412, "{page}");
    assert_eq!(app.view(ACME, &id).await["state"], "draft");

    // Forged and signed-out cookies go back to sign-in.
    let forged = ConsoleSession {
        app: &app,
        http: acme.http.clone(),
        cookie: "a".repeat(64),
        csrf: String::new(),
    };
    let response = forged
        .http
        .get(app.url("/console"))
        .header("cookie", format!("sandpiper_console={}", forged.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/console/sign-in")
    );
    let (status, _) = acme.post("/console/sign-out", &[("csrf", acme.csrf.as_str())]).await;
    assert_eq!(status, 303);
    let (status, _) = acme.get("/console").await;
    assert_eq!(status, 303, "a signed-out session is gone");

    // The trusted-proxy header signs nobody in unless configured.
    let response = acme
        .http
        .get(app.url("/console/sign-in"))
        .header("x-forwarded-email", "ops@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the sign-in form, not a session");
    assert!(set_cookie(&response, "sandpiper_console").is_none());
}

#[tokio::test]
async fn the_pipeline_filters_searches_counts_and_pages() {
    let app = TestApp::spawn().await;
    let body = example("bedrock-agents-support");
    let mut ids = Vec::new();
    for n in 0..30 {
        let mut draft = body.clone();
        draft["startup"]["name"] = json!(format!("Startup {n:02}"));
        ids.push(app.create(ACME, &draft).await);
    }
    let mut named = body.clone();
    named["startup"]["name"] = json!("Zebra Robotics");
    let zebra = app.submit(ACME, &named).await;
    app.wait_for_state(ACME, &zebra, "in_review").await;
    app.create(GLOBEX, &body).await;

    let acme = ConsoleSession::sign_in(&app, ACME).await;
    let (_, page) = acme.get("/console").await;
    // Counts per state, over the partner's own applications only.
    assert!(
        page.contains("data-state=\"draft\">draft <span class=\"count\">30</span>"),
        "{page}"
    );
    assert!(page.contains("All <span class=\"count\">31</span>"));
    // One page of 25, newest first, and a next page.
    assert_eq!(page.matches("<tr data-id=").count(), 25);
    assert!(page.find("Zebra Robotics").unwrap() < page.find("Startup 29").unwrap());
    let next = hidden_link(&page, "next-page");
    let (_, second) = acme.get(&next).await;
    assert_eq!(second.matches("<tr data-id=").count(), 6);
    assert!(second.contains("Startup 00"));

    let (_, found) = acme.get("/console?q=zebra").await;
    assert_eq!(found.matches("<tr data-id=").count(), 1);
    assert!(found.contains("Zebra Robotics"));
    let (_, in_review) = acme.get("/console?state=in_review").await;
    assert_eq!(in_review.matches("<tr data-id=").count(), 1);
    let (_, other_service) = acme.get("/console?service=q-business").await;
    assert_eq!(other_service.matches("<tr data-id=").count(), 0);
}

fn hidden_link(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no #{id}"));
    let before = &html[..at];
    let href = before.rfind("href=\"").unwrap() + 6;
    before[href..].split('"').next().unwrap().replace("&amp;", "&")
}

#[tokio::test]
async fn an_admin_sees_and_redrives_dead_letters_in_the_console() {
    use sandpiper_contracts::events::EventType;
    use sandpiper_contracts::ids::{ApplicationId, PartnerId};
    use sandpiper_contracts::names::ServiceName;

    let app = TestApp::spawn().await;
    let bus = app.bus(ServiceName::Intake).await;
    let subject = sandpiper_contracts::subjects::event(
        &PartnerId::parse("acme").unwrap(),
        &ApplicationId::generate(),
        EventType::Submitted,
    );
    bus.jetstream
        .publish(subject, "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let listed = sandpiper_integration_tests::poll_async("the letter is listed", || async {
        let reply = app.get(ADMIN, "/v1/dead-letters?service=classifier").await;
        reply.body["items"]
            .as_array()
            .filter(|items| !items.is_empty())
            .cloned()
    })
    .await;
    let id = listed[0]["id"].as_u64().unwrap().to_string();

    let admin = ConsoleSession::sign_in(&app, ADMIN).await;
    let (status, page) = admin.get("/console/admin/dead-letters?service=classifier").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<tr data-id=\"{id}\">")), "{page}");
    assert!(page.contains("unreadable"));

    // A partner cannot open the admin pages.
    let acme = ConsoleSession::sign_in(&app, ACME).await;
    let (status, _) = acme.get("/console/admin/dead-letters").await;
    assert_eq!(status, 403);

    // Still unreadable: the redrive is refused again, and a new letter replaces this one.
    let (status, _) = admin
        .post(
            &format!("/console/admin/dead-letters/{id}/redrive"),
            &[("csrf", admin.csrf.as_str())],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = admin.get("/console/admin/dead-letters?notice=refused").await;
    assert!(page.contains("Refused again"), "{page}");
    assert!(
        !page.contains(&format!("<tr data-id=\"{id}\">")),
        "the old letter is replaced"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_its_header_signs_the_user_in() {
    use sandpiper_console::settings::{ConsoleSettings, TrustedHeader};
    use sandpiper_contracts::ids::PartnerId;
    use sandpiper_runtime::http::auth::Principal;

    let app = TestApp::spawn_with_console(ConsoleSettings {
        trusted_header: Some(TrustedHeader {
            name: "x-forwarded-email".into(),
            rules: vec![(
                "@acme.example".into(),
                Principal::Partner(PartnerId::parse("acme").unwrap()),
            )],
        }),
        ..ConsoleSettings::default()
    })
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let vouched = http
        .get(app.url("/console/sign-in?next=/console/agenda"))
        .header("x-forwarded-email", "pat@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(vouched.status(), 303);
    assert_eq!(vouched.headers()["location"], "/console/agenda");
    let cookie = set_cookie(&vouched, "sandpiper_console").expect("a session for the vouched user");
    let page = http
        .get(app.url("/console"))
        .header("cookie", format!("sandpiper_console={cookie}"))
        .header("x-forwarded-email", "pat@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<strong id=\"who\">acme</strong>"));

    // The proxy now vouches for someone else: the session no longer holds.
    let switched = http
        .get(app.url("/console"))
        .header("cookie", format!("sandpiper_console={cookie}"))
        .header("x-forwarded-email", "ops@globex.example")
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 303, "the session was for another user");
    let other = http
        .get(app.url("/console/sign-in"))
        .header("x-forwarded-email", "ops@globex.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "an unmapped user gets the token form");
}

#[tokio::test]
async fn an_admin_publishes_a_catalog_from_toml_and_sees_why_a_bad_one_is_refused() {
    let app = TestApp::spawn().await;
    let admin = ConsoleSession::sign_in(&app, ADMIN).await;
    let (status, page) = admin
        .post(
            "/console/admin/catalog",
            &[
                ("csrf", admin.csrf.as_str()),
                ("toml", "version = \"broken\"\nservices = 3"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("was not published"), "{page}");

    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/contracts/data/catalog-2026.toml"
    ))
    .unwrap();
    let builtin_version = builtin
        .lines()
        .find_map(|l| l.strip_prefix("version = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let next = builtin.replacen(
        &format!("version = \"{builtin_version}\""),
        "version = \"2026.console\"",
        1,
    );
    let (status, page) = admin
        .post(
            "/console/admin/catalog",
            &[("csrf", admin.csrf.as_str()), ("toml", next.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Published catalog 2026.console."), "{page}");
    let versions = app.get(ADMIN, "/v1/catalog/versions").await;
    assert!(versions.body.to_string().contains("2026.console"));
    // Publishing the same version again is the API's 409, shown with its reason.
    let (status, page) = admin
        .post(
            "/console/admin/catalog",
            &[("csrf", admin.csrf.as_str()), ("toml", next.as_str())],
        )
        .await;
    assert_eq!(status, 409, "{page}");

    // An admin files for the partner it names (E3); without one, the API's reason is shown.
    let draft = [
        ("csrf", admin.csrf.as_str()),
        ("startup.name", "Filed By Ops"),
        ("action", "save"),
    ];
    let (status, page) = admin.post("/console/applications", &draft).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("partner_id"), "{page}");
    assert!(page.contains("value=\"Filed By Ops\""), "the form keeps what was typed");
    let mut for_acme = draft.to_vec();
    for_acme.push(("partner_id", "acme"));
    let (status, _) = admin.post("/console/applications", &for_acme).await;
    assert_eq!(status, 303);
    let listed = app.get(ACME, "/v1/applications").await;
    assert_eq!(listed.body["items"][0]["startup"]["name"], "Filed By Ops");
}
