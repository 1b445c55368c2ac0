//! The dead letters of refused events, for an admin (issue #13): every event a service's consumer
//! refused (`sandpiper_runtime::dead_letters`), listed oldest first, and a redrive that asks the
//! refusing service to handle the original event again (`sandpiper_runtime::redrive`).
//!
//! Admin tokens only: a partner token gets 403, as on the other admin routes. The caller is
//! checked before the query or the id is read, so a partner learns nothing from a 400.

use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::subjects;
use sandpiper_runtime::dead_letters::{DeadLetters, Listed, RedriveOutcome, RedriveRequest};
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{ApiPath, parse_query};
use sandpiper_runtime::http::problem::{ApiResult, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::errors::DeadLetterRouteError;
use crate::routes::applications::MAX_PAGE;
use crate::routes::bad_query as bad;
use crate::state::AppState;

const DEFAULT_PAGE: usize = 50;
/// How long a redrive waits for the refusing service's answer: its handler retries a transient
/// failure in place for a few seconds before it answers `failed`.
const REDRIVE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (with the same `service`): a stream sequence.
    #[param(pattern = "^[1-9][0-9]{0,18}$")]
    cursor: Option<String>,
    /// Only the letters of this service: `classifier`, `reviewer`, `scheduler` or `notifier`.
    #[param(pattern = "^(intake|classifier|reviewer|scheduler|notifier|ace)$")]
    service: Option<String>,
}

/// A page of event dead letters, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterPage {
    pub items: Vec<Listed>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Lists the events the services' consumers refused, oldest first (admin token).
#[utoipa::path(
    get, path = "/v1/dead-letters", tag = "system",
    params(PageParams),
    responses(
        (status = 200, description = "A page of dead letters, oldest first", body = DeadLetterPage),
        (status = 400, description = "A bad limit, cursor or service", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The dead letters are unavailable; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Principal,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DeadLetterPage>> {
    caller.require_admin("list the dead letters")?;
    let params: PageParams = parse_query(query.as_deref().unwrap_or(""))?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad("limit", format!("is {limit}; it must be 1 to {MAX_PAGE}")));
    }
    let from = match params.cursor.as_deref() {
        None => 1,
        Some(cursor) => cursor
            .parse::<u64>()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| bad("cursor", "is not one this API returned".into()))?,
    };
    let service = params
        .service
        .as_deref()
        .map(|name| {
            ServiceName::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| bad("service", format!("{name:?} is not a service")))
        })
        .transpose()?;
    let letters = DeadLetters::open(&app.bus).await.map_err(DeadLetterRouteError::Read)?;
    let (items, next) = letters
        .page(service, from, limit)
        .await
        .map_err(DeadLetterRouteError::Read)?;
    Ok(Json(DeadLetterPage {
        items,
        next_cursor: next.map(|n| n.to_string()),
    }))
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Redrive {
    /// The service handled the event: the dead letter is removed.
    Redriven,
    /// The service refused it again: a new dead letter (`dead_letter`) replaces this one.
    Refused,
}

/// The answer to a redrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RedriveAnswer {
    /// The dead letter redriven.
    pub id: u64,
    /// The service that handled the event again.
    pub service: String,
    pub outcome: Redrive,
    /// When refused again: the new dead letter's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter: Option<u64>,
    /// When refused again: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Makes the service that refused the event handle it again, through the same handler (admin
/// token). Answers once the service has: `redriven` (the letter is removed) or `refused` (a new
/// letter replaces it). A service that is not running, or fails for a transient reason, is a 503
/// and the letter stays.
#[utoipa::path(
    post, path = "/v1/dead-letters/{id}/redrive", tag = "system",
    params(("id" = u64, Path, minimum = 1, description = "The dead letter's id, from the listing")),
    responses(
        (status = 200, description = "Handled again: redriven, or refused again", body = RedriveAnswer),
        (status = 403, description = "Not an admin token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dead letter (perhaps redriven already)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The refusing service did not handle it (not running, or a transient failure); the dead letter stays", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn redrive(
    State(app): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RedriveAnswer>> {
    caller.require_admin("redrive a dead letter")?;
    let not_found = || Problem::not_found(format!("no dead letter {id:?}"));
    let sequence = id.parse::<u64>().map_err(|_| not_found())?;
    let letters = DeadLetters::open(&app.bus).await.map_err(DeadLetterRouteError::Read)?;
    let letter = letters
        .get(sequence)
        .await
        .map_err(DeadLetterRouteError::Read)?
        .ok_or_else(not_found)?;
    let service = letter
        .refused_by()
        .ok_or_else(|| DeadLetterRouteError::NoService(letter.service.clone()))?;
    let body = serde_json::to_vec(&RedriveRequest { dead_letter: sequence }).map_err(DeadLetterRouteError::Encode)?;
    let request = async_nats::Request::new()
        .payload(body.into())
        .timeout(Some(REDRIVE_TIMEOUT));
    let reply = app
        .bus
        .client
        .send_request(subjects::redrive(service), request)
        .await
        .map_err(|source| DeadLetterRouteError::Unanswered { service, source })?;
    let outcome: RedriveOutcome =
        serde_json::from_slice(&reply.payload).map_err(|source| DeadLetterRouteError::BadAnswer { service, source })?;
    let answer = |outcome, dead_letter, reason| RedriveAnswer {
        id: sequence,
        service: service.as_str().to_owned(),
        outcome,
        dead_letter,
        reason,
    };
    // The intake removes the letter, not the service: only the intake's NATS user may delete from
    // the shared dead-letter stream, so no service can remove another's letters.
    match outcome {
        RedriveOutcome::Redriven => {
            letters
                .remove(sequence)
                .await
                .map_err(|source| DeadLetterRouteError::NotRemoved { service, source })?;
            Ok(Json(answer(Redrive::Redriven, None, None)))
        }
        RedriveOutcome::Refused { dead_letter, reason } => {
            // The new letter is stored; an old one left beside it is a duplicate, not a loss.
            if let Err(err) = letters.remove(sequence).await {
                tracing::warn!(dead_letter = sequence, new_dead_letter = dead_letter, error = %sandpiper_runtime::errors::error_chain(&err), "the old dead letter stays beside the new one");
            }
            Ok(Json(answer(Redrive::Refused, Some(dead_letter), Some(reason))))
        }
        RedriveOutcome::NotFound => Err(not_found()),
        RedriveOutcome::Failed { reason } => Err(DeadLetterRouteError::Failed { service, reason }.into()),
    }
}
