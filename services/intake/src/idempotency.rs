//! `Idempotency-Key` on `POST /v1/applications`: the same key and body give the same answer; the
//! same key with another body is refused. Records live in a NATS key-value bucket (shared by every
//! intake replica, kept for a day), claimed with an atomic create so two concurrent requests with
//! one key cannot both create an application. Once answered, the record keeps that answer, so a
//! retry gets it again even if the application has changed since.

use async_nats::jetstream::kv;
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::names;
use sandpiper_runtime::errors::BoxError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The largest answer kept for replay; a larger one is not kept, and a retry is answered with the
/// application as it stands (the bucket's values must stay well under NATS's payload limit).
pub const MAX_STORED_BODY: usize = 256 * 1024;

/// What a key was first used for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// SHA-256 of the request body in canonical form, to tell a retry from a reuse with another body.
    pub request_hash: String,
    pub application_id: ApplicationId,
    /// The `drafted` event's id: a retry after a crash republishes this very event, which the
    /// stream de-duplicates if the first attempt had stored it.
    pub event_id: EventId,
    /// The answer given, once there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<StoredResponse>,
}

/// An answer as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    /// The JSON body, verbatim.
    pub body: String,
}

/// A claimed key: its record, and the record's revision in the bucket (to store the answer).
pub struct Claimed {
    pub record: Record,
    store_key: String,
    revision: u64,
}

/// The outcome of claiming a key.
pub enum Claim {
    /// The key is new: create the application this record names.
    Fresh(Claimed),
    /// The key was used before with the same body: answer as then (or, if that attempt has no
    /// answer stored, finish it).
    Replay(Claimed),
    /// The key was used before with another body.
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters")]
    InvalidKey,
    #[error("the idempotency store failed: {0}")]
    Store(#[source] BoxError),
}

/// The fingerprint of a JSON request body: SHA-256 of its canonical form (keys sorted, no
/// whitespace), so the same JSON sent with other spacing or key order is the same body.
pub fn request_hash(raw: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(raw)
        .map(|mut value| {
            sort_keys(&mut value);
            value.to_string().into_bytes()
        })
        // Not reached for a body the extractor parsed; hashing the bytes is still a safe answer.
        .unwrap_or_else(|_| raw.to_vec());
    hex::encode(Sha256::digest(canonical))
}

/// Sorts every object's keys. serde_json's map is sorted already unless its `preserve_order`
/// feature is on, which any crate in the build could turn on: this keeps the hash stable anyway.
fn sort_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

#[derive(Clone)]
pub struct IdempotencyStore {
    store: kv::Store,
}

impl IdempotencyStore {
    pub fn new(store: kv::Store) -> IdempotencyStore {
        IdempotencyStore { store }
    }

    /// Claims `key` for a request of `partner` whose body has the fingerprint `request_hash`.
    pub async fn claim(&self, partner: &PartnerId, key: &str, request_hash: String) -> Result<Claim, IdempotencyError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return Err(IdempotencyError::InvalidKey);
        }
        // Hashing makes any client key a valid bucket key; the partner prefix keeps tenants apart.
        let store_key = names::idempotency_key(partner, &hex::encode(Sha256::digest(key.as_bytes())));
        let fresh = Record {
            request_hash,
            application_id: ApplicationId::generate(),
            event_id: EventId::generate(),
            response: None,
        };
        let encoded = serde_json::to_vec(&fresh).map_err(|e| IdempotencyError::Store(e.into()))?;
        match self.store.create(&store_key, encoded.into()).await {
            Ok(revision) => {
                return Ok(Claim::Fresh(Claimed {
                    record: fresh,
                    store_key,
                    revision,
                }));
            }
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {}
            Err(err) => return Err(IdempotencyError::Store(err.into())),
        }
        let (record, revision) = self.read(&store_key).await?;
        Ok(if record.request_hash == fresh.request_hash {
            Claim::Replay(Claimed {
                record,
                store_key,
                revision,
            })
        } else {
            Claim::Mismatch
        })
    }

    /// Keeps `response` as the key's answer, unless another attempt kept one first: returns the
    /// answer to give, which is the first one kept. A store failure keeps nothing and is only
    /// logged: the answer is still right, and a retry finds the application instead.
    pub async fn remember(&self, claimed: Claimed, response: StoredResponse) -> StoredResponse {
        if response.body.len() > MAX_STORED_BODY {
            tracing::warn!(
                bytes = response.body.len(),
                "answer too large to keep for Idempotency-Key replays"
            );
            return response;
        }
        let record = Record {
            response: Some(response.clone()),
            ..claimed.record
        };
        let encoded = match serde_json::to_vec(&record) {
            Ok(encoded) => encoded,
            Err(err) => {
                tracing::error!(error = %err, "an idempotency record could not be encoded");
                return response;
            }
        };
        match self
            .store
            .update(&claimed.store_key, encoded.into(), claimed.revision)
            .await
        {
            Ok(_) => response,
            Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                match self.read(&claimed.store_key).await {
                    Ok((
                        Record {
                            response: Some(first), ..
                        },
                        _,
                    )) => first,
                    Ok(_) => response,
                    Err(err) => {
                        tracing::warn!(error = %err, "the kept Idempotency-Key answer could not be read");
                        response
                    }
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "the Idempotency-Key answer could not be kept");
                response
            }
        }
    }

    async fn read(&self, store_key: &str) -> Result<(Record, u64), IdempotencyError> {
        let entry = self
            .store
            .entry(store_key)
            .await
            .map_err(|e| IdempotencyError::Store(e.into()))?
            .ok_or_else(|| IdempotencyError::Store("the record vanished between create and read".into()))?;
        let record: Record = serde_json::from_slice(&entry.value).map_err(|e| IdempotencyError::Store(e.into()))?;
        Ok((record, entry.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::request_hash;

    #[test]
    fn the_body_hash_ignores_spacing_and_key_order_but_not_content() {
        let a = request_hash(br#"{"workload":"x","startup":{"name":"A","industry":"retail"},"metrics":[1,2]}"#);
        let b = request_hash(
            b"{ \"metrics\": [1, 2],\n  \"startup\": {\"industry\": \"retail\", \"name\": \"A\"},\n  \"workload\": \"x\" }",
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            request_hash(br#"{"workload":"x","startup":{"name":"A","industry":"retail"},"metrics":[2,1]}"#)
        );
        assert_ne!(
            a,
            request_hash(br#"{"workload":"y","startup":{"name":"A","industry":"retail"},"metrics":[1,2]}"#)
        );
    }
}
