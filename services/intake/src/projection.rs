//! The intake's read side, over the read model of [`sandpiper_runtime::views`].
//!
//! - A view is read from `sandpiper_views` when asked for (one direct read), so memory does not
//!   grow with the applications and a restart replays nothing.
//! - Listings and the credit position filter an in-memory index of every application's
//!   [`Summary`] (state, pool, service, account: about 200 bytes each), mirrored from
//!   `sandpiper_view_index`; start-up reads those summaries, never the event history.
//! - Before the intake reports ready it reads a sample of records spread over the index
//!   ([`Projection::warm_up`]): nats-server loads a bucket's blocks on their first read, which
//!   after its own start or a burst of writes held the first second of reads up to 100 ms and
//!   more (README "Performance"); the sample pays that before traffic arrives, not during it.
//! - A command folds its own event at once, so its answer, and the replica's index, already
//!   include it (a client reads its own writes). Every service writes a cause's record back
//!   before acking the cause, so a crash in between is repaired when the cause is redelivered;
//!   a command whose request died between its publish and its fold leaves the record behind
//!   until the next command on the application, whose guard fails (409) and catches it up.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::record::{ApplicationRecord, Summary};
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::health::Gate;
use sandpiper_runtime::shutdown::Shutdown;
use sandpiper_runtime::views::{Stored, ViewStore, ViewStoreError};
use tokio::sync::mpsc;

/// The summaries, indexed for the API's reads.
#[derive(Default)]
struct Index {
    by_id: HashMap<ApplicationId, Summary>,
    /// Ids in creation order (ULIDs sort by time) per partner: listing and cursor paging.
    by_partner: HashMap<PartnerId, BTreeSet<ApplicationId>>,
    /// Ids in creation order across partners, for admin listings.
    all: BTreeSet<ApplicationId>,
}

impl Index {
    fn put(&mut self, id: ApplicationId, summary: Summary) {
        self.by_partner
            .entry(summary.partner_id.clone())
            .or_default()
            .insert(id);
        self.all.insert(id);
        self.by_id.insert(id, summary);
    }
}

/// Which applications a listing wants.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub partner: Option<PartnerId>,
    pub state: Option<State>,
    /// The decided pool, or the filed programme until classification.
    pub pool: Option<Programme>,
    pub service: Option<String>,
    /// Lower-cased text the startup name must contain.
    pub startup_name: Option<String>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
}

impl Filter {
    fn matches(&self, summary: &Summary) -> bool {
        self.state.is_none_or(|s| s == summary.state) && self.matches_but_state(summary)
    }

    /// Everything but the state: what the per-state counts are counted over.
    fn matches_but_state(&self, summary: &Summary) -> bool {
        self.pool.is_none_or(|p| p == summary.pool)
            && self
                .service
                .as_ref()
                .is_none_or(|s| summary.service.as_ref() == Some(s))
            && self.startup_name.as_ref().is_none_or(|q| {
                summary
                    .startup_name
                    .as_ref()
                    .is_some_and(|name| name.to_lowercase().contains(q.as_str()))
            })
    }
}

/// A page of a listing.
pub struct Page {
    pub items: Vec<ApplicationView>,
    /// The id to continue after, when more may follow.
    pub next: Option<ApplicationId>,
    /// Matching applications per state, the state filter aside.
    pub counts: BTreeMap<State, usize>,
}

/// How many records [`Projection::warm_up`] reads at most: spread evenly over the index, enough
/// to touch every block of the views bucket (a block holds a few thousand records) at any size.
const WARM_UP_READS: usize = 1_000;
/// How many of those are in flight at once.
const WARM_UP_CONCURRENCY: usize = 32;
/// The warm-up never holds readiness back longer than this: it only saves latency.
const WARM_UP_LIMIT: Duration = Duration::from_secs(3);

/// At most `at_most` of `items`, every n-th from the first, so they spread over the whole.
fn spread<I: ExactSizeIterator>(items: I, at_most: usize) -> std::iter::StepBy<I> {
    let step = items.len().div_ceil(at_most.max(1)).max(1);
    items.step_by(step)
}

/// The read model as the API reads it.
pub struct Projection {
    views: ViewStore,
    index: RwLock<Index>,
}

impl Projection {
    pub fn new(views: ViewStore) -> Projection {
        Projection {
            views,
            index: RwLock::new(Index::default()),
        }
    }

    pub fn views(&self) -> &ViewStore {
        &self.views
    }

    /// The partner an application belongs to, as the index knows it.
    pub fn partner_of(&self, id: &ApplicationId) -> Option<PartnerId> {
        self.read(|index| index.by_id.get(id).map(|s| s.partner_id.clone()))
    }

    /// The application's record, as stored (one direct read).
    pub async fn get(&self, partner: &PartnerId, id: &ApplicationId) -> Result<Option<Stored>, ViewStoreError> {
        self.views.load_or_rebuild(partner, id).await
    }

    /// A page of applications in creation order, after `cursor`.
    pub async fn list(
        &self,
        filter: &Filter,
        cursor: Option<ApplicationId>,
        limit: usize,
    ) -> Result<Page, ViewStoreError> {
        let (ids, more, counts) = self.read(|index| {
            let scope = || -> Box<dyn DoubleEndedIterator<Item = &ApplicationId>> {
                match &filter.partner {
                    Some(partner) => match index.by_partner.get(partner) {
                        Some(ids) => Box::new(ids.iter()),
                        None => Box::new(std::iter::empty()),
                    },
                    None => Box::new(index.all.iter()),
                }
            };
            let ordered: Box<dyn Iterator<Item = &ApplicationId>> = if filter.newest_first {
                Box::new(scope().rev().filter(|id| cursor.is_none_or(|c| **id < c)))
            } else {
                Box::new(scope().filter(|id| cursor.is_none_or(|c| **id > c)))
            };
            let mut matching = ordered
                .filter_map(|id| index.by_id.get(id).map(|s| (*id, s.partner_id.clone(), s)))
                .filter(|(_, _, summary)| filter.matches(summary))
                .map(|(id, partner, _)| (id, partner));
            let ids: Vec<(ApplicationId, PartnerId)> = matching.by_ref().take(limit).collect();
            let more = matching.next().is_some();
            let mut counts = BTreeMap::new();
            for summary in scope().filter_map(|id| index.by_id.get(id)) {
                if filter.matches_but_state(summary) {
                    *counts.entry(summary.state).or_insert(0) += 1;
                }
            }
            (ids, more, counts)
        });
        let items = self.load_all(&ids).await?;
        let next = if more { ids.last().map(|(id, _)| *id) } else { None };
        Ok(Page { items, next, counts })
    }

    /// Every application naming an AWS account, of one partner (or all, for an admin).
    pub async fn for_account(
        &self,
        partner: Option<&PartnerId>,
        account: &str,
    ) -> Result<Vec<ApplicationView>, ViewStoreError> {
        let ids: Vec<(ApplicationId, PartnerId)> = self.read(|index| {
            index
                .by_id
                .iter()
                .filter(|(_, s)| partner.is_none_or(|p| *p == s.partner_id))
                .filter(|(_, s)| s.aws_account_id.as_deref() == Some(account))
                .map(|(id, s)| (*id, s.partner_id.clone()))
                .collect()
        });
        self.load_all(&ids).await
    }

    /// Every application of one partner (or all, for an admin) that has had credits applied
    /// (active or after): the ones with an agenda and a calendar.
    pub async fn engaged(&self, partner: Option<&PartnerId>) -> Result<Vec<ApplicationView>, ViewStoreError> {
        let ids = self.engaged_ids(partner);
        self.load_all(&ids).await
    }

    /// The records of one partner's engaged applications ([`Projection::engaged`]), in creation order.
    pub async fn engaged_records(&self, partner: &PartnerId) -> Result<Vec<Stored>, ViewStoreError> {
        let ids = self.engaged_ids(Some(partner));
        let loads = ids.iter().map(|(id, partner)| self.views.load(partner, id));
        let loaded = futures::future::try_join_all(loads).await?;
        Ok(loaded.into_iter().flatten().collect())
    }

    fn engaged_ids(&self, partner: Option<&PartnerId>) -> Vec<(ApplicationId, PartnerId)> {
        self.ids_where(partner, |s| sandpiper_rules::agenda::engaged(s.state))
    }

    /// The applications of one partner (or all) whose summary satisfies `keep`, in creation order.
    fn ids_where(
        &self,
        partner: Option<&PartnerId>,
        keep: impl Fn(&Summary) -> bool,
    ) -> Vec<(ApplicationId, PartnerId)> {
        self.read(|index| {
            let ids: Box<dyn Iterator<Item = &ApplicationId>> = match partner {
                Some(partner) => match index.by_partner.get(partner) {
                    Some(ids) => Box::new(ids.iter()),
                    None => Box::new(std::iter::empty()),
                },
                None => Box::new(index.all.iter()),
            };
            ids.filter_map(|id| index.by_id.get(id).map(|s| (*id, s)))
                .filter(|(_, s)| keep(s))
                .map(|(id, s)| (id, s.partner_id.clone()))
                .collect()
        })
    }

    /// Every application of one partner (or all, for an admin) with a review forecast
    /// (`review = ace`): what the forecast's calibration is measured over.
    pub async fn forecasted(&self, partner: Option<&PartnerId>) -> Result<Vec<ApplicationView>, ViewStoreError> {
        let ids = self.ids_where(partner, |s| s.forecast);
        self.load_all(&ids).await
    }

    /// The views of `ids`, read concurrently, in the order given.
    async fn load_all(&self, ids: &[(ApplicationId, PartnerId)]) -> Result<Vec<ApplicationView>, ViewStoreError> {
        let loads = ids.iter().map(|(id, partner)| self.views.load(partner, id));
        let loaded = futures::future::try_join_all(loads).await?;
        Ok(loaded.into_iter().flatten().map(|s| s.record.view).collect())
    }

    /// Takes a record this replica just wrote into its index (the watch would bring it a moment
    /// later): a listing right after a command includes it.
    pub fn note(&self, record: &ApplicationRecord) {
        let summary = Summary::of(&record.view);
        let mut index = self.index.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        index.put(record.id(), summary);
    }

    fn read<T>(&self, f: impl FnOnce(&Index) -> T) -> T {
        // A poisoned lock means an update panicked mid-way; each update is one insert, so the
        // index is still whole: keep serving it.
        let index = self.index.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&index)
    }

    fn apply(&self, entry: kv::Entry) {
        if !matches!(entry.operation, kv::Operation::Put) {
            return;
        }
        let Some(id) = sandpiper_contracts::names::application_of_view_key(&entry.key) else {
            tracing::warn!(key = %entry.key, "an index key names no application; skipped");
            return;
        };
        match serde_json::from_slice::<Summary>(&entry.value) {
            Ok(summary) => {
                let mut index = self.index.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                index.put(id, summary);
            }
            Err(err) => tracing::error!(key = %entry.key, error = %err, "an index entry is unreadable; skipped"),
        }
    }

    /// Reads up to [`WARM_UP_READS`] records spread evenly over the index (every n-th
    /// application in creation order), so nats-server has loaded the views bucket's blocks
    /// before the first request needs one; gives up after [`WARM_UP_LIMIT`]. A read that fails is
    /// only logged: warming saves latency, it decides nothing. Returns how many were read.
    pub async fn warm_up(&self) -> usize {
        let sample: Vec<(PartnerId, ApplicationId)> = self.read(|index| {
            spread(index.all.iter(), WARM_UP_READS)
                .filter_map(|id| Some((index.by_id.get(id)?.partner_id.clone(), *id)))
                .collect()
        });
        let started = std::time::Instant::now();
        let reads = futures::stream::iter(sample)
            .map(|(partner, id)| async move {
                let read = self.views.load(&partner, &id).await;
                if let Err(err) = &read {
                    tracing::warn!(application_id = %id, error = %err, "a warm-up read failed");
                }
                read.is_ok()
            })
            .buffer_unordered(WARM_UP_CONCURRENCY)
            .take_until(tokio::time::sleep(WARM_UP_LIMIT))
            .filter(|read| std::future::ready(*read))
            .count()
            .await;
        tracing::info!(reads, elapsed_ms = started.elapsed().as_millis(), "read model warmed");
        reads
    }

    /// Mirrors the index bucket until `shutdown`; `loaded` opens once every summary stored at
    /// start-up is in and the read model is warmed ([`Projection::warm_up`]).
    pub async fn follow_index(&self, shutdown: Shutdown, loaded: Gate) {
        let store = self.views.index().clone();
        let target = loop {
            match sandpiper_runtime::bus::bucket_state(&store).await {
                Ok(state) => break state.last_revision,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the index bucket; retrying");
                    tokio::select! {
                        () = shutdown.triggered() => return,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        };
        let (tx, mut entries) = mpsc::unbounded_channel();
        let watcher = sandpiper_runtime::kv_follow::follow(store, ">".to_owned(), tx);
        if target == 0 {
            loaded.set(true);
        }
        loop {
            tokio::select! {
                () = shutdown.triggered() => break,
                entry = entries.recv() => {
                    let Some(entry) = entry else { break };
                    let revision = entry.revision;
                    self.apply(entry);
                    if revision >= target && !loaded.is_open() {
                        tracing::info!(revision, "application index loaded");
                        self.warm_up().await;
                        loaded.set(true);
                    }
                }
            }
        }
        watcher.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(len: usize, at_most: usize) -> Vec<usize> {
        spread(0..len, at_most).collect()
    }

    #[test]
    fn the_warm_up_sample_spreads_over_every_application_and_stays_within_its_size() {
        // Fewer than the limit: every one of them.
        assert_eq!(taken(7, 1_000), (0..7).collect::<Vec<_>>());
        assert_eq!(taken(1_000, 1_000).len(), 1_000);
        assert!(taken(0, 1_000).is_empty());
        // More: every n-th from the first, reaching into the last stretch, never over the limit.
        for len in [1_001, 2_500, 200_000, 1_000_003] {
            let sample = taken(len, 1_000);
            let step = len.div_ceil(1_000);
            assert!(sample.len() <= 1_000, "{len}: {} taken", sample.len());
            assert_eq!(sample.first(), Some(&0));
            assert!(
                sample.last().is_some_and(|last| last + step >= len),
                "{len}: the last stretch is left out"
            );
            assert!(sample.windows(2).all(|pair| pair[1] - pair[0] == step));
        }
    }
}
