//! The notifier: delivers every event to the partners' Slack and webhook subscriptions.
//! It follows the whole event stream; subscriptions and delivery arrive with issue #5.

use sandpiper_contracts::events::EventType;
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::worker::{Worker, WorkerError};

/// The notifier's default HTTP port (health endpoints; the subscriptions API with #5).
pub const DEFAULT_PORT: u16 = 8081;

pub struct Notifier;

impl Handler for Notifier {
    fn event_types(&self) -> Vec<EventType> {
        EventType::ALL.to_vec()
    }

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        tracing::debug!(event_type = delivery.event_type.as_str(), "no subscriptions yet (#5)");
        Ok(())
    }
}

/// Builds the notifier service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Notifier>, WorkerError> {
    Worker::build(ServiceName::Notifier, config, |_| Notifier).await
}
