//! Reading one application back from the stream (the source of truth): its events in order, the
//! view they fold into, and the body as submitted.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
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

/// Every event of one application with its stream sequence, oldest first.
pub async fn events(
    bus: &Bus,
    partner: &PartnerId,
    application: &ApplicationId,
) -> Result<Vec<(u64, Envelope)>, HistoryError> {
    let stream = bus
        .events_stream()
        .await
        .map_err(|e| HistoryError::Stream(e.to_string()))?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: subjects::events_of_application(partner, application),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| HistoryError::Stream(e.to_string()))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| HistoryError::Stream(e.to_string()))?;
    let mut events = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(err))) => return Err(HistoryError::Stream(err.to_string())),
            Ok(None) => break,
            Err(_) if events.is_empty() => return Ok(events),
            Err(_) => {
                return Err(HistoryError::Stream(
                    "the stream did not deliver the history within 5 s".into(),
                ));
            }
        };
        let info = message.info().map_err(|e| HistoryError::Stream(e.to_string()))?;
        let (pending, sequence) = (info.pending, info.stream_sequence);
        let envelope = Envelope::from_json(&message.payload).map_err(|e| HistoryError::Corrupt(e.to_string()))?;
        events.push((sequence, envelope));
        if pending == 0 || events.len() >= MAX_EVENTS {
            break;
        }
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
