//! The reviewer: scores the four components and decides the tier (DOMAIN §5).
//!
//! For now it follows classified applications and leaves them `in_review`: the scoring, tier
//! rules and the review-period timer (U, M, W, B, T1–T6) arrive with issue #3. It publishes
//! nothing it has not decided.

use sandpiper_contracts::events::EventType;
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::worker::{Worker, WorkerError};

/// The reviewer's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8083;

pub struct Reviewer;

impl Handler for Reviewer {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Classified]
    }

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        tracing::info!(application_id = %delivery.envelope.subject, "in review; the review rules arrive with #3");
        Ok(())
    }
}

/// Builds the reviewer service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Reviewer>, WorkerError> {
    Worker::build(ServiceName::Reviewer, config, |_| Reviewer).await
}
