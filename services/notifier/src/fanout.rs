//! Fan-out: every event becomes one delivery per subscription that wants it, queued on the
//! deliveries stream under the subscription's subject. The event is acked only once every delivery
//! is stored, and each delivery's id derives from (event, subscription), so a redelivered event
//! queues nothing twice.

use std::collections::HashMap;
use std::sync::Mutex;

use async_nats::HeaderMap;
use sandpiper_contracts::agenda::DigestEvent;
use sandpiper_contracts::events::{DraftUpdated, Drafted, Envelope, EventType, Submitted};
use sandpiper_contracts::ids::{ApplicationId, EventId};
use sandpiper_contracts::subjects;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::handler::{Delivery, Handler, HandlerError};
use sandpiper_runtime::views::ViewStore;
use serde::{Deserialize, Serialize};

use crate::render::AppContext;
use crate::subscriptions::SubscriptionStore;

/// One delivery waiting for its subscriber.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedDelivery {
    /// Stable across retries and redrives: receivers de-duplicate on it.
    pub id: EventId,
    pub subscription: String,
    #[serde(flatten)]
    pub message: Message,
}

/// What a delivery carries. Stored untagged, so a delivery queued as `{event, context}` before
/// digests existed still reads as an event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Message {
    /// An application's event, with what a person reading it needs.
    Event { event: Envelope, context: AppContext },
    /// A subscription's weekly digest ([`crate::digest`]).
    Digest { digest: DigestEvent },
}

impl Message {
    /// The event type, for spans and dead letters: the event's name, or `agenda_digest`.
    pub fn type_name(&self) -> String {
        match self {
            Message::Event { event, .. } => match event.kind() {
                Ok(kind) => kind.as_str().to_owned(),
                Err(_) => event.event_type.clone(),
            },
            Message::Digest { .. } => "agenda_digest".to_owned(),
        }
    }

    /// The application it is about; none for a digest.
    pub fn application(&self) -> Option<ApplicationId> {
        match self {
            Message::Event { event, .. } => Some(event.subject),
            Message::Digest { .. } => None,
        }
    }
}

/// Queues `delivery` under its subscription's subject, with its id as the `Nats-Msg-Id` (the
/// stream drops a second copy queued within its duplicate window), and waits for it to be stored.
pub async fn queue(bus: &Bus, delivery: &QueuedDelivery) -> Result<(), HandlerError> {
    let body = serde_json::to_vec(delivery).map_err(HandlerError::permanent)?;
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", delivery.id.to_string().as_str());
    sandpiper_runtime::trace_context::inject(&mut headers);
    bus.jetstream
        .publish_with_headers(subjects::deliveries(&delivery.subscription), headers, body.into())
        .await
        .map_err(HandlerError::transient)?
        .await
        .map_err(HandlerError::transient)?;
    Ok(())
}

pub struct Fanout {
    pub bus: Bus,
    /// The read model, for an application's startup and service after a restart.
    pub(crate) views: ViewStore,
    pub subscriptions: SubscriptionStore,
    /// Startup and service per application, for messages a person reads.
    contexts: Mutex<HashMap<ApplicationId, AppContext>>,
}

impl Fanout {
    pub fn new(bus: Bus, views: ViewStore, subscriptions: SubscriptionStore) -> Fanout {
        Fanout {
            bus,
            views,
            subscriptions,
            contexts: Mutex::new(HashMap::new()),
        }
    }

    fn remember(&self, event: &Envelope, kind: EventType) {
        let draft = match kind {
            EventType::Drafted => event.payload::<Drafted>().ok().map(|d| d.draft),
            EventType::DraftUpdated => event.payload::<DraftUpdated>().ok().map(|d| d.draft),
            EventType::Submitted => event.payload::<Submitted>().ok().map(|s| s.application.into()),
            _ => None,
        };
        if let Some(draft) = draft {
            let context = AppContext {
                startup: draft.startup.and_then(|s| s.name),
                service: draft.service,
            };
            self.contexts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(event.subject, context);
        }
    }

    async fn context(&self, event: &Envelope) -> AppContext {
        if let Some(known) = self
            .contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&event.subject)
        {
            return known.clone();
        }
        // After a restart: the application's record in the read model, read once.
        let context = match self.views.load(&event.partnerid, &event.subject).await {
            Ok(Some(stored)) => AppContext {
                startup: stored.record.view.body.startup.and_then(|s| s.name),
                service: stored.record.view.body.service,
            },
            Ok(None) => AppContext::default(),
            Err(err) => {
                tracing::warn!(error = %err, "the read model is unavailable; the message names no startup");
                AppContext::default()
            }
        };
        self.contexts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(event.subject, context.clone());
        context
    }
}

impl Handler for Fanout {
    fn event_types(&self) -> Vec<EventType> {
        EventType::ALL.to_vec()
    }

    /// The application's record holds each event before it is fanned out, so an event its state
    /// machine refuses (a forged or faulty publisher's) is dead-lettered like every consumer's,
    /// and subscribers hear only what happened.
    const KEEPS_VIEWS: bool = true;

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let event = delivery.envelope;
        self.remember(&event, delivery.event_type);
        // A subscription just created through another replica (or still loading at start-up)
        // may not be in this copy yet; deciding "no subscribers" from a stale copy would ack the
        // event with nothing queued.
        self.subscriptions.catch_up().await.map_err(HandlerError::transient)?;
        let wanted: Vec<String> = self
            .subscriptions
            .all()
            .subscriptions
            .values()
            .filter(|s| s.wants(&event, delivery.event_type))
            .map(|s| s.id.clone())
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let context = self.context(&event).await;
        for subscription in wanted {
            let queued = QueuedDelivery {
                id: EventId::derived(&event.id, &subscription),
                subscription,
                message: Message::Event {
                    event: event.clone(),
                    context: context.clone(),
                },
            };
            queue(&self.bus, &queued).await?;
        }
        Ok(())
    }
}
