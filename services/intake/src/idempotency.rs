//! `Idempotency-Key` on `POST /v1/applications`: the same key and body give the same answer; the
//! same key with another body is refused. Records live in a NATS key-value bucket (shared by every
//! intake replica, kept for a day), claimed with an atomic create so two concurrent requests with
//! one key cannot both create an application.

use async_nats::jetstream::kv;
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What a key was first used for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// SHA-256 of the request body, to tell a retry from a reuse with another body.
    pub request_hash: String,
    pub application_id: ApplicationId,
    /// The `drafted` event's id: a retry after a crash republishes this very event, which the
    /// stream de-duplicates if the first attempt had stored it.
    pub event_id: EventId,
}

/// The outcome of claiming a key.
pub enum Claim {
    /// The key is new: create the application this record names.
    Fresh(Record),
    /// The key was used before with the same body: answer with that application.
    Replay(Record),
    /// The key was used before with another body.
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters")]
    InvalidKey,
    #[error("the idempotency store failed: {0}")]
    Store(String),
}

#[derive(Clone)]
pub struct IdempotencyStore {
    store: kv::Store,
}

impl IdempotencyStore {
    pub fn new(store: kv::Store) -> IdempotencyStore {
        IdempotencyStore { store }
    }

    /// Claims `key` for a request of `partner` with `body`.
    pub async fn claim(&self, partner: &PartnerId, key: &str, body: &[u8]) -> Result<Claim, IdempotencyError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(IdempotencyError::InvalidKey);
        }
        // Hashing makes any client key a valid bucket key; the partner prefix keeps tenants apart.
        let store_key = format!("{partner}.{}", hex::encode(Sha256::digest(key.as_bytes())));
        let fresh = Record {
            request_hash: hex::encode(Sha256::digest(body)),
            application_id: ApplicationId::generate(),
            event_id: EventId::generate(),
        };
        let encoded = serde_json::to_vec(&fresh).map_err(|e| IdempotencyError::Store(e.to_string()))?;
        match self.store.create(&store_key, encoded.into()).await {
            Ok(_) => return Ok(Claim::Fresh(fresh)),
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(err) => return Err(IdempotencyError::Store(err.to_string())),
        }
        let stored = self
            .store
            .get(&store_key)
            .await
            .map_err(|e| IdempotencyError::Store(e.to_string()))?
            .ok_or_else(|| IdempotencyError::Store("the record vanished between create and read".into()))?;
        let record: Record = serde_json::from_slice(&stored).map_err(|e| IdempotencyError::Store(e.to_string()))?;
        Ok(if record.request_hash == fresh.request_hash {
            Claim::Replay(record)
        } else {
            Claim::Mismatch
        })
    }
}
