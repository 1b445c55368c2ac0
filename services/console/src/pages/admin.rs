//! The admin's pages: the catalog (its versions, and publishing a new one from a TOML upload),
//! under a simulated clock the clock with an advance control, and the dead letters of refused
//! events with their redrive.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use sandpiper_contracts::answers::ClockReading;
use sandpiper_contracts::catalog::Catalog;
use serde_json::json;

use super::Chrome;
use crate::Console;
use crate::api::ApiError;
use crate::display;
use crate::web::{PageError, Posted, SignedIn, page_with};

pub struct Version {
    pub version: String,
    pub effective_from: String,
    pub services: String,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    versions: Vec<Version>,
    toml: String,
    errors: Vec<String>,
    notice: String,
}

#[derive(Template)]
#[template(path = "clock.html")]
struct ClockPage {
    chrome: Chrome,
    now: String,
    mode: String,
    error: String,
}

fn admin_only(user: &SignedIn) -> Result<(), PageError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(PageError::AdminOnly)
    }
}

async fn catalog_page(
    console: &Console,
    user: &SignedIn,
    toml: String,
    errors: Vec<String>,
    notice: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let catalogs: Vec<Catalog> = console.api.get(&user.principal, "/v1/catalog/versions").await?;
    let versions = catalogs
        .iter()
        .rev()
        .map(|c| Version {
            version: c.version.clone(),
            effective_from: c.effective_from.to_string(),
            services: c.services.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", "),
        })
        .collect();
    page_with(
        status,
        &CatalogPage {
            chrome: Chrome::of(user, console, "catalog"),
            versions,
            toml,
            errors,
            notice,
        },
    )
}

pub async fn catalog(State(console): State<Console>, user: SignedIn) -> Result<Response, PageError> {
    admin_only(&user)?;
    catalog_page(
        &console,
        &user,
        String::new(),
        Vec::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// Publishes the TOML given (pasted, or read from a chosen file by the browser into the field).
pub async fn publish_catalog(State(console): State<Console>, post: Posted) -> Result<Response, PageError> {
    admin_only(&post.user)?;
    let toml = post.values.get("toml").to_owned();
    let catalog = match Catalog::from_toml(&toml) {
        Ok(catalog) => catalog,
        Err(err) => {
            let errors = vec![sandpiper_runtime::errors::error_chain(&err)];
            return catalog_page(
                &console,
                &post.user,
                toml,
                errors,
                String::new(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match console
        .api
        .post::<Catalog, _>(&post.user.principal, "/v1/catalog", &catalog, None)
        .await
    {
        Ok(published) => {
            let notice = format!("Published catalog {}.", published.version);
            catalog_page(&console, &post.user, String::new(), Vec::new(), notice, StatusCode::OK).await
        }
        Err(ApiError::Refused(problem)) if problem.status < 500 => {
            let mut errors = vec![problem.detail.clone()];
            errors.extend(problem.errors.iter().map(|e| format!("{}: {}", e.field, e.message)));
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            catalog_page(&console, &post.user, toml, errors, String::new(), status).await
        }
        Err(err) => Err(err.into()),
    }
}

async fn clock_page(
    console: &Console,
    user: &SignedIn,
    error: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let reading: ClockReading = console.api.get(&user.principal, "/v1/clock").await?;
    page_with(
        status,
        &ClockPage {
            chrome: Chrome::of(user, console, "clock"),
            now: display::moment(&reading.now),
            mode: reading.mode,
            error,
        },
    )
}

pub async fn clock(State(console): State<Console>, user: SignedIn) -> Result<Response, PageError> {
    admin_only(&user)?;
    clock_page(&console, &user, String::new(), StatusCode::OK).await
}

/// Advances the simulated clock; answers once everything due has happened (the API waits).
pub async fn advance_clock(State(console): State<Console>, post: Posted) -> Result<Response, PageError> {
    admin_only(&post.user)?;
    let days = post.values.get("days").trim().parse::<i64>();
    let Ok(days) = days else {
        let error = "Give the days to advance as a whole number.".to_owned();
        return clock_page(&console, &post.user, error, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    match console
        .api
        .post::<serde_json::Value, _>(&post.user.principal, "/v1/clock/advance", &json!({"days": days}), None)
        .await
    {
        Ok(_) => Ok(Redirect::to("/console/admin/clock").into_response()),
        Err(ApiError::Refused(problem)) if problem.status < 500 => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT);
            clock_page(&console, &post.user, problem.detail, status).await
        }
        Err(err) => Err(err.into()),
    }
}

pub struct Letter {
    pub id: u64,
    pub refused_at: String,
    pub service: String,
    pub event: String,
    pub application_id: String,
    pub reason_kind: String,
    pub reason: String,
    pub deliveries: i64,
    pub redrives: u32,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct DeadLettersPage {
    chrome: Chrome,
    letters: Vec<Letter>,
    service: String,
    services: Vec<&'static str>,
    next_link: String,
    notice: String,
    error: String,
}

/// A page of the API's dead-letter listing, as the console reads it.
#[derive(Debug, serde::Deserialize)]
struct LetterPage {
    items: Vec<sandpiper_runtime::dead_letters::Listed>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct LetterQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    notice: String,
}

async fn dead_letters_page(
    console: &Console,
    user: &SignedIn,
    query: LetterQuery,
    error: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let mut path = "/v1/dead-letters?limit=50".to_owned();
    if !query.service.is_empty() {
        path.push_str(&format!("&service={}", crate::web::encode(&query.service)));
    }
    if !query.cursor.is_empty() {
        path.push_str(&format!("&cursor={}", crate::web::encode(&query.cursor)));
    }
    let listing: LetterPage = console.api.get(&user.principal, &path).await?;
    let letters = listing
        .items
        .iter()
        .map(|l| Letter {
            id: l.id,
            refused_at: display::moment(&l.letter.refused_at),
            service: l.letter.service.clone(),
            event: l.letter.event_type.clone().unwrap_or_else(|| "(unreadable)".into()),
            application_id: l.letter.application_id.clone().unwrap_or_default(),
            reason_kind: l.letter.reason_kind.as_str().to_owned(),
            reason: l.letter.reason.clone(),
            deliveries: l.letter.deliveries,
            redrives: l.letter.redrives,
        })
        .collect();
    let next_link = listing
        .next_cursor
        .map(|c| {
            format!(
                "/console/admin/dead-letters?service={}&cursor={}",
                crate::web::encode(&query.service),
                crate::web::encode(&c)
            )
        })
        .unwrap_or_default();
    let notice = match query.notice.as_str() {
        "redriven" => "Redriven: the service handled the event, and the letter is gone.".to_owned(),
        "refused" => {
            "Refused again: the service still refuses the event; a new letter replaces the old one.".to_owned()
        }
        _ => String::new(),
    };
    page_with(
        status,
        &DeadLettersPage {
            chrome: Chrome::of(user, console, "dead-letters"),
            letters,
            service: query.service,
            services: vec!["classifier", "reviewer", "scheduler", "notifier"],
            next_link,
            notice,
            error,
        },
    )
}

/// Events the services refused, with why, oldest first.
pub async fn dead_letters(
    State(console): State<Console>,
    user: SignedIn,
    axum::extract::Query(query): axum::extract::Query<LetterQuery>,
) -> Result<Response, PageError> {
    admin_only(&user)?;
    dead_letters_page(&console, &user, query, String::new(), StatusCode::OK).await
}

/// Asks the refusing service to handle a letter's event again, and shows what it answered.
pub async fn redrive(
    State(console): State<Console>,
    axum::extract::Path(id): axum::extract::Path<u64>,
    post: Posted,
) -> Result<Response, PageError> {
    admin_only(&post.user)?;
    let path = format!("/v1/dead-letters/{id}/redrive");
    match console
        .api
        .post::<serde_json::Value, _>(&post.user.principal, &path, &json!({}), None)
        .await
    {
        Ok(answer) => {
            let outcome = answer["outcome"].as_str().unwrap_or("redriven");
            let outcome = if outcome == "refused" { "refused" } else { "redriven" };
            Ok(Redirect::to(&format!("/console/admin/dead-letters?notice={outcome}")).into_response())
        }
        Err(ApiError::Refused(problem)) => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            dead_letters_page(&console, &post.user, LetterQuery::default(), problem.detail, status).await
        }
        Err(err) => Err(err.into()),
    }
}
