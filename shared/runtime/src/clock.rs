//! The one clock every service reads (CONTRACT §5).
//!
//! In `wall` mode it is the system time. In `simulated` mode the current time lives in a NATS
//! key-value bucket shared by all services: it starts at `SANDPIPER_CLOCK_START` the first time the
//! system runs (and keeps its value across restarts), and moves only through [`Clock::advance`].
//! Each service watches the key, so reading the time is a local, non-blocking call.

use std::sync::Arc;

use async_nats::jetstream::kv;
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use sandpiper_contracts::names;
use tokio::sync::watch;

use crate::bus::{Bus, BusError};
use crate::config::ClockMode;
use crate::errors::BoxError;
use crate::kv_follow;

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the simulated clock's stored time is unreadable: {0}")]
    Corrupt(#[source] BadTime),
    #[error("the simulated clock store failed: {0}")]
    Store(#[source] BoxError),
    #[error("the clock is the wall clock; only a simulated clock can be advanced")]
    NotSimulated,
    #[error("the clock can only move forward")]
    Backwards,
}

/// The system clock: cheap to clone, shared by a service's tasks.
#[derive(Clone)]
pub enum Clock {
    Wall,
    Simulated(Arc<SimulatedClock>),
}

/// The shared simulated time, mirrored locally from the key-value bucket.
pub struct SimulatedClock {
    store: kv::Store,
    current: watch::Receiver<DateTime<Utc>>,
}

impl Clock {
    /// Opens the clock of the given mode; a simulated one is created at `start` if the system has
    /// none yet, and otherwise continues from the stored time.
    pub async fn open(bus: &Bus, mode: ClockMode) -> Result<Clock, ClockError> {
        let start = match mode {
            ClockMode::Wall => return Ok(Clock::Wall),
            ClockMode::Simulated { start } => start,
        };
        let store = seed(bus, start).await?;
        let stored = read(&store).await?.map(|(time, _)| time).unwrap_or(start);
        let (sender, current) = watch::channel(stored);
        let (entries, mut updates) = tokio::sync::mpsc::unbounded_channel();
        kv_follow::follow(store.clone(), names::CLOCK_KEY.to_owned(), entries);
        // Follows the shared time until the process ends.
        tokio::spawn(async move {
            while let Some(entry) = updates.recv().await {
                match decode(&entry.value) {
                    Ok(time) => {
                        sender.send_if_modified(|now| {
                            let later = time > *now;
                            if later {
                                *now = time;
                            }
                            later
                        });
                    }
                    Err(err) => tracing::warn!(error = %err, "ignoring an unreadable simulated-clock update"),
                }
            }
        });
        Ok(Clock::Simulated(Arc::new(SimulatedClock { store, current })))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::Wall => Utc::now(),
            Clock::Simulated(sim) => *sim.current.borrow(),
        }
    }

    /// Notifications of the simulated clock moving (never, for the wall clock).
    pub fn changes(&self) -> ClockChanges {
        match self {
            Clock::Wall => ClockChanges(None),
            Clock::Simulated(sim) => ClockChanges(Some(sim.current.clone())),
        }
    }

    pub fn is_simulated(&self) -> bool {
        matches!(self, Clock::Simulated(_))
    }

    /// Moves the simulated clock forward by `by` for every service and returns the new time,
    /// once this process sees it. Concurrent advances compose (compare-and-set on the stored time).
    pub async fn advance(&self, by: Duration) -> Result<DateTime<Utc>, ClockError> {
        if by < Duration::zero() {
            return Err(ClockError::Backwards);
        }
        self.move_to(|now| now + by).await
    }

    /// Moves the simulated clock to `target` (or leaves it where it is, if already later).
    pub async fn advance_to(&self, target: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        self.move_to(|now| now.max(target)).await
    }

    async fn move_to(&self, to: impl Fn(DateTime<Utc>) -> DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let Clock::Simulated(sim) = self else {
            return Err(ClockError::NotSimulated);
        };
        let target = loop {
            let (now, revision) = read(&sim.store).await?.ok_or(ClockError::Corrupt(BadTime::Missing))?;
            let target = to(now);
            if target == now {
                break target;
            }
            match sim.store.update(names::CLOCK_KEY, encode(target), revision).await {
                Ok(_) => break target,
                Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(err) => return Err(ClockError::Store(err.into())),
            }
        };
        let mut current = sim.current.clone();
        current
            .wait_for(|now| *now >= target)
            .await
            .map_err(|e| ClockError::Store(e.into()))?;
        Ok(target)
    }
}

/// Waits for the clock to move.
pub struct ClockChanges(Option<watch::Receiver<DateTime<Utc>>>);

impl ClockChanges {
    /// Resolves when the simulated clock moves; never for the wall clock.
    pub async fn changed(&mut self) {
        let moved = match &mut self.0 {
            Some(receiver) => receiver.changed().await.is_ok(),
            None => false,
        };
        if !moved {
            std::future::pending::<()>().await;
        }
    }
}

fn encode(time: DateTime<Utc>) -> Bytes {
    Bytes::from(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Why the stored time cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BadTime {
    #[error("the clock key is missing")]
    Missing,
    #[error(transparent)]
    Utf8(#[from] std::str::Utf8Error),
    #[error("{text:?}: {source}")]
    Rfc3339 { text: String, source: chrono::ParseError },
}

fn decode(bytes: &[u8]) -> Result<DateTime<Utc>, BadTime> {
    let text = std::str::from_utf8(bytes)?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|source| BadTime::Rfc3339 {
            text: text.to_owned(),
            source,
        })
}

/// The clock's bucket, with the simulated time set to `start` if the system has none yet.
/// Provisioning seeds it ([`crate::provision`]); a service reads it first and writes only when it
/// finds none, so the services whose NATS user may only read the clock never try to write it.
pub async fn seed(bus: &Bus, start: DateTime<Utc>) -> Result<kv::Store, ClockError> {
    let store = bus.bucket(names::CLOCK_BUCKET, 1, std::time::Duration::ZERO).await?;
    if read(&store).await?.is_some() {
        return Ok(store);
    }
    let created = crate::bus::until_ready("the simulated clock's key", || {
        store.create(names::CLOCK_KEY, encode(start))
    })
    .await;
    match created {
        Ok(_) => Ok(store),
        Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => Ok(store),
        Err(err) => Err(ClockError::Store(err.into())),
    }
}

async fn read(store: &kv::Store) -> Result<Option<(DateTime<Utc>, u64)>, ClockError> {
    let entry = store
        .entry(names::CLOCK_KEY)
        .await
        .map_err(|e| ClockError::Store(e.into()))?;
    match entry {
        None => Ok(None),
        Some(entry) => Ok(Some((
            decode(&entry.value).map_err(ClockError::Corrupt)?,
            entry.revision,
        ))),
    }
}
