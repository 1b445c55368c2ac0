//! The application as the API shows it (CONTRACT §4): a fold of its events, so it can be rebuilt
//! from the log at any time. Folding is idempotent: an event at or below the view's `version`
//! (its last stream sequence) changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::decision::{Components, Outcome, PoolFigures, Review};
use crate::events::{
    Approved, Classified, DraftUpdated, Drafted, Envelope, EnvelopeError, EventType, Redirected, Rejected, Submitted,
};
use crate::ids::{ApplicationId, PartnerId};
use crate::model::{ApplicationDraft, Programme};
use crate::state::{IllegalTransition, State};

/// What was decided about the application and why (pool at classification; tier at review).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decision {
    pub pool: Programme,
    /// Set by the review (T3–T5, P1); null until then, and for a rejection.
    pub tier_usd: Option<i64>,
    /// Per-component scores (U, M, W, B); null until the review.
    pub components: Option<Components>,
    /// `approved` or `rejected` once reviewed; null until then.
    pub outcome: Option<Outcome>,
    pub rules: Vec<String>,
    pub reasons: Vec<String>,
    /// What would raise the tier (after review).
    #[serde(default)]
    pub next_tier: Vec<String>,
    /// The monthly figures behind the pool decision (C2).
    pub figures: PoolFigures,
    pub catalog_version: String,
    pub decided_at: DateTime<Utc>,
}

impl Decision {
    fn reviewed(review: Review, catalog_version: String, at: DateTime<Utc>) -> Decision {
        let tier_usd = match review.outcome {
            Outcome::Approved { tier_usd } => Some(tier_usd),
            Outcome::Rejected => None,
        };
        Decision {
            pool: review.pool,
            tier_usd,
            components: Some(review.components),
            outcome: Some(review.outcome),
            rules: review.rules,
            reasons: review.reasons,
            next_tier: review.next_tier,
            figures: review.figures,
            catalog_version,
            decided_at: at,
        }
    }
}

/// Links to the applications this one is connected to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Links {
    pub redirected_to: Option<ApplicationId>,
    pub graduated_to: Option<ApplicationId>,
    pub originated_from: Option<ApplicationId>,
}

/// One application as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApplicationView {
    pub id: ApplicationId,
    /// The filing partner (E3).
    pub partner_id: PartnerId,
    pub state: State,
    /// The body as drafted, or as submitted once submitted.
    #[serde(flatten)]
    pub body: ApplicationDraft,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decision: Option<Decision>,
    /// Credits, tranches and balance once approved (#4); null until then.
    #[schema(value_type = Option<Object>)]
    pub credits: Option<serde_json::Value>,
    /// The evaluation window once credits are applied (#4); null until then.
    #[schema(value_type = Option<Object>)]
    pub window: Option<serde_json::Value>,
    /// Scheduled office-hours sessions (#4).
    #[schema(value_type = Vec<Object>)]
    pub office_hours: Vec<serde_json::Value>,
    pub links: Links,
    /// The stream sequence of the last event folded in; changes whenever the application does.
    pub version: u64,
    /// How many events the application has.
    pub event_count: u64,
}

/// Why an event could not be folded into a view.
#[derive(Debug, thiserror::Error)]
pub enum FoldError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("event {event} belongs to application {event_application}, not {application}")]
    OtherApplication {
        event: String,
        event_application: ApplicationId,
        application: ApplicationId,
    },
}

impl ApplicationView {
    /// The view created by an application's first event (`drafted`) at stream sequence `seq`.
    pub fn create(event: &Envelope, seq: u64) -> Result<ApplicationView, FoldError> {
        let state = State::initial(event.kind()?)?;
        let drafted: Drafted = event.payload()?;
        let links = Links {
            originated_from: drafted.originated_from,
            ..Links::default()
        };
        Ok(ApplicationView {
            id: event.subject,
            partner_id: event.partnerid.clone(),
            state,
            body: drafted.draft,
            created_at: event.time,
            updated_at: event.time,
            submitted_at: None,
            decision: None,
            credits: None,
            window: None,
            office_hours: Vec::new(),
            links,
            version: seq,
            event_count: 1,
        })
    }

    /// Folds one event in. Returns `false` (and changes nothing) for an event already folded.
    pub fn apply(&mut self, event: &Envelope, seq: u64) -> Result<bool, FoldError> {
        if seq <= self.version {
            return Ok(false);
        }
        if event.subject != self.id {
            return Err(FoldError::OtherApplication {
                event: event.id.to_string(),
                event_application: event.subject,
                application: self.id,
            });
        }
        let kind = event.kind()?;
        let next = self.state.apply(kind)?;
        match kind {
            EventType::DraftUpdated => self.body = event.payload::<DraftUpdated>()?.draft,
            EventType::Submitted => {
                self.body = event.payload::<Submitted>()?.application.into();
                self.submitted_at = Some(event.time);
            }
            EventType::Classified => {
                let c: Classified = event.payload()?;
                let mut reasons = c.reasons;
                reasons.extend(
                    c.eligibility_failures
                        .iter()
                        .map(|f| format!("{} ({})", f.reason, f.rule)),
                );
                self.decision = Some(Decision {
                    pool: c.pool,
                    tier_usd: None,
                    components: None,
                    outcome: None,
                    rules: c.rules,
                    reasons,
                    next_tier: Vec::new(),
                    figures: c.figures,
                    catalog_version: c.catalog_version,
                    decided_at: event.time,
                });
            }
            EventType::Redirected => {
                let r: Redirected = event.payload()?;
                self.links.redirected_to = r.redirected_to;
                self.decision = Some(Decision {
                    pool: r.to,
                    tier_usd: None,
                    components: None,
                    outcome: None,
                    rules: r.rules,
                    reasons: r.reasons,
                    next_tier: Vec::new(),
                    figures: r.figures,
                    catalog_version: r.catalog_version,
                    decided_at: event.time,
                });
            }
            EventType::Approved => {
                let a: Approved = event.payload()?;
                self.decision = Some(Decision::reviewed(a.review, a.catalog_version, event.time));
            }
            EventType::Rejected => {
                let r: Rejected = event.payload()?;
                self.decision = Some(Decision::reviewed(r.review, r.catalog_version, event.time));
            }
            // Later issues fold the payloads of review, credit and window events in here; the
            // state change and the history are already right for them.
            _ => {}
        }
        self.state = next;
        self.updated_at = event.time;
        self.version = seq;
        self.event_count += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventId;
    use crate::model::ApplicationBody;
    use crate::names::ServiceName;

    fn envelope<P: crate::events::EventPayload>(app: ApplicationId, payload: &P) -> Envelope {
        let partner = PartnerId::parse("acme").unwrap();
        Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            partner,
            app,
            Utc::now(),
            payload,
        )
        .unwrap()
    }

    fn body() -> ApplicationBody {
        let path = format!(
            "{}/../../../shared/examples/bedrock-agents-support.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let draft: ApplicationDraft = crate::model::parse_json(&std::fs::read(path).unwrap()).unwrap();
        draft
            .validate(&crate::catalog::Catalog::builtin().unwrap(), Utc::now())
            .unwrap()
    }

    #[test]
    fn folding_follows_the_state_machine_and_is_idempotent() {
        let app = ApplicationId::generate();
        let mut view = ApplicationView::create(
            &envelope(
                app,
                &Drafted {
                    draft: ApplicationDraft::default(),
                    originated_from: None,
                },
            ),
            1,
        )
        .unwrap();
        assert_eq!(view.state, State::Draft);

        let submitted = envelope(app, &Submitted { application: body() });
        assert!(view.apply(&submitted, 5).unwrap());
        assert!(
            !view.apply(&submitted, 5).unwrap(),
            "a redelivered event changes nothing"
        );
        assert_eq!((view.state, view.version, view.event_count), (State::Submitted, 5, 2));
        assert_eq!(view.body.service.as_deref(), Some("bedrock-agents"));
        assert!(view.submitted_at.is_some());

        let classified = Classified {
            pool: Programme::InnovationSandbox,
            rules: vec![],
            reasons: vec![],
            catalog_version: "2026.1".into(),
            figures: PoolFigures::default(),
            eligibility_failures: vec![],
            submitted_at: Utc::now(),
        };
        view.apply(&envelope(app, &classified), 9).unwrap();
        assert_eq!(view.state, State::InReview);
        assert_eq!(
            view.decision.as_ref().map(|d| d.pool),
            Some(Programme::InnovationSandbox)
        );

        let late_update = envelope(
            app,
            &DraftUpdated {
                draft: ApplicationDraft::default(),
            },
        );
        assert!(matches!(view.apply(&late_update, 10), Err(FoldError::Illegal(_))));
        assert_eq!(view.version, 9, "a refused event leaves the view as it was");
    }

    #[test]
    fn the_view_serialises_the_body_at_top_level() {
        let app = ApplicationId::generate();
        let view = ApplicationView::create(
            &envelope(
                app,
                &Drafted {
                    draft: body().into(),
                    originated_from: None,
                },
            ),
            1,
        )
        .unwrap();
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["state"], "draft");
        assert_eq!(json["service"], "bedrock-agents");
        assert_eq!(json["startup"]["aws_account_id"], "111122223333");
        assert_eq!(json["partner_id"], "acme");
        assert!(json["decision"].is_null());
    }
}
