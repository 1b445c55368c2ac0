//! An application's whole event history, read from the stream (the source of truth) rather than
//! kept in memory: an ordered consumer filtered on the application's subjects, oldest first.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::subjects;
use sandpiper_runtime::bus::Bus;

/// The most events one history returns.
const MAX_EVENTS: usize = 10_000;

pub async fn read(bus: &Bus, partner: &PartnerId, application: &ApplicationId) -> Result<Vec<Envelope>, String> {
    let stream = bus.events_stream().await.map_err(|e| e.to_string())?;
    let consumer = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: subjects::events_of_application(partner, application),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let mut events = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), messages.next()).await;
        let message = match next {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(err))) => return Err(err.to_string()),
            Ok(None) => break,
            Err(_) => return Err("the stream did not deliver the history within 5 s".into()),
        };
        let pending = message.info().map_err(|e| e.to_string())?.pending;
        events.push(Envelope::from_json(&message.payload).map_err(|e| e.to_string())?);
        if pending == 0 || events.len() >= MAX_EVENTS {
            break;
        }
    }
    Ok(events)
}
