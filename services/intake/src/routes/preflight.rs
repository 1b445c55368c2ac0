//! `POST /v1/preflight`: score a draft exactly as the classifier and reviewer would, storing
//! nothing. The rules are the ones the services run (`sandpiper-rules`), including the step after
//! classification ([`sandpiper_rules::next_step`]): nothing is written twice.

use axum::Json;
use axum::extract::State;
use sandpiper_contracts::answers::{Preflight, PreflightDecision};
use sandpiper_contracts::decision::{ClassificationBasis, Outcome};
use sandpiper_contracts::model::ApplicationDraft;
use sandpiper_rules::NextStep;

use crate::state::AppState;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::JsonBody;
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// Scores a draft body without storing anything.
#[utoipa::path(
    post, path = "/v1/preflight", tag = "applications",
    request_body = ApplicationDraft,
    responses(
        (status = 200, description = "The scoring", body = Preflight),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not a complete, valid form; every failing field is listed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog store is unavailable; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn preflight(
    State(app): State<AppState>,
    _caller: Principal,
    body: JsonBody<ApplicationDraft>,
) -> ApiResult<Json<Preflight>> {
    let now = app.clock.now();
    app.catalogs.sync().await?;
    let catalog = app.catalogs.in_force_or_empty(now);
    let application = body.value.validate(&catalog, now)?;
    let classification = sandpiper_rules::classify(&application, true, &catalog, now);
    // The classifier follows the same step, so preflight never reviews what the pipeline will not.
    let (pool, body, failures) = match sandpiper_rules::next_step(&application, &classification) {
        NextStep::Review { pool, failures } => (pool, application, failures),
        NextStep::ReviewLinked { pool, body } => (pool, *body, Vec::new()),
        NextStep::Redirected { to, .. } => {
            let ClassificationBasis {
                rules,
                reasons,
                figures,
            } = classification.basis();
            return Ok(Json(Preflight {
                decision: PreflightDecision::Redirected,
                pool: to,
                components: None,
                outcome: None,
                tier_usd: None,
                rules,
                reasons,
                next_tier: Vec::new(),
                figures,
                review_period_days: None,
                catalog_version: catalog.version.clone(),
                classification,
            }));
        }
    };
    let review = sandpiper_rules::review(&body, pool, &catalog, &failures);
    let (decision, tier_usd) = match review.outcome {
        Outcome::Approved { tier_usd } => (PreflightDecision::Approved, Some(tier_usd)),
        Outcome::Rejected => (PreflightDecision::Rejected, None),
    };
    Ok(Json(Preflight {
        decision,
        pool,
        classification,
        components: Some(review.components),
        outcome: Some(review.outcome),
        tier_usd,
        rules: review.rules,
        reasons: review.reasons,
        next_tier: review.next_tier,
        figures: review.figures,
        review_period_days: Some(sandpiper_rules::review_period_days(pool)),
        catalog_version: catalog.version.clone(),
    }))
}
