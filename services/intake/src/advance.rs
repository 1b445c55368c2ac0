//! `POST /v1/clock/advance`: move the simulated clock and answer only once everything due up to
//! the new time has happened.
//!
//! The clock steps from due time to due time (the earliest pending timer of any owner), so timers
//! fire in time order across services and applications, and a timer that causes another (an
//! approval scheduling credits) is honoured within the same advance. After each step the bus must
//! settle: every durable consumer has handled everything on the stream, every timer owner has
//! fired all it holds up to the step, and the stream stopped growing meanwhile.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::clock::{Clock, ClockError};
use sandpiper_runtime::errors::BoxError;
use sandpiper_runtime::timers;

/// How long one advance step may go without progress before it gives up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The first wait between two looks at the bus; each look is about ten JetStream API requests
/// (consumer and stream info, the timer owners' progress), which nats-server answers with the
/// same CPU the services need to get the work done, so a step that keeps the bus busy is looked
/// at less and less often, up to [`POLL_MAX`]: a short step still settles within milliseconds, a
/// long one pays at most that much latency at its end.
const POLL: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(50);

/// Why one step of an advance failed.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error("the clock store failed: {0}")]
    Clock(#[source] ClockError),
    /// Why the system is still busy (a consumer behind, a timer owner not done).
    #[error("the system did not settle within {SETTLE_TIMEOUT:?}: {0}")]
    NotSettled(String),
    #[error("NATS did not answer: {0}")]
    Bus(#[source] BoxError),
}

/// An advance that stopped short of its target: where the clock got to, and why.
#[derive(Debug, thiserror::Error)]
#[error("the clock moved no further than {reached}: {cause}")]
pub struct Stalled {
    pub reached: DateTime<Utc>,
    #[source]
    pub cause: AdvanceError,
}

/// Advances to `target` step by step; returns the stream sequence everything reached.
pub async fn advance_to(bus: &Bus, clock: &Clock, target: DateTime<Utc>) -> Result<u64, Stalled> {
    step_to(bus, clock, target).await.map_err(|cause| Stalled {
        reached: clock.now(),
        cause,
    })
}

async fn step_to(bus: &Bus, clock: &Clock, target: DateTime<Utc>) -> Result<u64, AdvanceError> {
    loop {
        settle(bus, clock.now()).await?;
        let next = earliest_due(bus).await?;
        let step = match next {
            Some(due) if due <= target && due > clock.now() => due,
            _ => target,
        };
        clock.advance_to(step).await.map_err(AdvanceError::Clock)?;
        let reached = settle(bus, step).await?;
        if step >= target {
            return Ok(reached);
        }
    }
}

async fn earliest_due(bus: &Bus) -> Result<Option<DateTime<Utc>>, AdvanceError> {
    let statuses = timers::statuses(bus).await.map_err(|e| AdvanceError::Bus(e.into()))?;
    Ok(statuses.iter().filter_map(|(_, status, _)| status.next_due).min())
}

/// Waits until the system has done everything due at `now`; returns the stream's last sequence.
/// Gives up only after [`SETTLE_TIMEOUT`] without progress (no new event stored, no fewer events
/// outstanding): a large cohort may take longer than that to settle, a stuck service does not.
async fn settle(bus: &Bus, now: DateTime<Utc>) -> Result<u64, AdvanceError> {
    let mut deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut why = String::new();
    let mut last_progress: Option<(u64, u64)> = None;
    let mut poll = POLL;
    while Instant::now() < deadline {
        let before = last_sequence(bus).await?;
        match busy(bus, now).await? {
            Some((reason, outstanding)) => {
                let progressed = last_progress.is_none_or(|(sequence, was)| before > sequence || outstanding < was);
                if progressed {
                    deadline = Instant::now() + SETTLE_TIMEOUT;
                }
                last_progress = Some((before, outstanding));
                why = reason;
            }
            None => {
                if last_sequence(bus).await? == before {
                    return Ok(before);
                }
                deadline = Instant::now() + SETTLE_TIMEOUT;
                why = "events are still being published".into();
            }
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(POLL_MAX);
    }
    Err(AdvanceError::NotSettled(why))
}

/// What is still at work, if anything, and how many events the consumers still owe.
async fn busy(bus: &Bus, now: DateTime<Utc>) -> Result<Option<(String, u64)>, AdvanceError> {
    let stream = bus.events_stream().await.map_err(|e| AdvanceError::Bus(e.into()))?;
    let mut consumers = stream.consumers();
    while let Some(info) = consumers.next().await {
        let info = info.map_err(|e| AdvanceError::Bus(e.into()))?;
        // Only the services' durable consumers do work; ordered readers (projections) do not.
        if info.config.durable_name.is_none() {
            continue;
        }
        if info.num_pending > 0 || info.num_ack_pending > 0 {
            let outstanding = info.num_pending + info.num_ack_pending as u64;
            return Ok(Some((
                format!(
                    "consumer {} has {} pending and {} unacknowledged events",
                    info.name, info.num_pending, info.num_ack_pending
                ),
                outstanding,
            )));
        }
    }
    for (owner, status, bucket_revision) in timers::statuses(bus).await.map_err(|e| AdvanceError::Bus(e.into()))? {
        if status.seen_revision < bucket_revision || status.fired_through < now {
            return Ok(Some((
                format!("sandpiper-{owner} has not fired its timers up to {now} (is it running?)"),
                u64::MAX,
            )));
        }
    }
    Ok(None)
}

async fn last_sequence(bus: &Bus) -> Result<u64, AdvanceError> {
    let stream = bus.events_stream().await.map_err(|e| AdvanceError::Bus(e.into()))?;
    let info = stream.get_info().await.map_err(|e| AdvanceError::Bus(e.into()))?;
    Ok(info.state.last_sequence)
}
