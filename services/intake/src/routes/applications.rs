//! `/v1/applications`: create, read, change, submit and list applications, and read their history.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sandpiper_contracts::answers::{ApplicationPage, Order};
use sandpiper_contracts::events::{DraftUpdated, Drafted, Envelope, Submitted};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::model::{ApplicationDraft, FieldError, Programme, merge_patch, parse_json};
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State as Lifecycle;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::publish::Outgoing;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::errors::IntakeError;
use crate::idempotency::{self, Claim, IdempotencyError, StoredResponse};
use crate::projection::Filter;
use crate::revision::{IfMatch, IfMatchHeader, Tagged};
use crate::state::AppState;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{ApiQuery, AppId, JsonBody, shape_errors};
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// Listings return at most this many per page.
pub const MAX_PAGE: usize = 200;
const DEFAULT_PAGE: usize = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// The partner to file for; required with an admin token (E3), refused with a partner token.
    #[param(pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    partner_id: Option<String>,
}

/// Creates a draft application.
#[utoipa::path(
    post, path = "/v1/applications", tag = "applications",
    params(CreateParams, ("Idempotency-Key" = Option<String>, Header, pattern = "^[ -~]{1,255}$", description = "Makes retries safe: the same key and body give the same answer for 24 h; the same key with another body is 422. 1 to 255 visible ASCII characters.")),
    request_body = ApplicationDraft,
    responses(
        (status = 201, description = "The draft", body = ApplicationView, headers(("Location" = String, description = "The application's URL"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A partner token naming another partner (E3)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field of the wrong type or size or holding a control character, an unknown field, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The idempotency store or the event store is unavailable (nothing was created), or the draft is stored but not yet visible; retry", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(app): State<AppState>,
    caller: Principal,
    ApiQuery(params): ApiQuery<CreateParams>,
    headers: HeaderMap,
    // Read only once the caller may file for the partner: authorization comes before the body.
    body: Result<JsonBody<ApplicationDraft>, Problem>,
) -> ApiResult<Response> {
    let partner = filing_partner(&caller, params.partner_id.as_deref())?;
    let body = body?;
    body.value.check_bounds()?;

    let (application, event_id, claimed) = match headers.get("idempotency-key") {
        None => (ApplicationId::generate(), EventId::generate(), None),
        Some(key) => {
            let key = key.to_str().map_err(|_| IdempotencyError::InvalidKey)?;
            match app
                .idempotency
                .claim(&partner, key, idempotency::request_hash(&body.raw))
                .await?
            {
                Claim::Fresh(claimed) => (claimed.record.application_id, claimed.record.event_id, Some(claimed)),
                Claim::Mismatch => {
                    return Err(Problem::validation(vec![FieldError {
                        field: "Idempotency-Key".into(),
                        message: "this key was already used with a different body; use a new key for a new application"
                            .into(),
                        rule: None,
                    }]));
                }
                Claim::Replay(claimed) => {
                    let id = claimed.record.application_id;
                    if let Some(first) = &claimed.record.response {
                        return Ok(answer(id, first.clone()));
                    }
                    // The first attempt claimed the key but kept no answer: it is in flight, or
                    // failed after storing its event, or before. Finish it: answer with the view if
                    // the event is stored, else publish the very same event (the stream drops it if
                    // the first attempt stored it meanwhile).
                    if let Ok(Some(stored)) = app.projection.get(&partner, &id).await {
                        let kept = app.idempotency.remember(claimed, created(&stored.record.view)?).await;
                        return Ok(answer(id, kept));
                    }
                    (id, claimed.record.event_id, Some(claimed))
                }
            }
        }
    };
    let view = app
        .publish_then_view(
            Outgoing {
                id: event_id,
                partner: &partner,
                application,
                payload: &Drafted {
                    draft: body.value,
                    originated_from: None,
                },
                expected_version: None,
                time: None,
            },
            &IfMatch::ANY,
        )
        .await?;
    let response = created(&view)?;
    let response = match claimed {
        Some(claimed) => app.idempotency.remember(claimed, response).await,
        None => response,
    };
    Ok(answer(application, response))
}

/// The 201 for a new draft, as it is kept for `Idempotency-Key` replays.
fn created(view: &ApplicationView) -> ApiResult<StoredResponse> {
    let body = serde_json::to_string(view).map_err(IntakeError::EncodeView)?;
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body,
    })
}

/// Sends a (possibly replayed) answer to a create, with the application's `Location`.
fn answer(id: ApplicationId, response: StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::CREATED);
    let location = format!("/v1/applications/{id}");
    (
        status,
        [
            (header::LOCATION, location),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        response.body,
    )
        .into_response()
}

fn filing_partner(caller: &Principal, requested: Option<&str>) -> ApiResult<PartnerId> {
    let field = |message: String| {
        Problem::validation(vec![FieldError {
            field: "partner_id".into(),
            message,
            rule: Some(RuleId::E3),
        }])
    };
    match (caller, requested) {
        (Principal::Partner(own), None) => Ok(own.clone()),
        (Principal::Partner(own), Some(other)) if other == own.as_str() => Ok(own.clone()),
        // Who may file for whom is authorization, not the body's validity: 403 (E3).
        (Principal::Partner(_), Some(_)) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a partner token files only for its own partner (E3)",
        )),
        (Principal::Admin, None) => Err(field(
            "an admin token must name the filing partner with ?partner_id=".into(),
        )),
        (Principal::Admin, Some(id)) => PartnerId::parse(id).map_err(|e| field(e.to_string())),
    }
}

/// The application as it stands.
#[utoipa::path(
    get, path = "/v1/applications/{id}", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id")),
    responses(
        (status = 200, description = "The application", body = ApplicationView, headers(("ETag" = String, description = "The application's revision, for If-Match"))),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(State(app): State<AppState>, caller: Principal, AppId(id): AppId) -> ApiResult<Tagged> {
    app.visible(&caller, &id).await.map(Tagged::ok)
}

/// Changes a draft with a JSON merge patch (RFC 7396); `null` removes a field.
#[utoipa::path(
    patch, path = "/v1/applications/{id}", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    request_body(content = ApplicationDraft, content_type = "application/merge-patch+json", description = "A JSON merge patch of the draft body (RFC 7396): the draft's members, each replaced, or removed with null; unknown members are refused as in the draft itself"),
    responses(
        (status = 200, description = "The changed draft", body = ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted, or changed concurrently (without If-Match)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another revision than the application's; `current_revision` (and the ETag) says which it is", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The patched draft has a field of the wrong type or size, or holding a control character", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable (nothing was changed), or the change is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn patch(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<serde_json::Value>,
) -> ApiResult<Tagged> {
    if !body.value.is_object() {
        return Err(Problem::validation(vec![FieldError {
            field: String::new(),
            message: "a merge patch must be a JSON object".into(),
            rule: None,
        }]));
    }
    // The patch's own members first (a null deletes, so it reads as a draft): a wrong patch is
    // that whatever state or revision the application is at.
    parse_draft(&body.raw)?.check_bounds()?;
    let view = app.writable(&caller, &id, &if_match).await?;
    if view.state != Lifecycle::Draft {
        return Err(Problem::conflict(format!(
            "application {id} is {}; only a draft can be changed",
            view.state.as_str()
        )));
    }
    let mut merged = serde_json::to_value(&view.body).map_err(IntakeError::ReadDraft)?;
    merge_patch(&mut merged, &body.value);
    let bytes = serde_json::to_vec(&merged).map_err(IntakeError::WriteDraft)?;
    let draft = parse_draft(&bytes)?;
    draft.check_bounds()?;
    if draft == view.body {
        return Ok(Tagged::ok(view));
    }
    let view = app.command(&view, &DraftUpdated { draft }, &if_match).await?;
    Ok(Tagged::ok(view))
}

/// A draft from JSON bytes, or a 422 listing every member of the wrong shape.
fn parse_draft(bytes: &[u8]) -> ApiResult<ApplicationDraft> {
    parse_json(bytes).map_err(|err| match err {
        sandpiper_contracts::model::JsonError::Shape(first) => {
            Problem::validation(shape_errors::<ApplicationDraft>(bytes, first))
        }
        sandpiper_contracts::model::JsonError::Syntax(detail) => Problem::validation(vec![FieldError {
            field: String::new(),
            message: detail,
            rule: None,
        }]),
    })
}

/// Validates and submits a draft; it then moves on to classification and review.
#[utoipa::path(
    post, path = "/v1/applications/{id}/submit", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    responses(
        (status = 202, description = "Submitted; classification and review follow", body = ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another revision than the application's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every failing field, with the rule behind it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable (nothing was changed), or the submission is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn submit(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
) -> ApiResult<Tagged> {
    let view = app.writable(&caller, &id, &if_match).await?;
    if view.state != Lifecycle::Draft {
        return Err(Problem::conflict(format!(
            "application {id} is already {}; only a draft can be submitted",
            view.state.as_str()
        )));
    }
    // The form is checked against the catalog in force now (K2).
    let now = app.clock.now();
    let catalog = app.catalogs.in_force_or_empty(now);
    let application = view.body.validate(&catalog, now)?;
    let view = app.command(&view, &Submitted { application }, &if_match).await?;
    Ok(Tagged::with_status(StatusCode::ACCEPTED, view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only applications in this state.
    state: Option<Lifecycle>,
    /// Only applications in this pool (the decided one, or the filed programme before).
    pool: Option<Programme>,
    /// Only applications evaluating this service.
    service: Option<String>,
    /// Only applications whose startup name contains this text (case-insensitive).
    q: Option<String>,
    /// `oldest` first (the default) or `newest` first; a cursor continues in the same order.
    order: Option<Order>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (an application id).
    #[param(pattern = "^[0-9A-HJKMNP-TV-Z]{26}$")]
    cursor: Option<String>,
    /// An admin's choice of one partner's applications (default: every partner's); a partner
    /// token may name only its own partner (403 otherwise).
    #[param(pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    partner_id: Option<String>,
}

/// Lists the caller's applications.
#[utoipa::path(
    get, path = "/v1/applications", tag = "applications",
    params(ListParams),
    responses(
        (status = 200, description = "A page of applications", body = ApplicationPage),
        (status = 400, description = "A bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A partner token naming another partner in partner_id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Principal,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ApplicationPage>> {
    let bad = crate::routes::bad_query;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad("limit", format!("is {limit}; it must be 1 to {MAX_PAGE}")));
    }
    let cursor = params
        .cursor
        .as_deref()
        .map(ApplicationId::parse)
        .transpose()
        .map_err(|_| bad("cursor", "is not one this API returned".into()))?;
    let partner = crate::routes::whose(&caller, params.partner_id)?;
    let filter = Filter {
        partner,
        state: params.state,
        pool: params.pool,
        service: params.service,
        startup_name: params.q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty()),
        newest_first: matches!(params.order, Some(Order::Newest)),
    };
    let page = app.projection.list(&filter, cursor, limit).await?;
    Ok(Json(ApplicationPage {
        items: page.items,
        next_cursor: page.next.map(|id| id.to_string()),
        counts: page.counts,
    }))
}

/// The application's whole event history, oldest first (CloudEvents envelopes).
#[utoipa::path(
    get, path = "/v1/applications/{id}/events", tag = "applications",
    params(("id" = ApplicationId, Path, description = "The application id")),
    responses(
        (status = 200, description = "Every event, oldest first", body = Vec<Envelope>),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event history is unavailable; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
) -> ApiResult<Json<Vec<Envelope>>> {
    let stored = app.visible_record(&caller, &id).await?;
    let events = app.history(&stored).await?;
    Ok(Json(events.into_iter().map(|(_, envelope)| envelope).collect()))
}
