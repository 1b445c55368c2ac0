//! The classifier: places each submitted application in a pool (DOMAIN §3–§4).
//!
//! For now it keeps the programme the partner filed and moves the application into review; the
//! eligibility and pool rules (E1–E5, C1–C4, K1–K2) arrive with issue #3, and the `classified`
//! event says so in its reasons rather than citing rules it did not apply.

use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::events::{Classified, EventType, Submitted};
use sandpiper_contracts::ids::EventId;
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::publish::{Outgoing, PublishError, Publisher};
use sandpiper_runtime::worker::{Worker, WorkerContext, WorkerError};

/// The classifier's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8082;

pub struct Classifier {
    publisher: Publisher,
    catalog: Catalog,
}

impl Handler for Classifier {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Submitted]
    }

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let submitted: Submitted = delivery
            .envelope
            .payload()
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let classified = Classified {
            pool: submitted.application.programme,
            rules: Vec::new(),
            reasons: vec![
                "Pool rules (C1–C4, K1) are not applied yet: the filed programme is kept.".into(),
            ],
            catalog_version: self.catalog.version.clone(),
        };
        let published = self
            .publisher
            .publish(Outgoing {
                // Derived from the cause: a redelivered `submitted` republishes the same event id,
                // which the stream drops as a duplicate.
                id: EventId::derived(&delivery.envelope.id, EventType::Classified.as_str()),
                partner: &delivery.envelope.partnerid,
                application: delivery.envelope.subject,
                payload: &classified,
                expected_version: None,
                time: None,
            })
            .await
            .map_err(|err| match err {
                PublishError::Envelope(e) => HandlerError::Permanent(e.to_string()),
                other => HandlerError::Transient(other.to_string()),
            })?;
        tracing::info!(
            pool = classified.pool.as_str(),
            duplicate = published.duplicate,
            "classified"
        );
        Ok(())
    }
}

/// Builds the classifier service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Classifier>, WorkerError> {
    let catalog = Catalog::builtin().map_err(|e| WorkerError::Config(e.to_string()))?;
    Worker::build(ServiceName::Classifier, config, |ctx: WorkerContext| {
        Classifier {
            publisher: ctx.publisher,
            catalog,
        }
    })
    .await
}
