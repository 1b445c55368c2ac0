//! The durable pull-consumer loop every event-driven service runs.
//!
//! One durable consumer per service (its replicas share it, so each event goes to one replica),
//! explicit acks; events of different applications are handled concurrently, each application's
//! one at a time in stream order, also across a hand-back ([`crate::held_back`]). A handler must
//! be idempotent:
//! an event is redelivered if the process dies between handling it and acking it.
//!
//! An event refused for good (unreadable, on a subject its envelope disagrees with, or refused
//! by its handler) is written to the dead letters ([`crate::dead_letters`]) before it is
//! terminated; if the letter cannot be stored, the event is handed back instead, so a refusal
//! is never lost. The same loop answers redrives of its letters ([`crate::redrive`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{self, pull};
use futures::StreamExt;
use sandpiper_contracts::events::{Envelope, EventType};
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::subjects;
use tracing::Instrument;

use crate::bus::Bus;
use crate::dead_letters::{DeadLetters, EventDeadLetter, RefusalKind};
use crate::handler::{Delivery, Handler, HandlerError};
use crate::health::Gate;
use crate::held_back::{HeldBack, Turn};
use crate::shutdown::Shutdown;
use crate::views::ViewStore;

/// How long a replica may hold an event before it is redelivered elsewhere. Handlers take
/// milliseconds and a pull holds at most [`PULL_BATCH`] events, so this only bounds how long the
/// events a crashed replica had pulled wait before another one takes them.
pub const ACK_WAIT: Duration = Duration::from_secs(5);
/// No limit on deliveries: an event that keeps failing for a transient reason (NATS or a
/// dependency down) is retried until it succeeds, never dropped; the retries show in the
/// `retry` outcome and redelivery metrics, which the alerts watch.
pub const MAX_DELIVER: i64 = -1;
/// Attempts at an event inside its lane (holding its application's order) before it is handed
/// back to the server with a longer backoff.
const ATTEMPTS_IN_PLACE: u32 = 4;
/// The backoff of an event handed back after its attempts in place: 5 s the first time, doubling
/// with each delivery to at most 30 s. Short at first, since the common cause is a stream leader
/// being elected again (several seconds on a cluster: a fan-out handed back for 30 s stalled a
/// subscriber's deliveries 35 s after their stream's leader died); long for an outage that lasts.
fn redelivery_backoff(delivered: i64) -> Duration {
    const FIRST: Duration = Duration::from_secs(5);
    const MOST: Duration = Duration::from_secs(30);
    let doublings = u32::try_from(delivered.saturating_sub(1).clamp(0, 8)).unwrap_or(8);
    FIRST.saturating_mul(1 << doublings).min(MOST)
}
/// How soon an event held back behind an earlier one of its application ([`crate::held_back`])
/// comes back to look again: short, so it follows soon after that one is done.
const WAIT_BEHIND: Duration = Duration::from_secs(1);
/// When an event refused for good could not have its dead letter stored (the dead-letter stream
/// unavailable), how soon it comes back to be refused, and dead-lettered, again.
const DEAD_LETTER_RETRY: Duration = Duration::from_secs(5);
/// How long one pull waits for events; bounds how quickly an idle consumer notices shutdown.
const PULL_EXPIRY: Duration = Duration::from_millis(500);
const PULL_BATCH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("cannot set up durable consumer {name}: {source}")]
    Setup {
        name: String,
        #[source]
        source: crate::errors::BoxError,
    },
}

/// Consumes until `shutdown`: stops pulling, finishes the events already pulled, returns.
/// `running` is opened once the consumer exists.
pub async fn run<H: Handler>(
    bus: Bus,
    service: ServiceName,
    handler: H,
    views: Option<ViewStore>,
    shutdown: Shutdown,
    running: Gate,
) -> Result<(), ConsumeError> {
    let views = if H::KEEPS_VIEWS { views } else { None };
    let wanted = handler.event_types();
    let name = service.durable_consumer();
    let setup = |source: crate::errors::BoxError| ConsumeError::Setup {
        name: name.clone(),
        source,
    };
    let stream = bus.events_stream().await.map_err(|e| setup(e.into()))?;
    // Before the first event: a refusal must find somewhere to go.
    let dead_letters = DeadLetters::open(&bus).await.map_err(|e| setup(e.into()))?;
    let consumer = durable_consumer(&stream, service, &wanted).await.map_err(setup)?;
    running.set(true);
    tracing::info!(consumer = %name, "consuming");
    let shared = Arc::new(Shared {
        service,
        handler,
        views,
        dead_letters,
        lanes: (0..LANES).map(|_| Arc::new(tokio::sync::Mutex::new(()))).collect(),
        held_back: HeldBack::default(),
    });
    let redrives = tokio::spawn(crate::redrive::serve(bus.clone(), shared.clone(), shutdown.clone()));
    let mut lanes = Lanes::new();

    // A failing pull (a leader lost: 503 no responders) fails at once; without a pause the
    // loop would spin, logging thousands of failures a second.
    let mut backoff = crate::backoff::PULL;
    while !shutdown.is_triggered() {
        let batch = consumer
            .batch()
            .max_messages(PULL_BATCH)
            .expires(PULL_EXPIRY)
            .messages()
            .await;
        let failure = match batch {
            Ok(mut batch) => {
                // Every message of a pull already belongs to this replica: handle them all, even
                // when a shutdown arrives meanwhile, rather than leave them to wait out the ack
                // timeout. An error ends the pull: the next one comes after the backoff.
                let mut failure = None;
                while let Some(message) = batch.next().await {
                    match message {
                        Ok(message) => {
                            backoff.succeeded();
                            lanes.dispatch(&shared, message).await;
                        }
                        Err(err) => {
                            failure = Some(format!("receiving from the consumer failed: {err}"));
                            break;
                        }
                    }
                }
                failure
            }
            Err(err) => Some(format!("pull request failed: {err}")),
        };
        if let Some(failure) = failure {
            crate::metrics::record_pull_failed(service.as_str(), "events");
            let wait = backoff.failed();
            tracing::warn!(consumer = %name, failures = backoff.failures(), ?wait, "{failure}; retrying");
            tokio::select! {
                () = shutdown.triggered() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
    lanes.finish().await;
    if redrives.await.is_err() {
        tracing::warn!(consumer = %name, "the redrive responder ended abnormally");
    }
    running.set(false);
    tracing::info!(consumer = %name, "stopped consuming");
    Ok(())
}

/// The configuration of `service`'s durable consumer taking `types`: what provisioning creates
/// ([`crate::provision`]) and what [`run`] checks it finds.
pub fn durable_config(service: ServiceName, types: &[EventType]) -> pull::Config {
    let filter_subjects = if types.len() == EventType::ALL.len() {
        vec![subjects::all_events()]
    } else {
        types.iter().copied().map(subjects::events_of_type).collect()
    };
    pull::Config {
        durable_name: Some(service.durable_consumer()),
        description: Some(format!("sandpiper-{service}: every replica shares this consumer")),
        filter_subjects,
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_deliver: MAX_DELIVER,
        deliver_policy: consumer::DeliverPolicy::All,
        ..Default::default()
    }
}

/// `service`'s durable consumer, as provisioning made it, once it takes every type of `wanted`.
///
/// Under the deployments' NATS users a service may only read its consumer and pull from it, so
/// provisioning ([`crate::provision`]) creates it from [`ServiceName::consumes`]. Where no one
/// provisioned (a server without users), the service creates it itself; a consumer that lacks
/// a wanted type (provisioned by an older release) is updated where the user may, and otherwise
/// refused by name: consuming from it would skip those events without a word.
async fn durable_consumer(
    stream: &async_nats::jetstream::stream::Stream,
    service: ServiceName,
    wanted: &[EventType],
) -> Result<consumer::PullConsumer, crate::errors::BoxError> {
    let name = service.durable_consumer();
    let config = durable_config(service, wanted);
    let consumer: consumer::PullConsumer = crate::bus::until_ready(format!("consumer {name}"), || {
        stream.get_or_create_consumer(&name, config.clone())
    })
    .await?;
    let missing = missing_types(&consumer.cached_info().config, wanted);
    if missing.is_empty() {
        return Ok(consumer);
    }
    let mut types = [wanted, service.consumes()].concat();
    types.sort_by_key(|t| t.as_str());
    types.dedup();
    match stream.create_consumer(durable_config(service, &types)).await {
        Ok(updated) => {
            tracing::info!(consumer = %name, ?missing, "the durable consumer now takes the types it lacked");
            Ok(updated)
        }
        Err(err) => Err(format!(
            "durable consumer {name} does not take {missing:?} and could not be updated ({err}): \
             run provisioning (`sandpiper-intake provision`) with this release"
        )
        .into()),
    }
}

/// The types of `wanted` a consumer of `config` does not take.
fn missing_types(config: &consumer::Config, wanted: &[EventType]) -> Vec<EventType> {
    let mut filters = config.filter_subjects.clone();
    if !config.filter_subject.is_empty() {
        filters.push(config.filter_subject.clone());
    }
    if filters.is_empty() || filters.contains(&subjects::all_events()) {
        return Vec::new();
    }
    wanted
        .iter()
        .copied()
        .filter(|t| !filters.contains(&subjects::events_of_type(*t)))
        .collect()
}

/// What the consumer loop and the redrive responder of one service share.
pub(crate) struct Shared<H> {
    pub service: ServiceName,
    pub handler: H,
    /// The read model each event is made to hold first, for a handler that keeps it.
    pub views: Option<ViewStore>,
    pub dead_letters: DeadLetters,
    /// One lock per lane ([`lane_of`]): a redriven event takes its application's lane too.
    pub lanes: Vec<Arc<tokio::sync::Mutex<()>>>,
    /// The applications with an event handed back, whose later events wait behind it.
    pub held_back: HeldBack,
}

/// Handles events of different applications concurrently and each application's in stream
/// order: an application always maps to the same lane, a lane handles one event at a time, and
/// the lane is taken in arrival order before the next event is looked at.
struct Lanes {
    in_flight: tokio::task::JoinSet<()>,
}

impl Lanes {
    fn new() -> Lanes {
        Lanes {
            in_flight: tokio::task::JoinSet::new(),
        }
    }

    async fn dispatch<H: Handler>(&mut self, shared: &Arc<Shared<H>>, message: async_nats::jetstream::Message) {
        // Reap what finished so the set stays small.
        while self.in_flight.try_join_next().is_some() {}
        let lane = lane_of(&message.subject, shared.lanes.len());
        // Waits only when this lane is busy: order within an application is kept.
        let turn = shared.lanes[lane].clone().lock_owned().await;
        let shared = shared.clone();
        self.in_flight.spawn(async move {
            handle_one(&shared, message).await;
            drop(turn);
        });
    }

    /// Waits for every event already dispatched.
    async fn finish(&mut self) {
        while self.in_flight.join_next().await.is_some() {}
    }
}

/// How many applications a replica works on at once.
const LANES: usize = 32;

/// The lane of an event: by its application (the subject's application token), so one
/// application's events never overtake each other.
pub(crate) fn lane_of(subject: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    application_of(subject).hash(&mut hasher);
    usize::try_from(hasher.finish() % lanes as u64).unwrap_or(0)
}

/// What names an event's application in its subject:
/// `sandpiper.v1.events.{partner}.{application}.{type}` without the type.
fn application_of(subject: &str) -> &str {
    subject.rsplit_once('.').map_or(subject, |(head, _)| head)
}

/// Makes the application's record hold the event (for a handler that keeps the read model),
/// then hands it to the handler. A redelivered event folds nothing twice; its handler finds what
/// an earlier run stored in the record ([`crate::effects`]).
async fn ensure_then_handle<H: Handler>(
    views: Option<&ViewStore>,
    handler: &H,
    delivery: &Delivery,
) -> Result<(), HandlerError> {
    if let Some(views) = views {
        let (envelope, sequence) = (&delivery.envelope, delivery.stream_sequence);
        Box::pin(views.ensure(envelope, sequence, delivery.previous_sequence)).await?;
        // The state machine refused it for its application (#13 item 4): it is in the history,
        // it changed nothing, and nothing may act on it. Only a forged or faulty publisher makes
        // one (commands and effects are checked against the state and guarded), so it goes to
        // the dead letters rather than to the handler.
        if views.refused(&envelope.partnerid, &envelope.subject, sequence).await? {
            let state = views
                .load(&envelope.partnerid, &envelope.subject)
                .await?
                .map_or("unknown", |stored| stored.record.view.state.as_str());
            return Err(HandlerError::permanent(format!(
                "the state machine refuses {} for application {} (state {state} now): it is in the history, not acted on",
                delivery.event_type.as_str(),
                envelope.subject
            )));
        }
    }
    Box::pin(handler.handle(delivery.clone())).await
}

/// Runs `work` while telling the server, every third of `ack_wait`, that the message is still
/// being worked on, so a long attempt (or a backoff between attempts) is not redelivered
/// elsewhere meanwhile; a crashed holder stops telling, and the message moves on.
pub async fn holding<T>(
    message: &async_nats::jetstream::Message,
    ack_wait: Duration,
    work: impl Future<Output = T>,
) -> T {
    // The first beat a period from now: awaiting an interval's immediate first tick still waits
    // for the timer wheel's next millisecond, on every message.
    let period = ack_wait / 3;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = heartbeat.tick() => {
                if let Err(err) = message.ack_with(AckKind::Progress).await {
                    tracing::debug!(error = %err, "progress ack failed");
                }
            }
        }
    }
}

/// An event as it reaches a handler: from the consumer, or fetched by sequence for a redrive.
pub(crate) struct Incoming<'a> {
    pub subject: &'a str,
    pub payload: &'a [u8],
    pub headers: Option<&'a async_nats::HeaderMap>,
    pub stream_sequence: u64,
    pub delivered: i64,
}

/// Why an event was not handled.
pub(crate) enum Failure {
    /// Worth retrying: handed back (consumer) or left dead-lettered (redrive).
    Transient(HandlerError),
    /// Retrying cannot help: the event is dead-lettered.
    Refused(RefusalKind, HandlerError),
}

/// What one event came to, with what could be read of it (for its dead letter).
pub(crate) struct Attempted {
    /// The metric label: the event's type, or `unreadable`.
    pub event_type: &'static str,
    pub envelope: Option<Envelope>,
    pub outcome: Result<(), Failure>,
}

/// The checks every event passes before its handler sees it: an envelope of a known type, on the
/// very subject its partner, application and type make.
fn check(envelope: &Envelope, subject: &str) -> Result<EventType, (RefusalKind, HandlerError)> {
    let kind = envelope
        .kind()
        .map_err(|e| (RefusalKind::Unreadable, HandlerError::from(e)))?;
    // Everything downstream (the record it folds into, the partner it is decided for) trusts the
    // envelope's partner and application: they must be the ones the subject, which NATS
    // permissions guard, names. A message on one partner's subjects claiming another's
    // application is refused, never folded.
    let expected = envelope
        .nats_subject()
        .map_err(|e| (RefusalKind::Unreadable, HandlerError::from(e)))?;
    if expected != subject {
        return Err((
            RefusalKind::Mismatched,
            HandlerError::permanent(format!(
                "event {} says it is {expected} but arrived on {subject}",
                envelope.id
            )),
        ));
    }
    Ok(kind)
}

/// `work`, with progress acks on `holder` while it runs (a redrive holds no message).
async fn held<T>(holder: Option<&async_nats::jetstream::Message>, work: impl Future<Output = T>) -> T {
    match holder {
        Some(message) => holding(message, ACK_WAIT, work).await,
        None => work.await,
    }
}

/// One event through the checks and the handler, transient failures retried in place: what the
/// consumer and a redrive ([`crate::redrive`]) share, so a redriven event is handled exactly as
/// a delivered one.
pub(crate) async fn attempt<H: Handler>(
    shared: &Shared<H>,
    incoming: &Incoming<'_>,
    holder: Option<&async_nats::jetstream::Message>,
) -> Attempted {
    let (envelope, event_kind) = match Envelope::from_json(incoming.payload) {
        Err(err) => {
            return Attempted {
                event_type: "unreadable",
                envelope: None,
                outcome: Err(Failure::Refused(RefusalKind::Unreadable, HandlerError::from(err))),
            };
        }
        Ok(envelope) => match check(&envelope, incoming.subject) {
            Ok(kind) => (envelope, kind),
            Err((refusal, err)) => {
                return Attempted {
                    event_type: envelope.kind().map_or("unreadable", EventType::as_str),
                    envelope: Some(envelope),
                    outcome: Err(Failure::Refused(refusal, err)),
                };
            }
        },
    };
    let envelope_ref = &envelope;
    let (service, stream_sequence, delivered) = (shared.service, incoming.stream_sequence, incoming.delivered);
    let span = tracing::info_span!(
        "handle",
        otel.name = %format!("{service} handle {}", event_kind.as_str()),
        otel.kind = "consumer",
        service = service.as_str(),
        event_type = event_kind.as_str(),
        application_id = %envelope_ref.subject,
        subject = %incoming.subject,
        stream_sequence,
        delivered,
        trace_id = tracing::field::Empty,
    );
    crate::trace_context::adopt(&span, crate::trace_context::extract(incoming.headers));
    let previous_sequence = incoming
        .headers
        .and_then(|h| h.get(sandpiper_contracts::names::PREVIOUS_SEQUENCE_HEADER))
        .and_then(|v| v.as_str().parse().ok());
    let delivery = Delivery {
        envelope: envelope_ref.clone(),
        event_type: event_kind,
        stream_sequence,
        delivered,
        previous_sequence,
    };
    let views = shared.views.as_ref();
    let attempts = async {
        let mut attempt = 1;
        loop {
            let outcome = held(holder, ensure_then_handle(views, &shared.handler, &delivery)).await;
            match outcome {
                // Retried here, in the lane: the application's later events wait.
                Err(err @ HandlerError::Transient(_)) if attempt < ATTEMPTS_IN_PLACE => {
                    let backoff = Duration::from_millis(200u64 << attempt);
                    tracing::warn!(stream_sequence, attempt, reason = %err.report(), ?backoff, "event failed; retrying");
                    held(holder, tokio::time::sleep(backoff)).await;
                    attempt += 1;
                }
                other => break other,
            }
        }
    };
    let outcome = attempts.instrument(span).await.map_err(|err| match err {
        HandlerError::Transient(_) => Failure::Transient(err),
        HandlerError::Permanent(_) => Failure::Refused(RefusalKind::Refused, err),
    });
    Attempted {
        event_type: event_kind.as_str(),
        envelope: Some(envelope),
        outcome,
    }
}

async fn handle_one<H: Handler>(shared: &Shared<H>, message: async_nats::jetstream::Message) {
    let service = shared.service;
    let (stream_sequence, delivered, pending) = match message.info() {
        Ok(info) => (info.stream_sequence, info.delivered, info.pending),
        Err(err) => {
            tracing::warn!(error = %err, subject = %message.subject, "message without JetStream metadata; skipped");
            return;
        }
    };
    let application = application_of(&message.subject);
    if shared
        .held_back
        .turn(application, stream_sequence, std::time::Instant::now())
        == Turn::Wait
    {
        // An earlier event of this application is out for redelivery: this one follows it.
        tracing::info!(stream_sequence, delivered, subject = %message.subject, "an earlier event of this application was handed back; this one waits behind it");
        if let Err(err) = message.ack_with(AckKind::Nak(Some(WAIT_BEHIND))).await {
            tracing::warn!(error = %err, stream_sequence, "handing back failed");
        }
        return;
    }
    let started = std::time::Instant::now();
    let incoming = Incoming {
        subject: &message.subject,
        payload: &message.payload,
        headers: message.headers.as_ref(),
        stream_sequence,
        delivered,
    };
    let attempted = attempt(shared, &incoming, Some(&message)).await;
    let event_type = attempted.event_type;
    let label = match &attempted.outcome {
        Ok(()) => "ok",
        Err(Failure::Transient(_)) => "retry",
        Err(Failure::Refused(..)) => "failed",
    };
    crate::metrics::record_handled(
        service.as_str(),
        event_type,
        label,
        started.elapsed(),
        delivered,
        pending,
    );
    let ack = match attempted.outcome {
        Ok(()) => {
            shared.held_back.done(application, stream_sequence);
            AckKind::Ack
        }
        Err(Failure::Transient(err)) => {
            shared
                .held_back
                .handed_back(application, stream_sequence, std::time::Instant::now());
            let backoff = redelivery_backoff(delivered);
            tracing::error!(
                stream_sequence,
                delivered,
                reason = %err.report(),
                "event failed {ATTEMPTS_IN_PLACE} times; handed back for redelivery in {backoff:?}"
            );
            AckKind::Nak(Some(backoff))
        }
        Err(Failure::Refused(kind, err)) => {
            let reason = err.report();
            let letter = EventDeadLetter::new(
                service,
                stream_sequence,
                &message.subject,
                attempted.envelope.as_ref(),
                kind,
                reason.clone(),
                delivered,
                0,
            );
            match shared.dead_letters.store(&letter).await {
                Ok(id) => {
                    crate::metrics::record_dead_lettered(service.as_str(), event_type, kind.as_str());
                    tracing::error!(stream_sequence, dead_letter = id, reason_kind = kind.as_str(), %reason, subject = %message.subject, "event refused; dead-lettered and terminated");
                    shared.held_back.done(application, stream_sequence);
                    AckKind::Term
                }
                Err(store) => {
                    // Never terminated without its letter: it comes back and is refused again.
                    tracing::error!(stream_sequence, %reason, error = %crate::errors::error_chain(&store), "event refused, but its dead letter could not be stored; handed back in {DEAD_LETTER_RETRY:?}");
                    shared
                        .held_back
                        .handed_back(application, stream_sequence, std::time::Instant::now());
                    AckKind::Nak(Some(DEAD_LETTER_RETRY))
                }
            }
        }
    };
    if let Err(err) = message.ack_with(ack).await {
        // The event will be redelivered after the ack wait; handlers are idempotent, and a
        // refusal's letter is stored once (its message id).
        tracing::warn!(error = %err, stream_sequence, "acknowledging failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handed_back_event_waits_5_s_then_doubles_to_30() {
        let waits: Vec<u64> = (1..=6).map(|d| redelivery_backoff(d).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 30, 30, 30]);
        assert_eq!(redelivery_backoff(0).as_secs(), 5);
        assert_eq!(redelivery_backoff(i64::MAX).as_secs(), 30);
    }
}
