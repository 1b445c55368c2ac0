//! The application as the API shows it (CONTRACT §4): a fold of its events, so it can be rebuilt
//! from the log at any time. Folding is idempotent: an event at or below the view's `version`
//! (its last stream sequence) changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::decision::{Components, Outcome, PoolFigures, Review};
use crate::engagement::{Concern, Credits, Outcome as TeamOutcome, Session, TeamDecision, TrancheStatus, Window};
use crate::events::{
    AceFiled, AceStatusChanged, Approved, Classified, ClawedBack, ConcernRecorded, ConsumptionRecorded, CreditsApplied,
    CreditsExpired, CreditsForfeited, DraftUpdated, Drafted, Envelope, EnvelopeError, EventType, FeedbackRecorded,
    Graduated, OfficeHoursScheduled, Recalled, Redirected, Rejected, Retired, ReviewForecast, Submitted,
    TrancheReleased, TrancheWithheld,
};
use crate::ids::{ApplicationId, EventId, PartnerId};
use crate::model::{ApplicationDraft, Programme};
use crate::rule::RuleId;
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
    pub rules: Vec<RuleId>,
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

/// A partner's withdrawal of a filing (a recall) or of the application (a cancel), with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Withdrawal {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// An application as filed in Partner Central, and what AWS last showed of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AceFiling {
    pub catalog: String,
    pub opportunity_id: String,
    pub engagement_task_id: Option<String>,
    pub benefit_application_id: String,
    pub filed_at: DateTime<Utc>,
    /// The `ace_filed` event: what the connector's later effects on this filing derive from.
    pub filed_event: EventId,
    /// The opportunity's `LifeCycle.ReviewStatus`, as AWS last answered it.
    pub review_status: Option<crate::partner_central::ReviewStatus>,
    pub review_comments: Option<String>,
    /// The benefit application's `Status`, as AWS last answered it.
    pub benefit_application_status: Option<crate::partner_central::BenefitApplicationStatus>,
    pub status_reason: Option<String>,
    /// When AWS last changed either, by AWS's answers.
    pub changed_at: Option<DateTime<Utc>>,
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
    /// The `submitted` event of the filing in force: what a classification and a review decide
    /// on. A recall clears it; a re-submission is a new filing with a new id.
    #[serde(default)]
    pub submission_id: Option<EventId>,
    pub decision: Option<Decision>,
    /// Credits, tranches and balance once applied; null until then.
    pub credits: Option<Credits>,
    /// The evaluation window once credits are applied; null until then.
    pub window: Option<Window>,
    /// Scheduled office-hours sessions, with their feedback.
    pub office_hours: Vec<Session>,
    /// Concerns the team raised.
    #[serde(default)]
    pub concerns: Vec<Concern>,
    /// The team's decision at window close (G1).
    pub team_decision: Option<TeamOutcome>,
    pub links: Links,
    /// The last recall of a filing (back to draft), if any; kept after a re-submission.
    #[serde(default)]
    pub recalled: Option<Withdrawal>,
    /// Why the application was canceled, once it is.
    #[serde(default)]
    pub canceled: Option<Withdrawal>,
    /// Where it stands in AWS Partner Central's terms (`ReviewStatus`, `BenefitApplicationStatus`);
    /// absent only in records stored before it was kept, until their next event.
    #[serde(default)]
    pub partner_central: Option<crate::partner_central::AceStatus>,
    /// The application as filed in AWS Partner Central by the ACE connector (issue #17), with
    /// what AWS last showed of it; null until it is filed (and whenever the connector is off).
    #[serde(default)]
    pub ace: Option<AceFiling>,
    /// Under `review = ace`: the review simulation's outcome as a forecast of AWS's decision,
    /// beside the actual one in `decision`; null otherwise.
    #[serde(default)]
    pub forecast: Option<Decision>,
    /// Changes whenever the application does: `GET` answers it as the `ETag`, and `PATCH` and
    /// every command honour it in `If-Match` (as Partner Central's `Revision` does).
    #[serde(default)]
    pub revision: u64,
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
            submission_id: None,
            decision: None,
            credits: None,
            window: None,
            office_hours: Vec::new(),
            concerns: Vec::new(),
            team_decision: None,
            links,
            recalled: None,
            canceled: None,
            partner_central: Some(crate::partner_central::status(state)),
            ace: None,
            forecast: None,
            revision: seq,
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
                self.submission_id = Some(event.id);
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
                let at = a.aws.as_ref().map_or(event.time, |aws| aws.decided_at);
                self.decision = Some(Decision::reviewed(a.review, a.catalog_version, at));
            }
            EventType::Rejected => {
                let r: Rejected = event.payload()?;
                let at = r.aws.as_ref().map_or(event.time, |aws| aws.decided_at);
                self.decision = Some(Decision::reviewed(r.review, r.catalog_version, at));
            }
            EventType::ReviewForecast => {
                let f: ReviewForecast = event.payload()?;
                self.forecast = Some(Decision::reviewed(f.review, f.catalog_version, event.time));
            }
            EventType::AceFiled => {
                let f: AceFiled = event.payload()?;
                self.ace = Some(AceFiling {
                    catalog: f.catalog,
                    opportunity_id: f.opportunity_id,
                    engagement_task_id: f.engagement_task_id,
                    benefit_application_id: f.benefit_application_id,
                    filed_at: event.time,
                    filed_event: event.id,
                    review_status: None,
                    review_comments: None,
                    benefit_application_status: None,
                    status_reason: None,
                    changed_at: None,
                });
            }
            EventType::AceStatusChanged => {
                let c: AceStatusChanged = event.payload()?;
                if let Some(ace) = &mut self.ace {
                    ace.review_status = c.review_status.or(ace.review_status);
                    ace.review_comments = c.review_comments.or(ace.review_comments.take());
                    ace.benefit_application_status = c.benefit_application_status.or(ace.benefit_application_status);
                    ace.status_reason = c.status_reason.or(ace.status_reason.take());
                    ace.changed_at = Some(c.changed_at);
                }
            }
            EventType::CreditsApplied => {
                let c: CreditsApplied = event.payload()?;
                self.window = Some(c.window);
                self.credits = Some(Credits {
                    amount_usd: c.amount_usd,
                    split: c.split,
                    tranches: c.tranches,
                    ..Credits::default()
                });
            }
            EventType::TrancheReleased => {
                let t: TrancheReleased = event.payload()?;
                if let Some(credits) = &mut self.credits {
                    if let Some(tranche) = credits.tranches.iter_mut().find(|x| x.number == t.number) {
                        tranche.status = TrancheStatus::Released;
                        tranche.released_at = Some(event.time);
                        tranche.balance_usd = t.amount_usd;
                    }
                    credits.rebalance();
                }
            }
            EventType::TrancheWithheld => {
                let t: TrancheWithheld = event.payload()?;
                if let Some(tranche) = self
                    .credits
                    .as_mut()
                    .and_then(|c| c.tranches.iter_mut().find(|x| x.number == t.number))
                {
                    tranche.status = TrancheStatus::Withheld;
                }
            }
            EventType::ConsumptionRecorded => {
                let c: ConsumptionRecorded = event.payload()?;
                if let (Some(credits), Some(window)) = (&mut self.credits, &self.window) {
                    credits.draw(&c.consumption, window);
                }
            }
            EventType::OfficeHoursScheduled => {
                let o: OfficeHoursScheduled = event.payload()?;
                self.office_hours.retain(|s| s.id != o.session.id);
                self.office_hours.push(o.session);
                self.office_hours.sort_by_key(|s| s.starts_at);
            }
            EventType::FeedbackRecorded => {
                let f: FeedbackRecorded = event.payload()?;
                if let Some(session) = self.office_hours.iter_mut().find(|s| s.id == f.session_id) {
                    session.feedback.push(crate::engagement::Feedback {
                        note: f.note,
                        recorded_at: event.time,
                    });
                }
            }
            EventType::ConcernRecorded => self.concerns.push(event.payload::<ConcernRecorded>()?.concern),
            EventType::ClawedBack => {
                let c: ClawedBack = event.payload()?;
                if let Some(credits) = &mut self.credits {
                    credits.clawed_back_usd += c.amount_usd;
                    credits.empty();
                }
            }
            EventType::CreditsForfeited => {
                let c: CreditsForfeited = event.payload()?;
                if let Some(credits) = &mut self.credits {
                    credits.forfeited_usd += c.amount_usd;
                    credits.empty();
                }
            }
            EventType::CreditsExpired => {
                let c: CreditsExpired = event.payload()?;
                if let Some(credits) = &mut self.credits {
                    credits.expired_usd += c.amount_usd;
                    credits.empty();
                }
            }
            EventType::Graduated => {
                let g: Graduated = event.payload()?;
                self.links.graduated_to = g.graduated_to;
                self.team_decision = Some(TeamOutcome {
                    decision: TeamDecision::Graduate,
                    notes: g.notes,
                    decided_at: event.time,
                    target: Some(g.target),
                });
            }
            EventType::Retired => {
                let r: Retired = event.payload()?;
                self.team_decision = Some(TeamOutcome {
                    decision: TeamDecision::Retire,
                    notes: r.notes,
                    decided_at: event.time,
                    target: None,
                });
            }
            EventType::Recalled => {
                let r: Recalled = event.payload()?;
                // The classification belonged to the recalled filing; a re-submission is a new one.
                self.submitted_at = None;
                self.submission_id = None;
                self.decision = None;
                self.recalled = Some(Withdrawal {
                    reason: r.reason,
                    at: event.time,
                });
            }
            EventType::Canceled => {
                let c: crate::events::Canceled = event.payload()?;
                self.canceled = Some(Withdrawal {
                    reason: c.reason,
                    at: event.time,
                });
            }
            // The state change (and the history) is all these carry for the view.
            EventType::Drafted | EventType::ClawbackWarning | EventType::WindowClosed | EventType::DecisionReminder => {
            }
        }
        self.state = next;
        self.partner_central = Some(crate::partner_central::status(next));
        self.updated_at = event.time;
        self.revision = seq;
        self.version = seq;
        self.event_count += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            submission_id: Some(submitted.id),
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
        assert_eq!((view.revision, view.submission_id), (9, Some(submitted.id)));

        // A recall withdraws the filing: back to an editable draft, no filing in force, no pool.
        let recalled = Recalled {
            reason: "wrong service".into(),
            submission_id: Some(submitted.id),
            submitted_at: Utc::now(),
        };
        assert!(view.apply(&envelope(app, &recalled), 12).unwrap());
        assert_eq!(
            (view.state, view.submitted_at, view.submission_id),
            (State::Draft, None, None)
        );
        assert!(view.decision.is_none());
        assert_eq!(view.recalled.as_ref().map(|r| r.reason.as_str()), Some("wrong service"));
        assert_eq!(view.revision, 12, "the revision moves with every change");
        assert!(
            view.apply(&late_update, 13).unwrap(),
            "a recalled filing is editable again"
        );
        let canceled = crate::events::Canceled {
            reason: "the startup chose another programme".into(),
        };
        assert!(view.apply(&envelope(app, &canceled), 14).unwrap());
        assert_eq!(view.state, State::Canceled);
        assert!(view.canceled.is_some());
        assert_eq!(
            serde_json::to_value(view.partner_central).unwrap(),
            serde_json::json!({"review_status": "Pending Submission", "benefit_application_status": "CANCELED"}),
            "the view says it as Partner Central would"
        );
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
