//! Versions of the emerging-service catalog (K4), in a key-value bucket every service shares.
//!
//! The built-in version is stored the first time any service starts; a partner publishes newer
//! ones with an effective date while the system runs (`POST /v1/catalog`), with no redeploy. The
//! version in force at a time is the one with the latest `effective_from` on or before it (K2: for
//! a decision, the application's submission time). Each service mirrors the bucket locally through
//! a watch; [`CatalogStore::sync`] waits until the mirror holds every version stored so far, so a
//! decision right after a publish sees it.

use std::sync::Arc;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::names;
use tokio::sync::watch;

use crate::bus::{Bus, BusError};
use crate::errors::BoxError;
use crate::kv_follow;

#[derive(Debug, thiserror::Error)]
pub enum CatalogStoreError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("catalog version {0:?} already exists; versions cannot change once published")]
    Exists(String),
    #[error("catalog version name {0:?} must be 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadVersion(String),
    #[error("the catalog store failed: {0}")]
    Store(#[source] BoxError),
}

/// Every version this process has seen, by the bucket revision that stored it.
#[derive(Default)]
struct Mirror {
    versions: Vec<Arc<Catalog>>,
    seen_revision: u64,
}

#[derive(Clone)]
pub struct CatalogStore {
    store: kv::Store,
    mirror: watch::Receiver<Arc<Mirror>>,
}

impl CatalogStore {
    /// Opens the bucket, stores the built-in version if it is not there, and starts mirroring.
    pub async fn open(bus: &Bus, builtin: &Catalog) -> Result<CatalogStore, CatalogStoreError> {
        let store = CatalogStore::seed(bus, builtin).await?;
        let (sender, mirror) = watch::channel(Arc::new(Mirror::default()));
        let (sink, mut entries) = tokio::sync::mpsc::unbounded_channel();
        kv_follow::follow(store.clone(), ">".to_owned(), sink);
        tokio::spawn(async move {
            while let Some(entry) = entries.recv().await {
                let parsed = match entry.operation {
                    kv::Operation::Put => match serde_json::from_slice::<Catalog>(&entry.value) {
                        Ok(catalog) => Some(Arc::new(catalog)),
                        Err(err) => {
                            tracing::error!(key = %entry.key, error = %err, "ignoring an unreadable catalog version");
                            None
                        }
                    },
                    _ => None,
                };
                sender.send_modify(|mirror| {
                    let mut next = Mirror {
                        versions: mirror.versions.clone(),
                        seen_revision: entry.revision,
                    };
                    if let Some(catalog) = parsed {
                        next.versions.retain(|c| c.version != catalog.version);
                        next.versions.push(catalog);
                    }
                    *mirror = Arc::new(next);
                });
            }
        });
        let this = CatalogStore { store, mirror };
        this.sync().await?;
        Ok(this)
    }

    /// The catalog's bucket, holding the built-in version. Provisioning seeds it
    /// ([`crate::provision`]); a service looks first and stores it only when it is missing, so
    /// the services whose NATS user may only read the catalog never try to write it.
    pub async fn seed(bus: &Bus, builtin: &Catalog) -> Result<kv::Store, CatalogStoreError> {
        let store = bus.bucket(names::CATALOG_BUCKET, 1, std::time::Duration::ZERO).await?;
        let stored = store
            .entry(names::catalog_key(&builtin.version))
            .await
            .map_err(|e| CatalogStoreError::Store(e.into()))?;
        if stored.is_some() {
            return Ok(store);
        }
        let this = CatalogStore {
            store: store.clone(),
            mirror: watch::channel(Arc::new(Mirror::default())).1,
        };
        match this.publish(builtin).await {
            Ok(()) | Err(CatalogStoreError::Exists(_)) => Ok(store),
            Err(err) => Err(err),
        }
    }

    /// Stores a new version. Versions are immutable: publishing an existing name is refused.
    pub async fn publish(&self, catalog: &Catalog) -> Result<(), CatalogStoreError> {
        let version = &catalog.version;
        let valid = !version.is_empty()
            && version.len() <= 64
            && version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(CatalogStoreError::BadVersion(version.clone()));
        }
        let bytes = serde_json::to_vec(catalog).map_err(|e| CatalogStoreError::Store(e.into()))?;
        match self.store.create(names::catalog_key(version), bytes.into()).await {
            Ok(_) => Ok(()),
            Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
                Err(CatalogStoreError::Exists(version.clone()))
            }
            Err(err) => Err(CatalogStoreError::Store(err.into())),
        }
    }

    /// Waits until the local mirror holds every version stored so far.
    pub async fn sync(&self) -> Result<(), CatalogStoreError> {
        let last = crate::bus::bucket_state(&self.store)
            .await
            .map_err(|e| CatalogStoreError::Store(e.into()))?
            .last_revision;
        let mut mirror = self.mirror.clone();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            mirror.wait_for(|m| m.seen_revision >= last),
        )
        .await
        .map_err(|_| CatalogStoreError::Store("the catalog mirror did not catch up within 10 s".into()))?
        .map_err(|e| CatalogStoreError::Store(e.into()))?;
        Ok(())
    }

    /// The version in force at `at`: the latest `effective_from` on or before its date (ties: the
    /// later-published version). `None` only if every version takes effect later.
    pub fn in_force(&self, at: DateTime<Utc>) -> Option<Arc<Catalog>> {
        let day = at.date_naive();
        let mirror = self.mirror.borrow();
        // `versions` is in publication order, so `max_by_key` keeps the last of equal dates.
        mirror
            .versions
            .iter()
            .filter(|c| c.effective_from <= day)
            .max_by_key(|c| c.effective_from)
            .cloned()
    }

    /// The version in force at `at`, or an empty one if none is yet: every service then fails
    /// E5/K2, which is what "not in the catalog in force" means.
    pub fn in_force_or_empty(&self, at: DateTime<Utc>) -> Arc<Catalog> {
        self.in_force(at).unwrap_or_else(|| {
            Arc::new(Catalog {
                version: "none-in-force".into(),
                effective_from: at.date_naive(),
                services: Vec::new(),
            })
        })
    }

    /// A version by name (a decision names the version it used).
    pub fn version(&self, version: &str) -> Option<Arc<Catalog>> {
        self.mirror
            .borrow()
            .versions
            .iter()
            .find(|c| c.version == version)
            .cloned()
    }

    /// Every version, oldest publication first.
    pub fn all(&self) -> Vec<Arc<Catalog>> {
        self.mirror.borrow().versions.clone()
    }
}
