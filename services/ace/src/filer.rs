//! The connector's event handler: files a submitted application in Partner Central, recalls or
//! cancels it there when the partner does here, and under `review = ace` turns AWS's decision
//! (an `ace_status_changed` to `APPROVED` / `REJECTED`) into Sandpiper's `approved` / `rejected`.
//!
//! Filing is at least once on Sandpiper's side and exactly once on AWS's: each create carries a
//! `ClientToken` derived from the application, so a redelivery after a crash anywhere between the
//! first create and the `ace_filed` record gets the same opportunity and benefit application
//! back, and `ace_filed` is an effect of the `submitted` event ([`Effects`]), stored once.

use sandpiper_contracts::decision::{Outcome, Review};
use sandpiper_contracts::events::{
    AceFiled, AceStatusChanged, Approved, AwsDecision, Canceled, EventType, Recalled, Rejected,
};
use sandpiper_contracts::partner_central::BenefitApplicationStatus;
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::{AceFiling, ApplicationView, Decision};
use sandpiper_partner_central::export::{OpportunityIdentifier, export};
use sandpiper_runtime::config::ReviewMode;
use sandpiper_runtime::effects::Effects;
use sandpiper_runtime::handler::{Delivery, Handler, HandlerError};
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::views::ViewStore;

use crate::client::{CallError, PartnerCentral, Withdrawal};
use crate::config::ConnectorSettings;
use crate::filings::{Filings, Kind, Owner};

impl From<CallError> for HandlerError {
    fn from(err: CallError) -> HandlerError {
        match err {
            // Redelivered after a backoff: Partner Central will answer again.
            CallError::Unavailable { .. } => HandlerError::transient(err),
            // The same request would be refused again: the event goes to the dead letters, where
            // an admin sees AWS's reason and can redrive it once it is fixed.
            _ => HandlerError::permanent(err),
        }
    }
}

/// The connector's reaction to Sandpiper's events.
pub struct Filer {
    pub(crate) views: ViewStore,
    pub(crate) publisher: Publisher,
    pub(crate) partner_central: PartnerCentral,
    pub(crate) filings: Filings,
    pub(crate) settings: ConnectorSettings,
    pub(crate) review: ReviewMode,
}

impl Handler for Filer {
    fn event_types(&self) -> Vec<EventType> {
        let mut types = vec![EventType::Submitted, EventType::Recalled, EventType::Canceled];
        if self.review == ReviewMode::Ace {
            types.push(EventType::AceStatusChanged);
        }
        types
    }

    const KEEPS_VIEWS: bool = true;

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        match delivery.event_type {
            EventType::Submitted => self.file(&delivery).await,
            EventType::Recalled => {
                let recalled: Recalled = delivery.payload()?;
                self.withdraw(&delivery, &recalled.reason, Withdrawal::Recall).await
            }
            EventType::Canceled => {
                let canceled: Canceled = delivery.payload()?;
                self.withdraw(&delivery, &canceled.reason, Withdrawal::Cancel).await
            }
            EventType::AceStatusChanged if self.review == ReviewMode::Ace => self.decide(&delivery).await,
            _ => Ok(()),
        }
    }
}

impl Filer {
    async fn effects(&self, delivery: &Delivery) -> Result<Effects<'_>, HandlerError> {
        let envelope = &delivery.envelope;
        Effects::open(
            &self.views,
            &self.publisher,
            envelope.id,
            &envelope.partnerid,
            &envelope.subject,
        )
        .await
    }

    /// The parent application's opportunity, once the parent is filed: the export links it.
    async fn related(&self, view: &ApplicationView) -> Result<Option<OpportunityIdentifier>, HandlerError> {
        let Some(parent) = view.links.originated_from else {
            return Ok(None);
        };
        let stored = self.views.load(&view.partner_id, &parent).await?;
        Ok(stored
            .and_then(|s| s.record.view.ace)
            .and_then(|ace| OpportunityIdentifier::parse(&ace.opportunity_id)))
    }

    /// `submitted`: the opportunity, its engagement, the benefit application, submitted; then
    /// `ace_filed`. A re-submission after a recall submits the filed benefit application again.
    async fn file(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let mut effects = self.effects(delivery).await?;
        if effects.holds("ace-filed") {
            return Ok(());
        }
        let view = effects.record().view.clone();
        if view.submission_id != Some(delivery.envelope.id) {
            tracing::info!(
                state = view.state.as_str(),
                "this filing is no longer in force; not filed"
            );
            return Ok(());
        }
        let pc = &self.partner_central;
        let catalog = self.settings.ace.catalog.as_str();
        let filed = match &view.ace {
            Some(previous) => {
                self.submit(&previous.benefit_application_id).await?;
                AceFiled {
                    catalog: previous.catalog.clone(),
                    opportunity_id: previous.opportunity_id.clone(),
                    engagement_task_id: previous.engagement_task_id.clone(),
                    benefit_application_id: previous.benefit_application_id.clone(),
                    submission_id: Some(delivery.envelope.id),
                }
            }
            None => {
                let related = self.related(&view).await?;
                let bodies = export(&view, &self.settings.ace, related.as_ref()).map_err(HandlerError::permanent)?;
                let owner = Owner {
                    partner: view.partner_id.clone(),
                    application: view.id,
                };
                let opportunity = pc.create_opportunity(&bodies.create_opportunity).await?;
                self.filings.remember(Kind::Opportunity, &opportunity, &owner).await?;
                let arn = pc.opportunity_arn(catalog, &opportunity).await?;
                let task = pc
                    .start_engagement(
                        catalog,
                        &opportunity,
                        &format!("sandpiper-engagement-{}", view.id),
                        self.settings.involvement.as_str(),
                    )
                    .await?;
                let benefit = pc
                    .create_benefit_application(&bodies.create_benefit_application, &arn)
                    .await?;
                self.filings
                    .remember(Kind::BenefitApplication, &benefit, &owner)
                    .await?;
                self.submit(&benefit).await?;
                AceFiled {
                    catalog: catalog.to_owned(),
                    opportunity_id: opportunity,
                    engagement_task_id: task,
                    benefit_application_id: benefit,
                    submission_id: Some(delivery.envelope.id),
                }
            }
        };
        tracing::info!(
            opportunity = %filed.opportunity_id,
            benefit_application = %filed.benefit_application_id,
            "filed in Partner Central"
        );
        effects.publish("ace-filed", &filed).await?;
        effects.finish().await
    }

    /// Submits a benefit application; one submitted already (a redelivery) is fine.
    async fn submit(&self, benefit: &str) -> Result<(), HandlerError> {
        let catalog = self.settings.ace.catalog.as_str();
        match self.partner_central.submit_benefit_application(catalog, benefit).await {
            Ok(()) => Ok(()),
            Err(CallError::Conflict { .. }) => {
                let (status, _) = self.partner_central.benefit_application(catalog, benefit).await?;
                if status == Some(BenefitApplicationStatus::PendingSubmission) {
                    Err(HandlerError::transient(format!(
                        "benefit application {benefit} is still pending submission after a conflict"
                    )))
                } else {
                    tracing::info!(?status, "submitted already");
                    Ok(())
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// A recall or a cancel here is one in Partner Central: the benefit application goes back to
    /// `PENDING_SUBMISSION` (recall) or ends `CANCELED` (cancel). Nothing filed: nothing to do.
    async fn withdraw(&self, delivery: &Delivery, reason: &str, what: Withdrawal) -> Result<(), HandlerError> {
        let effects = self.effects(delivery).await?;
        let Some(filing) = effects.record().view.ace.clone() else {
            return Ok(());
        };
        let pc = &self.partner_central;
        let token = format!("sandpiper-{}-{}", what.label(), delivery.envelope.id);
        let done = pc
            .withdraw_benefit_application(what, &filing.catalog, &filing.benefit_application_id, reason, &token)
            .await;
        match done {
            Ok(()) => {
                tracing::info!(benefit_application = %filing.benefit_application_id, action = what.label(), "withdrawn in Partner Central");
                Ok(())
            }
            // Not in a state that allows it (AWS decided meanwhile, or it is withdrawn already):
            // AWS's status will say which, through the poller.
            Err(CallError::Conflict { message, .. }) => {
                tracing::warn!(benefit_application = %filing.benefit_application_id, action = what.label(), %message, "Partner Central refused the withdrawal");
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Under `review = ace`: AWS's decision as Sandpiper's, set beside the forecast.
    async fn decide(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let changed: AceStatusChanged = delivery.payload()?;
        let approved = match changed.benefit_application_status {
            Some(BenefitApplicationStatus::Approved) => true,
            Some(BenefitApplicationStatus::Rejected) => false,
            _ => return Ok(()),
        };
        let mut effects = self.effects(delivery).await?;
        let view = effects.record().view.clone();
        if effects.holds("decision") || view.state != State::InReview {
            return Ok(());
        }
        let Some(filing) = view.ace.as_ref() else {
            return Ok(());
        };
        let Some(forecast) = view.forecast.as_ref() else {
            // The reviewer forecasts as soon as the application is classified; until it has,
            // the decision waits (redelivered), so both stand side by side.
            return Err(HandlerError::transient("AWS decided before the forecast was stored"));
        };
        let amount_usd = if approved {
            let amount = self
                .partner_central
                .allocated_usd(&filing.catalog, &filing.benefit_application_id)
                .await?;
            match amount {
                Some(amount) => Some(amount),
                None => {
                    return Err(HandlerError::transient(
                        "the benefit application is approved but AWS shows no allocation yet",
                    ));
                }
            }
        } else {
            None
        };
        let aws = AwsDecision {
            benefit_application_id: filing.benefit_application_id.clone(),
            decided_at: changed.changed_at,
            amount_usd,
            comments: changed.status_reason.clone().or_else(|| filing.review_comments.clone()),
        };
        let review = decided_review(forecast, filing, &aws).map_err(HandlerError::permanent)?;
        let catalog_version = forecast.catalog_version.clone();
        match amount_usd {
            Some(tier_usd) => {
                let event = Approved {
                    tier_usd,
                    review,
                    catalog_version,
                    aws: Some(aws),
                };
                effects.publish("decision", &event).await?;
            }
            None => {
                let event = Rejected {
                    review,
                    catalog_version,
                    aws: Some(aws),
                };
                effects.publish("decision", &event).await?;
            }
        }
        effects.finish().await
    }
}

/// AWS's decision as a review: the simulation's components (what AWS does not publish), AWS's
/// outcome and amount, and AWS's words first among the reasons.
fn decided_review(forecast: &Decision, filing: &AceFiling, aws: &AwsDecision) -> Result<Review, String> {
    let components = forecast.components.clone().ok_or("the forecast has no components")?;
    let outcome = match aws.amount_usd {
        Some(tier_usd) => Outcome::Approved { tier_usd },
        None => Outcome::Rejected,
    };
    let verdict = match aws.amount_usd {
        Some(amount) => format!(
            "Approved by AWS in Partner Central on {} for ${amount} (benefit application {}).",
            aws.decided_at.date_naive(),
            filing.benefit_application_id
        ),
        None => format!(
            "Rejected by AWS in Partner Central on {} (benefit application {}).",
            aws.decided_at.date_naive(),
            filing.benefit_application_id
        ),
    };
    let mut reasons = vec![verdict];
    if let Some(comments) = &aws.comments {
        reasons.push(format!("AWS's comments: {comments}"));
    }
    reasons.extend(forecast.reasons.iter().map(|r| format!("Forecast: {r}")));
    Ok(Review {
        pool: forecast.pool,
        components,
        vague: forecast.rules.contains(&RuleId::U4),
        outcome,
        rules: forecast.rules.clone(),
        reasons,
        next_tier: forecast.next_tier.clone(),
        figures: forecast.figures,
    })
}
