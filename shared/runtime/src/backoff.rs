//! Backing off a loop that keeps failing: exponential with jitter, capped, reset on success.
//!
//! The consumer loops pull again as soon as a pull ends. When every pull fails at once (a stream
//! or consumer leader lost: "503 no responders"), that is a hot loop, logging thousands of
//! failures a second and flooding the server the moment it returns. Each loop keeps a [`Backoff`]
//! instead: after a failure it waits [`Backoff::failed`], which doubles up to the cap, and a
//! success ([`Backoff::succeeded`]) starts it over.

use std::time::Duration;

use rand::Rng;

/// The policy of the pull loops: 100 ms after the first failure, doubling to at most 3 s.
pub const PULL: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(3));

/// The policy of a service waiting at start-up for NATS and JetStream: 250 ms doubling to 5 s.
pub const STARTUP: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));

/// Consecutive failures and the delay each one earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Waits `base` after the first failure, twice that after the second, ... at most `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, failures: 0 }
    }

    /// The failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts a failure; how long to wait before trying again.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.delay(rand::rng().random_range(0.0..=1.0))
    }

    /// Counts a success: the next failure waits `base` again.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The delay after the failures counted, for a `jitter` in `[0, 1]`: between half and all
    /// of `base * 2^(failures - 1)` capped at `cap` (equal jitter: replicas failing together do
    /// not retry in lockstep, and no retry comes much sooner than the backoff promises).
    fn delay(&self, jitter: f64) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(31);
        let full = self.base.saturating_mul(1u32 << doublings).min(self.cap);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_doubles_to_the_cap_with_jitter_and_resets_on_success() {
        let mut backoff = PULL;
        let mut full = Vec::new();
        for _ in 0..10 {
            let waited = backoff.failed();
            let most = backoff.delay(1.0);
            assert!(
                waited >= backoff.delay(0.0) && waited <= most,
                "{waited:?} outside the jitter"
            );
            assert_eq!(backoff.delay(0.0), most / 2);
            full.push(most.as_millis());
        }
        assert_eq!(full, [100, 200, 400, 800, 1600, 3000, 3000, 3000, 3000, 3000]);
        assert_eq!(backoff.failures(), 10);

        backoff.succeeded();
        assert_eq!(backoff.failures(), 0);
        backoff.failed();
        assert_eq!(backoff.delay(1.0), Duration::from_millis(100));
    }

    #[test]
    fn a_storm_of_failures_waits_seconds_not_microseconds() {
        // What the hot loop did ~7,000 times a second: fail, retry at once. With the policy,
        // two seconds of an outage hold at most a handful of attempts.
        let mut backoff = PULL;
        let mut elapsed = Duration::ZERO;
        let mut attempts = 0;
        while elapsed < Duration::from_secs(2) {
            attempts += 1;
            elapsed += backoff.failed();
        }
        assert!(attempts <= 8, "{attempts} attempts in 2 s");

        let mut huge = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        for _ in 0..100 {
            assert!(huge.failed() <= Duration::from_secs(5));
        }
    }
}
