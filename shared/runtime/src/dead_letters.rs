//! The dead letters of refused events (issue #13): an event a consumer must refuse (unreadable,
//! its NATS subject and envelope disagree, or its handler refuses it for good) is written here,
//! by the consumer loop ([`crate::consume`]), before the event is terminated, so it is never lost
//! from view. An admin lists them and redrives one (the intake's `/v1/dead-letters`); the service
//! that refused the event takes the redrive request ([`RedriveRequest`] on
//! `subjects::redrive(service)`), handles the original event again through the same handler and
//! answers a [`RedriveOutcome`].
//!
//! They share the notifier's dead-letter stream (`SANDPIPER_DEAD_LETTERS`), under their own
//! subjects (`subjects::event_dead_letters`); a letter's id is its sequence in that stream.

use async_nats::HeaderMap;
use async_nats::jetstream::stream;
use chrono::{DateTime, Utc};
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_contracts::subjects;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::bus::{Bus, BusError};
use crate::errors::BoxError;

/// Why a consumer refused an event, as a metric label and a listing field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The message is no envelope, or names no event type this version knows.
    Unreadable,
    /// The NATS subject is not the one the envelope's partner, application and type make.
    Mismatched,
    /// The handler refused it for good (the state machine, an application with no record, an
    /// unusable payload).
    Refused,
}

impl RefusalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Unreadable => "unreadable",
            RefusalKind::Mismatched => "mismatched",
            RefusalKind::Refused => "refused",
        }
    }
}

/// One refused event, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventDeadLetter {
    /// The service whose consumer refused it (`classifier`, `reviewer`, `scheduler`, `notifier`).
    pub service: String,
    /// Its durable consumer.
    pub consumer: String,
    /// The event's sequence in `SANDPIPER_EVENTS`: where a redrive fetches it from.
    pub stream_sequence: u64,
    /// The NATS subject it arrived on.
    pub subject: String,
    /// From the envelope, when it is readable.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub application_id: Option<String>,
    pub partner_id: Option<String>,
    pub reason_kind: RefusalKind,
    /// The refusal and every cause under it ([`crate::errors::error_chain`]).
    pub reason: String,
    /// When it was refused (wall clock).
    pub refused_at: DateTime<Utc>,
    /// How many times the consumer had been given it.
    pub deliveries: i64,
    /// How many redrives were refused again before this letter (0: refused by the consumer).
    #[serde(default)]
    pub redrives: u32,
}

impl EventDeadLetter {
    /// The letter of an event stored at `stream_sequence` on `subject`, refused by `service`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        service: ServiceName,
        stream_sequence: u64,
        subject: &str,
        envelope: Option<&Envelope>,
        reason_kind: RefusalKind,
        reason: String,
        deliveries: i64,
        redrives: u32,
    ) -> EventDeadLetter {
        EventDeadLetter {
            service: service.as_str().to_owned(),
            consumer: service.durable_consumer(),
            stream_sequence,
            subject: subject.to_owned(),
            event_id: envelope.map(|e| e.id.to_string()),
            event_type: envelope.map(|e| e.event_type.clone()),
            application_id: envelope.map(|e| e.subject.to_string()),
            partner_id: envelope.map(|e| e.partnerid.to_string()),
            reason_kind,
            reason,
            refused_at: Utc::now(),
            deliveries,
            redrives,
        }
    }

    /// The service that refused it, if it names one.
    pub fn refused_by(&self) -> Option<ServiceName> {
        ServiceName::ALL.into_iter().find(|s| s.as_str() == self.service)
    }

    /// The `Nats-Msg-Id` of this letter: the same refusal written twice (a `Term` whose ack was
    /// lost, so the event came back and was refused again) is stored once within the stream's
    /// duplicate window.
    fn message_id(&self) -> String {
        format!("{}.{}.{}", self.service, self.stream_sequence, self.redrives)
    }
}

/// A letter with its id (its sequence in the dead-letter stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Listed {
    /// Pass to `POST /v1/dead-letters/{id}/redrive`.
    pub id: u64,
    #[serde(flatten)]
    pub letter: EventDeadLetter,
}

/// Asks the refusing service to handle the event of dead letter `dead_letter` again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveRequest {
    pub dead_letter: u64,
}

/// What a redrive came to, as the refusing service answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RedriveOutcome {
    /// Handled: the intake then removes the dead letter.
    Redriven,
    /// Refused again: a new dead letter is stored, and the intake removes the old one.
    Refused { dead_letter: u64, reason: String },
    /// Neither (NATS or a dependency down): the dead letter stays; try again later.
    Failed { reason: String },
    /// No such dead letter of this service (removed by an earlier redrive).
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error(transparent)]
    Stream(#[from] BusError),
    #[error("updating the dead-letter stream's configuration failed")]
    Update(#[source] async_nats::jetstream::context::UpdateStreamError),
    #[error("a dead letter could not be encoded")]
    Encode(#[source] serde_json::Error),
    #[error("storing a dead letter failed")]
    Store(#[source] BoxError),
    #[error("reading the dead letters failed")]
    Read(#[source] BoxError),
    #[error("dead letter {sequence} is unreadable")]
    Decode {
        sequence: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("removing dead letter {sequence} failed")]
    Remove {
        sequence: u64,
        #[source]
        source: BoxError,
    },
}

/// The dead-letter stream as every service provisions it: the notifier's delivery letters and
/// the event letters, direct gets allowed (letters are read by sequence and by subject).
pub fn stream_config(bus: &Bus) -> stream::Config {
    bus.stream_config(
        names::DEAD_LETTERS_STREAM,
        stream::Config {
            description: Some("Deliveries out of retries and events a consumer refused, until redriven.".into()),
            subjects: vec![subjects::all_dead_letters(), subjects::all_event_dead_letters()],
            storage: stream::StorageType::File,
            duplicate_window: crate::bus::DUPLICATE_WINDOW,
            allow_direct: true,
            ..Default::default()
        },
    )
}

/// The dead-letter stream, created on first use with the configured replicas. A stream created
/// before event letters existed (delivery subjects only, no direct gets) is updated in place:
/// otherwise a refused event's letter would find no stream and the event would wait forever.
pub async fn stream(bus: &Bus) -> Result<stream::Stream, DeadLetterError> {
    let wanted = stream_config(bus);
    let stream = bus.stream(names::DEAD_LETTERS_STREAM, wanted.clone()).await?;
    let current = &stream.cached_info().config;
    let lacking = wanted.subjects.iter().any(|s| !current.subjects.contains(s)) || !current.allow_direct;
    if !lacking {
        return Ok(stream);
    }
    let mut updated = current.clone();
    for subject in wanted.subjects {
        if !updated.subjects.contains(&subject) {
            updated.subjects.push(subject);
        }
    }
    updated.allow_direct = true;
    bus.jetstream
        .update_stream(updated)
        .await
        .map_err(DeadLetterError::Update)?;
    tracing::info!(
        stream = names::DEAD_LETTERS_STREAM,
        "the dead-letter stream now takes event dead letters"
    );
    Ok(bus.stream(names::DEAD_LETTERS_STREAM, stream_config(bus)).await?)
}

/// The event dead letters: each service's written by its consumer and read by its redrives;
/// removed by the intake alone, once a redrive was answered.
#[derive(Clone)]
pub struct DeadLetters {
    bus: Bus,
    stream: stream::Stream,
}

impl DeadLetters {
    /// Opens (creating or updating) the dead-letter stream.
    pub async fn open(bus: &Bus) -> Result<DeadLetters, DeadLetterError> {
        Ok(DeadLetters {
            bus: bus.clone(),
            stream: stream(bus).await?,
        })
    }

    /// Stores `letter` and waits for the stream to acknowledge it; its id.
    pub async fn store(&self, letter: &EventDeadLetter) -> Result<u64, DeadLetterError> {
        let service = letter
            .refused_by()
            .ok_or_else(|| DeadLetterError::Store(format!("{:?} is not a service", letter.service).into()))?;
        let body = serde_json::to_vec(letter).map_err(DeadLetterError::Encode)?;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", letter.message_id().as_str());
        let ack = self
            .bus
            .jetstream
            .publish_with_headers(subjects::event_dead_letters(service), headers, body.into())
            .await
            .map_err(|e| DeadLetterError::Store(e.into()))?
            .await
            .map_err(|e| DeadLetterError::Store(e.into()))?;
        Ok(ack.sequence)
    }

    /// The event dead letter `sequence`; `None` if there is none (removed, or a delivery letter).
    pub async fn get(&self, sequence: u64) -> Result<Option<EventDeadLetter>, DeadLetterError> {
        // Stream sequences start at 1; the server answers a get of 0 as a bad request, not as
        // "not found".
        if sequence == 0 {
            return Ok(None);
        }
        let message = match self.stream.direct_get(sequence).await {
            Ok(message) => message,
            Err(err) if err.kind() == stream::DirectGetErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(DeadLetterError::Read(err.into())),
        };
        if subjects::parse_event_dead_letter(&message.subject).is_none() {
            return Ok(None);
        }
        serde_json::from_slice(&message.payload)
            .map(Some)
            .map_err(|source| DeadLetterError::Decode { sequence, source })
    }

    /// Up to `limit` event dead letters (of `service`, or of every service) from sequence `from`
    /// on, oldest first, and the sequence the next page starts from (`None`: the last page).
    pub async fn page(
        &self,
        service: Option<ServiceName>,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<Listed>, Option<u64>), DeadLetterError> {
        let filter = service.map_or_else(subjects::all_event_dead_letters, subjects::event_dead_letters);
        let mut letters = Vec::new();
        let mut next = from.max(1);
        while letters.len() < limit {
            let message = match self.stream.direct_get_next_for_subject(&filter, Some(next)).await {
                Ok(message) => message,
                Err(err) if err.kind() == stream::DirectGetErrorKind::NotFound => return Ok((letters, None)),
                Err(err) => return Err(DeadLetterError::Read(err.into())),
            };
            next = message.sequence + 1;
            let letter = serde_json::from_slice(&message.payload).map_err(|source| DeadLetterError::Decode {
                sequence: message.sequence,
                source,
            })?;
            letters.push(Listed {
                id: message.sequence,
                letter,
            });
        }
        // A full page: whether anything follows is for the next request to find.
        Ok((letters, Some(next)))
    }

    /// Removes dead letter `sequence` (its event was handled on a redrive, or refused again and
    /// written anew). Removing one already gone is no error.
    pub async fn remove(&self, sequence: u64) -> Result<(), DeadLetterError> {
        match self.stream.delete_message(sequence).await {
            Ok(_) => Ok(()),
            Err(err)
                if matches!(err.kind(), stream::DeleteMessageErrorKind::JetStream(e)
                    if e.error_code() == async_nats::jetstream::ErrorCode::NO_MESSAGE_FOUND) =>
            {
                Ok(())
            }
            Err(err) => Err(DeadLetterError::Remove {
                sequence,
                source: err.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_names_its_service_and_round_trips_as_listed() {
        let letter = EventDeadLetter::new(
            ServiceName::Classifier,
            42,
            "sandpiper.v1.events.acme.x.submitted",
            None,
            RefusalKind::Unreadable,
            "the event is not a valid envelope: expected value".into(),
            3,
            0,
        );
        assert_eq!(letter.refused_by(), Some(ServiceName::Classifier));
        assert_eq!(letter.consumer, "sandpiper-classifier");
        assert_eq!(letter.message_id(), "classifier.42.0");
        let listed = Listed { id: 7, letter };
        let json = serde_json::to_value(&listed).unwrap();
        assert_eq!(json["id"], 7);
        assert_eq!(json["reason_kind"], "unreadable");
        assert_eq!(json["event_id"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Listed>(json).unwrap(), listed);
    }

    #[test]
    fn redrive_outcomes_are_tagged() {
        let refused = RedriveOutcome::Refused {
            dead_letter: 9,
            reason: "still no record".into(),
        };
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"outcome": "refused", "dead_letter": 9, "reason": "still no record"})
        );
        assert_eq!(serde_json::from_value::<RedriveOutcome>(json).unwrap(), refused);
        assert_eq!(
            serde_json::to_value(RedriveOutcome::Redriven).unwrap(),
            serde_json::json!({"outcome": "redriven"})
        );
    }
}
