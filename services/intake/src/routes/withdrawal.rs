//! Withdrawing a filing or an application, as Partner Central's Benefits API does: a recall takes
//! a submitted application with no decision yet back to an editable draft (its pending review is
//! cancelled: the reviewer drops the recalled filing's timer and never decides on it), and a cancel
//! ends a draft for good.

use axum::extract::State;
use axum::http::StatusCode;
use sandpiper_contracts::events::{Canceled, Recalled};
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::state::State as Lifecycle;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{AppId, JsonBody};
use sandpiper_runtime::http::problem::{ApiResult, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::revision::{IfMatch, IfMatchHeader, Tagged};
use crate::routes::engagement::note_ok;
use crate::state::AppState;

/// Why the partner withdraws it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// In the partner's words: 1 to 5,000 characters, not blank.
    #[schema(min_length = 1, max_length = 5000)]
    pub reason: String,
}

/// Recalls a submitted application that has no decision yet: back to `draft`, editable again.
#[utoipa::path(
    post, path = "/v1/applications/{id}/recall", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    request_body = WithdrawalRequest,
    responses(
        (status = 200, description = "Recalled: the application is a draft again and its review is cancelled; submitting it again starts a new review period (T6)", body = sandpiper_contracts::view::ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted, or already decided (the detail names the state)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another revision than the application's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A blank or too long reason, or one holding a control character other than a tab or line break", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable, or the recall is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn recall(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<WithdrawalRequest>,
) -> ApiResult<Tagged> {
    // The reason first: a wrong body is that whatever state or revision the application is at.
    note_ok("reason", &body.value.reason)?;
    let view = app.writable(&caller, &id, &if_match).await?;
    let submitted_at = match (view.state, view.submitted_at) {
        (Lifecycle::Submitted | Lifecycle::InReview, Some(at)) => at,
        (Lifecycle::Draft, _) => {
            return Err(Problem::conflict(format!(
                "application {id} is a draft: there is no filing to recall"
            )));
        }
        (state, _) => {
            return Err(Problem::conflict(format!(
                "application {id} is {}: only a filing with no decision yet can be recalled",
                state.as_str()
            )));
        }
    };
    let event = Recalled {
        reason: body.value.reason,
        submission_id: view.submission_id,
        submitted_at,
    };
    let view = app.command(&view, &event, &if_match).await?;
    Ok(Tagged::with_status(StatusCode::OK, view))
}

/// Cancels a draft (including a recalled one): it ends `canceled`, for good.
#[utoipa::path(
    post, path = "/v1/applications/{id}/cancel", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    request_body = WithdrawalRequest,
    responses(
        (status = 200, description = "Canceled", body = sandpiper_contracts::view::ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft: a submitted one is recalled first; a decided one cannot be canceled", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another revision than the application's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A blank or too long reason, or one holding a control character other than a tab or line break", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable, or the cancel is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<WithdrawalRequest>,
) -> ApiResult<Tagged> {
    // The reason first: a wrong body is that whatever state or revision the application is at.
    note_ok("reason", &body.value.reason)?;
    let view = app.writable(&caller, &id, &if_match).await?;
    match view.state {
        Lifecycle::Draft => {}
        Lifecycle::Submitted | Lifecycle::InReview => {
            return Err(Problem::conflict(format!(
                "application {id} is {}: recall it first, then cancel the draft",
                view.state.as_str()
            )));
        }
        state => {
            return Err(Problem::conflict(format!(
                "application {id} is {}: only a draft can be canceled",
                state.as_str()
            )));
        }
    }
    let event = Canceled {
        reason: body.value.reason,
    };
    let view = app.command(&view, &event, &if_match).await?;
    Ok(Tagged::ok(view))
}
