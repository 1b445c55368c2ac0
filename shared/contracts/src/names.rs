//! Names of the JetStream stream, consumers and key-value buckets, and of the services.
//! Like subjects, these are spelled here and nowhere else.

use std::fmt;

use crate::events::EventType;

/// The one stream holding every event: the source of truth (CONTRACT §3).
pub const EVENTS_STREAM: &str = "SANDPIPER_EVENTS";

/// Idempotency records of `POST /v1/applications` (`Idempotency-Key`), shared by intake replicas.
pub const IDEMPOTENCY_BUCKET: &str = "sandpiper_idempotency";

/// The key of an `Idempotency-Key` record in [`IDEMPOTENCY_BUCKET`]: the partner (keys are per
/// partner) and a digest of the client's key (any client key becomes a valid bucket key).
pub fn idempotency_key(partner: &crate::ids::PartnerId, key_digest: &str) -> String {
    format!("{partner}.{key_digest}")
}

/// The simulated clock's current time (CONTRACT §5), shared by every service.
pub const CLOCK_BUCKET: &str = "sandpiper_clock";

/// Every published version of the emerging-service catalog (K4), one key per version.
pub const CATALOG_BUCKET: &str = "sandpiper_catalog";

/// The key of a catalog version in [`CATALOG_BUCKET`].
pub fn catalog_key(version: &str) -> String {
    format!("v.{version}")
}

/// Each timer owner's progress (`fired_through`, `next_due`, what it has seen), read by
/// `POST /v1/clock/advance` to know when every due timer has fired.
pub const TIMER_STATUS_BUCKET: &str = "sandpiper_timer_status";

/// The read model: one [`crate::record::ApplicationRecord`] per application, kept by every
/// service that decides from application state (CONTRACT §3's events folded in stream order).
pub const VIEWS_BUCKET: &str = "sandpiper_views";

/// A small summary per application (state, pool, service, account) for listings, so a reader
/// can index every application without loading every view.
pub const VIEW_INDEX_BUCKET: &str = "sandpiper_view_index";

/// The key of an application in [`VIEWS_BUCKET`] and [`VIEW_INDEX_BUCKET`].
pub fn view_key(partner: &crate::ids::PartnerId, application: &crate::ids::ApplicationId) -> String {
    format!("{partner}.{application}")
}

/// The application a [`view_key`] names, if it names one.
pub fn application_of_view_key(key: &str) -> Option<crate::ids::ApplicationId> {
    key.rsplit('.')
        .next()
        .and_then(|id| crate::ids::ApplicationId::parse(id).ok())
}

/// The header a guarded publish carries: the stream sequence of the application's event it
/// follows (its expected last subject sequence). A reader whose record ends there folds the event
/// at once; one that does not knows its record is behind and catches up.
pub const PREVIOUS_SEQUENCE_HEADER: &str = "Sandpiper-Previous-Sequence";

/// Calendar feeds (issue #15): one key per feed id ([`calendar_feed_key`]), each holding the
/// feed's owner, scope and the SHA-256 of its token (never the token).
pub const CALENDAR_FEEDS_BUCKET: &str = "sandpiper_calendar_feeds";

/// The key of a feed in [`CALENDAR_FEEDS_BUCKET`].
pub fn calendar_feed_key(id: &str) -> String {
    format!("feed.{id}")
}

/// The web console's signed-in sessions (issue #14): one key per session, the SHA-256 of the
/// session cookie (never the cookie), holding the principal, the CSRF token and the expiry. The
/// bucket's max age is the session lifetime, so an abandoned session disappears on its own.
pub const CONSOLE_SESSIONS_BUCKET: &str = "sandpiper_console_sessions";

/// The key of a session in [`CONSOLE_SESSIONS_BUCKET`], from its cookie's digest.
pub fn console_session_key(digest_hex: &str) -> String {
    format!("session.{digest_hex}")
}

/// The ACE connector's filings (issue #17): which application each Partner Central id belongs to,
/// one key per id ([`ace_filing_key`]), so what AWS answers about an opportunity or a benefit
/// application finds its application without a scan.
pub const ACE_FILINGS_BUCKET: &str = "sandpiper_ace_filings";

/// The key of a Partner Central id (`opportunity` or `benefit`, and AWS's id) in
/// [`ACE_FILINGS_BUCKET`].
pub fn ace_filing_key(kind: &str, aws_id: &str) -> String {
    format!("{kind}.{aws_id}")
}

/// The ACE connector's polling cursors: the newest `LastModifiedDate` / `UpdatedAt` AWS has
/// answered, per catalog and API, so a restart resumes where it stopped.
pub const ACE_CURSORS_BUCKET: &str = "sandpiper_ace_cursors";

/// Webhook and Slack subscriptions (the notifier's), one key per subscription id.
pub const SUBSCRIPTIONS_BUCKET: &str = "sandpiper_subscriptions";

/// Which partner each Slack workspace acts for (an admin's mapping, the notifier's Slack app):
/// one key per Slack team id.
pub const SLACK_WORKSPACES_BUCKET: &str = "sandpiper_slack_workspaces";

/// When each Slack webhook may next receive a message, shared by every notifier replica (Slack
/// takes about one message a second per channel); one key per destination.
pub const DELIVERY_PACE_BUCKET: &str = "sandpiper_delivery_pace";

/// A destination's key in [`DELIVERY_PACE_BUCKET`]: a digest, as URLs hold characters keys may
/// not (and a webhook URL is a secret not to be spelled out in a key).
pub fn delivery_pace_key(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Deliveries waiting for their subscriber, one subject per subscription.
pub const DELIVERIES_STREAM: &str = "SANDPIPER_DELIVERIES";

/// Deliveries that ran out of retries, with their last error, until an admin redrives them.
pub const DEAD_LETTERS_STREAM: &str = "SANDPIPER_DEAD_LETTERS";

/// The durable consumer that works one subscription's deliveries.
pub fn delivery_consumer(subscription: &str) -> String {
    format!("delivery-{subscription}")
}

/// The key holding the simulated time in [`CLOCK_BUCKET`].
pub const CLOCK_KEY: &str = "now";

/// The services. The name is the CloudEvents `source` suffix, the durable consumer name and the
/// binary's suffix (`sandpiper-<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceName {
    Intake,
    Classifier,
    Reviewer,
    Scheduler,
    Notifier,
    /// The ACE connector (issue #17): files in AWS Partner Central; off unless configured.
    Ace,
}

impl ServiceName {
    pub const ALL: [ServiceName; 6] = [
        ServiceName::Intake,
        ServiceName::Classifier,
        ServiceName::Reviewer,
        ServiceName::Scheduler,
        ServiceName::Notifier,
        ServiceName::Ace,
    ];

    /// The five that every deployment runs; [`ServiceName::Ace`] runs only where it is configured.
    pub const CORE: [ServiceName; 5] = [
        ServiceName::Intake,
        ServiceName::Classifier,
        ServiceName::Reviewer,
        ServiceName::Scheduler,
        ServiceName::Notifier,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Intake => "intake",
            ServiceName::Classifier => "classifier",
            ServiceName::Reviewer => "reviewer",
            ServiceName::Scheduler => "scheduler",
            ServiceName::Notifier => "notifier",
            ServiceName::Ace => "ace",
        }
    }

    /// The CloudEvents `source` of the events this service publishes.
    pub fn event_source(self) -> String {
        format!("/sandpiper/{}", self.as_str())
    }

    /// The bucket holding this service's durable timers (one bucket per owner, so an owner's
    /// watch sees exactly its own timers).
    pub fn timers_bucket(self) -> String {
        format!("sandpiper_timers_{}", self.as_str())
    }

    /// The durable pull consumer this service's replicas share: two replicas of one service
    /// split its work, they never both process one event.
    pub fn durable_consumer(self) -> String {
        format!("sandpiper-{}", self.as_str())
    }

    /// The event types this service's durable consumer takes: what provisioning creates the
    /// consumer with ([`ServiceName::durable_consumer`]), before the service runs and under
    /// another user, so no service can widen what it reads. A service's handler wants a subset
    /// (the ACE connector ignores `ace_status_changed` unless AWS decides reviews); the intake
    /// consumes nothing (it reads the read model).
    pub fn consumes(self) -> &'static [EventType] {
        match self {
            ServiceName::Intake => &[],
            ServiceName::Classifier => &[EventType::Submitted],
            ServiceName::Reviewer => &[EventType::Classified, EventType::Recalled],
            ServiceName::Scheduler => &[EventType::Approved, EventType::ConcernRecorded, EventType::Retired],
            ServiceName::Notifier => EventType::ALL,
            ServiceName::Ace => &[
                EventType::Submitted,
                EventType::Recalled,
                EventType::Canceled,
                EventType::AceStatusChanged,
            ],
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
