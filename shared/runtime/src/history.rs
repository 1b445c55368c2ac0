//! Reading one application back from the stream (the source of truth): its events in order, the
//! view they fold into, and the body as submitted.

use async_nats::jetstream::stream::DirectGetErrorKind;
use sandpiper_contracts::events::{Envelope, EventType, Submitted};
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::model::ApplicationBody;
use sandpiper_contracts::subjects;
use sandpiper_contracts::view::ApplicationView;

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

/// The application as its events fold, or `None` if it has none.
pub async fn view(
    bus: &Bus,
    partner: &PartnerId,
    application: &ApplicationId,
) -> Result<Option<ApplicationView>, HistoryError> {
    let mut view: Option<ApplicationView> = None;
    for (sequence, envelope) in events(bus, partner, application).await? {
        match &mut view {
            None => {
                view = Some(
                    ApplicationView::create(&envelope, sequence).map_err(|e| HistoryError::Corrupt(e.to_string()))?,
                )
            }
            Some(current) => {
                if let Err(err) = current.apply(&envelope, sequence) {
                    tracing::error!(%application, sequence, error = %err, "an event in the log does not fold; skipped");
                }
            }
        }
    }
    Ok(view)
}

/// The body as submitted (the last `submitted` event of the application).
pub async fn submitted_body(
    bus: &Bus,
    partner: &PartnerId,
    application: &ApplicationId,
) -> Result<ApplicationBody, HistoryError> {
    let subject = subjects::event(partner, application, EventType::Submitted);
    let stream = bus
        .events_stream()
        .await
        .map_err(|e| HistoryError::Stream(e.to_string()))?;
    let message = stream
        .get_last_raw_message_by_subject(&subject)
        .await
        .map_err(|e| HistoryError::Stream(format!("reading {subject}: {e}")))?;
    let envelope = Envelope::from_json(&message.payload).map_err(|e| HistoryError::Corrupt(e.to_string()))?;
    let submitted: Submitted = envelope.payload().map_err(|e| HistoryError::Corrupt(e.to_string()))?;
    Ok(submitted.application)
}
