//! The weekly digest (#15): a subscription may ask for the coming week's agenda of its partner's
//! applications, posted on a weekday at an hour in an IANA timezone, to Slack (Block Kit) or as
//! one CloudEvent ([`DigestEvent`]).
//!
//! A digest is a durable timer of the notifier's (a partner's own, on no application), due on the
//! system clock, so a simulated advance produces digests as it passes their hours. Firing one
//! reads the agenda from the read model (the same rules as `GET /v1/agenda`), queues one delivery
//! (its id derived from the subscription and the occurrence, so a timer fired twice queues a
//! duplicate the deliveries stream drops and the receiver sees the same delivery id), and sets
//! the next occurrence's timer before the fired one is removed. A deleted subscription's timer
//! finds no subscription when it fires, and ends there.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sandpiper_contracts::agenda::{AgendaDigest, DIGEST_EVENT_TYPE, DigestEvent};
use sandpiper_contracts::ids::EventId;
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::handler::{HandlerError, PartnerTimerKind, Timer, TimerHandler, TimerPayloadError};
use sandpiper_runtime::timers::{TimerError, Timers};
use sandpiper_runtime::views::ViewStore;
use serde::{Deserialize, Serialize};

use crate::fanout::{Message, QueuedDelivery};
use crate::portfolio;
use crate::subscriptions::{Subscription, SubscriptionStore};

/// The days a digest covers.
pub const DAYS: i64 = 7;

/// How often a digest goes out: weekly, the one cadence there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Weekly,
}

/// A day of the week, spelled out in lower case (`monday`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    fn chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Monday => chrono::Weekday::Mon,
            Weekday::Tuesday => chrono::Weekday::Tue,
            Weekday::Wednesday => chrono::Weekday::Wed,
            Weekday::Thursday => chrono::Weekday::Thu,
            Weekday::Friday => chrono::Weekday::Fri,
            Weekday::Saturday => chrono::Weekday::Sat,
            Weekday::Sunday => chrono::Weekday::Sun,
        }
    }
}

/// When a subscription's digest goes out, as asked: `{"cadence": "weekly", "weekday": "monday",
/// "hour": 9, "timezone": "Europe/Berlin"}`. Only `cadence` is required: Monday, 09:00, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSchedule {
    pub cadence: Cadence,
    #[serde(default = "default_weekday")]
    pub weekday: Weekday,
    /// The local hour, 0 to 23.
    #[serde(default = "default_hour")]
    pub hour: u8,
    /// An IANA timezone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_weekday() -> Weekday {
    Weekday::Monday
}

fn default_hour() -> u8 {
    9
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

impl DigestSchedule {
    /// What is wrong with it, by field (`digest.hour`, `digest.timezone`).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.hour > 23 {
            out.push(("digest.hour", "an hour of the day, 0 to 23".to_owned()));
        }
        if self.timezone.parse::<Tz>().is_err() {
            out.push((
                "digest.timezone",
                format!(
                    "{:?} is not an IANA timezone name (e.g. Europe/Berlin, America/New_York, UTC)",
                    self.timezone
                ),
            ));
        }
        out
    }

    fn tz(&self) -> Tz {
        zone(&self.timezone)
    }

    /// The first occurrence strictly after `after`: the next `weekday` at `hour`:00 local time.
    /// An hour a clock change skips goes out at the first local time after the gap; an hour it
    /// repeats, at its first occurrence.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        let tz = self.tz();
        let today = after.with_timezone(&tz).date_naive();
        // Two weeks of days always hold the next one; the fallback is never reached.
        (0..15)
            .filter_map(|d| today.checked_add_signed(Duration::days(d)))
            .filter(|day| day.weekday() == self.weekday.chrono())
            .map(|day| local_hour(&tz, day, self.hour))
            .find(|at| *at > after)
            .unwrap_or(after + Duration::days(DAYS))
    }
}

/// `hour`:00 on `day` in `tz`, as an instant.
/// A digest's IANA timezone. Checked at creation ([`DigestSchedule::problems`]); a stored one that
/// no longer reads (a name dropped from the database) goes out in UTC rather than not at all.
pub(crate) fn zone(name: &str) -> Tz {
    name.parse::<Tz>().unwrap_or(Tz::UTC)
}

fn local_hour(tz: &Tz, day: NaiveDate, hour: u8) -> DateTime<Utc> {
    let Some(naive) = day.and_hms_opt(u32::from(hour.min(23)), 0, 0) else {
        return day.and_time(chrono::NaiveTime::MIN).and_utc();
    };
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        // In a gap (spring forward): the same wall time an hour on, past the gap of every zone
        // that has one of at most an hour; failing that, the hour read as UTC.
        LocalResult::None => match tz.from_local_datetime(&(naive + Duration::hours(1))) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
            LocalResult::None => naive.and_utc(),
        },
    }
}

/// The digest timer: one occurrence of one subscription's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestDue {
    pub subscription: String,
    /// The occurrence (also the timer's due time).
    pub at: DateTime<Utc>,
}

impl PartnerTimerKind for DigestDue {
    fn timer_id(&self) -> String {
        format!("digest.{}.{}", self.subscription, self.at.format("%Y%m%dT%H%M%SZ"))
    }
}

/// Why a digest's timer could not be made or stored.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("subscription id {0:?} is not an event id")]
    SubscriptionId(String),
    #[error(transparent)]
    Payload(#[from] TimerPayloadError),
    #[error(transparent)]
    Timer(#[from] TimerError),
}

impl From<DigestError> for HandlerError {
    fn from(err: DigestError) -> HandlerError {
        match err {
            DigestError::Timer(err) => HandlerError::from(err),
            _ => HandlerError::permanent(err),
        }
    }
}

/// The timer of `subscription`'s next digest after `after`, if it has a digest.
pub fn next_timer(subscription: &Subscription, after: DateTime<Utc>) -> Result<Option<Timer>, DigestError> {
    let Some(schedule) = &subscription.digest else {
        return Ok(None);
    };
    // What the digest's ids derive from: the subscription, whose id is an event id from birth.
    let cause = EventId::parse(&subscription.id).map_err(|_| DigestError::SubscriptionId(subscription.id.clone()))?;
    let at = schedule.next_after(after);
    let due = DigestDue {
        subscription: subscription.id.clone(),
        at,
    };
    Ok(Some(Timer::for_partner(&due, at, &subscription.partner, cause)?))
}

/// Schedules `subscription`'s first digest after `now` (none without a digest) and says when it
/// is due; once this returns, the digest goes out even if the notifier stops now.
pub async fn schedule_first(
    timers: &Timers,
    subscription: &Subscription,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DigestError> {
    let Some(timer) = next_timer(subscription, now)? else {
        return Ok(None);
    };
    timers.schedule(&timer).await?;
    Ok(Some(timer.due_at))
}

/// Fires the notifier's digest timers.
pub struct DigestClock {
    pub bus: Bus,
    pub views: ViewStore,
    pub subscriptions: SubscriptionStore,
    pub timers: Timers,
    pub clock: Clock,
}

impl DigestClock {
    pub async fn open(
        bus: Bus,
        views: ViewStore,
        subscriptions: SubscriptionStore,
        clock: Clock,
    ) -> Result<DigestClock, TimerError> {
        let timers = Timers::open(&bus, ServiceName::Notifier).await?;
        Ok(DigestClock {
            bus,
            views,
            subscriptions,
            timers,
            clock,
        })
    }
}

impl TimerHandler for DigestClock {
    type Kind = DigestDue;

    async fn fire(&self, timer: Timer, due: DigestDue) -> Result<(), HandlerError> {
        // A subscription created through another replica may not be in this copy yet.
        self.subscriptions.catch_up().await.map_err(HandlerError::transient)?;
        let Some(subscription) = self.subscriptions.get(&due.subscription) else {
            tracing::info!(subscription = %due.subscription, "the subscription is gone; its digests end");
            return Ok(());
        };
        let Some(schedule) = &subscription.digest else {
            return Ok(());
        };
        // Late (the notifier was down), the digest covers the week from now, not a past one.
        let now = self.clock.now().max(due.at);
        let to = now + Duration::days(DAYS);
        let items = portfolio::agenda_between(&self.views, &subscription.partner, now, now, to).await?;
        let event = DigestEvent {
            specversion: "1.0".to_owned(),
            id: EventId::derived(&timer.cause, &timer.id),
            source: ServiceName::Notifier.event_source(),
            event_type: DIGEST_EVENT_TYPE.to_owned(),
            subject: subscription.partner.clone(),
            time: now,
            datacontenttype: "application/json".to_owned(),
            partnerid: subscription.partner.clone(),
            data: AgendaDigest {
                subscription_id: subscription.id.clone(),
                from: now,
                to,
                timezone: schedule.timezone.clone(),
                items,
            },
        };
        let queued = QueuedDelivery {
            id: event.id,
            subscription: subscription.id.clone(),
            message: Message::Digest { digest: event },
        };
        crate::fanout::queue(&self.bus, &queued).await?;
        tracing::info!(subscription = %subscription.id, at = %due.at, "digest queued");
        // The next one is durable before this one's timer is removed.
        if let Some(next) = next_timer(&subscription, due.at)? {
            self.timers.schedule(&next).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(weekday: Weekday, hour: u8, timezone: &str) -> DigestSchedule {
        DigestSchedule {
            cadence: Cadence::Weekly,
            weekday,
            hour,
            timezone: timezone.into(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_next_occurrence_is_the_weekday_and_hour_in_the_timezone() {
        // 2026-03-02 is a Monday.
        for (schedule, after, next) in [
            (
                schedule(Weekday::Monday, 9, "UTC"),
                "2026-03-02T08:59:59Z",
                "2026-03-02T09:00:00Z",
            ),
            // At the hour itself: the next week's (strictly after).
            (
                schedule(Weekday::Monday, 9, "UTC"),
                "2026-03-02T09:00:00Z",
                "2026-03-09T09:00:00Z",
            ),
            (
                schedule(Weekday::Friday, 17, "UTC"),
                "2026-03-02T10:00:00Z",
                "2026-03-06T17:00:00Z",
            ),
            // Berlin in winter is UTC+1, in summer UTC+2.
            (
                schedule(Weekday::Monday, 9, "Europe/Berlin"),
                "2026-03-02T00:00:00Z",
                "2026-03-02T08:00:00Z",
            ),
            (
                schedule(Weekday::Monday, 9, "Europe/Berlin"),
                "2026-06-01T00:00:00Z",
                "2026-06-01T07:00:00Z",
            ),
            // New York, Sunday 20:00 local is Monday 01:00 UTC in winter (EST; Sunday 03-01 19:00
            // local is before it) and Monday 00:00 UTC after 03-08's change (EDT).
            (
                schedule(Weekday::Sunday, 20, "America/New_York"),
                "2026-03-02T00:00:00Z",
                "2026-03-02T01:00:00Z",
            ),
            (
                schedule(Weekday::Sunday, 20, "America/New_York"),
                "2026-03-02T01:00:00Z",
                "2026-03-09T00:00:00Z",
            ),
            // Tokyo is ahead: its Monday 07:00 is the Sunday before at 22:00 UTC.
            (
                schedule(Weekday::Monday, 7, "Asia/Tokyo"),
                "2026-03-01T00:00:00Z",
                "2026-03-01T22:00:00Z",
            ),
        ] {
            assert_eq!(schedule.next_after(at(after)), at(next), "{schedule:?} after {after}");
        }
    }

    #[test]
    fn clock_changes_keep_the_local_hour() {
        let berlin = schedule(Weekday::Sunday, 9, "Europe/Berlin");
        // Europe springs forward on 2026-03-29: 09:00 is UTC+1 the Sunday before, UTC+2 on it.
        let before = berlin.next_after(at("2026-03-21T00:00:00Z"));
        assert_eq!(before, at("2026-03-22T08:00:00Z"));
        assert_eq!(berlin.next_after(before), at("2026-03-29T07:00:00Z"));
        // An hour the change skips (02:00 on that Sunday) goes out at 03:00 local, right after.
        let skipped = schedule(Weekday::Sunday, 2, "Europe/Berlin");
        assert_eq!(
            skipped.next_after(at("2026-03-28T12:00:00Z")),
            at("2026-03-29T01:00:00Z")
        );
        // An hour it repeats (02:00 on 2026-10-25) goes out at its first occurrence.
        let repeated = schedule(Weekday::Sunday, 2, "Europe/Berlin");
        assert_eq!(
            repeated.next_after(at("2026-10-24T12:00:00Z")),
            at("2026-10-25T00:00:00Z")
        );
    }

    #[test]
    fn a_schedule_names_its_problems_by_field() {
        assert!(schedule(Weekday::Monday, 9, "Europe/Berlin").problems().is_empty());
        let fields: Vec<&str> = schedule(Weekday::Monday, 24, "Mars/Olympus")
            .problems()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["digest.hour", "digest.timezone"]);
        let defaults: DigestSchedule = serde_json::from_str(r#"{"cadence": "weekly"}"#).unwrap();
        assert_eq!(defaults, schedule(Weekday::Monday, 9, "UTC"));
        assert!(serde_json::from_str::<DigestSchedule>(r#"{"cadence": "daily"}"#).is_err());
        assert!(serde_json::from_str::<DigestSchedule>(r#"{"cadence": "weekly", "weekday": "mon"}"#).is_err());
    }

    #[test]
    fn an_occurrence_has_one_timer_id() {
        let due = DigestDue {
            subscription: "01JABCDEFGHJKMNPQRSTVWXYZ0".into(),
            at: at("2026-03-02T08:00:00Z"),
        };
        assert_eq!(due.timer_id(), "digest.01JABCDEFGHJKMNPQRSTVWXYZ0.20260302T080000Z");
    }
}
