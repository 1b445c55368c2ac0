//! Publishing events: the only way an event reaches the stream. Each publish awaits JetStream's
//! ack and carries `Nats-Msg-Id` = event id, so publishing the same event twice stores it once.
//!
//! An ack that never comes (NATS restarting, a leader election) leaves the outcome unknown: the
//! event may be stored. Such a publish is sent again, the very same message, a few times, so the
//! outcome is resolved instead of guessed: the stream answers a stored unguarded event as a
//! duplicate with its original sequence, and refuses a stored guarded one as a
//! [`PublishError::Conflict`] (nats-server checks the sequence guard before the duplicate
//! window), which its callers resolve from the stream (the intake and `Effects` catch the record
//! up and find the event's id in it). Only when no attempt is answered is the error
//! [`PublishError::Unconfirmed`], which callers must report as unknown, never as "not stored".

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
    /// The stream refused the event or could not be reached: it is not stored.
    #[error("publishing to JetStream failed: {0}")]
    Nats(#[source] async_nats::jetstream::context::PublishError),
    /// No attempt to store the event was answered: it may or may not be stored.
    #[error("JetStream did not confirm the event after {attempts} attempts: {source}")]
    Unconfirmed {
        attempts: u32,
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
}

/// How often an unanswered publish is sent again before its outcome is reported unknown: with
/// [`crate::bus::REQUEST_TIMEOUT`] and the back-off between, about 15 s in all, as before.
const CONFIRM_ATTEMPTS: u32 = 6;

/// Whether a failed publish may have been stored: the message went out and no answer came back.
fn outcome_unknown(kind: PublishErrorKind) -> bool {
    matches!(kind, PublishErrorKind::TimedOut | PublishErrorKind::BrokenPipe)
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
    pub fn new(mut jetstream: async_nats::jetstream::Context, source: ServiceName, clock: Clock) -> Publisher {
        jetstream.set_timeout(crate::bus::REQUEST_TIMEOUT);
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
        let payload: bytes::Bytes = envelope.to_json()?.into();
        let mut attempt = 1;
        let ack = loop {
            let answered = match self
                .jetstream
                .publish_with_headers(subject.clone(), headers.clone(), payload.clone())
                .await
            {
                Ok(ack) => ack.await,
                Err(err) => Err(err),
            };
            match answered {
                Ok(ack) => break ack,
                Err(err) if err.kind() == PublishErrorKind::WrongLastSequence => {
                    return Err(PublishError::Conflict(event.application));
                }
                Err(err) if outcome_unknown(err.kind()) && attempt < CONFIRM_ATTEMPTS => {
                    tracing::warn!(attempt, error = %err, event_id = %envelope.id, "the publish was not confirmed; sending it again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(source) if outcome_unknown(source.kind()) => {
                    return Err(PublishError::Unconfirmed {
                        attempts: attempt,
                        source,
                    });
                }
                Err(err) => return Err(PublishError::Nats(err)),
            }
        };
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
