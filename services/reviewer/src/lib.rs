//! The reviewer: the review simulation of DOMAIN §5 (U, M, W, B; T1–T6; P1).
//!
//! On `classified` it schedules a durable timer for the end of the review period (T6: 12 days
//! from submission, 14 for `bedrock_poc`); the application stays `in_review` meanwhile. When the
//! timer fires on the system clock it scores the application with the catalog version its
//! classification used and publishes `approved` (with the tier) or `rejected`, each with the
//! components, reasons and rule ids.
//!
//! It decides from the application's record in the read model (the body as submitted), and
//! stores the decision through [`Effects`]: a review timer fired again, however late, finds its
//! decision in the record and publishes nothing.
//!
//! Under `review = ace` (issue #17) AWS decides, in Partner Central, and the ACE connector records
//! its decision; the reviewer then scores the application as soon as it is classified and
//! publishes the outcome as a `review_forecast`, so the forecast is there before AWS answers and
//! can be set beside AWS's decision.
//!
//! A review belongs to one filing (the `submitted` event it was classified from). A `recalled`
//! cancels that filing's timer, and a timer that fires anyway (it was due before the recall was
//! handled, or it was kept from before recalls existed) decides only if its filing is still the
//! one in force: no decision ever arrives for a recalled filing, and a re-submission gets a review
//! period of its own (T6).

use chrono::Duration;
use sandpiper_contracts::decision::{Finding, Outcome};
use sandpiper_contracts::events::{Approved, Classified, EventType, Recalled, Rejected, ReviewForecast};
use sandpiper_contracts::ids::{ApplicationId, EventId};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::state::State;
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::config::{CommonConfig, ReviewMode};
use sandpiper_runtime::effects::Effects;
use sandpiper_runtime::handler::{Delivery, Handler, HandlerError, Timer, TimerHandler, TimerKind};
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::timers::Timers;
use sandpiper_runtime::views::ViewStore;
use sandpiper_runtime::worker::{Worker, WorkerError};
use serde::{Deserialize, Serialize};

/// The reviewer's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8083;

/// The reviewer's timer kind: the review falls due at the end of the review period (T6), with
/// what it remembers from the classification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewDue {
    pool: Programme,
    catalog_version: String,
    eligibility_failures: Vec<Finding>,
    /// The filing reviewed (its `submitted` event); absent in timers kept from before recalls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    submission_id: Option<EventId>,
}

impl TimerKind for ReviewDue {
    fn timer_id(&self, application: &ApplicationId) -> String {
        review_timer_id(application, self.submission_id.as_ref())
    }
}

/// One review timer per filing, so a re-submission's review never shares (or is deleted with)
/// the recalled filing's.
fn review_timer_id(application: &ApplicationId, submission: Option<&EventId>) -> String {
    match submission {
        Some(submission) => format!("review.{application}.{submission}"),
        None => format!("review.{application}"),
    }
}

/// Schedules reviews (or, under `review = ace`, forecasts them at once).
pub struct Reviewer {
    timers: Timers,
    mode: ReviewMode,
    decider: ReviewDecider,
}

impl Handler for Reviewer {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Classified, EventType::Recalled]
    }

    const KEEPS_VIEWS: bool = true;

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        if let Ok(recalled) = delivery.envelope.payload::<Recalled>() {
            let id = review_timer_id(&delivery.envelope.subject, recalled.submission_id.as_ref());
            self.timers.cancel(&id).await?;
            tracing::info!(timer = %id, "the filing was recalled; its review is cancelled");
            return Ok(());
        }
        let classified: Classified = delivery.payload()?;
        let days = sandpiper_rules::review_period_days(classified.pool);
        let due = ReviewDue {
            pool: classified.pool,
            catalog_version: classified.catalog_version,
            eligibility_failures: classified.eligibility_failures,
            submission_id: classified.submission_id,
        };
        let envelope = &delivery.envelope;
        if self.mode == ReviewMode::Ace {
            // AWS reviews on its own schedule: the forecast is owed now, not at T6.
            return self
                .decider
                .decide(envelope.id, &envelope.partnerid, &envelope.subject, due, envelope.time)
                .await;
        }
        let due_at = classified.submitted_at + Duration::days(days);
        let timer = Timer::of(&due, due_at, &envelope.partnerid, envelope.subject, envelope.id)?;
        self.timers.schedule(&timer).await?;
        tracing::info!(due_at = %timer.due_at, days, "review scheduled (T6)");
        Ok(())
    }
}

/// Decides reviews when they fall due (or forecasts them, under `review = ace`).
#[derive(Clone)]
pub struct ReviewDecider {
    views: ViewStore,
    publisher: Publisher,
    catalogs: CatalogStore,
    mode: ReviewMode,
}

impl TimerHandler for ReviewDecider {
    type Kind = ReviewDue;

    async fn fire(&self, timer: Timer, due: ReviewDue) -> Result<(), HandlerError> {
        let application = timer.on_application()?;
        self.decide(timer.cause, &timer.partner, &application, due, timer.due_at)
            .await
    }
}

impl ReviewDecider {
    /// Scores the filing `due` names and stores the outcome as `cause`'s effect: the decision,
    /// or under `review = ace` the forecast. `at` dates an empty catalog if none was in force.
    async fn decide(
        &self,
        cause: EventId,
        partner: &sandpiper_contracts::ids::PartnerId,
        application: &ApplicationId,
        due: ReviewDue,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let mut effects = Effects::open(&self.views, &self.publisher, cause, partner, application).await?;
        let record = effects.record();
        if record.view.state != State::InReview {
            // Decided already (this timer fired before), or no longer waiting for a review.
            tracing::info!(state = record.view.state.as_str(), "no review owed");
            return Ok(());
        }
        if due.submission_id.is_some() && due.submission_id != record.view.submission_id {
            // This timer's filing was recalled; the one in review now has a timer of its own.
            tracing::info!("the filing this review was for was recalled; no review owed");
            return Ok(());
        }
        let Some(body) = record.submitted() else {
            return Err(HandlerError::permanent(format!(
                "application {application} is in review without a submitted body"
            )));
        };
        let catalog = match self.catalogs.version(&due.catalog_version) {
            Some(catalog) => catalog,
            None => {
                self.catalogs.sync().await?;
                self.catalogs.version(&due.catalog_version).unwrap_or_else(|| {
                    // The version was never stored (no catalog was in force): an empty catalog,
                    // under which the eligibility failures recorded at classification decide.
                    std::sync::Arc::new(sandpiper_contracts::catalog::Catalog {
                        version: due.catalog_version.clone(),
                        effective_from: at.date_naive(),
                        services: Vec::new(),
                    })
                })
            }
        };
        let review = sandpiper_rules::review(&body, due.pool, &catalog, &due.eligibility_failures);
        let catalog_version = due.catalog_version;
        if self.mode == ReviewMode::Ace {
            tracing::info!(outcome = ?review.outcome, rules = ?review.rules, "forecast (AWS decides)");
            let event = ReviewForecast {
                review,
                catalog_version,
            };
            effects.publish("forecast", &event).await?;
            return effects.finish().await;
        }
        match review.outcome {
            Outcome::Approved { tier_usd } => {
                tracing::info!(tier_usd, rules = ?review.rules, "approved");
                let event = Approved {
                    tier_usd,
                    review,
                    catalog_version,
                    aws: None,
                };
                effects.publish("review", &event).await?;
            }
            Outcome::Rejected => {
                tracing::info!(rules = ?review.rules, "rejected");
                let event = Rejected {
                    review,
                    catalog_version,
                    aws: None,
                };
                effects.publish("review", &event).await?;
            }
        }
        effects.finish().await
    }
}

/// Builds the reviewer service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Reviewer, ReviewDecider>, WorkerError> {
    let mode = config.review;
    Worker::build_with_timers(ServiceName::Reviewer, config, |ctx| {
        let decider = ReviewDecider {
            views: ctx.views.clone(),
            publisher: ctx.publisher.clone(),
            catalogs: ctx.catalogs.clone(),
            mode,
        };
        let reviewer = Reviewer {
            timers: ctx.timers,
            mode,
            decider: decider.clone(),
        };
        (reviewer, Some(decider))
    })
    .await
}
