//! The agenda (issue #15): what falls due across a partner's applications, each item naming its
//! application, its kind and the rules that make it due, with what it will decide. The items are
//! derived by `sandpiper_rules::agenda` from the view alone; the API pages them and the calendar
//! feeds render them (sessions as timed events, the rest as all-day events).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::events::EventType;
use crate::ids::{ApplicationId, EventId, PartnerId};
use crate::rule::RuleId;

macro_rules! agenda_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What an agenda item is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum AgendaKind { $($(#[$doc])* $variant,)* }

        impl AgendaKind {
            pub const ALL: &'static [AgendaKind] = &[$(AgendaKind::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(AgendaKind::$variant => $name,)* }
            }

            pub fn parse(name: &str) -> Option<AgendaKind> {
                match name { $($name => Some(AgendaKind::$variant),)* _ => None }
            }
        }
    };
}

agenda_kinds! {
    /// An office-hours session (OH1, OH3): a timed event.
    OfficeHours => "office_hours",
    /// The mid-window check-in: tranche 2 released or withheld (TR3), the clawback-risk check (TR8).
    MidWindow => "mid_window",
    /// The window closes: the decision owed (G1, TR5), or the clawback of an unused balance (TR6).
    WindowClose => "window_close",
    /// A reminder that the team's decision is still owed (G1).
    DecisionOwed => "decision_owed",
    /// The closing session's feedback summary, still owed to the service team (OH6, G3).
    FeedbackOwed => "feedback_owed",
    /// The grace period ends: the balance stops serving consumption (TR5, G4).
    GraceEnd => "grace_end",
    /// Validity ends: the balance left expires (TR4).
    Expiry => "expiry",
}

/// Whether the item still happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Scheduled,
    /// A session that no longer happens (the engagement retired or clawed back): the agenda leaves
    /// it out, the calendar feeds keep it as `STATUS:CANCELLED` so subscribed calendars drop it.
    Canceled,
}

/// One thing a checkpoint will store when it falls due, as the scheduler's rules decide it for
/// the application as it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    /// The event it will store.
    pub event: EventType,
    /// The amount it moves (a tranche, a clawback, an expiry), when it moves one.
    pub amount_usd: Option<i64>,
    pub rules: Vec<RuleId>,
    /// Why, in the words the event will carry.
    pub reason: String,
}

/// One item of the agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgendaItem {
    /// Stable within the application: the session id (`kickoff`, `ad-hoc-1`, …) for a session,
    /// `due.{what}` for the rest. With the application id, the calendar event's UID.
    pub id: String,
    pub application_id: ApplicationId,
    pub startup_name: String,
    pub service: String,
    pub kind: AgendaKind,
    /// When it falls due (a session's start).
    pub at: DateTime<Utc>,
    /// A session's end; null for the rest.
    pub ends_at: Option<DateTime<Utc>>,
    pub rules: Vec<RuleId>,
    /// One line a partner can read.
    pub title: String,
    /// What it will decide, for a checkpoint of the scheduler (empty for the rest).
    pub decides: Vec<Outcome>,
    /// The money at stake: a clawback, the balance at the grace end, the balance that will expire.
    pub amount_usd: Option<i64>,
    /// For `decision_owed`: the reminder's number.
    pub reminder: Option<u32>,
    /// A session's participants (OH2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    /// A session's feedback notes (OH6), as `date: note`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<String>,
    pub status: ItemStatus,
}

impl AgendaItem {
    /// A session is a timed event; everything else is a deadline (an all-day event).
    pub fn is_session(&self) -> bool {
        self.kind == AgendaKind::OfficeHours
    }
}

/// The CloudEvents `type` of a weekly digest.
pub const DIGEST_EVENT_TYPE: &str = "dev.sandpiper.agenda_digest.v1";

/// A subscription's weekly digest as one CloudEvent: the coming week's agenda of the partner's
/// applications, as it stood when the digest fell due on the system clock. It is no
/// application's event (so not an `Envelope`): its `subject` is the partner, and it is not on
/// the event stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DigestEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Stable for the subscription and the occurrence: a digest sent again has the same id.
    pub id: EventId,
    /// `/sandpiper/notifier`.
    pub source: String,
    /// [`DIGEST_EVENT_TYPE`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// The partner whose portfolio it covers.
    pub subject: PartnerId,
    /// When it fell due (the subscription's weekday and hour in its timezone), on the system clock.
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub partnerid: PartnerId,
    pub data: AgendaDigest,
}

/// What a digest holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgendaDigest {
    /// The subscription it was sent for.
    pub subscription_id: String,
    /// The week covered: `[from, to)`, `from` the time it fell due.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The subscription's IANA timezone, for showing the times as the partner reads them.
    pub timezone: String,
    /// What falls due in the week, in time order (as `GET /v1/agenda?from=&to=` answers).
    pub items: Vec<AgendaItem>,
}
