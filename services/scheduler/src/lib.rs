//! The scheduler: credits, tranches, windows, office hours and graduation on durable timers
//! (DOMAIN §6–§9). It follows approvals; the credit and window logic arrives with issue #4.

use sandpiper_contracts::events::EventType;
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::worker::{Worker, WorkerError};

/// The scheduler's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8084;

pub struct Scheduler;

impl Handler for Scheduler {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Approved]
    }

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        tracing::info!(application_id = %delivery.envelope.subject, "approved; crediting arrives with #4");
        Ok(())
    }
}

/// Builds the scheduler service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Scheduler>, WorkerError> {
    Worker::build(ServiceName::Scheduler, config, |_| Scheduler).await
}
