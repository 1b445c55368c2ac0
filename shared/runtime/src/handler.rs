//! What a service plugs into the runtime: an event [`Handler`], a [`TimerHandler`] with its
//! [`TimerKind`], and the one error they return, [`HandlerError`], with its policy.
//!
//! The consumer loop ([`crate::consume`]), the timer loop ([`crate::timers`]), effects
//! ([`crate::effects`]) and the worker ([`crate::worker`]) are built on these types; this module
//! depends on none of them.
//!
//! # Error policy
//!
//! A handler's error says only what the runtime must do next, and keeps what caused it as its
//! source: [`HandlerError::Transient`] is retried (in place a few times, then redelivered after a
//! backoff, never dropped); [`HandlerError::Permanent`] terminates the event (or leaves the timer
//! failing) and is logged. The `From` impls below are the policy for the runtime's own errors: a
//! store or NATS failure is transient; an envelope or payload that cannot be read is permanent.

use std::future::Future;

use chrono::{DateTime, Utc};
use sandpiper_contracts::events::{Envelope, EnvelopeError, EventPayload, EventType};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::errors::BoxError;
use crate::publish::PublishError;

/// Why a handler did not finish an event or a timer.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (NATS hiccup, a dependency down, the application moved on meanwhile).
    #[error("transient: {0}")]
    Transient(#[source] BoxError),
    /// Retrying cannot help (the event itself is wrong).
    #[error("permanent: {0}")]
    Permanent(#[source] BoxError),
}

impl HandlerError {
    /// A transient failure caused by `err` (an error, or a message saying why).
    pub fn transient(err: impl Into<BoxError>) -> HandlerError {
        HandlerError::Transient(err.into())
    }

    /// A permanent failure caused by `err` (an error, or a message saying why).
    pub fn permanent(err: impl Into<BoxError>) -> HandlerError {
        HandlerError::Permanent(err.into())
    }

    /// The cause and every source under it, for a log line ([`crate::errors::error_chain`]).
    pub fn report(&self) -> String {
        let (HandlerError::Transient(cause) | HandlerError::Permanent(cause)) = self;
        crate::errors::error_chain(cause.as_ref())
    }
}

impl From<PublishError> for HandlerError {
    fn from(err: PublishError) -> HandlerError {
        match err {
            PublishError::Envelope(_) => HandlerError::permanent(err),
            _ => HandlerError::transient(err),
        }
    }
}

impl From<EnvelopeError> for HandlerError {
    fn from(err: EnvelopeError) -> HandlerError {
        HandlerError::permanent(err)
    }
}

impl From<crate::views::ViewStoreError> for HandlerError {
    fn from(err: crate::views::ViewStoreError) -> HandlerError {
        HandlerError::transient(err)
    }
}

impl From<crate::timers::TimerError> for HandlerError {
    fn from(err: crate::timers::TimerError) -> HandlerError {
        match err {
            // A timer this service cannot even encode or decode will not get better.
            crate::timers::TimerError::BadId(_) => HandlerError::permanent(err),
            _ => HandlerError::transient(err),
        }
    }
}

impl From<crate::catalog_store::CatalogStoreError> for HandlerError {
    fn from(err: crate::catalog_store::CatalogStoreError) -> HandlerError {
        HandlerError::transient(err)
    }
}

/// An event as a handler receives it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    pub event_type: EventType,
    pub stream_sequence: u64,
    /// 1 on first delivery.
    pub delivered: i64,
    /// The sequence of the application's event this one follows, when its publish was guarded
    /// ([`sandpiper_contracts::names::PREVIOUS_SEQUENCE_HEADER`]).
    pub previous_sequence: Option<u64>,
}

impl Delivery {
    /// The payload, typed; an event that does not hold one is unusable (permanent).
    pub fn payload<P: EventPayload>(&self) -> Result<P, HandlerError> {
        Ok(self.envelope.payload()?)
    }
}

/// A service's reaction to events.
pub trait Handler: Send + Sync + 'static {
    /// The event types this handler consumes.
    fn event_types(&self) -> Vec<EventType>;

    /// A handler that decides from application state keeps the read model
    /// ([`crate::views`]): before it sees an event, the application's record is made to hold it
    /// ([`crate::views::ViewStore::ensure`]), so the handler reads a record at least as new as
    /// the event (with [`crate::views::ViewStore::load`]).
    const KEEPS_VIEWS: bool = false;

    fn handle(&self, delivery: Delivery) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A timer: when it is due, what it is about, and what its handler needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    /// Unique per owner and stable for the same cause (e.g. `review.{application}`), so
    /// scheduling it again on a redelivery overwrites rather than duplicates it.
    pub id: String,
    pub due_at: DateTime<Utc>,
    pub partner: PartnerId,
    /// The application it is on; none for a partner's own timer ([`PartnerTimerKind`], the
    /// notifier's weekly digest). Timers of one application fire in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationId>,
    /// The event that scheduled it; events the timer publishes derive their ids from it.
    pub cause: EventId,
    /// The timer's kind ([`TimerKind`]), as stored.
    pub payload: serde_json::Value,
    /// The `traceparent` of the span that scheduled it (set by [`crate::timers::Timers::schedule`]):
    /// the firing continues that trace, days later on the system clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// A kind of timer: its payload type and its id, tied together at compile time (as crates.io's
/// `BackgroundJob` ties a job's name and payload), so what fires decodes to what was scheduled.
pub trait TimerKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The timer's id on `application`: unique per owner, and stable for the same cause, so
    /// setting it again replaces it.
    fn timer_id(&self, application: &ApplicationId) -> String;
}

/// A kind of timer on no application but a partner's own (a subscription's digest): its id
/// comes from the kind alone.
pub trait PartnerTimerKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Unique per owner, and stable for the same occurrence, so setting it again replaces it.
    fn timer_id(&self) -> String;
}

/// Why a timer's payload could not be read as its kind, or written.
#[derive(Debug, thiserror::Error)]
#[error("the timer's payload is not of its kind: {0}")]
pub struct TimerPayloadError(#[source] pub serde_json::Error);

impl Timer {
    /// A timer of `kind` on `application`, caused by `cause`.
    pub fn of<K: TimerKind>(
        kind: &K,
        due_at: DateTime<Utc>,
        partner: &PartnerId,
        application: ApplicationId,
        cause: EventId,
    ) -> Result<Timer, TimerPayloadError> {
        Ok(Timer {
            id: kind.timer_id(&application),
            due_at,
            partner: partner.clone(),
            application: Some(application),
            cause,
            payload: serde_json::to_value(kind).map_err(TimerPayloadError)?,
            traceparent: None,
        })
    }

    /// A partner's own timer of `kind`, caused by `cause`.
    pub fn for_partner<K: PartnerTimerKind>(
        kind: &K,
        due_at: DateTime<Utc>,
        partner: &PartnerId,
        cause: EventId,
    ) -> Result<Timer, TimerPayloadError> {
        Ok(Timer {
            id: kind.timer_id(),
            due_at,
            partner: partner.clone(),
            application: None,
            cause,
            payload: serde_json::to_value(kind).map_err(TimerPayloadError)?,
            traceparent: None,
        })
    }

    /// The timer's kind, decoded from its payload.
    pub fn kind<K: DeserializeOwned>(&self) -> Result<K, TimerPayloadError> {
        K::deserialize(&self.payload).map_err(TimerPayloadError)
    }

    /// The application an application timer is on; a timer of an application kind stored
    /// without one cannot be fired (permanent).
    pub fn on_application(&self) -> Result<ApplicationId, HandlerError> {
        self.application
            .ok_or_else(|| HandlerError::permanent(format!("timer {} is on no application", self.id)))
    }
}

impl From<TimerPayloadError> for HandlerError {
    fn from(err: TimerPayloadError) -> HandlerError {
        HandlerError::permanent(err)
    }
}

/// What a service's timers do when they fire. Every timer in the owner's bucket is of one
/// kind, decoded once by the timer loop before [`TimerHandler::fire`] sees it.
pub trait TimerHandler: Send + Sync + 'static {
    /// A [`TimerKind`] or a [`PartnerTimerKind`].
    type Kind: DeserializeOwned + Send + Sync + 'static;

    fn fire(&self, timer: Timer, kind: Self::Kind) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_keeps_its_source_and_the_policy_decides_retry_or_not() {
        let decode = serde_json::from_str::<u32>("x").unwrap_err();
        let err = HandlerError::from(EnvelopeError::Decode(decode));
        assert!(
            matches!(err, HandlerError::Permanent(_)),
            "an unreadable envelope is permanent"
        );
        let report = err.report();
        assert!(report.starts_with("the event is not a valid envelope"), "{report}");
        assert!(report.contains("expected value"), "the serde cause is kept: {report}");

        let store = crate::timers::TimerError::Store("connection reset".into());
        assert!(matches!(HandlerError::from(store), HandlerError::Transient(_)));
        assert!(matches!(
            HandlerError::from(crate::timers::TimerError::BadId("a b".into())),
            HandlerError::Permanent(_)
        ));
        let payload = TimerPayloadError(serde_json::from_str::<u32>("null").unwrap_err());
        assert!(matches!(HandlerError::from(payload), HandlerError::Permanent(_)));
    }
}
