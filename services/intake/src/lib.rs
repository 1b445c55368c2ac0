//! The intake: Sandpiper's HTTP API (CONTRACT §2). Partners draft, submit and follow their
//! applications here; every change is an event on the stream, and what the API reads is the
//! read model folded from that stream (`sandpiper_runtime::views`).
//!
//! # Layout
//!
//! - [`config`]: settings, including the API tokens.
//! - Authentication, problem+json and the request extractors are `sandpiper_runtime::http`'s.
//! - [`projection`]: views from the read model, listings from an in-memory index of summaries,
//!   and the intake's consumer that folds every event into the read model.
//! - [`idempotency`]: `Idempotency-Key` records in a key-value bucket.
//! - [`revision`]: `ETag` and `If-Match` (optimistic locking on an application's revision).
//! - [`feeds`]: calendar feeds (their owner, scope and token digest) in a key-value bucket;
//!   [`ics`]: the RFC 5545 writer every calendar is written with.
//! - [`ace`]: the ACE export's Partner Central bodies and statuses (pure mapping).
//! - [`advance`]: moving the simulated clock and waiting until everything due has happened.
//! - [`routes`]: the handlers; [`openapi`]: the document generated from them.
//! - [`errors`]: the HTTP error policy for the intake's own errors (the runtime's map in
//!   `sandpiper_runtime::http::problem`): routes use `?`.

pub mod ace;
pub mod advance;
pub mod config;
pub mod errors;
pub mod feeds;
pub mod ics;
pub mod idempotency;
pub mod openapi;
pub mod projection;
pub mod revision;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sandpiper_contracts::catalog::{Catalog, CatalogError};
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_runtime::bus::{Bus, BusError, IDEMPOTENCY_TTL};
use sandpiper_runtime::catalog_store::{CatalogStore, CatalogStoreError};
use sandpiper_runtime::clock::{Clock, ClockError};
use sandpiper_runtime::health::{self, Gate, Readiness};
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::shutdown::Shutdown;
use sandpiper_runtime::views::{ViewStore, ViewStoreError};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::IntakeConfig;
use crate::feeds::FeedStore;
use crate::idempotency::IdempotencyStore;
use crate::projection::Projection;
use crate::state::{AppState, Shared};
use sandpiper_runtime::http::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error("the built-in catalog is invalid: {0}")]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    CatalogStore(#[from] CatalogStoreError),
    #[error(transparent)]
    Views(#[from] ViewStoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The intake, built and ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    max_body_bytes: usize,
    console: ConsoleParts,
}

/// What the console needs besides the API router it calls.
#[derive(Clone)]
struct ConsoleParts {
    sessions: sandpiper_console::session::SessionStore,
    settings: sandpiper_console::settings::ConsoleSettings,
}

impl Application {
    /// Connects, provisions and binds; fails fast on anything missing.
    pub async fn build(config: IntakeConfig) -> Result<Application, StartError> {
        let bus = Bus::connect(&config.common, ServiceName::Intake).await?;
        let clock = Clock::open(&bus, config.common.clock).await?;
        let idempotency = IdempotencyStore::new(bus.bucket(names::IDEMPOTENCY_BUCKET, 1, IDEMPOTENCY_TTL).await?);
        let catalogs = CatalogStore::open(&bus, &Catalog::builtin()?).await?;
        let views = ViewStore::open(&bus).await?;
        let feeds = FeedStore::new(bus.bucket(names::CALENDAR_FEEDS_BUCKET, 1, Duration::ZERO).await?);
        let console = ConsoleParts {
            sessions: sandpiper_console::session::SessionStore::new(
                bus.bucket(names::CONSOLE_SESSIONS_BUCKET, 1, config.console.session)
                    .await?,
                config.console.session,
            ),
            settings: config.console.clone(),
        };
        let listener = TcpListener::bind(config.common.http_addr)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.common.http_addr,
                source,
            })?;
        let state = AppState(Arc::new(Shared {
            tokens: config.tokens,
            publisher: Publisher::new(bus.jetstream.clone(), ServiceName::Intake, clock.clone()),
            bus,
            clock,
            projection: Arc::new(Projection::new(views)),
            idempotency,
            catalogs,
            ace: config.ace,
            feeds,
            public_url: config.public_url,
        }));
        Ok(Application {
            listener,
            state,
            max_body_bytes: config.max_body_bytes,
            console,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `stop` resolves, then finishes in-flight requests and drains NATS.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let shutdown = Shutdown::on(stop);
        let index_loaded = Gate::new("application index loaded and warmed");
        let readiness = Readiness::new(self.state.bus.clone(), vec![index_loaded.clone()]);

        // The index follower outlives the HTTP server: a request still in flight when the stop
        // comes gets its answer rather than a 503.
        let (http_stopped, background_stop) = tokio::sync::oneshot::channel::<()>();
        let background = Shutdown::on(async move {
            let _ = background_stop.await;
        });
        let projection = self.state.projection.clone();
        let follower = tokio::spawn(async move { projection.follow_index(background, index_loaded).await });

        let router = router(self.state.clone(), readiness, self.max_body_bytes, self.console.clone());
        let http_shutdown = shutdown.clone();
        let served = axum::serve(
            sandpiper_runtime::http::listener::ProblemListener::new(self.listener),
            router,
        )
        .with_graceful_shutdown(async move { http_shutdown.triggered().await })
        .await;
        let _ = http_stopped.send(());
        if tokio::time::timeout(Duration::from_secs(5), follower).await.is_err() {
            tracing::warn!("the index follower did not stop within 5 s");
        }
        self.state.bus.drain().await;
        tracing::info!("intake stopped");
        served.map_err(StartError::Serve)
    }
}

/// The whole HTTP surface: documented API routes, `/openapi.json`, health, the web console
/// (which calls the API routes in process), and problem+json for unknown routes, wrong methods
/// and (defensively) panics.
fn router(state: AppState, readiness: Readiness, max_body_bytes: usize, console: ConsoleParts) -> Router {
    let (api, document) = openapi::router(state.clone());
    let document = Arc::new(document);
    let console = sandpiper_console::router(sandpiper_console::Console {
        api: sandpiper_console::api::Api::new(api.clone()),
        sessions: console.sessions,
        tokens: state.tokens.clone(),
        clock: state.clock.clone(),
        settings: console.settings,
    });
    api.merge(console)
        .route(
            "/openapi.json",
            get(move || async move { Json(document.as_ref().clone()) }),
        )
        .merge(health::routes(readiness))
        .fallback(|uri: Uri| async move { Problem::not_found(format!("no route {}", uri.path())) })
        .method_not_allowed_fallback(|| async {
            Problem::http(StatusCode::METHOD_NOT_ALLOWED, "this route does not accept that method")
        })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(|request, next| {
            sandpiper_runtime::metrics::track("intake", request, next)
        }))
        .layer(axum::middleware::from_fn(|request, next| {
            sandpiper_runtime::trace_context::trace_request("intake", request, next)
        }))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| -> Response {
                tracing::error!("a request handler panicked");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                )
                .into_response()
            },
        ))
}
