//! Calendars (OH4; issue #15 item 2): the office-hours calendar of one application, and the
//! calendar feeds a calendar app subscribes to by URL.
//!
//! A feed's URL is `/v1/calendar-feeds/{id}/{token}.ics`: the id finds the feed with one direct
//! read of its bucket key, and the token (whose SHA-256 is all that is stored) proves the right to
//! read it, since calendar apps send no `Authorization` header. Keying by id rather than serving
//! `/feeds/{token}.ics` keeps the token out of every bucket key (so no index of digests has to be
//! kept in step with rotations) and lets a rotation replace the digest in place.
//!
//! Every feed is rendered from the applications' histories (`sandpiper_rules::agenda::revisions`):
//! sessions as timed events and the agenda's deadlines as all-day events, each with a stable UID,
//! a `SEQUENCE` that counts its changes and a `LAST-MODIFIED` at the event that changed it last. A
//! session that no longer happens stays as `STATUS:CANCELLED` until the window's end (or its own
//! end, if later), so subscribed calendars remove it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sandpiper_contracts::agenda::ItemStatus;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::agenda::{self, Revised};
use sandpiper_runtime::views::Stored;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::errors::IntakeError;
use crate::feeds::{self, Feed, Scope};
use crate::ics::{self, Writer};
use crate::routes::{bad_query as bad, whose};
use crate::state::AppState;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{ApiPath, ApiQuery, AppId, JsonBody};
use sandpiper_runtime::http::problem::{ApiResult, Problem};

const CALENDAR: &str = "text/calendar; charset=utf-8";

/// The application's items at `now`, with their revisions, as a calendar shows them: a canceled
/// session only until the window's end (or its own end, when later).
async fn revised(app: &AppState, stored: &Stored, now: DateTime<Utc>) -> ApiResult<Vec<Revised>> {
    let history = app.history(stored).await?;
    let view = &stored.record.view;
    let items = agenda::revisions(&history, now).map_err(|source| IntakeError::Calendar {
        application: view.id,
        source,
    })?;
    let window_end = view.window.map(|w| w.ends_at);
    Ok(items
        .into_iter()
        .filter(|r| {
            r.item.status == ItemStatus::Scheduled || window_end.max(r.item.ends_at).is_some_and(|until| now < until)
        })
        .collect())
}

fn write(calendar: &mut Writer, items: &[Revised]) {
    for r in items {
        calendar.event(r, &ics::uid(&r.item), &ics::description(&r.item));
    }
}

fn ics_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, CALENDAR)], text).into_response()
}

fn calendar_name(view: &ApplicationView) -> String {
    let service = view.body.service.clone().unwrap_or_default();
    let startup = view.body.startup_name().unwrap_or_default().to_owned();
    format!("Sandpiper office hours: {startup} × {service}")
}

/// The office-hours sessions as an iCalendar feed (RFC 5545; OH4), one VEVENT per session with a
/// stable UID, a SEQUENCE counting its changes (a feedback note, a restatement, a cancellation)
/// and its DTSTAMP at the last of them.
#[utoipa::path(
    get, path = "/v1/applications/{id}/office-hours.ics", tag = "engagement",
    params(("id" = ApplicationId, Path, description = "The application id")),
    responses(
        (status = 200, description = "The sessions", content_type = "text/calendar", body = String),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn office_hours(State(app): State<AppState>, caller: Principal, AppId(id): AppId) -> ApiResult<Response> {
    let stored = app.visible_record(&caller, &id).await?;
    let now = app.clock.now();
    let sessions: Vec<Revised> = revised(&app, &stored, now)
        .await?
        .into_iter()
        .filter(|r| r.item.is_session())
        .collect();
    let mut calendar = Writer::calendar(&calendar_name(&stored.record.view));
    write(&mut calendar, &sessions);
    Ok(ics_response(calendar.finish()))
}

/// A new feed, by its `scope`: the document says which members each scope takes, so a body it
/// accepts is one the server does.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "scope", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewFeed {
    /// Every application of the caller.
    Partner {},
    /// One application.
    Application {
        /// Which one.
        application_id: ApplicationId,
    },
}

/// A feed, as listed (never its token).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedInfo {
    pub id: String,
    pub scope: Scope,
    pub application_id: Option<ApplicationId>,
    pub partner_id: PartnerId,
    pub created_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
}

impl From<&Feed> for FeedInfo {
    fn from(f: &Feed) -> FeedInfo {
        FeedInfo {
            id: f.id.clone(),
            scope: f.scope,
            application_id: f.application_id,
            partner_id: f.partner.clone(),
            created_at: f.created_at,
            rotated_at: f.rotated_at,
        }
    }
}

/// A feed with its token and subscription links: shown once, at creation and at each rotation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedCreated {
    #[serde(flatten)]
    pub feed: FeedInfo,
    /// The secret in the feed's URL; only its SHA-256 is kept, so it cannot be shown again.
    pub token: String,
    /// The feed (`https://…` or `http://…`, from `SANDPIPER_PUBLIC_URL` or the request's Host).
    pub url: String,
    /// The same feed for "add calendar from URL" (`webcal://…`).
    pub webcal_url: String,
}

fn links(app: &AppState, headers: &HeaderMap, feed: &Feed, token: &str) -> (String, String) {
    let base = match &app.public_url {
        Some(base) => base.clone(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    let url = format!("{base}/v1/calendar-feeds/{}/{token}.ics", feed.id);
    let webcal = match url.split_once("://") {
        Some((_, rest)) => format!("webcal://{rest}"),
        None => url.clone(),
    };
    (url, webcal)
}

fn created(app: &AppState, headers: &HeaderMap, feed: &Feed, token: String) -> FeedCreated {
    let (url, webcal_url) = links(app, headers, feed, &token);
    FeedCreated {
        feed: FeedInfo::from(feed),
        token,
        url,
        webcal_url,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedOwner {
    /// Admin tokens only: the partner the feed is for (required for an admin on create).
    #[param(pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    partner_id: Option<String>,
}

/// Creates a calendar feed: the partner's (every session and deadline of its applications) or
/// one application's. The answer holds the token and the links, once.
#[utoipa::path(
    post, path = "/v1/calendar-feeds", tag = "calendars",
    params(FeedOwner),
    request_body = NewFeed,
    responses(
        (status = 201, description = "Created; the token is shown only now", body = FeedCreated),
        (status = 400, description = "An admin named no partner", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A partner token naming another partner in partner_id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad scope", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed store is unavailable; nothing was created", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(app): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    ApiQuery(owner): ApiQuery<FeedOwner>,
    body: JsonBody<NewFeed>,
) -> ApiResult<(StatusCode, Json<FeedCreated>)> {
    let (scope, application_id, partner) = match body.value {
        NewFeed::Application { application_id } => (
            Scope::Application,
            Some(application_id),
            app.visible(&caller, &application_id).await?.partner_id,
        ),
        NewFeed::Partner {} => match whose(&caller, owner.partner_id)? {
            Some(partner) => (Scope::Partner, None, partner),
            None => return Err(bad("partner_id", "an admin token must name the partner".into())),
        },
    };
    let token = feeds::new_token();
    let feed = Feed {
        id: feeds::new_id(),
        partner,
        scope,
        application_id,
        token_sha256: feeds::digest(&token),
        created_at: app.clock.now(),
        rotated_at: None,
    };
    app.feeds.put(&feed).await?;
    Ok((StatusCode::CREATED, Json(created(&app, &headers, &feed, token))))
}

/// The caller's calendar feeds (never their tokens).
#[utoipa::path(
    get, path = "/v1/calendar-feeds", tag = "calendars",
    params(FeedOwner),
    responses(
        (status = 200, description = "The feeds, oldest first", body = Vec<FeedInfo>),
        (status = 403, description = "A partner token naming another partner in partner_id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed store is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Principal,
    ApiQuery(owner): ApiQuery<FeedOwner>,
) -> ApiResult<Json<Vec<FeedInfo>>> {
    let partner = whose(&caller, owner.partner_id)?;
    let feeds = app.feeds.list(partner.as_ref()).await?;
    Ok(Json(feeds.iter().map(FeedInfo::from).collect()))
}

/// The feed `id` if `caller` may manage it; 404 otherwise, as for a missing one.
async fn owned(app: &AppState, caller: &Principal, id: &str) -> ApiResult<Feed> {
    app.feeds
        .get(id)
        .await?
        .filter(|feed| caller.can_see(&feed.partner))
        .ok_or_else(|| Problem::not_found(format!("no calendar feed {id:?}")))
}

/// Revokes a feed: its URL answers 404 from now on.
#[utoipa::path(
    delete, path = "/v1/calendar-feeds/{id}", tag = "calendars",
    params(("id" = String, Path, description = "The feed id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such feed for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed store is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke(
    State(app): State<AppState>,
    caller: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let feed = owned(&app, &caller, &id).await?;
    app.feeds.delete(&feed.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the feed a new token; the old URL answers 404 from now on.
#[utoipa::path(
    post, path = "/v1/calendar-feeds/{id}/rotate", tag = "calendars",
    params(("id" = String, Path, description = "The feed id")),
    responses(
        (status = 200, description = "The new token and links, shown only now", body = FeedCreated),
        (status = 404, description = "No such feed for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed store is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn rotate(
    State(app): State<AppState>,
    caller: Principal,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FeedCreated>> {
    let mut feed = owned(&app, &caller, &id).await?;
    let token = feeds::new_token();
    feed.token_sha256 = feeds::digest(&token);
    feed.rotated_at = Some(app.clock.now());
    app.feeds.put(&feed).await?;
    Ok(Json(created(&app, &headers, &feed, token)))
}

/// The feed itself, for calendar apps: no `Authorization` header, the token in the path
/// (`{token}.ics`). The partner feed holds every session of the partner's applications as a timed
/// event and the agenda's deadlines as all-day events; an application feed, that application's.
#[utoipa::path(
    get, path = "/v1/calendar-feeds/{id}/{file}", tag = "calendars",
    params(
        ("id" = String, Path, description = "The feed id"),
        ("file" = String, Path, description = "`{token}.ics`: the feed's current token"),
    ),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String),
        (status = 404, description = "No such feed, or a revoked or rotated-away token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The feed store or the event history is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn feed(State(app): State<AppState>, ApiPath((id, file)): ApiPath<(String, String)>) -> ApiResult<Response> {
    let not_found = || Problem::not_found("no such calendar feed (revoked, or its token was rotated)");
    let token = file.strip_suffix(".ics").ok_or_else(not_found)?;
    let feed = app
        .feeds
        .get(&id)
        .await?
        .filter(|feed| feed.accepts(token))
        .ok_or_else(not_found)?;
    let now = app.clock.now();
    let records: Vec<Stored> = match (feed.scope, feed.application_id) {
        (Scope::Application, Some(application)) => app
            .projection
            .get(&feed.partner, &application)
            .await
            .map_err(|source| IntakeError::Read { application, source })?
            .into_iter()
            .collect(),
        _ => app.projection.engaged_records(&feed.partner).await?,
    };
    let name = match (feed.scope, records.first()) {
        (Scope::Application, Some(stored)) => calendar_name(&stored.record.view),
        _ => format!("Sandpiper: {}", feed.partner),
    };
    let mut calendar = Writer::calendar(&name);
    for stored in &records {
        let items = revised(&app, stored, now).await?;
        write(&mut calendar, &items);
    }
    Ok(ics_response(calendar.finish()))
}
