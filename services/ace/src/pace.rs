//! Keeping within Partner Central's quotas: every call takes a slot of its class (read or write)
//! first, at most the per-second quota, and at most the daily quota per UTC day (past it, the call
//! waits for the next day: work is delayed, never dropped). A throttled call backs off with full
//! jitter before it takes a new slot.
//!
//! The slots are this process's: one connector replica per partner account keeps the account
//! within its quotas (the Deployment runs one, `strategy: Recreate`).

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use rand::Rng;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::Quotas;

/// Partner Central's two quota classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `Get*`, `List*`.
    Read,
    /// Everything else: `Create*`, `Start*`, `Submit*`, `Recall*`, `Cancel*`, `Update*`.
    Write,
}

/// A little more than the quota's interval, so that clock granularity on either side never makes
/// two calls look closer than the quota allows.
const MARGIN: Duration = Duration::from_millis(25);

struct Lane {
    interval: Duration,
    next: Instant,
    per_day: u32,
    day: NaiveDate,
    used_today: u32,
}

impl Lane {
    fn new(per_second: u32, per_day: u32) -> Lane {
        Lane {
            interval: Duration::from_secs(1) / per_second.max(1) + MARGIN,
            next: Instant::now(),
            per_day: per_day.max(1),
            day: Utc::now().date_naive(),
            used_today: 0,
        }
    }

    /// Reserves the next slot; how long to wait for it.
    fn reserve(&mut self) -> Duration {
        let now = Instant::now();
        let today = Utc::now().date_naive();
        if today != self.day {
            self.day = today;
            self.used_today = 0;
        }
        let mut slot = self.next.max(now);
        if self.used_today >= self.per_day {
            // The day's quota is spent: the next slot is tomorrow's first (UTC).
            let midnight = today
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 1))
                .map(|t| t.and_utc());
            let until = midnight
                .and_then(|t| (t - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(60));
            slot = slot.max(now + until);
            self.day = today.succ_opt().unwrap_or(today);
            self.used_today = 0;
        }
        self.used_today += 1;
        self.next = slot + self.interval;
        slot.saturating_duration_since(now)
    }
}

/// The connector's pacing of its calls.
pub struct Pacer {
    reads: Mutex<Lane>,
    writes: Mutex<Lane>,
}

impl Pacer {
    pub fn new(quotas: Quotas) -> Pacer {
        Pacer {
            reads: Mutex::new(Lane::new(quotas.reads_per_second, quotas.reads_per_day)),
            writes: Mutex::new(Lane::new(quotas.writes_per_second, quotas.writes_per_day)),
        }
    }

    /// Waits for a slot of `class`.
    pub async fn slot(&self, class: Class) {
        let wait = match class {
            Class::Read => self.reads.lock().await.reserve(),
            Class::Write => self.writes.lock().await.reserve(),
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// How long to wait before try `attempt` (1 for the first retry) after throttling: exponential
/// from one second up to `max`, with full jitter, so that many waiting calls spread out.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    let ceiling = Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)))
        .min(max);
    let jittered = rand::rng().random_range(0.0..=1.0) * ceiling.as_secs_f64();
    // At least a quarter of a second: a zero wait would spin against a throttled API.
    Duration::from_secs_f64(jittered.max(0.25))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn writes_are_spaced_a_second_apart_and_reads_a_tenth() {
        let pacer = Pacer::new(Quotas::default());
        let start = Instant::now();
        for _ in 0..3 {
            pacer.slot(Class::Write).await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(2050), "{elapsed:?}");
        let start = Instant::now();
        for _ in 0..11 {
            pacer.slot(Class::Read).await;
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(1000), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_day_waits_for_the_next() {
        let quotas = Quotas {
            writes_per_day: 2,
            ..Quotas::default()
        };
        let pacer = Pacer::new(quotas);
        pacer.slot(Class::Write).await;
        pacer.slot(Class::Write).await;
        let start = Instant::now();
        pacer.slot(Class::Write).await;
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "the third write waits for tomorrow"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let max = Duration::from_secs(8);
        for attempt in 1..20 {
            let wait = backoff(attempt, max);
            assert!(wait >= Duration::from_millis(250) && wait <= max, "{attempt}: {wait:?}");
        }
        assert!(backoff(1, max) <= Duration::from_secs(1));
    }
}
