//! The notifier: delivers every event to the partners' Slack and webhook subscriptions (CONTRACT
//! §2, §3), at least once per (subscription, event), in order, signed, with nothing lost.
//!
//! # Layout
//!
//! - [`config`]: tokens, the destinations allow-list, the retry policy.
//! - [`subscriptions`]: who wants what, stored in a key-value bucket, with `*` patterns.
//! - [`safety`]: which URLs and addresses deliveries may reach (SSRF, DNS rebinding).
//! - [`fanout`]: events → one queued delivery per interested subscription.
//! - [`delivery`]: a worker per subscription: sign, post, retry, dead-letter.
//! - [`render`]: Slack Block Kit messages; [`signing`]: the Slack-style signature.
//! - [`api`]: `/v1/subscriptions` and the admin's dead letters.
//! - [`digest`]: a subscription's weekly digest of the coming week's agenda, a durable timer on
//!   the system clock; [`portfolio`]: a partner's applications and agenda from the read model.
//! - [`slack`]: the Slack app Slack calls: request verification, the workspace → partner mapping,
//!   the `/sandpiper` slash command (`status`, `agenda`, `help`), the Graduate / Retire buttons.

pub mod api;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod fanout;
pub mod portfolio;
pub mod render;
pub mod safety;
pub mod signing;
pub mod slack;
pub mod subscriptions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_runtime::bus::{Bus, BusError};
use sandpiper_runtime::consume;
use sandpiper_runtime::health::{self, Gate, Readiness};
use sandpiper_runtime::http::problem::Problem;
use sandpiper_runtime::shutdown::Shutdown;
use sandpiper_runtime::views::ViewStore;
use tokio::net::TcpListener;

pub use crate::config::DEFAULT_PORT;
use crate::config::NotifierConfig;
use crate::delivery::Deliverer;
use crate::fanout::Fanout;
use crate::safety::{CheckedResolver, Policy};
use crate::subscriptions::{StoreError, SubscriptionStore};

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Subscriptions(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The notifier, built and ready to run.
pub struct Notifier {
    listener: TcpListener,
    bus: Bus,
    views: ViewStore,
    api: api::ApiState,
    slack: slack::SlackState,
    deliverer: Arc<Deliverer>,
    digests: digest::DigestClock,
    clock: sandpiper_runtime::clock::Clock,
}

impl Notifier {
    pub async fn build(config: NotifierConfig) -> Result<Notifier, NotifierError> {
        sandpiper_runtime::http::ensure_crypto_provider();
        let bus = Bus::connect(&config.common, ServiceName::Notifier).await?;
        delivery::deliveries_stream(&bus).await?;
        // Shared with every service's refused events (`sandpiper_runtime::dead_letters`).
        sandpiper_runtime::dead_letters::stream(&bus)
            .await
            .map_err(|e| NotifierError::Setup(format!("dead letters: {e}")))?;
        let views = ViewStore::open(&bus)
            .await
            .map_err(|e| NotifierError::Setup(format!("view store: {e}")))?;
        let subscriptions = SubscriptionStore::open(&bus).await?;
        let policy = Arc::new(Policy { allow: config.allow });
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            .connect_timeout(Duration::from_secs(5).min(config.retry.timeout))
            .timeout(config.retry.timeout)
            // A redirect could point anywhere, the metadata range included: none are followed.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect on our behalf, past the resolver's address checks.
            .no_proxy()
            .user_agent("sandpiper-notifier/1")
            .build()
            .map_err(|e| NotifierError::Setup(format!("HTTP client: {e}")))?;
        // Kept an hour: a slot older than that says nothing about the next message.
        let pace = bus
            .bucket(
                names::DELIVERY_PACE_BUCKET,
                1,
                sandpiper_runtime::provision::DELIVERY_PACE_MAX_AGE,
            )
            .await
            .map_err(|e| NotifierError::Setup(format!("pace bucket: {e}")))?;
        let deliverer = Arc::new(Deliverer::new(
            bus.clone(),
            subscriptions.clone(),
            http.clone(),
            config.retry,
            policy.clone(),
            pace,
        ));
        let listener = TcpListener::bind(config.common.http_addr)
            .await
            .map_err(|source| NotifierError::Listen {
                addr: config.common.http_addr,
                source,
            })?;
        let workspaces = slack::workspaces::WorkspaceStore::open(&bus)
            .await
            .map_err(|e| NotifierError::Setup(format!("Slack workspace store: {e}")))?;
        let clock = sandpiper_runtime::clock::Clock::open(&bus, config.common.clock)
            .await
            .map_err(|e| NotifierError::Setup(format!("clock: {e}")))?;
        // The catalog versions a graduation pressed in Slack is decided under (G2, K1).
        let builtin = sandpiper_contracts::catalog::Catalog::builtin()
            .map_err(|e| NotifierError::Setup(format!("built-in catalog: {e}")))?;
        let catalogs = sandpiper_runtime::catalog_store::CatalogStore::open(&bus, &builtin)
            .await
            .map_err(|e| NotifierError::Setup(format!("catalog store: {e}")))?;
        let slack = slack::SlackState(Arc::new(slack::SlackShared {
            signing_secret: config.slack_signing_secret,
            workspaces,
            views: views.clone(),
            publisher: sandpiper_runtime::publish::Publisher::new(
                bus.jetstream.clone(),
                ServiceName::Notifier,
                clock.clone(),
            ),
            catalogs,
            http: http.clone(),
            policy: policy.clone(),
            clock: clock.clone(),
            tokens: config.tokens.clone(),
            answer_within: config.slack_answer_within,
        }));
        let digests = digest::DigestClock::open(bus.clone(), views.clone(), subscriptions.clone(), clock.clone())
            .await
            .map_err(|e| NotifierError::Setup(format!("digest timers: {e}")))?;
        let api = api::ApiState(Arc::new(api::ApiShared {
            tokens: config.tokens,
            bus: bus.clone(),
            subscriptions,
            policy,
            timers: digests.timers.clone(),
            clock: clock.clone(),
        }));
        Ok(Notifier {
            listener,
            bus,
            views,
            api,
            slack,
            deliverer,
            digests,
            clock,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Fans out, delivers and serves until `stop`; then finishes in-flight deliveries and drains.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), NotifierError> {
        let shutdown = Shutdown::on(stop);
        let loaded = Gate::new("subscriptions loaded");
        let consuming = Gate::new("fan-out consumer running");
        let digesting = Gate::new("digest timers running");
        let readiness = Readiness::new(
            self.bus.clone(),
            vec![loaded.clone(), consuming.clone(), digesting.clone()],
        );
        let fanout = Fanout::new(self.bus.clone(), self.views.clone(), self.api.0.subscriptions.clone());
        let fanning = tokio::spawn(fan_out_once_loaded(
            self.bus.clone(),
            fanout,
            shutdown.clone(),
            loaded,
            consuming,
        ));
        let supervising = tokio::spawn(delivery::supervise(self.deliverer.clone(), shutdown.clone()));
        let digest_timers = tokio::spawn(sandpiper_runtime::timers::run(
            self.bus.clone(),
            ServiceName::Notifier,
            self.clock.clone(),
            self.digests,
            shutdown.clone(),
            digesting,
        ));

        let router = Router::new()
            .route("/v1/subscriptions", post(api::create).get(api::list))
            .route("/v1/subscriptions/{id}", axum::routing::delete(api::delete))
            .route("/v1/deliveries/dead", get(api::dead_letters))
            .route("/v1/deliveries/dead/{sequence}/redrive", post(api::redrive))
            .with_state(self.api.clone())
            .merge(
                Router::new()
                    .route("/slack/commands", post(slack::command::slash))
                    .route("/slack/interactions", post(slack::interactions::interact))
                    .route("/v1/slack/workspaces", get(slack::command::list_workspaces))
                    .route(
                        "/v1/slack/workspaces/{team_id}",
                        axum::routing::put(slack::command::put_workspace).delete(slack::command::delete_workspace),
                    )
                    .with_state(self.slack.clone()),
            )
            .merge(health::routes(readiness))
            .fallback(|uri: Uri| async move { Problem::not_found(format!("no route {}", uri.path())) })
            .method_not_allowed_fallback(|| async {
                Problem::http(StatusCode::METHOD_NOT_ALLOWED, "this route does not accept that method")
            })
            .layer(DefaultBodyLimit::max(64 * 1024))
            .layer(axum::middleware::from_fn(|request, next| {
                sandpiper_runtime::metrics::track("notifier", request, next)
            }))
            .layer(axum::middleware::from_fn(|request, next| {
                sandpiper_runtime::trace_context::trace_request("notifier", request, next)
            }));
        let http_shutdown = shutdown.clone();
        let served = axum::serve(
            sandpiper_runtime::http::listener::ProblemListener::new(self.listener),
            router,
        )
        .with_graceful_shutdown(async move { http_shutdown.triggered().await })
        .await;
        match fanning.await {
            Ok(Err(err)) => tracing::error!(error = %err, "the fan-out consumer failed"),
            Err(err) => tracing::error!(error = %err, "the fan-out task failed"),
            Ok(Ok(())) => {}
        }
        let _ = supervising.await;
        match digest_timers.await {
            Ok(Err(err)) => tracing::error!(error = %err, "the digest timers failed"),
            Err(err) => tracing::error!(error = %err, "the digest timer task failed"),
            Ok(Ok(())) => {}
        }
        self.bus.drain().await;
        tracing::info!("notifier stopped");
        served.map_err(NotifierError::Serve)
    }
}

/// Starts the fan-out only once this replica's copy of the subscriptions holds every one stored:
/// an event matched against a half-loaded copy would be acked with nothing queued.
async fn fan_out_once_loaded(
    bus: Bus,
    fanout: Fanout,
    shutdown: Shutdown,
    loaded: Gate,
    consuming: Gate,
) -> Result<(), consume::ConsumeError> {
    loop {
        tokio::select! {
            () = shutdown.triggered() => return Ok(()),
            caught_up = fanout.subscriptions.catch_up() => match caught_up {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "loading the subscriptions failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            },
        }
    }
    loaded.set(true);
    // The read model: an event the state machine refuses for its application is dead-lettered,
    // never announced to subscribers (#13 item 4).
    let views = Some(fanout.views.clone());
    consume::run(bus, ServiceName::Notifier, fanout, views, shutdown, consuming).await
}
