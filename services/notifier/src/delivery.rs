//! Delivering: one worker per subscription takes its queued deliveries one at a time (a durable
//! consumer with one message in flight, shared by every notifier replica), so per-application order
//! holds and a slow or dead endpoint only ever delays its own subscription.
//!
//! Connection errors, timeouts and 5xx are retried with exponential backoff and jitter, a 429 after
//! its `Retry-After`; after the retry budget (or on another 4xx) the delivery goes to the dead
//! letters with its last error, for an admin to list and redrive.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{self, pull};
use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use rand::Rng;
use sandpiper_contracts::ids::EventId;
use sandpiper_contracts::{names, subjects};
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::consume::holding;
use sandpiper_runtime::shutdown::Shutdown;
use serde::{Deserialize, Serialize};

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::RetryPolicy;
use crate::fanout::{Message, QueuedDelivery};
use crate::render;
use crate::safety::Policy;
use crate::signing;
use crate::subscriptions::{Format, Subscription, SubscriptionStore, scrub_urls};

/// A delivery that ran out of retries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub delivery: QueuedDelivery,
    pub attempts: i64,
    pub last_error: String,
    pub failed_at: DateTime<Utc>,
}

pub use sandpiper_runtime::provision::deliveries_stream;

/// What one attempt came to.
enum Attempt {
    Delivered,
    /// Worth retrying; `after` overrides the backoff (429 `Retry-After`).
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Retrying cannot help (a 4xx other than 408/429, a refused destination).
    Fail(String),
}

/// Everything the workers share.
pub struct Deliverer {
    pub bus: Bus,
    pub subscriptions: SubscriptionStore,
    pub http: reqwest::Client,
    pub retry: RetryPolicy,
    /// Checked again at every delivery (the resolver covers names; this covers IP literals).
    pub policy: Arc<Policy>,
    /// When each Slack webhook may next receive a message, shared by every replica.
    pace: kv::Store,
}

impl Deliverer {
    pub fn new(
        bus: Bus,
        subscriptions: SubscriptionStore,
        http: reqwest::Client,
        retry: RetryPolicy,
        policy: Arc<Policy>,
        pace: kv::Store,
    ) -> Deliverer {
        Deliverer {
            bus,
            subscriptions,
            http,
            retry,
            policy,
            pace,
        }
    }

    fn backoff(&self, attempt: i64) -> Duration {
        let exp = self
            .retry
            .base_backoff
            .saturating_mul(1u32 << attempt.clamp(1, 20).saturating_sub(1) as u32);
        let capped = exp.min(self.retry.max_backoff);
        // Equal jitter (between half and all of it): failing receivers are not hit in lockstep,
        // and a retry never comes much sooner than the backoff promises.
        capped.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    /// Waits for the destination's next slot (Slack: one message per interval per webhook). The
    /// slot is claimed with compare-and-set in a bucket every replica shares, so consecutive
    /// deliveries handled by different replicas keep the pace too.
    async fn pace(&self, subscription: &Subscription) {
        if subscription.format != Format::Slack {
            return;
        }
        let key = names::delivery_pace_key(&subscription.url);
        let interval = i64::try_from(self.retry.slack_interval.as_millis()).unwrap_or(i64::MAX);
        for _ in 0..PACE_ATTEMPTS {
            let (booked, revision) = match self.pace.entry(&key).await {
                Ok(Some(entry)) if entry.operation == kv::Operation::Put => (
                    std::str::from_utf8(&entry.value)
                        .ok()
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(0),
                    entry.revision,
                ),
                Ok(_) => (0, 0),
                Err(err) => {
                    tracing::warn!(error = %err, "the pace bucket is unavailable; waiting one interval");
                    break;
                }
            };
            let now = Utc::now().timestamp_millis();
            let slot = now.max(booked.saturating_add(interval));
            let value = slot.to_string().into_bytes().into();
            let claimed = if revision == 0 {
                self.pace.create(&key, value).await.is_ok()
            } else {
                self.pace.update(&key, value, revision).await.is_ok()
            };
            if claimed {
                let wait = u64::try_from(slot - now).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                return;
            }
        }
        // Contended past reason or unreachable: one interval keeps to the limit on our side.
        tokio::time::sleep(self.retry.slack_interval).await;
    }

    async fn attempt(&self, subscription: &Subscription, delivery: &QueuedDelivery) -> Attempt {
        if let Message::Event { event, .. } = &delivery.message
            && let Err(err) = event.kind()
        {
            return Attempt::Fail(err.to_string());
        }
        let body = match body(subscription.format, delivery) {
            Ok(body) => body,
            Err(err) => return Attempt::Fail(err.to_string()),
        };
        let content_type = match subscription.format {
            Format::Cloudevents => "application/cloudevents+json",
            Format::Slack => "application/json",
        };
        let literal = reqwest::Url::parse(&subscription.url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            })
            .and_then(|h| h.parse::<std::net::IpAddr>().ok());
        if let Some(ip) = literal
            && !self.policy.permits(ip)
        {
            return Attempt::Fail(format!("{ip} is no longer an allowed destination"));
        }
        self.pace(subscription).await;
        let timestamp = Utc::now().timestamp();
        let mut request = self.http.post(&subscription.url);
        // Receivers that trace can continue the application's trace.
        if let Some(traceparent) = sandpiper_runtime::trace_context::current_traceparent() {
            request = request.header(sandpiper_runtime::trace_context::TRACEPARENT, traceparent);
        }
        let response = request
            .header("content-type", content_type)
            .header(signing::TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                signing::SIGNATURE_HEADER,
                signing::sign(&subscription.secret, timestamp, &body),
            )
            .header(signing::DELIVERY_HEADER, delivery.id.to_string())
            .header(signing::EVENT_TYPE_HEADER, delivery.message.type_name())
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                return Attempt::Retry {
                    error: describe(err),
                    after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3_600)));
        drain_bounded(response).await;
        match status.as_u16() {
            200..=299 => Attempt::Delivered,
            429 => Attempt::Retry {
                error: "429 Too Many Requests".into(),
                after: retry_after,
            },
            408 | 500..=599 => Attempt::Retry {
                error: format!("HTTP {status}"),
                after: None,
            },
            _ => Attempt::Fail(format!("HTTP {status}: the receiver refused the delivery")),
        }
    }

    async fn dead_letter(&self, delivery: QueuedDelivery, attempts: i64, last_error: String) -> Result<(), String> {
        let subject = subjects::dead_letters(&delivery.subscription);
        let letter = DeadLetter {
            delivery,
            attempts,
            last_error,
            failed_at: Utc::now(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", EventId::generate().to_string().as_str());
        let body = serde_json::to_vec(&letter).map_err(|e| e.to_string())?;
        self.bus
            .jetstream
            .publish_with_headers(subject, headers, body.into())
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        tracing::warn!(subscription = %letter.delivery.subscription, delivery = %letter.delivery.id, attempts, error = %letter.last_error, "delivery dead-lettered");
        Ok(())
    }

    /// Works one subscription's queue until `shutdown` or the subscription is deleted.
    async fn work(self: Arc<Self>, subscription_id: String, shutdown: Shutdown) {
        let name = names::delivery_consumer(&subscription_id);
        let consumer = loop {
            let created = match deliveries_stream(&self.bus).await {
                Ok(stream) => stream
                    .get_or_create_consumer(
                        &name,
                        pull::Config {
                            durable_name: Some(name.clone()),
                            filter_subject: subjects::deliveries(&subscription_id),
                            ack_policy: consumer::AckPolicy::Explicit,
                            // One at a time, across replicas: order, and no double delivery.
                            max_ack_pending: 1,
                            // Short, with progress acks while an attempt runs: a crashed worker's
                            // delivery goes to the next one within seconds, not after a long timeout.
                            ack_wait: DELIVERY_ACK_WAIT,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| e.to_string()),
                Err(err) => Err(err.to_string()),
            };
            match created {
                Ok(consumer) => break consumer,
                Err(err) => {
                    tracing::warn!(subscription = %subscription_id, error = %err, "cannot set up the delivery consumer; retrying");
                    tokio::select! {
                        () = shutdown.triggered() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        let mut backoff = sandpiper_runtime::backoff::PULL;
        while !shutdown.is_triggered() {
            let batch = consumer
                .batch()
                // The consumer still hands out one at a time (max_ack_pending 1); a standing
                // pull lets the server send the next as soon as one is acknowledged.
                .max_messages(DELIVERY_PULL_BATCH)
                .expires(Duration::from_millis(500))
                .messages()
                .await;
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(err) => {
                    sandpiper_runtime::metrics::record_pull_failed("notifier", "deliveries");
                    let wait = backoff.failed();
                    tracing::warn!(subscription = %subscription_id, error = %err, failures = backoff.failures(), ?wait, "pulling deliveries failed; retrying");
                    tokio::select! {
                        () = shutdown.triggered() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
            };
            loop {
                let message = match batch.next().await {
                    None => break,
                    Some(Ok(message)) => message,
                    // A failing pull (a leader lost) fails at once: back off, or the loop spins.
                    Some(Err(err)) => {
                        sandpiper_runtime::metrics::record_pull_failed("notifier", "deliveries");
                        let wait = backoff.failed();
                        tracing::warn!(subscription = %subscription_id, error = %err, failures = backoff.failures(), ?wait, "receiving deliveries failed; retrying");
                        tokio::select! {
                            () = shutdown.triggered() => {}
                            () = tokio::time::sleep(wait) => {}
                        }
                        break;
                    }
                };
                backoff.succeeded();
                if shutdown.is_triggered() {
                    // Handed back at once for another replica or the next start, rather than
                    // begun now and left to hold up the shutdown.
                    if let Err(err) = message.ack_with(AckKind::Nak(None)).await {
                        tracing::debug!(error = %err, "handing back a delivery failed; it returns after the ack wait");
                    }
                    break;
                }
                let attempt_no = message.info().map(|i| i.delivered).unwrap_or(1);
                let ack = match serde_json::from_slice::<QueuedDelivery>(&message.payload) {
                    Err(err) => {
                        tracing::error!(error = %err, "an unreadable delivery; dropped");
                        AckKind::Term
                    }
                    Ok(delivery) => match self.subscriptions.get(&subscription_id) {
                        None => AckKind::Term,
                        Some(subscription) => {
                            match holding(&message, DELIVERY_ACK_WAIT, self.attempt(&subscription, &delivery))
                                .instrument(delivery_span(&delivery, &subscription, attempt_no, &message))
                                .await
                            {
                                Attempt::Delivered => {
                                    count_delivery("delivered");
                                    AckKind::Ack
                                }
                                Attempt::Retry { error, after } if attempt_no < self.retry.attempts => {
                                    let wait = after.unwrap_or_else(|| self.backoff(attempt_no));
                                    tracing::info!(subscription = %subscription_id, delivery = %delivery.id, attempt = attempt_no, %error, ?wait, "delivery failed; retrying");
                                    count_delivery("retried");
                                    AckKind::Nak(Some(wait))
                                }
                                Attempt::Retry { error, .. } | Attempt::Fail(error) => {
                                    match self.dead_letter(delivery, attempt_no, error).await {
                                        Ok(()) => {
                                            count_delivery("dead_lettered");
                                            AckKind::Ack
                                        }
                                        Err(err) => {
                                            tracing::error!(error = %err, "cannot dead-letter; retrying the delivery");
                                            AckKind::Nak(Some(Duration::from_secs(1)))
                                        }
                                    }
                                }
                            }
                        }
                    },
                };
                if let Err(err) = message.ack_with(ack).await {
                    tracing::warn!(error = %err, "acknowledging a delivery failed; it will be retried");
                }
            }
        }
    }
}

/// What a subscriber receives: the envelope as it is (never decoded, so it goes out even when its
/// payload does not read as its type), or the Slack message rendered from it; a digest as its
/// CloudEvent, or as a Slack agenda message.
fn body(format: Format, delivery: &QueuedDelivery) -> Result<Vec<u8>, serde_json::Error> {
    match (&delivery.message, format) {
        (Message::Event { event, .. }, Format::Cloudevents) => serde_json::to_vec(event),
        (Message::Event { event, context }, Format::Slack) => serde_json::to_vec(&render::slack(event, context)),
        (Message::Digest { digest }, Format::Cloudevents) => serde_json::to_vec(digest),
        (Message::Digest { digest }, Format::Slack) => serde_json::to_vec(&render::digest(digest)),
    }
}

/// What went wrong with a request, for the logs and the dead letters: never the URL, whose path
/// is a Slack webhook's credential.
fn describe(err: reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else {
        "connection failed"
    };
    let err = err.without_url();
    let mut text = format!("{what}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    // A cause may quote the URL too.
    scrub_urls(&text)
}

/// The span of one delivery attempt: a child of the fan-out that queued it, so it shares the
/// application's trace.
fn delivery_span(
    delivery: &QueuedDelivery,
    subscription: &Subscription,
    attempt: i64,
    message: &async_nats::jetstream::Message,
) -> tracing::Span {
    let event_type = delivery.message.type_name();
    let application_id = delivery
        .message
        .application()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "deliver",
        otel.name = %format_args!("notifier deliver {event_type}"),
        otel.kind = "client",
        service = "notifier",
        application_id,
        event_type,
        subscription = %subscription.id,
        delivery = %delivery.id,
        attempt,
        trace_id = tracing::field::Empty,
    );
    sandpiper_runtime::trace_context::adopt(
        &span,
        sandpiper_runtime::trace_context::extract(message.headers.as_ref()),
    );
    span
}

/// Reads and discards a receiver's answer, at most [`MAX_RESPONSE_BYTES`] of it: an answer read
/// to its end leaves the connection open for the next delivery, and a receiver that answers
/// without end is cut off.
async fn drain_bounded(mut response: reqwest::Response) {
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => return,
        }
    }
}

/// The most of a receiver's answer that is read (the answer is not used).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Tries at claiming a destination's next slot before waiting one interval instead.
const PACE_ATTEMPTS: usize = 8;

/// How many deliveries one pull request may bring, one after another.
const DELIVERY_PULL_BATCH: usize = 64;

/// How long a delivery may go unacknowledged before another worker takes it over.
const DELIVERY_ACK_WAIT: Duration = Duration::from_secs(5);

fn count_delivery(outcome: &str) {
    let labels = sandpiper_runtime::metrics::labels(&[("service", "notifier"), ("outcome", outcome)]);
    sandpiper_runtime::metrics::metrics()
        .deliveries
        .get_or_create(&labels)
        .inc();
}

/// Keeps one worker per subscription, starting and stopping them as subscriptions come and go.
pub async fn supervise(deliverer: Arc<Deliverer>, shutdown: Shutdown) {
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut changes = deliverer.subscriptions.changes();
    loop {
        let current = changes.borrow_and_update().clone();
        let current = &current.subscriptions;
        for id in current.keys() {
            if !workers.contains_key(id) {
                let task = tokio::spawn(deliverer.clone().work(id.clone(), shutdown.clone()));
                workers.insert(id.clone(), task);
            }
        }
        let gone: Vec<String> = workers
            .keys()
            .filter(|id| !current.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(task) = workers.remove(&id) {
                task.abort();
            }
            if let Ok(stream) = deliveries_stream(&deliverer.bus).await {
                let _ = stream.delete_consumer(&names::delivery_consumer(&id)).await;
                let _ = stream.purge().filter(subjects::deliveries(&id)).await;
            }
        }
        tokio::select! {
            () = shutdown.triggered() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    for (_, task) in workers {
        // Each worker finishes the delivery it holds, then returns.
        let _ = tokio::time::timeout(deliverer.retry.timeout + Duration::from_secs(2), task).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandpiper_contracts::events::{Envelope, TrancheReleased};
    use sandpiper_contracts::ids::{ApplicationId, PartnerId};
    use sandpiper_contracts::names::ServiceName;
    use sandpiper_contracts::rule::RuleId;

    use crate::render::AppContext;

    #[test]
    fn a_payload_that_does_not_decode_is_still_delivered_in_both_formats() {
        let mut event = Envelope::new(
            EventId::generate(),
            ServiceName::Scheduler,
            PartnerId::parse("acme").unwrap(),
            ApplicationId::generate(),
            "2026-05-04T09:00:00Z".parse().unwrap(),
            &TrancheReleased {
                number: 2,
                amount_usd: 10_000,
                rules: vec![RuleId::TR3],
                reasons: vec![],
                catalog_version: "2026.1".into(),
            },
        )
        .unwrap();
        event.data = serde_json::json!({"number": "two", "extra": [1, 2]});
        assert!(
            event.event().is_err(),
            "the payload does not read as a tranche_released"
        );
        let delivery = QueuedDelivery {
            id: EventId::generate(),
            subscription: "sub".into(),
            message: Message::Event {
                event: event.clone(),
                context: AppContext::default(),
            },
        };

        let envelope = body(Format::Cloudevents, &delivery).unwrap();
        assert_eq!(Envelope::from_json(&envelope).unwrap(), event, "the envelope as it is");

        let slack: serde_json::Value = serde_json::from_slice(&body(Format::Slack, &delivery).unwrap()).unwrap();
        assert_eq!(slack["blocks"][0]["text"]["text"], "📣 tranche_released");
        assert!(slack["text"].as_str().unwrap().contains("tranche_released"), "{slack}");
    }
}
