//! Calendar feeds (issue #15): a partner's subscribable calendars, kept in a key-value bucket
//! ([`names::CALENDAR_FEEDS_BUCKET`], shared by every intake replica), one key per feed id.
//!
//! A feed is read by calendar apps that cannot send a bearer token, so its URL carries a secret
//! token instead: 32 random bytes, shown once (at creation and at each rotation). Only the
//! token's SHA-256 is stored; a fetch hashes the token it is given and compares digests. Revoking
//! deletes the record; rotating replaces the digest, so the old URL stops working at once.

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::names;
use sandpiper_runtime::errors::BoxError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// What a feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every application of the partner.
    Partner,
    /// One application.
    Application,
}

/// A feed as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feed {
    pub id: String,
    pub partner: PartnerId,
    pub scope: Scope,
    pub application_id: Option<ApplicationId>,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    pub created_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
}

impl Feed {
    /// Whether `token` is this feed's current token.
    pub fn accepts(&self, token: &str) -> bool {
        digest(token) == self.token_sha256
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeedStoreError {
    #[error("the calendar feed store failed")]
    Store(#[source] BoxError),
    #[error("a stored calendar feed is unreadable")]
    Decode(#[source] serde_json::Error),
}

/// A new secret token: 32 random bytes, hex.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A new feed id: `cal_` and 20 hex digits (a valid bucket key and URL segment).
pub fn new_id() -> String {
    format!("cal_{}", hex::encode(rand::random::<[u8; 10]>()))
}

pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `id` could be a feed id (anything else is not looked up).
pub fn plausible_id(id: &str) -> bool {
    id.strip_prefix("cal_")
        .is_some_and(|hex| hex.len() == 20 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[derive(Clone)]
pub struct FeedStore {
    store: kv::Store,
}

impl FeedStore {
    pub fn new(store: kv::Store) -> FeedStore {
        FeedStore { store }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Feed>, FeedStoreError> {
        if !plausible_id(id) {
            return Ok(None);
        }
        let entry = self
            .store
            .get(names::calendar_feed_key(id))
            .await
            .map_err(|e| FeedStoreError::Store(e.into()))?;
        entry
            .map(|bytes| serde_json::from_slice(&bytes).map_err(FeedStoreError::Decode))
            .transpose()
    }

    pub async fn put(&self, feed: &Feed) -> Result<(), FeedStoreError> {
        let bytes = serde_json::to_vec(feed).map_err(FeedStoreError::Decode)?;
        self.store
            .put(names::calendar_feed_key(&feed.id), bytes.into())
            .await
            .map_err(|e| FeedStoreError::Store(e.into()))?;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> Result<(), FeedStoreError> {
        self.store
            .delete(names::calendar_feed_key(id))
            .await
            .map_err(|e| FeedStoreError::Store(e.into()))
    }

    /// The feeds of `partner` (every feed for `None`, an admin), oldest first. Feeds are few (a
    /// handful per partner), so this reads the bucket's keys rather than keeping an index.
    pub async fn list(&self, partner: Option<&PartnerId>) -> Result<Vec<Feed>, FeedStoreError> {
        let mut keys = self.store.keys().await.map_err(|e| FeedStoreError::Store(e.into()))?;
        let mut feeds = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| FeedStoreError::Store(e.into()))?;
            let Some(id) = key.strip_prefix("feed.") else {
                continue;
            };
            if let Some(feed) = self.get(id).await?
                && partner.is_none_or(|p| *p == feed.partner)
            {
                feeds.push(feed);
            }
        }
        feeds.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(feeds)
    }
}
