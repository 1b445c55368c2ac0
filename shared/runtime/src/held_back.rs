//! Which applications have an event handed back for redelivery, so their later events wait
//! behind it (#13 item 10).
//!
//! The consumer loop retries a failing event in place a few times while its application's lane
//! waits; after that it hands the event back to the server with a long backoff and frees the
//! lane. Without this record, the application's next events would be handled meanwhile and a
//! receiver would hear `submitted` before the `drafted` it follows. With it, an event whose
//! application has an earlier event out is handed back too (briefly, so it returns soon after
//! that one is done), and the held events go through strictly in stream order.
//!
//! The record lives in the replica's memory: it keeps order for what this replica pulled. An
//! entry that does not come back (another replica took it, or it was acknowledged by a process
//! that died) is forgotten after [`HeldBack::FORGET_AFTER`], so it never holds an application
//! back for good.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the consumer does with an event now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Handle it: no earlier event of its application is out.
    Go,
    /// An earlier event of its application is out: hand this one back to wait behind it.
    Wait,
}

/// The events handed back, by application, each with when it was last seen.
#[derive(Debug, Default)]
pub(crate) struct HeldBack {
    by_application: Mutex<HashMap<String, BTreeMap<u64, Instant>>>,
}

impl HeldBack {
    /// How long an event handed back is waited for: its redelivery backoff, the ack wait of a
    /// replica that takes it and dies, and some slack. Past that it is forgotten.
    pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(90);

    /// Whether the event at `sequence` of `application` may be handled now. An event later than
    /// one held back is itself held back (and so waits in stream order behind it).
    pub(crate) fn turn(&self, application: &str, sequence: u64, now: Instant) -> Turn {
        let mut held = self.lock();
        let Some(events) = held.get_mut(application) else {
            return Turn::Go;
        };
        events.retain(|_, seen| now.duration_since(*seen) < Self::FORGET_AFTER);
        let turn = match events.first_key_value() {
            Some((&first, _)) if first < sequence => {
                events.insert(sequence, now);
                Turn::Wait
            }
            _ => Turn::Go,
        };
        if events.is_empty() {
            held.remove(application);
        }
        turn
    }

    /// The event was handed back (it failed, or waits behind another): later ones wait for it.
    pub(crate) fn handed_back(&self, application: &str, sequence: u64, now: Instant) {
        self.lock()
            .entry(application.to_owned())
            .or_default()
            .insert(sequence, now);
    }

    /// The event is done with (acknowledged, or dead-lettered and terminated).
    pub(crate) fn done(&self, application: &str, sequence: u64) {
        let mut held = self.lock();
        if let Some(events) = held.get_mut(application) {
            events.remove(&sequence);
            if events.is_empty() {
                held.remove(application);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<u64, Instant>>> {
        // The map stays consistent whatever panicked while holding it: every change is one call.
        self.by_application
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "sandpiper.v1.events.acme.01J0000000000000000000000A";
    const OTHER: &str = "sandpiper.v1.events.acme.01J0000000000000000000000B";

    #[test]
    fn nothing_held_back_lets_every_event_go() {
        let held = HeldBack::default();
        let now = Instant::now();
        assert_eq!(held.turn(APP, 5, now), Turn::Go);
        assert_eq!(held.turn(APP, 6, now), Turn::Go);
    }

    #[test]
    fn a_handed_back_event_holds_its_applications_later_events_in_stream_order() {
        let held = HeldBack::default();
        let now = Instant::now();
        held.handed_back(APP, 5, now);
        // `submitted` and `classified` arrive while `drafted` is out: both wait.
        assert_eq!(held.turn(APP, 6, now), Turn::Wait);
        assert_eq!(held.turn(APP, 7, now), Turn::Wait);
        // Another application is not held back.
        assert_eq!(held.turn(OTHER, 8, now), Turn::Go);
        // 7 comes back before 6 and before 5: it waits again.
        assert_eq!(held.turn(APP, 7, now), Turn::Wait);
        // 5 comes back: its turn; done.
        assert_eq!(held.turn(APP, 5, now), Turn::Go);
        held.done(APP, 5);
        // 7 again before 6: still behind 6.
        assert_eq!(held.turn(APP, 7, now), Turn::Wait);
        assert_eq!(held.turn(APP, 6, now), Turn::Go);
        held.done(APP, 6);
        assert_eq!(held.turn(APP, 7, now), Turn::Go);
        held.done(APP, 7);
        assert!(held.lock().is_empty(), "nothing left behind");
    }

    #[test]
    fn an_event_handed_back_again_keeps_holding() {
        let held = HeldBack::default();
        let now = Instant::now();
        held.handed_back(APP, 5, now);
        assert_eq!(held.turn(APP, 5, now), Turn::Go);
        // It failed again: handed back again, the later one still waits.
        held.handed_back(APP, 5, now);
        assert_eq!(held.turn(APP, 6, now), Turn::Wait);
    }

    #[test]
    fn an_event_that_never_comes_back_is_forgotten() {
        let held = HeldBack::default();
        let then = Instant::now();
        held.handed_back(APP, 5, then);
        assert_eq!(held.turn(APP, 6, then), Turn::Wait);
        let later = then + HeldBack::FORGET_AFTER + Duration::from_secs(1);
        // 5 went to another replica and never returned here; 6's own entry is refreshed as it
        // waits, so once 5 is forgotten 6 is the first and goes.
        held.handed_back(APP, 6, later);
        assert_eq!(held.turn(APP, 6, later), Turn::Go);
        held.done(APP, 6);
        assert_eq!(held.turn(APP, 7, later), Turn::Go);
    }
}
