//! The partner console: web pages where a partner's staff file, follow and decide their
//! applications, served by the intake at `/console` on the API's port.
//!
//! Every page is HTML rendered on the server from compile-time-checked, auto-escaping templates
//! (askama, `templates/`), with charts drawn as SVG on the server. The one script
//! (`static/console.js`) only makes the preflight live as the user types and is not needed for
//! anything else: every form works without it.
//!
//! The console reads and writes nothing itself: it calls the intake's API router in process as
//! the signed-in principal ([`api`]), so a page shows exactly what the API answers, refusals
//! included, and a page drawn after an action includes the action.
//!
//! # Layout
//!
//! - [`settings`]: session lifetime, `Secure` cookies, the optional trusted-proxy header.
//! - [`session`]: sessions in a key-value bucket, keyed by the cookie's digest, with a CSRF token.
//! - [`web`]: the signed-in extractor, the CSRF-checked form post, cookies, security headers,
//!   error pages.
//! - [`api`]: the in-process API client.
//! - [`form`]: the draft form, to and from the API's draft body.
//! - [`display`]: money, dates and states as a page shows them; [`chart`]: the burn-down SVG.
//! - [`pages`]: one module per page.

pub mod api;
pub mod chart;
pub mod display;
pub mod form;
pub mod pages;
pub mod session;
pub mod settings;
pub mod web;

use axum::Router;
use axum::routing::{get, post};
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::http::auth::Tokens;

use crate::api::Api;
use crate::session::SessionStore;
use crate::settings::ConsoleSettings;

/// What the console's pages share.
#[derive(Clone)]
pub struct Console {
    pub api: Api,
    pub sessions: SessionStore,
    /// The API's tokens: signing in checks one, and keeps only the principal it names.
    pub tokens: Tokens,
    pub clock: Clock,
    pub settings: ConsoleSettings,
}

/// The console's routes, under `/console`.
pub fn router(console: Console) -> Router {
    use pages::{admin, agenda, application, draft, pipeline, position, sign_in};
    Router::new()
        .route("/console", get(pipeline::show))
        .route("/console/", get(pipeline::show))
        .route("/console/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/applications/new", get(draft::new_form))
        .route("/console/applications", post(draft::create))
        .route("/console/preflight", post(draft::live_preflight))
        .route("/console/applications/{id}", get(application::show))
        .route(
            "/console/applications/{id}/edit",
            get(draft::edit_form).post(draft::save),
        )
        .route("/console/applications/{id}/office-hours.ics", get(application::ics))
        .route("/console/applications/{id}/{action}", post(application::act))
        .route(
            "/console/applications/{id}/office-hours/{session}/feedback",
            post(application::feedback),
        )
        .route("/console/agenda", get(agenda::show))
        .route("/console/position", get(position::show))
        .route(
            "/console/admin/catalog",
            get(admin::catalog).post(admin::publish_catalog),
        )
        .route("/console/admin/clock", get(admin::clock).post(admin::advance_clock))
        .route("/console/admin/dead-letters", get(admin::dead_letters))
        .route("/console/admin/dead-letters/{id}/redrive", post(admin::redrive))
        .route("/console/static/{file}", get(pages::static_file))
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(console)
}
