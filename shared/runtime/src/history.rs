//! Reading one application's events back from the stream (the source of truth), in order: for
//! the read model's repair path only ([`crate::views::ViewStore::rebuild`]); every decision and
//! answer reads the application's record instead.

use async_nats::jetstream::stream::DirectGetErrorKind;
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::subjects;

use crate::bus::Bus;

/// The most events one history returns.
const MAX_EVENTS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("reading the stream failed: {0}")]
    Stream(String),
    #[error("the stored history is not readable: {0}")]
    Corrupt(String),
}

/// Every event of one application with its stream sequence, oldest first: direct gets of the
/// next message on the application's subjects, from the stream's start. An application with no
/// events answers at once (one "not found"), not after a consumer's idle wait: a 404 for an
/// unknown id used to take 5 s, and any caller could make the intake wait so at will.
pub async fn events(
    bus: &Bus,
    partner: &PartnerId,
    application: &ApplicationId,
) -> Result<Vec<(u64, Envelope)>, HistoryError> {
    let stream = bus
        .events_handle()
        .await
        .map_err(|e| HistoryError::Stream(e.to_string()))?;
    let filter = subjects::events_of_application(partner, application);
    let mut events = Vec::new();
    let mut from = 1;
    while events.len() < MAX_EVENTS {
        let message = match stream.direct_get_next_for_subject(&filter, Some(from)).await {
            Ok(message) => message,
            Err(err) if err.kind() == DirectGetErrorKind::NotFound => break,
            Err(err) => return Err(HistoryError::Stream(format!("reading {filter} from {from}: {err}"))),
        };
        from = message.sequence + 1;
        let envelope = Envelope::from_json(&message.payload).map_err(|e| HistoryError::Corrupt(e.to_string()))?;
        events.push((message.sequence, envelope));
    }
    Ok(events)
}
