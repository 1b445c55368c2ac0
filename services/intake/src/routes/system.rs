//! The catalog in force and the system clock.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use sandpiper_contracts::answers::ClockReading;
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::model::FieldError;
use sandpiper_contracts::rule::RuleId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::advance;
use crate::state::AppState;
use sandpiper_runtime::http::auth::{AdminOnly, Principal};
use sandpiper_runtime::http::extract::JsonBody;
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// The emerging-service catalog in force now, with its version.
#[utoipa::path(
    get, path = "/v1/catalog", tag = "system",
    responses(
        (status = 200, description = "The catalog in force", body = Catalog),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No version is in force yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog store is unavailable; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn catalog(State(app): State<AppState>, _caller: Principal) -> ApiResult<Json<Catalog>> {
    app.catalogs.sync().await?;
    let now = app.clock.now();
    app.catalogs
        .in_force(now)
        .map(|c| Json(c.as_ref().clone()))
        .ok_or_else(|| Problem::not_found(format!("no catalog version is in force on {}", now.date_naive())))
}

/// Every published catalog version, in publication order.
#[utoipa::path(
    get, path = "/v1/catalog/versions", tag = "system",
    responses(
        (status = 200, description = "Every version", body = Vec<Catalog>),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog store is unavailable; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn catalog_versions(State(app): State<AppState>, _caller: Principal) -> ApiResult<Json<Vec<Catalog>>> {
    app.catalogs.sync().await?;
    Ok(Json(app.catalogs.all().iter().map(|c| c.as_ref().clone()).collect()))
}

/// Publishes a new catalog version (admin token). It applies to applications submitted on or after
/// its `effective_from` date (K2, K4); a version name can be used once.
#[utoipa::path(
    post, path = "/v1/catalog", tag = "system",
    request_body = Catalog,
    responses(
        (status = 201, description = "Published", body = Catalog),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid catalog", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The catalog store is unavailable; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn publish_catalog(
    State(app): State<AppState>,
    _admin: AdminOnly,
    body: JsonBody<Catalog>,
) -> ApiResult<(StatusCode, Json<Catalog>)> {
    let catalog = body.value.checked().map_err(|e| {
        Problem::validation(vec![FieldError {
            field: "services".into(),
            message: e.to_string(),
            rule: Some(RuleId::K3),
        }])
    })?;
    app.catalogs.publish(&catalog).await?;
    tracing::info!(version = %catalog.version, effective_from = %catalog.effective_from, "catalog version published");
    Ok((StatusCode::CREATED, Json(catalog)))
}

fn reading(app: &AppState) -> ClockReading {
    let mode = if app.clock.is_simulated() { "simulated" } else { "wall" };
    ClockReading {
        now: app.clock.now(),
        mode: mode.into(),
    }
}

/// The system's current time (CONTRACT §5).
#[utoipa::path(
    get, path = "/v1/clock", tag = "system",
    responses(
        (status = 200, description = "The current time", body = ClockReading),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn clock(State(app): State<AppState>, _caller: Principal) -> Json<ClockReading> {
    Json(reading(&app))
}

/// How far to move the simulated clock.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    pub days: Option<i64>,
    pub hours: Option<i64>,
}

/// The furthest one advance may move the clock.
const MAX_ADVANCE_DAYS: i64 = 3_660;

/// Moves the simulated clock forward (admin token, simulated mode only). Answers after every timer
/// due up to the new time has fired, in time order, and its events are stored.
#[utoipa::path(
    post, path = "/v1/clock/advance", tag = "system",
    request_body = Advance,
    responses(
        (status = 200, description = "The new time", body = ClockReading),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The system runs on the wall clock", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither days nor hours, or out of range", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The clock could not be moved all the way, or the views are still catching up; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn advance_clock(
    State(app): State<AppState>,
    _admin: AdminOnly,
    body: JsonBody<Advance>,
) -> ApiResult<Json<ClockReading>> {
    if !app.clock.is_simulated() {
        return Err(Problem::conflict(
            "the system runs on the wall clock (SANDPIPER_CLOCK=wall); only a simulated clock can be advanced",
        ));
    }
    let Advance { days, hours } = body.value;
    let field = |name: &str, message: String| FieldError {
        field: name.into(),
        message,
        rule: None,
    };
    let mut errors = Vec::new();
    if days.is_none() && hours.is_none() {
        errors.push(field("days", "give days or hours (or both)".into()));
    }
    for (name, value, max) in [
        ("days", days, MAX_ADVANCE_DAYS),
        ("hours", hours, MAX_ADVANCE_DAYS * 24),
    ] {
        if let Some(v) = value
            && !(0..=max).contains(&v)
        {
            errors.push(field(name, format!("is {v}; it must be 0 to {max}")));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let by = Duration::days(days.unwrap_or(0)) + Duration::hours(hours.unwrap_or(0));
    let target = app.clock.now() + by;
    advance::advance_to(&app.bus, &app.clock, target).await?;
    // The barrier waited for every durable consumer, the intake's read-model consumer among
    // them, to fold everything up to `reached`: what the advance caused is readable right away.
    Ok(Json(reading(&app)))
}
