//! Which application each Partner Central id belongs to ([`names::ACE_FILINGS_BUCKET`]), written
//! as soon as AWS answers an id, before the filing is recorded: what the poller reads when AWS
//! says something changed, and the polling cursors ([`names::ACE_CURSORS_BUCKET`]).

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::names;
use sandpiper_runtime::bus::{Bus, BusError};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

/// Why the connector's own buckets could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FilingsError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the ACE bucket {bucket} could not be read: {source}")]
    Read {
        bucket: &'static str,
        #[source]
        source: kv::EntryError,
    },
    #[error("the ACE bucket {bucket} could not be written: {source}")]
    Write {
        bucket: &'static str,
        #[source]
        source: kv::PutError,
    },
    #[error("an entry of {bucket} is unreadable: {source}")]
    Decode {
        bucket: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl From<FilingsError> for sandpiper_runtime::handler::HandlerError {
    fn from(err: FilingsError) -> Self {
        match err {
            FilingsError::Decode { .. } => Self::permanent(err),
            _ => Self::transient(err),
        }
    }
}

/// An application, as a filing's owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub partner: PartnerId,
    pub application: ApplicationId,
}

/// What AWS ids a filing is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Opportunity,
    BenefitApplication,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Opportunity => "opportunity",
            Kind::BenefitApplication => "benefit",
        }
    }
}

/// The connector's buckets, opened on first use.
#[derive(Clone)]
pub struct Filings {
    bus: Bus,
    filings: std::sync::Arc<OnceCell<kv::Store>>,
    cursors: std::sync::Arc<OnceCell<kv::Store>>,
}

impl Filings {
    pub fn new(bus: Bus) -> Filings {
        Filings {
            bus,
            filings: Default::default(),
            cursors: Default::default(),
        }
    }

    async fn store(&self, cell: &OnceCell<kv::Store>, name: &'static str) -> Result<kv::Store, FilingsError> {
        let store = cell
            .get_or_try_init(|| self.bus.bucket(name, 1, std::time::Duration::ZERO))
            .await?;
        Ok(store.clone())
    }

    /// One JSON value of `bucket`, if the key is there.
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        cell: &OnceCell<kv::Store>,
        bucket: &'static str,
        key: &str,
    ) -> Result<Option<T>, FilingsError> {
        let store = self.store(cell, bucket).await?;
        let Some(bytes) = store
            .get(key)
            .await
            .map_err(|source| FilingsError::Read { bucket, source })?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| FilingsError::Decode { bucket, source })
    }

    /// Writes one JSON value to `bucket`.
    async fn write<T: Serialize>(
        &self,
        cell: &OnceCell<kv::Store>,
        bucket: &'static str,
        key: String,
        value: &T,
    ) -> Result<(), FilingsError> {
        let store = self.store(cell, bucket).await?;
        let bytes = serde_json::to_vec(value).map_err(|source| FilingsError::Decode { bucket, source })?;
        store
            .put(key, bytes.into())
            .await
            .map_err(|source| FilingsError::Write { bucket, source })?;
        Ok(())
    }

    /// Remembers that `aws_id` is `owner`'s.
    pub async fn remember(&self, kind: Kind, aws_id: &str, owner: &Owner) -> Result<(), FilingsError> {
        let key = names::ace_filing_key(kind.as_str(), aws_id);
        self.write(&self.filings, names::ACE_FILINGS_BUCKET, key, owner).await
    }

    /// Whose `aws_id` is; none for an id Sandpiper did not file (the partner's other opportunities).
    pub async fn owner(&self, kind: Kind, aws_id: &str) -> Result<Option<Owner>, FilingsError> {
        let key = names::ace_filing_key(kind.as_str(), aws_id);
        self.read(&self.filings, names::ACE_FILINGS_BUCKET, &key).await
    }

    /// The newest change time AWS has answered for `cursor`.
    pub async fn cursor(&self, cursor: &str) -> Result<Option<DateTime<Utc>>, FilingsError> {
        self.read(&self.cursors, names::ACE_CURSORS_BUCKET, cursor).await
    }

    pub async fn set_cursor(&self, cursor: &str, at: DateTime<Utc>) -> Result<(), FilingsError> {
        self.write(&self.cursors, names::ACE_CURSORS_BUCKET, cursor.to_owned(), &at)
            .await
    }
}
