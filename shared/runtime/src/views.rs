//! The read model every deciding service keeps: one [`ApplicationRecord`] per application in the
//! `sandpiper_views` bucket, with a small [`Summary`] per application in `sandpiper_view_index`
//! for listings.
//!
//! The shape is cqrs-es's `ViewRepository`: a record is loaded with its bucket revision, an event
//! is folded in, and the record is written back only if the revision is unchanged (compare and
//! set); a writer that lost the race loads again, and finds the event folded or folds it anew.
//! Every writer folds the same events in stream order with the same fold, so it does not matter
//! which service folds an event first: the others find it already there.
//!
//! Who folds: whoever stores a guarded event (expected last sequence = the record's last, so
//! nothing can sit between) folds it at once: every service's effects ([`crate::effects`]) and
//! the intake's commands. A consumer of a service that keeps the read model makes the record hold
//! each event it receives before handling it ([`ViewStore::ensure`]): mostly one read that finds
//! it folded; the notifier's consumer does so for every event, which folds the event of a
//! publisher that crashed before its fold and is what the clock barrier waits for.
//!
//! The stream stays the source of truth. Reading an application back from it happens only in two
//! repair paths: [`ViewStore::rebuild`] (an event arrived out of stream order, or a record is
//! missing for an application that has events) and [`ViewStore::catch_up`] (a guarded publish
//! found events the record does not hold yet), which reads only the events after the record's
//! last one.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::names;
use sandpiper_contracts::record::{ApplicationRecord, Folded, Summary};
use sandpiper_contracts::subjects;

use crate::bus::{Bus, BusError};
use crate::history::{self, HistoryError};

/// How often a write that keeps losing its compare-and-set is tried before giving up (each
/// loss means another writer progressed, so this is only reached under a storm of writers).
const WRITE_ATTEMPTS: usize = 16;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ViewStoreError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the view store failed ({what})")]
    Store {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("the stored record of {key} is unreadable")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{key}: {WRITE_ATTEMPTS} writes in a row lost to other writers")]
    Contended { key: String },
    #[error("repairing the record from the stream failed")]
    History(#[from] HistoryError),
}

impl ViewStoreError {
    fn store(what: &'static str, source: impl Into<BoxError>) -> ViewStoreError {
        ViewStoreError::Store {
            what,
            source: source.into(),
        }
    }
}

/// A record as stored, with the bucket revision a write-back must still find (0: not stored).
#[derive(Debug, Clone)]
pub struct Stored {
    pub record: ApplicationRecord,
    revision: u64,
}

/// The read model's buckets.
#[derive(Clone)]
pub struct ViewStore {
    bus: Bus,
    views: kv::Store,
    index: kv::Store,
    /// How far each application's stored record is known (from this process's own reads and
    /// writes) to hold its events. Records only grow, and only by gap-free prefixes, so a record
    /// known to hold sequence `n` holds every earlier event of its application: [`Self::ensure`]
    /// then needs no read at all.
    known: std::sync::Arc<std::sync::Mutex<HashMap<ApplicationId, Known>>>,
}

/// What this process knows of an application's stored record.
#[derive(Debug, Clone, Default)]
struct Known {
    /// The record holds every event of the application up to this sequence.
    through: u64,
    /// The sequences among those the state machine refused (in the history, not in the view).
    refused: Vec<u64>,
}

/// Past this many applications the `known` map starts afresh (it is only a shortcut).
const KNOWN_LIMIT: usize = 100_000;

impl ViewStore {
    /// Opens (creating on first use) the views and index buckets.
    pub async fn open(bus: &Bus) -> Result<ViewStore, ViewStoreError> {
        Ok(ViewStore {
            bus: bus.clone(),
            views: bus.bucket(names::VIEWS_BUCKET, 1, Duration::ZERO).await?,
            index: bus.bucket(names::VIEW_INDEX_BUCKET, 1, Duration::ZERO).await?,
            known: std::sync::Arc::default(),
        })
    }

    fn note(&self, record: &ApplicationRecord) {
        let mut known = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.len() >= KNOWN_LIMIT {
            known.clear();
        }
        let entry = known.entry(record.id()).or_default();
        // Records only grow: the newest one seen says everything an older one did, and more.
        if record.last_sequence() >= entry.through {
            entry.through = record.last_sequence();
            entry.refused = record.events.iter().filter(|e| e.refused).map(|e| e.sequence).collect();
        }
    }

    fn known_through(&self, application: &ApplicationId) -> u64 {
        let known = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        known.get(application).map_or(0, |k| k.through)
    }

    /// Whether the application's record holds the event at `sequence` as refused by the state
    /// machine (recorded in its history, the view unchanged). Asked after [`Self::ensure`], so
    /// mostly answered from what that read or wrote; otherwise from one read.
    pub async fn refused(
        &self,
        partner: &PartnerId,
        application: &ApplicationId,
        sequence: u64,
    ) -> Result<bool, ViewStoreError> {
        {
            let known = self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(k) = known.get(application).filter(|k| k.through >= sequence) {
                return Ok(k.refused.contains(&sequence));
            }
        }
        Ok(self
            .load(partner, application)
            .await?
            .is_some_and(|stored| stored.record.events.iter().any(|e| e.sequence == sequence && e.refused)))
    }

    /// The index bucket, for readers that mirror every summary (the intake's listings).
    pub fn index(&self) -> &kv::Store {
        &self.index
    }

    /// Every summary of the partner's applications in the index, read once: it ends at the last
    /// one stored when asked (at once for a partner with none), never cut short by a timeout.
    /// An unreadable summary is left out, and logged.
    pub async fn partner_summaries(
        &self,
        partner: &PartnerId,
    ) -> Result<Vec<(ApplicationId, Summary)>, ViewStoreError> {
        let stored = crate::kv_follow::current(&self.bus.client, &self.index, &format!("{partner}.*"))
            .await
            .map_err(|e| ViewStoreError::store("reading a partner's summaries", e))?;
        let mut found = Vec::with_capacity(stored.len());
        for (key, value) in stored {
            let Some(id) = names::application_of_view_key(&key) else {
                continue;
            };
            match serde_json::from_slice::<Summary>(&value) {
                Ok(summary) => found.push((id, summary)),
                Err(err) => tracing::warn!(%key, error = %err, "skipping an unreadable summary"),
            }
        }
        Ok(found)
    }

    /// The application's record, as last stored (one direct read).
    pub async fn load(
        &self,
        partner: &PartnerId,
        application: &ApplicationId,
    ) -> Result<Option<Stored>, ViewStoreError> {
        let key = names::view_key(partner, application);
        let entry = self
            .views
            .entry(key.clone())
            .await
            .map_err(|e| ViewStoreError::store("reading a record", e))?;
        let Some(entry) = entry else { return Ok(None) };
        if !matches!(entry.operation, kv::Operation::Put) {
            return Ok(None);
        }
        let record: ApplicationRecord =
            serde_json::from_slice(&entry.value).map_err(|source| ViewStoreError::Corrupt { key, source })?;
        self.note(&record);
        Ok(Some(Stored {
            record,
            revision: entry.revision,
        }))
    }

    /// The record, rebuilt from the stream if the store has none although the stream has events
    /// (a store lost or created after the events): a repair path, taken once per application.
    pub async fn load_or_rebuild(
        &self,
        partner: &PartnerId,
        application: &ApplicationId,
    ) -> Result<Option<Stored>, ViewStoreError> {
        match self.load(partner, application).await? {
            Some(stored) => Ok(Some(stored)),
            None => Box::pin(self.rebuild(partner, application)).await,
        }
    }

    /// Makes the record hold the event stored at `sequence`. The publisher of a guarded event
    /// folds it itself, so this mostly finds it there, often without a read (`known`); a reader
    /// that arrives first folds it when the record ends at the event's `previous` sequence, and
    /// otherwise (its publisher crashed before folding) catches up.
    pub async fn ensure(
        &self,
        envelope: &Envelope,
        sequence: u64,
        previous: Option<u64>,
    ) -> Result<(), ViewStoreError> {
        let (partner, application) = (&envelope.partnerid, &envelope.subject);
        if self.known_through(application) >= sequence {
            return Ok(());
        }
        match self.load(partner, application).await? {
            Some(stored) if stored.record.events.iter().any(|e| e.sequence == sequence) => {}
            Some(stored) if previous == Some(stored.record.last_sequence()) => {
                self.fold(envelope, sequence).await?;
            }
            Some(stored) if stored.record.last_sequence() < sequence => {
                self.catch_up(stored).await?;
            }
            // The record is past the event without holding it: folded out of order.
            Some(_) => {
                Box::pin(self.rebuild(partner, application)).await?;
            }
            // No record: the application's first event starts one; anything else repairs it.
            None => {
                if ApplicationRecord::create(envelope, sequence).is_ok() {
                    self.fold(envelope, sequence).await?;
                } else {
                    Box::pin(self.rebuild(partner, application)).await?;
                }
            }
        }
        Ok(())
    }

    /// Folds an event stored at `sequence` into its application's record and returns the
    /// record. `None`: the application has no record and this event cannot start one.
    pub async fn fold(&self, envelope: &Envelope, sequence: u64) -> Result<Option<Stored>, ViewStoreError> {
        let (partner, application) = (&envelope.partnerid, &envelope.subject);
        for _ in 0..WRITE_ATTEMPTS {
            let mut stored = match self.load(partner, application).await? {
                Some(stored) => stored,
                None => match ApplicationRecord::create(envelope, sequence) {
                    Ok(record) => Stored { record, revision: 0 },
                    Err(err) => {
                        tracing::error!(application_id = %application, sequence, error = %err, "an event of an application with no record cannot start one; not folded");
                        return Ok(None);
                    }
                },
            };
            if stored.revision != 0 {
                let before = Summary::of(&stored.record.view);
                match stored.record.fold(envelope, sequence) {
                    Folded::Already => return Ok(Some(stored)),
                    Folded::OutOfOrder => {
                        tracing::warn!(application_id = %application, sequence, "an event arrived out of stream order; rebuilding the record");
                        return Box::pin(self.rebuild(partner, application)).await;
                    }
                    Folded::Refused(err) => {
                        tracing::error!(application_id = %application, event_id = %envelope.id, sequence, error = %err, "the state machine refuses the event; recorded in the history, not folded into the view");
                    }
                    Folded::Applied => {}
                }
                if self.write(&mut stored, Some(&before)).await? {
                    return Ok(Some(stored));
                }
            } else if self.write(&mut stored, None).await? {
                return Ok(Some(stored));
            }
        }
        Err(ViewStoreError::Contended {
            key: names::view_key(partner, application),
        })
    }

    /// Writes back a record into which this process folded events it stored with guarded
    /// publishes (`published`, oldest first; nothing sat between them), as one write. If another
    /// writer got there first, the events are folded through the store one by one instead.
    pub async fn write_published(
        &self,
        stored: &mut Stored,
        before: &Summary,
        published: &[(u64, Envelope)],
    ) -> Result<(), ViewStoreError> {
        let mut next = stored.clone();
        if self.write(&mut next, Some(before)).await? {
            *stored = next;
            return Ok(());
        }
        for (sequence, envelope) in published {
            if let Some(latest) = self.fold(envelope, *sequence).await? {
                *stored = latest;
            }
        }
        Ok(())
    }

    /// Writes `stored` back if its revision is still the bucket's (the index first, so a listing
    /// is never behind the view it finds). `false`: another writer won; load again.
    async fn write(&self, stored: &mut Stored, before: Option<&Summary>) -> Result<bool, ViewStoreError> {
        let key = names::view_key(stored.record.partner(), &stored.record.id());
        let summary = Summary::of(&stored.record.view);
        if before != Some(&summary) {
            let bytes = serde_json::to_vec(&summary).map_err(|e| ViewStoreError::store("encoding a summary", e))?;
            self.index
                .put(&key, Bytes::from(bytes))
                .await
                .map_err(|e| ViewStoreError::store("writing a summary", e))?;
        }
        let bytes = serde_json::to_vec(&stored.record).map_err(|e| ViewStoreError::store("encoding a record", e))?;
        let written = if stored.revision == 0 {
            match self.views.create(&key, Bytes::from(bytes)).await {
                Ok(revision) => Some(revision),
                Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => None,
                Err(err) => return Err(ViewStoreError::store("creating a record", err)),
            }
        } else {
            match self.views.update(&key, Bytes::from(bytes), stored.revision).await {
                Ok(revision) => Some(revision),
                Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => None,
                Err(err) => return Err(ViewStoreError::store("updating a record", err)),
            }
        };
        match written {
            Some(revision) => {
                stored.revision = revision;
                self.note(&stored.record);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Repair path: the record folded afresh from the application's whole history on the stream,
    /// written over whatever is stored.
    pub async fn rebuild(
        &self,
        partner: &PartnerId,
        application: &ApplicationId,
    ) -> Result<Option<Stored>, ViewStoreError> {
        let events = history::events(&self.bus, partner, application).await?;
        let Some(record) = ApplicationRecord::from_events(events.iter().map(|(seq, e)| (*seq, e))) else {
            return Ok(None);
        };
        tracing::info!(application_id = %application, events = events.len(), "record rebuilt from the stream");
        for _ in 0..WRITE_ATTEMPTS {
            let revision = self.load(partner, application).await?.map_or(0, |s| s.revision);
            let mut stored = Stored {
                record: record.clone(),
                revision,
            };
            if self.write(&mut stored, None).await? {
                return Ok(Some(stored));
            }
        }
        Err(ViewStoreError::Contended {
            key: names::view_key(partner, application),
        })
    }

    /// Repair path: folds the events stored after the record's last one (found with direct gets
    /// by subject from that sequence on, not by reading the history again) and writes it back.
    pub async fn catch_up(&self, stored: Stored) -> Result<Stored, ViewStoreError> {
        let (partner, application) = (stored.record.partner().clone(), stored.record.id());
        let stream = self.bus.events_handle().await?;
        let filter = subjects::events_of_application(&partner, &application);
        let mut latest = stored;
        let mut from = latest.record.last_sequence() + 1;
        loop {
            let message = match stream.direct_get_next_for_subject(&filter, Some(from)).await {
                Ok(message) => message,
                Err(err) if err.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound => break,
                Err(err) => return Err(ViewStoreError::store("reading the events after a record", err)),
            };
            from = message.sequence + 1;
            let envelope =
                Envelope::from_json(&message.payload).map_err(|e| ViewStoreError::store("decoding an event", e))?;
            if let Some(folded) = self.fold(&envelope, message.sequence).await? {
                latest = folded;
            }
        }
        Ok(latest)
    }

    /// The application's events, oldest first, each fetched by its stream sequence.
    pub async fn history(&self, record: &ApplicationRecord) -> Result<Vec<(u64, Envelope)>, ViewStoreError> {
        let stream = self.bus.events_handle().await?;
        let fetches = record.events.iter().map(|event| {
            let stream = stream.clone();
            async move {
                let message = stream
                    .direct_get(event.sequence)
                    .await
                    .map_err(|e| ViewStoreError::store("reading an event by sequence", e))?;
                let envelope =
                    Envelope::from_json(&message.payload).map_err(|e| ViewStoreError::store("decoding an event", e))?;
                Ok::<_, ViewStoreError>((event.sequence, envelope))
            }
        });
        futures::future::try_join_all(fetches).await
    }
}
