//! Subscriptions: who wants which events, where, in which format. They live in a key-value bucket
//! (they survive restarts and every notifier replica shares them) and each replica mirrors it.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use sandpiper_contracts::events::{Envelope, EventType};
use sandpiper_contracts::ids::PartnerId;
use sandpiper_contracts::names;
use sandpiper_runtime::bus::{Bus, BusError};
use sandpiper_runtime::kv_follow;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// How a delivery is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A Block Kit message for a Slack incoming webhook.
    Slack,
    /// The CloudEvents envelope as it is.
    Cloudevents,
}

/// A subscription, as stored (with its signing secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub partner: PartnerId,
    pub url: String,
    /// Event type patterns; `*` matches any run of characters (`office_hours_*`, `*`).
    pub events: Vec<String>,
    pub format: Format,
    /// Signs every delivery; shown once, at creation.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

/// A subscription as listed: everything but the secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub format: Format,
    pub created_at: DateTime<Utc>,
}

impl From<&Subscription> for Listed {
    fn from(s: &Subscription) -> Listed {
        Listed {
            id: s.id.clone(),
            url: s.url.clone(),
            events: s.events.clone(),
            format: s.format,
            created_at: s.created_at,
        }
    }
}

/// A `*` glob over an event type name.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Why a pattern is refused: it matches no event type (a typo would silently receive nothing).
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty()
        || pattern.len() > 64
        || !pattern
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'*')
    {
        return Err(format!(
            "{pattern:?}: patterns are event type names (a-z and _) with * globs"
        ));
    }
    if EventType::ALL.iter().any(|t| pattern_matches(pattern, t.as_str())) {
        Ok(())
    } else {
        Err(format!("{pattern:?} matches no event type"))
    }
}

impl Subscription {
    /// Whether this subscription receives `event`: the partner's own events, of a wanted type.
    pub fn wants(&self, event: &Envelope, event_type: EventType) -> bool {
        self.partner == event.partnerid && self.events.iter().any(|p| pattern_matches(p, event_type.as_str()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the subscription store failed: {0}")]
    Store(String),
}

/// The subscriptions, stored and mirrored.
#[derive(Clone)]
pub struct SubscriptionStore {
    store: kv::Store,
    mirror: watch::Receiver<Arc<HashMap<String, Subscription>>>,
}

impl SubscriptionStore {
    pub async fn open(bus: &Bus) -> Result<SubscriptionStore, StoreError> {
        let store = bus
            .bucket(names::SUBSCRIPTIONS_BUCKET, 1, std::time::Duration::ZERO)
            .await?;
        let (sender, mirror) = watch::channel(Arc::new(HashMap::new()));
        let (sink, mut entries) = tokio::sync::mpsc::unbounded_channel();
        kv_follow::follow(store.clone(), ">".to_owned(), sink);
        tokio::spawn(async move {
            while let Some(entry) = entries.recv().await {
                sender.send_modify(|all| {
                    let mut next = HashMap::clone(all);
                    match entry.operation {
                        kv::Operation::Put => match serde_json::from_slice::<Subscription>(&entry.value) {
                            Ok(sub) => {
                                next.insert(sub.id.clone(), sub);
                            }
                            Err(err) => {
                                tracing::error!(key = %entry.key, error = %err, "ignoring an unreadable subscription")
                            }
                        },
                        kv::Operation::Delete | kv::Operation::Purge => {
                            next.remove(&entry.key);
                        }
                    }
                    *all = Arc::new(next);
                });
            }
        });
        Ok(SubscriptionStore { store, mirror })
    }

    pub async fn put(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(subscription).map_err(|e| StoreError::Store(e.to_string()))?;
        self.store
            .put(&subscription.id, bytes.into())
            .await
            .map_err(|e| StoreError::Store(e.to_string()))?;
        self.wait_until(|all| all.contains_key(&subscription.id)).await;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.store
            .purge(id)
            .await
            .map_err(|e| StoreError::Store(e.to_string()))?;
        self.wait_until(|all| !all.contains_key(id)).await;
        Ok(())
    }

    /// Waits (briefly) until this replica's mirror shows a change it just made.
    async fn wait_until(&self, done: impl Fn(&HashMap<String, Subscription>) -> bool) {
        let mut mirror = self.mirror.clone();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), mirror.wait_for(|all| done(all))).await;
    }

    pub fn get(&self, id: &str) -> Option<Subscription> {
        self.mirror.borrow().get(id).cloned()
    }

    pub fn all(&self) -> Arc<HashMap<String, Subscription>> {
        self.mirror.borrow().clone()
    }

    /// Notified whenever the set of subscriptions changes.
    pub fn changes(&self) -> watch::Receiver<Arc<HashMap<String, Subscription>>> {
        self.mirror.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_event_type_names() {
        for (pattern, name, matches) in [
            ("approved", "approved", true),
            ("approved", "rejected", false),
            ("office_hours_*", "office_hours_scheduled", true),
            ("*", "credits_expired", true),
            ("credits_*", "credits_applied", true),
            ("*_recorded", "concern_recorded", true),
            ("*_recorded", "recorded", false),
            ("c*d", "classified", true),
            ("c*d", "clawback_warning", false),
            ("tranche_*_x", "tranche_released", false),
        ] {
            assert_eq!(pattern_matches(pattern, name), matches, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn patterns_must_name_something() {
        assert!(check_pattern("approved").is_ok());
        assert!(check_pattern("office_hours_*").is_ok());
        assert!(check_pattern("aproved").is_err());
        assert!(check_pattern("Approved").is_err());
        assert!(check_pattern("").is_err());
    }
}
