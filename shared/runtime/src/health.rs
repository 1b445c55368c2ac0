//! `/healthz` (the process is alive) and `/readyz` (it can do its work: connected to NATS, the
//! event stream present, and whatever the service adds, such as a caught-up projection).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sandpiper_contracts::names;

use crate::bus::Bus;

/// A named readiness condition a service sets when it holds (e.g. "consumer running").
#[derive(Clone)]
pub struct Gate {
    name: &'static str,
    open: Arc<AtomicBool>,
}

impl Gate {
    pub fn new(name: &'static str) -> Gate {
        Gate {
            name,
            open: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn set(&self, open: bool) {
        self.open.store(open, Ordering::Release);
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }
}

/// Everything `/readyz` checks.
#[derive(Clone)]
pub struct Readiness {
    bus: Bus,
    gates: Vec<Gate>,
}

impl Readiness {
    pub fn new(bus: Bus, gates: Vec<Gate>) -> Readiness {
        Readiness { bus, gates }
    }

    /// `Ok` when ready, otherwise what is not.
    pub async fn check(&self) -> Result<(), String> {
        if self.bus.client.connection_state() != async_nats::connection::State::Connected {
            return Err("not connected to NATS".into());
        }
        // `get_stream` asks the server (for the stream's info): a stream that is gone, or a
        // JetStream that does not answer, makes the service unready.
        let stream = tokio::time::timeout(
            Duration::from_secs(2),
            self.bus.jetstream.get_stream(names::EVENTS_STREAM),
        )
        .await;
        match stream {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                return Err(format!("event stream {} unavailable: {err}", names::EVENTS_STREAM));
            }
            Err(_) => return Err("JetStream did not answer within 2 s".into()),
        }
        match self.gates.iter().find(|g| !g.is_open()) {
            Some(gate) => Err(format!("{} not yet", gate.name)),
            None => Ok(()),
        }
    }
}

/// The health routes; merge them into a service's router.
pub fn routes<S: Clone + Send + Sync + 'static>(readiness: Readiness) -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::serve))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    match readiness.check().await {
        Ok(()) => "ready".into_response(),
        Err(reason) => {
            let body = serde_json::json!({
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": reason,
            });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/problem+json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}
