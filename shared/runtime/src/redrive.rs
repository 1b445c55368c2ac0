//! Redrives: a service handles the event of one of its dead letters again, when an admin asks
//! (the intake's `POST /v1/dead-letters/{id}/redrive` sends a [`RedriveRequest`] on
//! `subjects::redrive(service)`, core NATS request/reply in a queue group, so one replica
//! answers). The original event is fetched from the stream by its sequence (a direct get) and
//! goes through the very checks and handler a delivered one does ([`crate::consume::attempt`]),
//! in its application's lane. Handled, or refused again (a new letter stored in its place), the
//! answer says so and the intake removes the letter: a service may not delete from the shared
//! dead-letter stream, so none can remove another's letters. Failed for a transient reason, it
//! stays.

use std::sync::Arc;

use futures::StreamExt;
use sandpiper_contracts::subjects;

use crate::bus::Bus;
use crate::consume::{Failure, Incoming, Shared, attempt, lane_of};
use crate::dead_letters::{EventDeadLetter, RedriveOutcome, RedriveRequest};
use crate::handler::Handler;
use crate::shutdown::Shutdown;

/// Answers redrive requests for `shared.service` until `shutdown`, then finishes those begun.
pub(crate) async fn serve<H: Handler>(bus: Bus, shared: Arc<Shared<H>>, shutdown: Shutdown) {
    let subject = subjects::redrive(shared.service);
    let mut backoff = crate::backoff::PULL;
    let mut requests = loop {
        match bus
            .client
            .queue_subscribe(subject.clone(), shared.service.durable_consumer())
            .await
        {
            Ok(requests) => break requests,
            Err(err) => {
                let wait = backoff.failed();
                tracing::warn!(%subject, error = %err, ?wait, "cannot take redrive requests; retrying");
                tokio::select! {
                    () = shutdown.triggered() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    };
    let mut in_flight = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.triggered() => break,
            request = requests.next() => {
                let Some(request) = request else { break };
                while in_flight.try_join_next().is_some() {}
                let (bus, shared) = (bus.clone(), shared.clone());
                in_flight.spawn(async move { answer(&bus, &shared, request).await });
            }
        }
    }
    if let Err(err) = requests.unsubscribe().await {
        tracing::debug!(error = %err, "unsubscribing from redrive requests failed");
    }
    while in_flight.join_next().await.is_some() {}
}

async fn answer<H: Handler>(bus: &Bus, shared: &Shared<H>, request: async_nats::Message) {
    let Some(reply) = request.reply.clone() else {
        tracing::warn!("a redrive request without a reply subject; ignored");
        return;
    };
    let outcome = match serde_json::from_slice::<RedriveRequest>(&request.payload) {
        Ok(request) => redrive(bus, shared, request.dead_letter).await,
        Err(err) => RedriveOutcome::Failed {
            reason: format!("the redrive request is unreadable: {err}"),
        },
    };
    match serde_json::to_vec(&outcome) {
        Ok(body) => {
            if let Err(err) = bus.client.publish(reply, body.into()).await {
                tracing::warn!(error = %err, "answering a redrive failed");
            }
        }
        Err(err) => tracing::error!(error = %err, "a redrive outcome could not be encoded"),
    }
}

fn failed(what: &str, err: &(dyn std::error::Error + 'static)) -> RedriveOutcome {
    RedriveOutcome::Failed {
        reason: format!("{what}: {}", crate::errors::error_chain(err)),
    }
}

/// Handles the event of dead letter `id` again; see the module doc.
async fn redrive<H: Handler>(bus: &Bus, shared: &Shared<H>, id: u64) -> RedriveOutcome {
    let service = shared.service;
    let letter = match shared.dead_letters.get(id).await {
        Ok(Some(letter)) if letter.refused_by() == Some(service) => letter,
        Ok(_) => return RedriveOutcome::NotFound,
        Err(err) => return failed("reading the dead letter failed", &err),
    };
    let events = match bus.events_handle().await {
        Ok(events) => events,
        Err(err) => return failed("opening the event stream failed", &err),
    };
    let original = match events.direct_get(letter.stream_sequence).await {
        Ok(original) => original,
        Err(err) => return failed(&format!("event {} could not be read", letter.stream_sequence), &err),
    };
    let lane = lane_of(&original.subject, shared.lanes.len());
    let _turn = shared.lanes[lane].clone().lock_owned().await;
    let incoming = Incoming {
        subject: &original.subject,
        payload: &original.payload,
        headers: Some(&original.headers),
        stream_sequence: letter.stream_sequence,
        delivered: letter.deliveries.saturating_add(1),
    };
    let attempted = attempt(shared, &incoming, None).await;
    match attempted.outcome {
        Ok(()) => {
            tracing::info!(dead_letter = id, stream_sequence = letter.stream_sequence, "redriven");
            RedriveOutcome::Redriven
        }
        Err(Failure::Transient(err)) => RedriveOutcome::Failed { reason: err.report() },
        Err(Failure::Refused(kind, err)) => {
            let reason = err.report();
            let again = EventDeadLetter::new(
                service,
                letter.stream_sequence,
                &original.subject,
                attempted.envelope.as_ref(),
                kind,
                reason.clone(),
                letter.deliveries,
                letter.redrives.saturating_add(1),
            );
            let dead_letter = match shared.dead_letters.store(&again).await {
                Ok(dead_letter) => dead_letter,
                // The old letter stays: the refusal is not lost.
                Err(err) => return failed("refused again, and the new dead letter could not be stored", &err),
            };
            crate::metrics::record_dead_lettered(service.as_str(), attempted.event_type, kind.as_str());
            tracing::warn!(dead_letter = id, new_dead_letter = dead_letter, %reason, "redrive refused again");
            RedriveOutcome::Refused { dead_letter, reason }
        }
    }
}
