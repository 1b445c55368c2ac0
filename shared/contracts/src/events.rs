//! Events (CONTRACT §3): their types, their payloads and the CloudEvents 1.0 envelope.
//!
//! [`EventPayload`] ties a payload type to its [`EventType`] at compile time, so a publisher
//! cannot put a `submitted` payload on an `approved` subject.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::decision::{Continuation, Finding, PoolFigures, Review};
use crate::engagement::{Concern, Consumption, Session, Tranche, Window};
use crate::ids::{ApplicationId, EventId, PartnerId};
use crate::model::{ApplicationBody, ApplicationDraft, Programme};
use crate::names::ServiceName;
use crate::rule::RuleId;
use crate::subjects;

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        /// Every event type. The name is the last subject token and the middle of the CloudEvents
        /// `type` (`dev.sandpiper.{name}.v1`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum EventType { $($variant,)* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            pub fn parse(name: &str) -> Option<EventType> {
                match name { $($name => Some(EventType::$variant),)* _ => None }
            }
        }

        /// An event's payload, decoded once into its type ([`Envelope::event`]). It serializes as
        /// the bare payload, so it can be published like any [`EventPayload`].
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Event { $($variant($variant),)* }

        impl Payload for Event {
            fn event_type(&self) -> EventType {
                match self { $(Event::$variant(_) => EventType::$variant,)* }
            }
        }

        $(impl From<$variant> for Event {
            fn from(payload: $variant) -> Event {
                Event::$variant(payload)
            }
        })*

        impl Envelope {
            /// The payload, decoded into its type by the envelope's `type`.
            pub fn event(&self) -> Result<Event, EnvelopeError> {
                Ok(match self.kind()? {
                    $(EventType::$variant => Event::$variant(self.decode_data()?),)*
                })
            }
        }
    };
}

event_types! {
    Drafted => "drafted",
    DraftUpdated => "draft_updated",
    Submitted => "submitted",
    Classified => "classified",
    Redirected => "redirected",
    Approved => "approved",
    Rejected => "rejected",
    CreditsApplied => "credits_applied",
    TrancheReleased => "tranche_released",
    TrancheWithheld => "tranche_withheld",
    OfficeHoursScheduled => "office_hours_scheduled",
    ConcernRecorded => "concern_recorded",
    FeedbackRecorded => "feedback_recorded",
    ConsumptionRecorded => "consumption_recorded",
    ClawbackWarning => "clawback_warning",
    WindowClosed => "window_closed",
    ClawedBack => "clawed_back",
    DecisionReminder => "decision_reminder",
    Graduated => "graduated",
    Retired => "retired",
    CreditsForfeited => "credits_forfeited",
    CreditsExpired => "credits_expired",
    Recalled => "recalled",
    Canceled => "canceled",
    AceFiled => "ace_filed",
    AceStatusChanged => "ace_status_changed",
    ReviewForecast => "review_forecast",
}

impl EventType {
    /// The CloudEvents `type` attribute.
    pub fn cloudevents_type(self) -> String {
        format!("dev.sandpiper.{}.v1", self.as_str())
    }

    /// Parses a CloudEvents `type` attribute back.
    pub fn from_cloudevents_type(value: &str) -> Option<EventType> {
        EventType::parse(value.strip_prefix("dev.sandpiper.")?.strip_suffix(".v1")?)
    }
}

/// A payload type and the event type it travels as.
pub trait EventPayload: Serialize + DeserializeOwned {
    const TYPE: EventType;
}

/// Anything publishable: a payload type ([`EventPayload`], its type fixed at compile time) or an
/// [`Event`] (its type read from the variant).
pub trait Payload: Serialize {
    fn event_type(&self) -> EventType;
}

impl<P: EventPayload> Payload for P {
    fn event_type(&self) -> EventType {
        P::TYPE
    }
}

/// A CloudEvents 1.0 envelope in structured JSON mode, with the `partnerid` extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Envelope {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique per event; also the `Nats-Msg-Id` header, so JetStream drops a re-published copy.
    pub id: EventId,
    /// `/sandpiper/{service}`.
    pub source: String,
    /// `dev.sandpiper.{type}.v1`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The application id.
    pub subject: ApplicationId,
    /// When it happened on the system clock (simulated or wall, CONTRACT §5).
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    /// The partner the application belongs to.
    pub partnerid: PartnerId,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Why an envelope could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the event payload could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("the event is not a valid envelope: {0}")]
    Decode(#[source] serde_json::Error),
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("expected a {expected} event, got {actual}")]
    WrongType { expected: &'static str, actual: String },
}

impl Envelope {
    /// Wraps a payload for an application.
    pub fn new<P: Payload + ?Sized>(
        id: EventId,
        source: ServiceName,
        partner: PartnerId,
        application: ApplicationId,
        time: DateTime<Utc>,
        payload: &P,
    ) -> Result<Envelope, EnvelopeError> {
        Ok(Envelope {
            specversion: "1.0".into(),
            id,
            source: source.event_source(),
            event_type: payload.event_type().cloudevents_type(),
            subject: application,
            time,
            datacontenttype: "application/json".into(),
            partnerid: partner,
            data: serde_json::to_value(payload).map_err(EnvelopeError::Encode)?,
        })
    }

    pub fn from_json(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        serde_json::from_slice(bytes).map_err(EnvelopeError::Decode)
    }

    pub fn to_json(&self) -> Result<Vec<u8>, EnvelopeError> {
        serde_json::to_vec(self).map_err(EnvelopeError::Encode)
    }

    pub fn kind(&self) -> Result<EventType, EnvelopeError> {
        EventType::from_cloudevents_type(&self.event_type)
            .ok_or_else(|| EnvelopeError::UnknownType(self.event_type.clone()))
    }

    /// The NATS subject this event is published on.
    pub fn nats_subject(&self) -> Result<String, EnvelopeError> {
        Ok(subjects::event(&self.partnerid, &self.subject, self.kind()?))
    }

    /// The payload, typed; fails if the envelope holds another type.
    pub fn payload<P: EventPayload>(&self) -> Result<P, EnvelopeError> {
        let kind = self.kind()?;
        if kind != P::TYPE {
            return Err(EnvelopeError::WrongType {
                expected: P::TYPE.as_str(),
                actual: kind.as_str().into(),
            });
        }
        self.decode_data()
    }

    fn decode_data<P: DeserializeOwned>(&self) -> Result<P, EnvelopeError> {
        P::deserialize(&self.data).map_err(EnvelopeError::Decode)
    }
}

/// A draft was created (`POST /v1/applications`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Drafted {
    pub draft: ApplicationDraft,
    /// The application this one carries on from (a redirection, C3, or a graduation, G2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originated_from: Option<ApplicationId>,
}
impl EventPayload for Drafted {
    const TYPE: EventType = EventType::Drafted;
}

/// A draft was changed (`PATCH`); carries the whole draft as it now stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DraftUpdated {
    pub draft: ApplicationDraft,
}
impl EventPayload for DraftUpdated {
    const TYPE: EventType = EventType::DraftUpdated;
}

/// The partner submitted a valid application; carries the body as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Submitted {
    pub application: ApplicationBody,
}
impl EventPayload for Submitted {
    const TYPE: EventType = EventType::Submitted;
}

/// The classifier placed the application in a pool; it is now in review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classified {
    pub pool: Programme,
    /// The rule ids applied (DOMAIN.md).
    pub rules: Vec<RuleId>,
    /// Why, in words a partner reads.
    pub reasons: Vec<String>,
    /// The catalog version the decision used (K4): the one in force at submission (K2).
    pub catalog_version: String,
    /// The monthly figures behind the pool decision (C2).
    #[serde(default)]
    pub figures: PoolFigures,
    /// Failures that force a rejection at review (T1: E1–E5; C4b); empty when eligible.
    #[serde(default)]
    pub eligibility_failures: Vec<Finding>,
    /// When the application was submitted: the review period (T6) runs from here.
    pub submitted_at: DateTime<Utc>,
    /// The `submitted` event classified: the filing the review decides on (absent in events
    /// stored before recalls existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<EventId>,
}
impl EventPayload for Classified {
    const TYPE: EventType = EventType::Classified;
}

/// The application belongs in another pool (C3, C4a, K1); it does not go on here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Redirected {
    /// The pool it belongs in.
    pub to: Programme,
    pub continues_as: Continuation,
    /// The new linked application that carries on (C3), when one was created.
    pub redirected_to: Option<ApplicationId>,
    pub rules: Vec<RuleId>,
    pub reasons: Vec<String>,
    pub catalog_version: String,
    pub figures: PoolFigures,
}
impl EventPayload for Redirected {
    const TYPE: EventType = EventType::Redirected;
}

/// The review approved the application at a tier (T3–T5, P1), after the review period (T6), or
/// (under `review = ace`) AWS approved its benefit application in Partner Central.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Approved {
    pub tier_usd: i64,
    pub review: Review,
    pub catalog_version: String,
    /// AWS's decision this approval is (issue #17, `review = ace`); absent for the simulation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsDecision>,
}

/// A decision AWS made in Partner Central, as the ACE connector read it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AwsDecision {
    /// The benefit application AWS decided.
    pub benefit_application_id: String,
    /// When AWS decided: the benefit application's `UpdatedAt` in AWS's answer. The engagement
    /// (credits, tranche 1, window) starts then, not when Sandpiper read it.
    pub decided_at: DateTime<Utc>,
    /// The amount AWS allocated (the allocation's `AllocatedAmount`); absent for a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_usd: Option<i64>,
    /// AWS's comments (`StatusReason`, the opportunity's `ReviewComments`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}
impl EventPayload for Approved {
    const TYPE: EventType = EventType::Approved;
}

/// The review rejected the application (T1, T2), after the review period (T6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rejected {
    pub review: Review,
    pub catalog_version: String,
    /// AWS's decision this rejection is (issue #17, `review = ace`); absent for the simulation's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsDecision>,
}
impl EventPayload for Rejected {
    const TYPE: EventType = EventType::Rejected;
}

macro_rules! payload {
    ($(#[$doc:meta])* $name:ident => $variant:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
        pub struct $name { $($(#[$fdoc])* pub $field: $ty,)* }
        impl EventPayload for $name {
            const TYPE: EventType = EventType::$variant;
        }
    };
}

payload!(
    /// Credits applied at approval; the window starts (TR1–TR5).
    CreditsApplied => CreditsApplied {
        amount_usd: i64,
        /// Split into two tranches (TR3).
        split: bool,
        tranches: Vec<Tranche>,
        window: Window,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// A tranche's credits are on the account (TR2, TR3).
    TrancheReleased => TrancheReleased {
        number: u32,
        amount_usd: i64,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// Tranche 2 is withheld: a blocking concern was recorded by the mid-window check-in (TR3).
    TrancheWithheld => TrancheWithheld {
        number: u32,
        amount_usd: i64,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// An office-hours session was scheduled (OH1–OH3).
    OfficeHoursScheduled => OfficeHoursScheduled {
        session: Session,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// The team raised a concern; a blocking one asks for an ad-hoc session (OH3) and counts for TR3.
    ConcernRecorded => ConcernRecorded { concern: Concern }
);
payload!(
    /// Feedback notes against a session (OH6).
    FeedbackRecorded => FeedbackRecorded { session_id: String, note: String }
);
payload!(
    /// Consumption reported; it draws the balance down oldest tranche first (TR7).
    ConsumptionRecorded => ConsumptionRecorded { consumption: Consumption }
);
payload!(
    /// Consumption is under a quarter of the pro-rata share at the mid-window check-in (TR8).
    ClawbackWarning => ClawbackWarning {
        consumed_usd: i64,
        pro_rata_usd: i64,
        released_usd: i64,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// The evaluation window closed; the balance serves the grace period (TR5) and a decision is owed (G1).
    WindowClosed => WindowClosed {
        balance_usd: i64,
        grace_ends_at: DateTime<Utc>,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// No consumption in the window: the balance is clawed back at its close, with no grace (TR6).
    ClawedBack => ClawedBack {
        amount_usd: i64,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// The team's decision is still owed (G1).
    DecisionReminder => DecisionReminder {
        number: u32,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// The team graduated the evaluation (G2, G4).
    Graduated => Graduated {
        target: Programme,
        /// The new linked application that carries on, when one was drafted.
        graduated_to: Option<ApplicationId>,
        notes: Option<String>,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// The team retired the evaluation (G3).
    Retired => Retired {
        notes: Option<String>,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// At retirement the remaining balance is forfeited (G3).
    CreditsForfeited => CreditsForfeited {
        amount_usd: i64,
        rules: Vec<RuleId>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// Validity is over: whatever balance is left expires (TR4).
    CreditsExpired => CreditsExpired {
        amount_usd: i64,
        rules: Vec<RuleId>,
        /// The catalog version the decision used (K4); empty in events stored before it was kept.
        #[serde(default)]
        catalog_version: String,
    }
);
payload!(
    /// The partner took a filing with no decision yet back to a draft (Partner Central's
    /// `RecallBenefitApplication`); its pending review is cancelled.
    Recalled => Recalled {
        /// Why, in the partner's words.
        reason: String,
        /// The `submitted` event of the recalled filing: names the review it cancels (absent
        /// for a filing stored before recalls existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        submission_id: Option<EventId>,
        /// When the recalled filing was submitted.
        submitted_at: DateTime<Utc>,
    }
);
payload!(
    /// The partner withdrew a draft for good (`CancelBenefitApplication`); the application ends.
    Canceled => Canceled {
        /// Why, in the partner's words.
        reason: String,
    }
);

payload!(
    /// The ACE connector filed the application in AWS Partner Central (issue #17): the
    /// opportunity, the engagement started from it, and the benefit application, submitted.
    AceFiled => AceFiled {
        /// `Sandbox` or `AWS`.
        catalog: String,
        /// `CreateOpportunity`'s `Id` (`O…`).
        opportunity_id: String,
        /// `StartEngagementFromOpportunityTask`'s `TaskId`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        engagement_task_id: Option<String>,
        /// `CreateBenefitApplication`'s `Id`.
        benefit_application_id: String,
        /// The filing filed (its `submitted` event).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        submission_id: Option<EventId>,
    }
);
payload!(
    /// What Partner Central shows of the application changed (the connector's polling): the
    /// opportunity's `LifeCycle.ReviewStatus` / `ReviewComments`, the benefit application's
    /// `Status` / `StatusReason`, as AWS answered them.
    AceStatusChanged => AceStatusChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review_status: Option<crate::partner_central::ReviewStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review_comments: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        benefit_application_status: Option<crate::partner_central::BenefitApplicationStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status_reason: Option<String>,
        /// When AWS changed it (`LastModifiedDate` / `UpdatedAt` in its answer).
        changed_at: DateTime<Utc>,
    }
);
payload!(
    /// Under `review = ace`, the review simulation's outcome (T1–T6, P1) as a forecast of AWS's
    /// decision; the decision itself comes from Partner Central.
    ReviewForecast => ReviewForecast {
        review: Review,
        catalog_version: String,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_names() {
        assert_eq!(EventType::ALL.len(), 27);
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert_eq!(EventType::from_cloudevents_type(&t.cloudevents_type()), Some(*t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.as_str()));
        }
        assert_eq!(EventType::from_cloudevents_type("dev.sandpiper.approved.v2"), None);
    }

    #[test]
    fn decisions_carry_the_catalog_version_and_older_ones_still_read() {
        // K4: the version is part of the data a partner sees.
        let reminder = DecisionReminder {
            number: 1,
            rules: vec![RuleId::G1],
            reasons: vec![],
            catalog_version: "2026.1".into(),
        };
        assert_eq!(serde_json::to_value(&reminder).unwrap()["catalog_version"], "2026.1");
        // An event stored before the field existed reads with an empty version.
        let stored: CreditsExpired =
            serde_json::from_value(serde_json::json!({"amount_usd": 12000, "rules": ["TR4"]})).unwrap();
        assert_eq!(stored.catalog_version, "");
        let stored: TrancheReleased = serde_json::from_value(
            serde_json::json!({"number": 1, "amount_usd": 20000, "rules": ["TR2"], "reasons": []}),
        )
        .unwrap();
        assert_eq!((stored.amount_usd, stored.catalog_version.as_str()), (20000, ""));
    }

    #[test]
    fn the_envelope_is_cloudevents_structured_json() {
        let partner = PartnerId::parse("acme").unwrap();
        let app = ApplicationId::generate();
        let id = EventId::generate();
        let time = "2026-06-01T12:00:00Z".parse().unwrap();
        let payload = Drafted {
            draft: ApplicationDraft {
                service: Some("bedrock-agents".into()),
                ..Default::default()
            },
            originated_from: None,
        };
        let envelope = Envelope::new(id, ServiceName::Intake, partner.clone(), app, time, &payload).unwrap();
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], id.to_string());
        assert_eq!(json["source"], "/sandpiper/intake");
        assert_eq!(json["type"], "dev.sandpiper.drafted.v1");
        assert_eq!(json["subject"], app.to_string());
        assert_eq!(json["time"], "2026-06-01T12:00:00Z");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["partnerid"], "acme");
        assert_eq!(json["data"]["draft"]["service"], "bedrock-agents");
        assert_eq!(
            envelope.nats_subject().unwrap(),
            format!("sandpiper.v1.events.acme.{app}.drafted")
        );

        let back = Envelope::from_json(&envelope.to_json().unwrap()).unwrap();
        assert_eq!(back.payload::<Drafted>().unwrap(), payload);
        assert!(matches!(
            back.payload::<Submitted>(),
            Err(EnvelopeError::WrongType { .. })
        ));
    }
}
