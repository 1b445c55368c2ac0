//! Publishing events: the only way an event reaches the stream. Each publish awaits JetStream's
//! ack and carries `Nats-Msg-Id` = event id, so publishing the same event twice stores it once.

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use chrono::{DateTime, Utc};
use sandpiper_contracts::events::{Envelope, EnvelopeError, Payload};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::subjects;

use tracing::Instrument;

use crate::clock::Clock;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// Another event of the application was stored since the caller last looked: the caller's
    /// view is stale (optimistic concurrency).
    #[error("application {0} changed meanwhile")]
    Conflict(ApplicationId),
    #[error("publishing to JetStream failed: {0}")]
    Nats(#[source] async_nats::jetstream::context::PublishError),
}

/// What the stream said about a publish.
#[derive(Debug, Clone)]
pub struct Published {
    pub envelope: Envelope,
    /// The event's stream sequence (the original one when `duplicate`).
    pub sequence: u64,
    /// The stream already held this event id: nothing new was stored.
    pub duplicate: bool,
}

/// An event about to be published.
pub struct Outgoing<'a, P: Payload + ?Sized> {
    pub id: EventId,
    pub partner: &'a PartnerId,
    pub application: ApplicationId,
    pub payload: &'a P,
    /// When set, the publish succeeds only if the application's last stored event has this
    /// stream sequence (0: it has none). Guards read-check-write commands against races.
    pub expected_version: Option<u64>,
    /// The event's time; the clock's now when unset.
    pub time: Option<DateTime<Utc>>,
}

/// Publishes events as one service.
#[derive(Clone)]
pub struct Publisher {
    jetstream: async_nats::jetstream::Context,
    source: ServiceName,
    clock: Clock,
}

impl Publisher {
    pub fn new(jetstream: async_nats::jetstream::Context, source: ServiceName, clock: Clock) -> Publisher {
        Publisher {
            jetstream,
            source,
            clock,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Publishes one event and waits for the stream to store it. The publish is a span of its own
    /// whose context rides in the message headers: consumers' spans become its children.
    pub async fn publish<P: Payload + ?Sized>(&self, event: Outgoing<'_, P>) -> Result<Published, PublishError> {
        let event_type = event.payload.event_type();
        let span = tracing::info_span!(
            "publish",
            otel.name = %format_args!("publish {}", event_type.as_str()),
            otel.kind = "producer",
            service = self.source.as_str(),
            event_type = event_type.as_str(),
            application_id = %event.application,
        );
        self.publish_in_span(event).instrument(span).await
    }

    async fn publish_in_span<P: Payload + ?Sized>(&self, event: Outgoing<'_, P>) -> Result<Published, PublishError> {
        let event_type = event.payload.event_type();
        let time = event.time.unwrap_or_else(|| self.clock.now());
        let envelope = Envelope::new(
            event.id,
            self.source,
            event.partner.clone(),
            event.application,
            time,
            event.payload,
        )?;
        let subject = subjects::event(event.partner, &event.application, event_type);
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.id.to_string().as_str());
        crate::trace_context::inject(&mut headers);
        if let Some(version) = event.expected_version {
            headers.insert("Nats-Expected-Last-Subject-Sequence", version.to_string().as_str());
            headers.insert(
                sandpiper_contracts::names::PREVIOUS_SEQUENCE_HEADER,
                version.to_string().as_str(),
            );
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence-Subject",
                subjects::events_of_application(event.partner, &event.application).as_str(),
            );
        }
        let payload = envelope.to_json()?;
        let ack = self
            .jetstream
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(PublishError::Nats)?
            .await
            .map_err(|err| match err.kind() {
                PublishErrorKind::WrongLastSequence => PublishError::Conflict(event.application),
                _ => PublishError::Nats(err),
            })?;
        if !ack.duplicate {
            let labels = crate::metrics::labels(&[("service", self.source.as_str()), ("type", event_type.as_str())]);
            crate::metrics::metrics().events_published.get_or_create(&labels).inc();
        }
        Ok(Published {
            envelope,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }
}
