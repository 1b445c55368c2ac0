//! The admin's pages: the catalog (its versions, and publishing a new one from a TOML upload)
//! and, under a simulated clock, the clock with an advance control.

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
