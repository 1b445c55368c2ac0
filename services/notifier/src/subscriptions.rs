//! Subscriptions: who wants which events, where, in which format. They live in a key-value bucket
//! (they survive restarts and every notifier replica shares them) and each replica mirrors it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use sandpiper_contracts::events::{Envelope, EventType};
use sandpiper_contracts::ids::PartnerId;
use sandpiper_contracts::names;
use sandpiper_runtime::bus::{Bus, BusError};
use sandpiper_runtime::errors::BoxError;
use sandpiper_runtime::kv_follow;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::digest::DigestSchedule;

/// How a delivery is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A Block Kit message for a Slack incoming webhook.
    Slack,
    /// The CloudEvents envelope as it is.
    Cloudevents,
}

/// A subscription, as stored (with its signing secret; `Debug` leaves it and the URL's path out).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub partner: PartnerId,
    pub url: String,
    /// Event type patterns; `*` matches any run of characters (`office_hours_*`, `*`).
    pub events: Vec<String>,
    pub format: Format,
    /// A weekly digest of the coming week's agenda, when asked for ([`crate::digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSchedule>,
    /// Signs every delivery; shown once, at creation.
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("partner", &self.partner)
            .field("url", &redact_url(&self.url))
            .field("events", &self.events)
            .field("format", &self.format)
            .field("digest", &self.digest)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A subscription URL as it may be shown or logged: `scheme://host[:port]/…`. A Slack webhook's
/// path is its credential, so neither path nor query ever leaves the store.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}/…", parsed.scheme()),
            (Some(host), None) => format!("{}://{host}/…", parsed.scheme()),
            (None, _) => "<redacted URL>".into(),
        },
        Err(_) => "<redacted URL>".into(),
    }
}

/// `text` with every http(s) URL in it redacted ([`redact_url`]): for error texts, which may
/// quote the URL they failed on.
pub fn scrub_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let start = match (lower.find("http://"), lower.find("https://")) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | '<' | '`'))
            .unwrap_or(url.len());
        out.push_str(&redact_url(&url[..end]));
        rest = &url[end..];
    }
    out.push_str(rest);
    out
}

/// A subscription as listed: everything but the secret, and the URL redacted ([`redact_url`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub format: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestSchedule>,
    pub created_at: DateTime<Utc>,
}

impl From<&Subscription> for Listed {
    fn from(s: &Subscription) -> Listed {
        Listed {
            id: s.id.clone(),
            url: redact_url(&s.url),
            events: s.events.clone(),
            format: s.format,
            digest: s.digest.clone(),
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
    Store(#[source] BoxError),
    #[error("the local copy of the subscriptions did not catch up with the bucket within {0:?}")]
    Behind(Duration),
}

/// This replica's copy of the bucket, and the last bucket revision it holds.
#[derive(Debug, Default)]
pub struct Mirror {
    pub subscriptions: HashMap<String, Subscription>,
    pub seen_revision: u64,
}

/// How long a catch-up may wait for the copy to reach the bucket's last revision.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(10);

/// Coalesces catch-ups: one bucket status request answers every caller that asked before it was
/// sent, so a burst of events costs one round trip, not one each.
#[derive(Default)]
struct CatchUp {
    /// Tickets handed out so far.
    requested: AtomicU64,
    /// Every ticket up to this one is covered by a finished catch-up.
    covered: tokio::sync::Mutex<u64>,
}

/// The subscriptions, stored and mirrored.
#[derive(Clone)]
pub struct SubscriptionStore {
    store: kv::Store,
    mirror: watch::Receiver<Arc<Mirror>>,
    catch_up: Arc<CatchUp>,
}

impl SubscriptionStore {
    /// Opens the bucket and starts copying it. The copy may still be loading: call
    /// [`SubscriptionStore::catch_up`] before relying on it.
    pub async fn open(bus: &Bus) -> Result<SubscriptionStore, StoreError> {
        let store = bus.bucket(names::SUBSCRIPTIONS_BUCKET, 1, Duration::ZERO).await?;
        let (sender, mirror) = watch::channel(Arc::new(Mirror::default()));
        let (sink, mut entries) = tokio::sync::mpsc::unbounded_channel();
        kv_follow::follow(store.clone(), ">".to_owned(), sink);
        tokio::spawn(async move {
            while let Some(entry) = entries.recv().await {
                let parsed = match entry.operation {
                    kv::Operation::Put => match serde_json::from_slice::<Subscription>(&entry.value) {
                        Ok(sub) => Some(sub),
                        Err(err) => {
                            tracing::error!(key = %entry.key, error = %err, "ignoring an unreadable subscription");
                            None
                        }
                    },
                    kv::Operation::Delete | kv::Operation::Purge => None,
                };
                sender.send_modify(|mirror| {
                    let mut subscriptions = mirror.subscriptions.clone();
                    match (entry.operation, parsed) {
                        (kv::Operation::Put, Some(sub)) => {
                            subscriptions.insert(sub.id.clone(), sub);
                        }
                        (kv::Operation::Put, None) => {}
                        (kv::Operation::Delete | kv::Operation::Purge, _) => {
                            subscriptions.remove(&entry.key);
                        }
                    }
                    *mirror = Arc::new(Mirror {
                        subscriptions,
                        seen_revision: entry.revision,
                    });
                });
            }
        });
        Ok(SubscriptionStore {
            store,
            mirror,
            catch_up: Arc::default(),
        })
    }

    pub async fn put(&self, subscription: &Subscription) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(subscription).map_err(|e| StoreError::Store(e.into()))?;
        let revision = self
            .store
            .put(&subscription.id, bytes.into())
            .await
            .map_err(|e| StoreError::Store(e.into()))?;
        self.wait_for_revision(revision).await
    }

    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.store.purge(id).await.map_err(|e| StoreError::Store(e.into()))?;
        self.catch_up().await
    }

    /// Waits until this replica's copy holds every change stored in the bucket before the call
    /// (another replica's included). Concurrent callers share one status request.
    pub async fn catch_up(&self) -> Result<(), StoreError> {
        let ticket = self.catch_up.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut covered = self.catch_up.covered.lock().await;
        if *covered >= ticket {
            return Ok(());
        }
        // Every ticket handed out before the status request is sent is answered by it.
        let covers = self.catch_up.requested.load(Ordering::SeqCst);
        let state = sandpiper_runtime::bus::bucket_state(&self.store)
            .await
            .map_err(|e| StoreError::Store(e.into()))?;
        // An emptied bucket has a last revision but nothing left for the watch to deliver.
        let target = if state.entries == 0 { 0 } else { state.last_revision };
        self.wait_for_revision(target).await?;
        *covered = covers;
        Ok(())
    }

    /// Waits until the copy holds bucket revision `revision`.
    async fn wait_for_revision(&self, revision: u64) -> Result<(), StoreError> {
        let mut mirror = self.mirror.clone();
        match tokio::time::timeout(CATCH_UP_LIMIT, mirror.wait_for(|m| m.seen_revision >= revision)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(StoreError::Store("the subscription copy stopped".into())),
            Err(_) => Err(StoreError::Behind(CATCH_UP_LIMIT)),
        }
    }

    pub fn get(&self, id: &str) -> Option<Subscription> {
        self.mirror.borrow().subscriptions.get(id).cloned()
    }

    pub fn all(&self) -> Arc<Mirror> {
        self.mirror.borrow().clone()
    }

    /// Notified whenever the copy changes.
    pub fn changes(&self) -> watch::Receiver<Arc<Mirror>> {
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
    fn urls_are_redacted_to_scheme_and_host() {
        let hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET?token=abc";
        assert_eq!(redact_url(hook), "https://hooks.slack.com/…");
        assert_eq!(redact_url("http://127.0.0.1:8080/hook"), "http://127.0.0.1:8080/…");
        assert_eq!(redact_url("not a url"), "<redacted URL>");
        let error =
            format!("error sending request for url ({hook}): connection refused; retried HTTP://Example.com/a/b");
        let scrubbed = scrub_urls(&error);
        assert!(
            !scrubbed.contains("XXXXSECRET") && !scrubbed.contains("token"),
            "{scrubbed}"
        );
        assert!(!scrubbed.contains("/a/b"), "{scrubbed}");
        assert_eq!(
            scrubbed,
            "error sending request for url (https://hooks.slack.com/…): connection refused; retried http://example.com/…"
        );
        assert_eq!(scrub_urls("HTTP 503"), "HTTP 503");
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_url_path() {
        let subscription = Subscription {
            id: "s1".into(),
            partner: PartnerId::parse("acme").unwrap(),
            url: "https://hooks.slack.com/services/T000/B000/XXXXSECRET".into(),
            events: vec!["*".into()],
            format: Format::Slack,
            digest: None,
            secret: "deadbeefcafe".into(),
            created_at: Utc::now(),
        };
        let debug = format!("{subscription:?}");
        assert!(!debug.contains("deadbeefcafe"), "{debug}");
        assert!(!debug.contains("XXXXSECRET"), "{debug}");
        assert!(debug.contains("hooks.slack.com"), "{debug}");
        let listed = serde_json::to_string(&Listed::from(&subscription)).unwrap();
        assert!(
            !listed.contains("XXXXSECRET") && !listed.contains("deadbeefcafe"),
            "{listed}"
        );
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
