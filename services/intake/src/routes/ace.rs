//! `GET /v1/applications/{id}/ace`: the Partner Central request bodies that file an application
//! (the ACE export, [`crate::ace`]); `GET /v1/reports/forecast`: the review simulation's forecasts
//! against AWS's decisions, once the ACE connector runs with `review = ace`.

use axum::Json;
use axum::extract::State;
use sandpiper_contracts::ids::ApplicationId;

use crate::ace::{self, AceExport};
use crate::state::AppState;
use sandpiper_contracts::answers::ForecastCalibration;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{ApiQuery, AppId};
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// The `CreateOpportunity` (Selling API) and `CreateBenefitApplication` (Benefits API) inputs that
/// file the application in Partner Central, each ready for `--cli-input-json`, with its state as
/// `ReviewStatus` / `BenefitApplicationStatus`. The catalog is `SANDPIPER_ACE_CATALOG`'s.
#[utoipa::path(
    get, path = "/v1/applications/{id}/ace", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id")),
    responses(
        (status = 200, description = "Both request bodies, the mapped status and notes on what was shortened or left out", body = AceExport),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft lacks what the bodies need; `errors` names every such field and the AWS field it fills", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The application store is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn export(State(app): State<AppState>, caller: Principal, AppId(id): AppId) -> ApiResult<Json<AceExport>> {
    let view = app.visible(&caller, &id).await?;
    // The parent's Partner Central opportunity id is not recorded yet (the ACE connector's
    // `ace_filed`, CONTRACT §3): the export names the parent's Sandpiper id instead.
    Ok(Json(
        ace::export(&view, &app.ace, None).map_err(crate::errors::ace_problem)?,
    ))
}

/// `GET /v1/reports/forecast?partner_id=`: which partner's applications (an admin's choice; a
/// partner always gets its own).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    /// An admin's choice of partner (default: every partner); ignored for a partner's token.
    #[param(pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    partner_id: Option<String>,
}

/// Under `review = ace`, how often the review simulation's forecast matched AWS's real decision
/// in Partner Central (outcome and tier), over the caller's applications AWS has decided, each
/// forecast beside the actual decision: the simulation's calibration.
#[utoipa::path(
    get, path = "/v1/reports/forecast", tag = "applications",
    params(ForecastParams),
    responses(
        (status = 200, description = "The calibration", body = ForecastCalibration),
        (status = 400, description = "A bad partner id (admins)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A partner token naming another partner in partner_id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The application store is unavailable; retry", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn forecast_report(
    State(app): State<AppState>,
    caller: Principal,
    ApiQuery(params): ApiQuery<ForecastParams>,
) -> ApiResult<Json<ForecastCalibration>> {
    let partner = crate::routes::whose(&caller, params.partner_id)?;
    let views = app.projection.forecasted(partner.as_ref()).await?;
    Ok(Json(sandpiper_rules::calibration::calibrate(&views)))
}
