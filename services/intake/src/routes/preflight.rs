//! `POST /v1/preflight`: score a draft exactly as the classifier and reviewer would, storing
//! nothing. The rules are the ones the services run (`sandpiper-rules`): nothing is written twice.

use axum::Json;
use axum::extract::State;
use sandpiper_contracts::decision::{Classification, Components, Finding, Outcome, PoolFigures};
use sandpiper_contracts::model::{ApplicationDraft, Programme};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::AppState;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::JsonBody;
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// What the review would decide, and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preflight {
    /// The pool the application would be reviewed in (after any redirection).
    pub pool: Programme,
    /// The classification (C1–C4, K1–K2, E1–E5), with its rules and reasons.
    pub classification: Classification,
    pub components: Components,
    /// `approved` with `tier_usd`, or `rejected`.
    pub outcome: Outcome,
    /// The tier in dollars when approved.
    pub tier_usd: Option<i64>,
    pub rules: Vec<String>,
    pub reasons: Vec<String>,
    /// What to change to reach the next tier.
    pub next_tier: Vec<String>,
    pub figures: PoolFigures,
    /// The review period before the decision would be published (T6).
    pub review_period_days: i64,
    pub catalog_version: String,
}

/// Scores a draft body without storing anything.
#[utoipa::path(
    post, path = "/v1/preflight", tag = "applications",
    request_body = ApplicationDraft,
    responses(
        (status = 200, description = "The scoring", body = Preflight),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not a complete, valid form; every failing field is listed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn preflight(
    State(app): State<AppState>,
    _caller: Principal,
    body: JsonBody<ApplicationDraft>,
) -> ApiResult<Json<Preflight>> {
    let now = app.clock.now();
    app.catalogs
        .sync()
        .await
        .map_err(|_| Problem::unavailable("the catalog store is unavailable; retry shortly"))?;
    let catalog = app.catalogs.in_force_or_empty(now);
    let application = body
        .value
        .validate(&catalog, now)
        .map_err(|e| Problem::validation(e.0))?;
    let classification = sandpiper_rules::classify(&application, true, &catalog, now);
    let (pool, failures): (Programme, Vec<Finding>) = match &classification {
        Classification::Fits { pool, .. } => (*pool, Vec::new()),
        Classification::Ineligible { pool, failures, .. } => (*pool, failures.clone()),
        Classification::Redirect { to, .. } => (*to, Vec::new()),
    };
    let review = sandpiper_rules::review(&application, pool, &catalog, &failures);
    let tier_usd = match review.outcome {
        Outcome::Approved { tier_usd } => Some(tier_usd),
        Outcome::Rejected => None,
    };
    Ok(Json(Preflight {
        pool,
        classification,
        components: review.components,
        outcome: review.outcome,
        tier_usd,
        rules: review.rules,
        reasons: review.reasons,
        next_tier: review.next_tier,
        figures: review.figures,
        review_period_days: sandpiper_rules::review_period_days(pool),
        catalog_version: catalog.version.clone(),
    }))
}
