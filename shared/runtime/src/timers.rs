//! Durable timers: data on JetStream, not `tokio::sleep`.
//!
//! A timer is a key in its owner's bucket (`sandpiper_timers_{owner}`), written by a handler
//! before it acks the event that caused it, so a crash loses none. The owner's [`run`] loop mirrors
//! the bucket into a due-time index (no scan per tick), fires every timer whose due time has passed
//! on the system clock, instant by instant in due order (the timers of one instant concurrently,
//! one application's in order), and deletes it once its handler succeeded; a restart fires
//! what is left, and handlers publish events with ids derived from the timer, so a timer fired
//! twice (a crash between publishing and deleting) publishes a duplicate the stream drops.
//!
//! After each pass the loop records its progress in `sandpiper_timer_status` (`fired_through`,
//! `next_due`, the bucket revision it has seen). `POST /v1/clock/advance` reads those to step the
//! simulated clock from due time to due time and answer once everything due has fired.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_nats::jetstream::kv;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::names::{self, ServiceName};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use tracing::Instrument;

use crate::bus::{Bus, BusError};
use crate::clock::Clock;
use crate::handler::{Timer, TimerHandler};
use crate::health::Gate;
use crate::kv_follow;
use crate::shutdown::Shutdown;

/// An owner's progress, for the clock-advance barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerStatus {
    /// Every timer due at or before this time (on the system clock) has fired.
    pub fired_through: DateTime<Utc>,
    /// The earliest timer still pending.
    pub next_due: Option<DateTime<Utc>>,
    /// The owner's timer bucket revision the above accounts for.
    pub seen_revision: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TimerError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("timer {0:?}: ids are 1 to 200 of A-Z a-z 0-9 . _ -")]
    BadId(String),
    #[error("the timer store failed: {0}")]
    Store(#[source] crate::errors::BoxError),
}

/// Schedules an owner's timers.
#[derive(Clone)]
pub struct Timers {
    store: kv::Store,
}

impl Timers {
    pub async fn open(bus: &Bus, owner: ServiceName) -> Result<Timers, TimerError> {
        Ok(Timers {
            store: bus.bucket(&owner.timers_bucket(), 1, Duration::ZERO).await?,
        })
    }

    /// Stores (or replaces) a timer; it is durable when this returns.
    pub async fn schedule(&self, timer: &Timer) -> Result<(), TimerError> {
        let valid = !timer.id.is_empty()
            && timer.id.len() <= 200
            && timer
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(TimerError::BadId(timer.id.clone()));
        }
        let mut timer = timer.clone();
        if timer.traceparent.is_none() {
            timer.traceparent = crate::trace_context::current_traceparent();
        }
        let bytes = serde_json::to_vec(&timer).map_err(|e| TimerError::Store(e.into()))?;
        self.store
            .put(&timer.id, bytes.into())
            .await
            .map_err(|e| TimerError::Store(e.into()))?;
        Ok(())
    }

    /// Removes a timer (once fired, or when what it waited for is moot).
    pub async fn cancel(&self, id: &str) -> Result<(), TimerError> {
        // A delete, not a purge: the bucket keeps one revision per key anyway, and a delete is
        // a plain append where a purge makes the server rewrite the subject's index.
        self.store.delete(id).await.map_err(|e| TimerError::Store(e.into()))
    }
}

/// The kind of a timer, for span names: its id up to the application (`review`, `tranche2`, …).
fn timer_kind(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

/// The due-time index of one owner's pending timers.
#[derive(Default)]
struct Index {
    by_due: BTreeSet<(DateTime<Utc>, String)>,
    due_of: HashMap<String, Timer>,
    seen_revision: u64,
}

impl Index {
    fn put(&mut self, timer: Timer) {
        self.remove(&timer.id);
        self.by_due.insert((timer.due_at, timer.id.clone()));
        self.due_of.insert(timer.id.clone(), timer);
    }

    fn remove(&mut self, id: &str) {
        if let Some(old) = self.due_of.remove(id) {
            self.by_due.remove(&(old.due_at, old.id));
        }
    }

    /// Up to `limit` timers due at the earliest due instant, if it is at or before `now`.
    fn due_together(&self, now: DateTime<Utc>, limit: usize) -> Option<Vec<Timer>> {
        let (first, _) = self.by_due.first()?;
        if *first > now {
            return None;
        }
        Some(
            self.by_due
                .iter()
                .take_while(|(due, _)| due == first)
                .take(limit)
                .filter_map(|(_, id)| self.due_of.get(id).cloned())
                .collect(),
        )
    }

    fn first_due(&self, now: DateTime<Utc>) -> Option<Timer> {
        let (due, id) = self.by_due.first()?;
        if *due <= now {
            self.due_of.get(id).cloned()
        } else {
            None
        }
    }

    fn next_due(&self) -> Option<DateTime<Utc>> {
        self.by_due.first().map(|(due, _)| *due)
    }
}

/// Fires `owner`'s timers until `shutdown`. `running` opens once the index is loaded.
pub async fn run<H: TimerHandler>(
    bus: Bus,
    owner: ServiceName,
    clock: Clock,
    handler: H,
    shutdown: Shutdown,
    running: Gate,
) -> Result<(), TimerError> {
    let timers = Timers::open(&bus, owner).await?;
    let status_store = bus.bucket(names::TIMER_STATUS_BUCKET, 1, Duration::ZERO).await?;

    // Mirror the bucket into the index through a watch (history first, then changes).
    let (updates_tx, mut updates) = mpsc::unbounded_channel::<kv::Entry>();
    let watcher = kv_follow::follow(timers.store.clone(), ">".to_owned(), updates_tx);

    let mut index = Index::default();
    // Load every timer stored before start-up, then report ready and fire: firing from a
    // half-loaded index would fire a later timer before an earlier one not yet loaded.
    let stored_at_start = crate::bus::bucket_state(&timers.store)
        .await
        .map_err(|e| TimerError::Store(e.into()))?
        .last_revision;
    while index.seen_revision < stored_at_start {
        tokio::select! {
            () = shutdown.triggered() => {
                watcher.abort();
                return Ok(());
            }
            entry = updates.recv() => match entry {
                Some(entry) => apply(&mut index, entry),
                None => return Err(TimerError::Store("the timer watch ended".into())),
            },
            () = tokio::time::sleep(Duration::from_secs(10)) => {
                tracing::warn!(seen = index.seen_revision, stored_at_start, "still loading the timer index");
            }
        }
    }
    let mut last_status: Option<TimerStatus> = None;
    let mut clock_changes = clock.changes();
    running.set(true);
    while !shutdown.is_triggered() {
        // Take in every change the watch has delivered so far.
        while let Ok(entry) = updates.try_recv() {
            apply(&mut index, entry);
        }
        // The bucket's current revision: the index accounts for it once the watch delivered it.
        let stored_revision = match crate::bus::bucket_state(&timers.store).await {
            Ok(state) => state.last_revision,
            Err(_) => index.seen_revision,
        };

        let now = clock.now();
        // Timers due at the same instant fire concurrently (different applications at once, one
        // application's in id order); instants fire one after another, in time order.
        while let Some(batch) = index.due_together(now, FIRE_BATCH) {
            let fired = fire_batch(&handler, &timers, owner, batch).await;
            let complete = fired.iter().all(|(_, ok)| *ok);
            for (id, ok) in fired {
                if ok {
                    index.remove(&id);
                }
            }
            if !complete {
                break;
            }
        }
        crate::metrics::metrics()
            .timers_pending
            .get_or_create(&crate::metrics::labels(&[("service", owner.as_str())]))
            .set(i64::try_from(index.by_due.len()).unwrap_or(i64::MAX));
        // Only claim progress for changes the index has seen.
        let caught_up = index.seen_revision >= stored_revision;
        let status = TimerStatus {
            fired_through: if caught_up && index.first_due(now).is_none() {
                now
            } else {
                last_status.map(|s| s.fired_through).unwrap_or(DateTime::<Utc>::MIN_UTC)
            },
            next_due: index.next_due(),
            seen_revision: index.seen_revision,
        };
        if last_status != Some(status) {
            match serde_json::to_vec(&status) {
                Ok(bytes) => match status_store.put(owner.as_str(), bytes.into()).await {
                    Ok(_) => last_status = Some(status),
                    Err(err) => tracing::warn!(error = %err, "cannot record timer progress"),
                },
                Err(err) => tracing::warn!(error = %err, "cannot encode timer progress"),
            }
        }

        // Sleep until something can change the answer: a timer arrives, the clock moves, the
        // next timer falls due on the wall clock, or (after a failure) a short retry delay.
        let wait = if index.first_due(clock.now()).is_some() || !caught_up {
            Duration::from_millis(50)
        } else {
            match (clock.is_simulated(), index.next_due()) {
                (false, Some(due)) => (due - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(30)),
                _ => Duration::from_secs(30),
            }
        };
        tokio::select! {
            () = shutdown.triggered() => break,
            entry = updates.recv() => match entry {
                Some(entry) => apply(&mut index, entry),
                None => return Err(TimerError::Store("the timer watch ended".into())),
            },
            () = clock_changes.changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    watcher.abort();
    running.set(false);
    Ok(())
}

/// How many timers of one instant are taken at once.
const FIRE_BATCH: usize = 1024;
/// How many applications' timers fire at once. Each firing is a chain of flushed writes, so
/// throughput grows with the chains in flight until nats-server's streams saturate: over 10,000
/// applications the six-month advance took 20.0 s with 32, 15–17.5 s with 128, and 16.0 s with
/// 384, whose writes only queued three times longer (README "Performance").
const FIRE_CONCURRENCY: usize = 128;

/// Fires a batch of timers due at the same instant; returns each timer's id and whether it fired
/// and was removed from the store.
async fn fire_batch<H: TimerHandler>(
    handler: &H,
    timers: &Timers,
    owner: ServiceName,
    batch: Vec<Timer>,
) -> Vec<(String, bool)> {
    // A partner's own timers (no application) fire one after another, as one group.
    let mut by_application: HashMap<Option<ApplicationId>, Vec<Timer>> = HashMap::new();
    for timer in batch {
        by_application.entry(timer.application).or_default().push(timer);
    }
    futures::stream::iter(by_application.into_values())
        .map(|group| async move {
            let mut outcomes = Vec::with_capacity(group.len());
            let mut failed = false;
            for timer in group {
                let id = timer.id.clone();
                // After a failure the application's later timers wait, keeping their order.
                let ok = !failed && fire_one(handler, timers, owner, timer).await;
                failed |= !ok;
                outcomes.push((id, ok));
            }
            outcomes
        })
        .buffer_unordered(FIRE_CONCURRENCY)
        .flat_map(futures::stream::iter)
        .collect()
        .await
}

/// Fires one timer in its own span (a child of the span that scheduled it), then removes it.
async fn fire_one<H: TimerHandler>(handler: &H, timers: &Timers, owner: ServiceName, timer: Timer) -> bool {
    let id = timer.id.clone();
    let span = tracing::info_span!(
        "timer",
        otel.name = %format_args!("{owner} timer {}", timer_kind(&id)),
        otel.kind = "internal",
        service = owner.as_str(),
        timer = %id,
        application_id = %timer.application.map(|a| a.to_string()).unwrap_or_default(),
        due_at = %timer.due_at,
        trace_id = tracing::field::Empty,
    );
    let scheduled_by = timer
        .traceparent
        .as_deref()
        .map(crate::trace_context::from_traceparent)
        .unwrap_or_default();
    crate::trace_context::adopt(&span, scheduled_by);
    let fired = async {
        let kind = timer.kind::<H::Kind>()?;
        handler.fire(timer, kind).await
    };
    match fired.instrument(span).await {
        Ok(()) => {
            crate::metrics::metrics()
                .timers_fired
                .get_or_create(&crate::metrics::labels(&[("service", owner.as_str())]))
                .inc();
            match timers.cancel(&id).await {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!(timer = %id, error = %err, "a fired timer could not be removed; it may fire again (harmlessly)");
                    false
                }
            }
        }
        Err(err) => {
            tracing::warn!(timer = %id, error = %err.report(), "timer failed; retrying shortly");
            false
        }
    }
}

fn apply(index: &mut Index, entry: kv::Entry) {
    index.seen_revision = index.seen_revision.max(entry.revision);
    match entry.operation {
        kv::Operation::Put => match serde_json::from_slice::<Timer>(&entry.value) {
            Ok(timer) => index.put(timer),
            Err(err) => tracing::error!(key = %entry.key, error = %err, "ignoring an unreadable timer"),
        },
        kv::Operation::Delete | kv::Operation::Purge => index.remove(&entry.key),
    }
}

/// Reads every owner's progress.
pub async fn statuses(bus: &Bus) -> Result<Vec<(String, TimerStatus, u64)>, TimerError> {
    let store = bus.bucket(names::TIMER_STATUS_BUCKET, 1, Duration::ZERO).await?;
    let mut keys = store.keys().await.map_err(|e| TimerError::Store(e.into()))?;
    let mut out = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| TimerError::Store(e.into()))?;
        let Some(value) = store.get(&key).await.map_err(|e| TimerError::Store(e.into()))? else {
            continue;
        };
        let status: TimerStatus = serde_json::from_slice(&value).map_err(|e| TimerError::Store(e.into()))?;
        // The owner's bucket revision now, to tell whether its status accounts for every change.
        let bucket_revision = match ServiceName::ALL.iter().find(|s| s.as_str() == key) {
            Some(owner) => {
                let timers = Timers::open(bus, *owner).await?.store;
                crate::bus::bucket_state(&timers)
                    .await
                    .map_err(|e| TimerError::Store(e.into()))?
                    .last_revision
            }
            None => 0,
        };
        out.push((key, status, bucket_revision));
    }
    Ok(out)
}
