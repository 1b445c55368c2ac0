//! The notifier's HTTP API (CONTRACT §2): subscriptions for partners, dead letters for admins.
//!
//! # Error policy
//!
//! What a route meets that is not the client's doing becomes a problem+json answer once, in the
//! `From` impls below ([`StoreError`] and [`ApiError`]), so routes use `?`: each logs the error
//! with its chain of sources ([`Problem::logged`]) and answers a fixed text.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::StreamExt;
use rand::Rng;
use sandpiper_contracts::ids::{EventId, PartnerId};
use sandpiper_contracts::model::FieldError;
use sandpiper_contracts::subjects;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::errors::BoxError;
use sandpiper_runtime::http::auth::{HasTokens, Principal, Tokens};
use sandpiper_runtime::http::extract::{ApiPath, ApiQuery, JsonBody};
use sandpiper_runtime::http::problem::{ApiResult, Problem};
use serde::{Deserialize, Serialize};

use crate::delivery::{DeadLetter, deliveries_stream};
use crate::digest::{DigestError, DigestSchedule};
use crate::safety::Policy;
use crate::subscriptions::{Format, Listed, StoreError, Subscription, SubscriptionStore, check_pattern, scrub_urls};
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::dead_letters::stream as dead_letters_stream;
use sandpiper_runtime::timers::Timers;

#[derive(Clone)]
pub struct ApiState(pub Arc<ApiShared>);

pub struct ApiShared {
    pub tokens: Tokens,
    pub bus: Bus,
    pub subscriptions: SubscriptionStore,
    pub policy: Arc<Policy>,
    /// The digests' timers, and the system clock they fall due on.
    pub timers: Timers,
    pub clock: Clock,
}

impl HasTokens for ApiState {
    fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }
}

/// A new subscription.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    pub url: String,
    /// May be empty when a digest is asked for: a subscription to the digest alone.
    pub events: Vec<String>,
    pub format: Format,
    #[serde(default)]
    pub digest: Option<DigestSchedule>,
}

#[derive(Debug, Deserialize)]
pub struct PartnerParam {
    partner_id: Option<String>,
}

/// The answer to a creation: the only time the secret is shown. The id comes from the listed
/// subscription (a field of its own here would put `"id"` in the body twice).
#[derive(Debug, Serialize, Deserialize)]
pub struct Created {
    pub secret: String,
    /// When the first digest goes out, on the system clock (a digest subscription only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_digest_at: Option<chrono::DateTime<Utc>>,
    #[serde(flatten)]
    pub subscription: Listed,
}

/// Why a route failed on the notifier's side, by what it was doing; the policy is the `From` impl.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("storing a subscription failed")]
    Create(#[source] StoreError),
    #[error("scheduling a subscription's digest failed")]
    ScheduleDigest(#[source] DigestError),
    #[error("deleting a subscription failed")]
    Delete(#[source] StoreError),
    #[error("reading the dead letters failed")]
    ReadDeadLetters(#[source] BoxError),
    #[error("opening the dead letters to redrive one failed")]
    OpenDeadLetters(#[source] BoxError),
    #[error("dead letter {sequence} could not be fetched")]
    NoDeadLetter {
        sequence: u64,
        #[source]
        source: BoxError,
    },
    #[error("dead letter {sequence} is unreadable")]
    UnreadableDeadLetter {
        sequence: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("a redriven delivery could not be encoded")]
    EncodeDelivery(#[source] serde_json::Error),
    #[error("queueing a redriven delivery failed")]
    Queue(#[source] BoxError),
    #[error("dead letter {sequence} was redriven but could not be removed")]
    NotRemoved {
        sequence: u64,
        #[source]
        source: BoxError,
    },
}

impl From<ApiError> for Problem {
    fn from(err: ApiError) -> Problem {
        let problem = match &err {
            ApiError::Create(_) | ApiError::ScheduleDigest(_) => {
                Problem::unavailable("the subscription store is unavailable; nothing was created")
            }
            ApiError::Delete(_) => Problem::unavailable("the subscription store is unavailable; nothing was deleted"),
            ApiError::ReadDeadLetters(_) => Problem::unavailable("the dead letters are unavailable; retry shortly"),
            ApiError::OpenDeadLetters(_) => Problem::unavailable("the dead letters are unavailable"),
            ApiError::NoDeadLetter { sequence, .. } => Problem::not_found(format!("no dead letter {sequence}")),
            ApiError::UnreadableDeadLetter { sequence, .. } => {
                Problem::not_found(format!("dead letter {sequence} is unreadable"))
            }
            ApiError::EncodeDelivery(_) => Problem::unavailable("the delivery could not be encoded"),
            ApiError::Queue(_) => Problem::unavailable("the delivery queue is unavailable"),
            ApiError::NotRemoved { .. } => Problem::unavailable("redriven, but the dead letter could not be removed"),
        };
        problem.logged(&err)
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Problem {
        Problem::unavailable("the subscription store is unavailable; retry shortly").logged(&err)
    }
}

fn field(name: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
        rule: None,
    }
}

fn forbidden() -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", "only an admin token can do this")
}

pub async fn create(
    State(state): State<ApiState>,
    caller: Principal,
    ApiQuery(params): ApiQuery<PartnerParam>,
    body: JsonBody<NewSubscription>,
) -> ApiResult<Response> {
    let partner = match (&caller, params.partner_id) {
        (Principal::Partner(own), None) => own.clone(),
        (Principal::Partner(own), Some(id)) if id == own.as_str() => own.clone(),
        (Principal::Partner(_), Some(_)) => {
            return Err(Problem::validation(vec![field(
                "partner_id",
                "a partner token subscribes for its own partner only",
            )]));
        }
        (Principal::Admin, None) => {
            return Err(Problem::validation(vec![field(
                "partner_id",
                "an admin token must name the partner with ?partner_id=",
            )]));
        }
        (Principal::Admin, Some(id)) => {
            PartnerId::parse(&id).map_err(|e| Problem::validation(vec![field("partner_id", e.to_string())]))?
        }
    };
    let NewSubscription {
        url,
        events,
        format,
        digest,
    } = body.value;
    let mut errors = Vec::new();
    if url.len() > 2_000 {
        errors.push(field("url", "at most 2000 characters"));
    } else if let Err(err) = state.0.policy.check_url(&url).await {
        errors.push(field("url", err.to_string()));
    }
    if (events.is_empty() && digest.is_none()) || events.len() > 50 {
        errors.push(field(
            "events",
            "list 1 to 50 event type patterns, e.g. [\"approved\", \"office_hours_*\"] (none only with a digest)",
        ));
    }
    if let Some(digest) = &digest {
        errors.extend(
            digest
                .problems()
                .into_iter()
                .map(|(name, message)| field(name, message)),
        );
    }
    for (i, pattern) in events.iter().enumerate() {
        if let Err(message) = check_pattern(pattern) {
            errors.push(field(format!("events[{i}]"), message));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let secret: [u8; 32] = rand::rng().random();
    let subscription = Subscription {
        id: EventId::generate().to_string(),
        partner,
        url,
        events,
        format,
        digest,
        secret: hex::encode(secret),
        created_at: Utc::now(),
    };
    // The first digest's timer before the subscription: a timer whose subscription was never
    // stored ends when it fires, a stored digest subscription without its timer would never send.
    let next_digest_at = crate::digest::schedule_first(&state.0.timers, &subscription, state.0.clock.now())
        .await
        .map_err(ApiError::ScheduleDigest)?;
    state
        .0
        .subscriptions
        .put(&subscription)
        .await
        .map_err(ApiError::Create)?;
    tracing::info!(subscription = %subscription.id, partner = %subscription.partner, "subscription created");
    let created = Created {
        secret: subscription.secret.clone(),
        next_digest_at,
        subscription: Listed::from(&subscription),
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/subscriptions/{}", subscription.id))],
        Json(created),
    )
        .into_response())
}

pub async fn list(State(state): State<ApiState>, caller: Principal) -> ApiResult<Json<Vec<Listed>>> {
    // Another replica may have created one a moment ago.
    state.0.subscriptions.catch_up().await?;
    let all = state.0.subscriptions.all();
    let mut mine: Vec<Listed> = all
        .subscriptions
        .values()
        .filter(|s| caller.can_see(&s.partner))
        .map(Listed::from)
        .collect();
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(mine))
}

pub async fn delete(
    State(state): State<ApiState>,
    caller: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.0.subscriptions.catch_up().await?;
    let visible = state.0.subscriptions.get(&id).filter(|s| caller.can_see(&s.partner));
    if visible.is_none() {
        return Err(Problem::not_found(format!("no subscription {id:?}")));
    }
    state.0.subscriptions.delete(&id).await.map_err(ApiError::Delete)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A dead letter as an admin sees it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListedDeadLetter {
    /// Pass to `redrive`.
    pub sequence: u64,
    pub subscription: String,
    pub delivery_id: String,
    pub event_type: String,
    pub application_id: String,
    pub attempts: i64,
    pub last_error: String,
    pub failed_at: chrono::DateTime<Utc>,
}

pub async fn dead_letters(State(state): State<ApiState>, caller: Principal) -> ApiResult<Json<Vec<ListedDeadLetter>>> {
    if caller != Principal::Admin {
        return Err(forbidden());
    }
    let letters = read_dead_letters(&state.0.bus)
        .await
        .map_err(ApiError::ReadDeadLetters)?;
    Ok(Json(letters))
}

/// Up to 1000 dead letters, oldest first.
async fn read_dead_letters(bus: &Bus) -> Result<Vec<ListedDeadLetter>, BoxError> {
    let stream = dead_letters_stream(bus).await?;
    let last = stream.get_info().await?.state;
    let mut out = Vec::new();
    if last.messages == 0 {
        return Ok(out);
    }
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: subjects::all_dead_letters(),
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(std::time::Duration::from_secs(2), messages.next()).await {
        let info = message.info()?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        if let Ok(letter) = serde_json::from_slice::<DeadLetter>(&message.payload) {
            out.push(ListedDeadLetter {
                sequence,
                subscription: letter.delivery.subscription.clone(),
                delivery_id: letter.delivery.id.to_string(),
                event_type: letter.delivery.message.type_name(),
                application_id: letter
                    .delivery
                    .message
                    .application()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                attempts: letter.attempts,
                // Letters stored before URLs were redacted may still carry one.
                last_error: scrub_urls(&letter.last_error),
                failed_at: letter.failed_at,
            });
        }
        if pending == 0 || out.len() >= 1_000 {
            break;
        }
    }
    Ok(out)
}

pub async fn redrive(
    State(state): State<ApiState>,
    caller: Principal,
    ApiPath(sequence): ApiPath<u64>,
) -> ApiResult<StatusCode> {
    if caller != Principal::Admin {
        return Err(forbidden());
    }
    let stream = dead_letters_stream(&state.0.bus)
        .await
        .map_err(|e| ApiError::OpenDeadLetters(e.into()))?;
    let message = stream
        .get_raw_message(sequence)
        .await
        .map_err(|e| ApiError::NoDeadLetter {
            sequence,
            source: e.into(),
        })?;
    let letter: DeadLetter = serde_json::from_slice(&message.payload)
        .map_err(|source| ApiError::UnreadableDeadLetter { sequence, source })?;
    // Queued for a deleted subscription, it would sit in the queue with no worker to take it
    // (or be purged unseen): the dead letter stays where the admin can see it.
    state.0.subscriptions.catch_up().await?;
    if state.0.subscriptions.get(&letter.delivery.subscription).is_none() {
        return Err(Problem::conflict(format!(
            "dead letter {sequence} belongs to subscription {}, which no longer exists; it was not redriven",
            letter.delivery.subscription
        )));
    }
    let body = serde_json::to_vec(&letter.delivery).map_err(ApiError::EncodeDelivery)?;
    queue(&state.0.bus, &letter.delivery.subscription, body)
        .await
        .map_err(ApiError::Queue)?;
    stream
        .delete_message(sequence)
        .await
        .map_err(|e| ApiError::NotRemoved {
            sequence,
            source: e.into(),
        })?;
    tracing::info!(sequence, delivery = %letter.delivery.id, "dead letter redriven");
    Ok(StatusCode::ACCEPTED)
}

/// Queues a delivery to `subscription` again, and waits for the queue to store it.
async fn queue(bus: &Bus, subscription: &str, body: Vec<u8>) -> Result<(), BoxError> {
    deliveries_stream(bus).await?;
    let mut headers = async_nats::HeaderMap::new();
    // A new message id (the old one may still be in the de-duplication window); the delivery id
    // the receiver sees stays the same.
    headers.insert("Nats-Msg-Id", EventId::generate().to_string().as_str());
    bus.jetstream
        .publish_with_headers(subjects::deliveries(subscription), headers, body.into())
        .await?
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_created_body_has_each_field_once() {
        let created = Created {
            secret: "s3cret".into(),
            next_digest_at: None,
            subscription: Listed {
                id: "01J0000000000000000000000A".into(),
                url: "https://hooks.example.com/…".into(),
                events: vec!["approved".into()],
                format: Format::Slack,
                digest: None,
                created_at: Utc::now(),
            },
        };
        let body = serde_json::to_string(&created).unwrap();
        for key in ["id", "secret", "url", "events", "format", "created_at"] {
            assert_eq!(body.matches(&format!("\"{key}\":")).count(), 1, "{key} in {body}");
        }
    }
}
