//! A service made of one event handler (and, optionally, durable timers) plus health endpoints: the
//! shape of the classifier, reviewer, scheduler and notifier. `build` connects and provisions
//! (failing fast on bad config or no NATS); `run_until_stopped` consumes until the stop future
//! resolves, then finishes in-flight work and drains.

use std::future::Future;
use std::net::SocketAddr;

use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::names::ServiceName;
use tokio::net::TcpListener;

use crate::bus::{Bus, BusError};
use crate::catalog_store::{CatalogStore, CatalogStoreError};
use crate::clock::{Clock, ClockError};
use crate::config::CommonConfig;
use crate::consume::{self, ConsumeError};
use crate::handler::{Handler, HandlerError, Timer, TimerHandler, TimerKind};
use crate::health::{self, Gate, Readiness};
use crate::publish::Publisher;
use crate::shutdown::Shutdown;
use crate::timers::{self, TimerError, Timers};
use crate::views::{ViewStore, ViewStoreError};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error(transparent)]
    Catalog(#[from] CatalogStoreError),
    #[error(transparent)]
    Timers(#[from] TimerError),
    #[error(transparent)]
    Views(#[from] ViewStoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Consume(#[from] ConsumeError),
    #[error("the HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
}

/// What a handler is built from.
#[derive(Clone)]
pub struct WorkerContext {
    pub service: ServiceName,
    pub bus: Bus,
    pub clock: Clock,
    pub publisher: Publisher,
    /// The catalog versions (K4); decisions use the one in force at submission.
    pub catalogs: CatalogStore,
    /// This service's durable timers.
    pub timers: Timers,
    /// The read model (for handlers that keep it, [`Handler::KEEPS_VIEWS`]).
    pub views: ViewStore,
}

/// The timer handler of a service that has no timers.
pub struct NoTimers;

/// The kind of timer a service without timers has: none (no payload decodes to it).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub enum NoTimer {}

impl TimerKind for NoTimer {
    fn timer_id(&self, _: &sandpiper_contracts::ids::ApplicationId) -> String {
        match *self {}
    }
}

impl TimerHandler for NoTimers {
    type Kind = NoTimer;

    async fn fire(&self, _: Timer, kind: NoTimer) -> Result<(), HandlerError> {
        match kind {}
    }
}

/// An event-driven service, built and ready to run.
pub struct Worker<H: Handler, T: TimerHandler = NoTimers> {
    service: ServiceName,
    context: WorkerContext,
    listener: TcpListener,
    handler: H,
    timer_handler: Option<T>,
}

impl<H: Handler> Worker<H, NoTimers> {
    /// A service that only consumes events.
    pub async fn build(
        service: ServiceName,
        config: &CommonConfig,
        make_handler: impl FnOnce(WorkerContext) -> H,
    ) -> Result<Worker<H, NoTimers>, WorkerError> {
        Worker::build_with_timers(service, config, |ctx| (make_handler(ctx), None)).await
    }
}

impl<H: Handler, T: TimerHandler> Worker<H, T> {
    /// A service that consumes events and fires durable timers.
    pub async fn build_with_timers(
        service: ServiceName,
        config: &CommonConfig,
        make: impl FnOnce(WorkerContext) -> (H, Option<T>),
    ) -> Result<Worker<H, T>, WorkerError> {
        let bus = Bus::connect(config, service).await?;
        let clock = Clock::open(&bus, config.clock).await?;
        let builtin =
            Catalog::builtin().map_err(|e| WorkerError::Config(format!("the built-in catalog is invalid: {e}")))?;
        let catalogs = CatalogStore::open(&bus, &builtin).await?;
        let timers = Timers::open(&bus, service).await?;
        let views = ViewStore::open(&bus).await?;
        let listener = TcpListener::bind(config.http_addr)
            .await
            .map_err(|source| WorkerError::Listen {
                addr: config.http_addr,
                source,
            })?;
        let publisher = Publisher::new(bus.jetstream.clone(), service, clock.clone());
        let context = WorkerContext {
            service,
            bus,
            clock,
            publisher,
            catalogs,
            timers,
            views,
        };
        let (handler, timer_handler) = make(context.clone());
        Ok(Worker {
            service,
            context,
            listener,
            handler,
            timer_handler,
        })
    }

    /// The bound HTTP address (port 0 in tests becomes a real port here).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves and consumes until `stop` resolves; then finishes in-flight events, stops the HTTP
    /// server and drains the NATS connection.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), WorkerError> {
        let shutdown = Shutdown::on(stop);
        let bus = self.context.bus.clone();
        let consuming = Gate::new("consumer running");
        let mut gates = vec![consuming.clone()];

        let timer_task = self.timer_handler.map(|handler| {
            let firing = Gate::new("timers running");
            gates.push(firing.clone());
            let (bus, clock, shutdown) = (bus.clone(), self.context.clock.clone(), shutdown.clone());
            tokio::spawn(timers::run(bus, self.service, clock, handler, shutdown, firing))
        });

        let readiness = Readiness::new(bus.clone(), gates);
        let http_shutdown = shutdown.clone();
        let http = tokio::spawn(async move {
            let service = self.service.as_str();
            let router = health::routes::<()>(readiness).layer(axum::middleware::from_fn(move |request, next| {
                crate::metrics::track(service, request, next)
            }));
            axum::serve(crate::http::listener::ProblemListener::new(self.listener), router)
                .with_graceful_shutdown(async move { http_shutdown.triggered().await })
                .await
        });
        let views = Some(self.context.views.clone());
        let consumed = consume::run(bus.clone(), self.service, self.handler, views, shutdown, consuming).await;
        if consumed.is_err() {
            // The consumer could not start: nothing to serve, so do not wait for a stop signal.
            http.abort();
            if let Some(task) = &timer_task {
                task.abort();
            }
        }
        let served = http.await;
        let fired = match timer_task {
            Some(task) => match task.await {
                Ok(result) => result.map_err(WorkerError::from),
                Err(join) if join.is_cancelled() => Ok(()),
                Err(join) => Err(WorkerError::Timers(TimerError::Store(join.into()))),
            },
            None => Ok(()),
        };
        bus.drain().await;
        tracing::info!(service = %self.service, "stopped");
        consumed?;
        fired?;
        match served {
            Ok(result) => result.map_err(WorkerError::Http),
            Err(join) if join.is_cancelled() => Ok(()),
            Err(join) => Err(WorkerError::Http(std::io::Error::other(join))),
        }
    }
}
