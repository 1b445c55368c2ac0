//! A service made of one event handler plus health endpoints: the shape of the classifier,
//! reviewer, scheduler and notifier. `build` connects and provisions (failing fast on bad config or
//! no NATS); `run_until_stopped` consumes until the stop future resolves, then drains.

use std::future::Future;
use std::net::SocketAddr;

use sandpiper_contracts::names::ServiceName;
use tokio::net::TcpListener;

use crate::bus::{Bus, BusError};
use crate::clock::{Clock, ClockError};
use crate::config::CommonConfig;
use crate::consume::{self, ConsumeError, Handler};
use crate::health::{self, Gate, Readiness};
use crate::publish::Publisher;
use crate::shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Consume(#[from] ConsumeError),
    #[error("the HTTP server failed: {0}")]
    Http(#[source] std::io::Error),
}

/// What a handler is built from.
#[derive(Clone)]
pub struct WorkerContext {
    pub bus: Bus,
    pub clock: Clock,
    pub publisher: Publisher,
}

/// A running-to-be event-driven service.
pub struct Worker<H: Handler> {
    service: ServiceName,
    bus: Bus,
    listener: TcpListener,
    handler: H,
}

impl<H: Handler> Worker<H> {
    /// Connects to NATS, provisions, binds the HTTP port and builds the handler.
    pub async fn build(
        service: ServiceName,
        config: &CommonConfig,
        make_handler: impl FnOnce(WorkerContext) -> H,
    ) -> Result<Worker<H>, WorkerError> {
        let bus = Bus::connect(config, service).await?;
        let clock = Clock::open(&bus, config.clock).await?;
        let listener = TcpListener::bind(config.http_addr)
            .await
            .map_err(|source| WorkerError::Listen {
                addr: config.http_addr,
                source,
            })?;
        let publisher = Publisher::new(bus.jetstream.clone(), service, clock.clone());
        let handler = make_handler(WorkerContext {
            bus: bus.clone(),
            clock,
            publisher,
        });
        Ok(Worker {
            service,
            bus,
            listener,
            handler,
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
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let shutdown = Shutdown::on(stop);
        let running = Gate::new("consumer running");
        let readiness = Readiness::new(self.bus.clone(), vec![running.clone()]);
        let http_shutdown = shutdown.clone();
        let http = tokio::spawn(async move {
            axum::serve(self.listener, health::routes::<()>(readiness))
                .with_graceful_shutdown(async move { http_shutdown.triggered().await })
                .await
        });
        let consumed = consume::run(
            self.bus.clone(),
            self.service,
            self.handler,
            shutdown,
            running,
        )
        .await;
        if consumed.is_err() {
            // The consumer could not start: nothing to serve, so do not wait for a stop signal.
            http.abort();
        }
        let served = http.await;
        self.bus.drain().await;
        tracing::info!(service = %self.service, "stopped");
        consumed?;
        match served {
            Ok(result) => result.map_err(WorkerError::Http),
            Err(join) if join.is_cancelled() => Ok(()),
            Err(join) => Err(WorkerError::Http(std::io::Error::other(join))),
        }
    }
}
