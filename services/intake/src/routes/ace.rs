//! `GET /v1/applications/{id}/ace`: the Partner Central request bodies that file an application
//! (the ACE export, [`crate::ace`]).

use axum::Json;
use axum::extract::State;
use sandpiper_contracts::ids::ApplicationId;

use crate::ace::{self, AceExport};
use crate::state::AppState;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::AppId;
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
        (status = 422, description = "A draft lacks what the bodies need; `errors` names every such field and the AWS field it fills", body = Problem, content_type = "application/problem+json"),
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
