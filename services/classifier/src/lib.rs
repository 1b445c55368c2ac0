//! The classifier: places each submitted application in a pool (DOMAIN §3–§4, K1–K2, P1) and says
//! why, with the rule ids and the monthly figures behind the decision.
//!
//! - Fits → `classified` (the application goes to review).
//! - Ineligible (E1–E5, C4b) → `classified` carrying the failures; the reviewer rejects it at the
//!   end of the review period (T1, T6).
//! - Redirect → `redirected`; for C3 (and K1 in the bedrock family) a new, linked `bedrock_poc`
//!   application is drafted and submitted first, so it carries on under P1.
//!
//! The rules themselves are in `sandpiper-rules`; the catalog is the version in force at the
//! application's submission time (K2), and every event names it (K4).

use sandpiper_contracts::decision::{ClassificationBasis, Continuation};
use sandpiper_contracts::events::{Classified, Drafted, EventType, Redirected, Submitted};
use sandpiper_contracts::ids::{ApplicationId, EventId};
use sandpiper_contracts::model::ApplicationBody;
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::state::State;
use sandpiper_rules::NextStep;
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::effects::Effects;
use sandpiper_runtime::handler::{Delivery, Handler, HandlerError};
use sandpiper_runtime::publish::{Outgoing, PublishError, Publisher};
use sandpiper_runtime::views::ViewStore;
use sandpiper_runtime::worker::{Worker, WorkerContext, WorkerError};

/// The classifier's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8082;

pub struct Classifier {
    publisher: Publisher,
    catalogs: CatalogStore,
    views: ViewStore,
}

impl Classifier {
    /// The submitted application's record, with the effects its submission may store.
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

    /// Drafts and submits the linked application (its ids derive from the submission, so a
    /// rerun finds it instead of opening another).
    async fn open_linked(&self, delivery: &Delivery, carried: ApplicationBody) -> Result<ApplicationId, HandlerError> {
        let cause = delivery.envelope.id;
        let partner = &delivery.envelope.partnerid;
        let linked = ApplicationId::derived(&cause, "linked");
        let drafted = Drafted {
            draft: carried.clone().into(),
            originated_from: Some(delivery.envelope.subject),
        };
        let published = self
            .publisher
            .publish(Outgoing {
                id: EventId::derived(&cause, "linked.drafted"),
                partner,
                application: linked,
                payload: &drafted,
                // Only as the linked application's first event.
                expected_version: Some(0),
                time: None,
            })
            .await;
        let stored = match published {
            Ok(published) => self.views.fold(&published.envelope, published.sequence).await,
            // Drafted by an earlier run.
            Err(PublishError::Conflict(_)) => self.views.load_or_rebuild(partner, &linked).await,
            Err(err) => return Err(err.into()),
        }
        .map_err(HandlerError::transient)?
        .ok_or_else(|| HandlerError::transient(format!("the linked application {linked} is not readable yet")))?;
        let mut effects = Effects::new(&self.views, &self.publisher, cause, stored);
        effects
            .publish("linked.submitted", &Submitted { application: carried })
            .await?;
        effects.finish().await?;
        Ok(linked)
    }
}

impl Handler for Classifier {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Submitted]
    }

    const KEEPS_VIEWS: bool = true;

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let submitted: Submitted = delivery.payload()?;
        let body = submitted.application;
        let at = delivery.envelope.time;
        // A version published a moment ago must count (K4).
        self.catalogs.sync().await?;
        let catalog = self.catalogs.in_force_or_empty(at);
        let mut effects = self.effects(&delivery).await?;
        let view = &effects.record().view;
        let in_force = view.submission_id.is_none_or(|id| id == delivery.envelope.id);
        if view.state != State::Submitted || !in_force {
            // Recalled before it was classified (and perhaps filed again since, as a new filing
            // with its own `submitted`): this filing is withdrawn, nothing is owed for it.
            tracing::info!(
                state = view.state.as_str(),
                "the filing is no longer in force; not classified"
            );
            return Ok(());
        }
        let submission_id = Some(delivery.envelope.id);
        let classified = |pool, rules, reasons, figures, eligibility_failures| Classified {
            pool,
            rules,
            reasons,
            catalog_version: catalog.version.clone(),
            figures,
            eligibility_failures,
            submitted_at: at,
            submission_id,
        };
        let classification = sandpiper_rules::classify(&body, true, &catalog, at);
        // The step after classification is decided once, in the rules, so preflight reports
        // exactly what happens here.
        let step = sandpiper_rules::next_step(&body, &classification);
        let ClassificationBasis {
            rules,
            reasons,
            figures,
        } = classification.basis();
        let outcome = match step {
            NextStep::Review { pool, failures } => {
                if failures.is_empty() {
                    tracing::info!(pool = pool.as_str(), ?rules, "classified");
                } else {
                    tracing::info!(
                        ?rules,
                        "ineligible; the reviewer rejects it at the end of the review period"
                    );
                }
                let event = classified(pool, rules, reasons, figures, failures);
                effects.publish("classified", &event).await
            }
            NextStep::ReviewLinked { pool, body: carried } => {
                let redirected_to = Some(self.open_linked(&delivery, *carried).await?);
                redirected(
                    &mut effects,
                    Redirected {
                        to: pool,
                        continues_as: Continuation::NewLinkedApplication,
                        redirected_to,
                        rules,
                        reasons,
                        catalog_version: catalog.version.clone(),
                        figures,
                    },
                )
                .await
            }
            NextStep::Redirected { to, continues_as } => {
                redirected(
                    &mut effects,
                    Redirected {
                        to,
                        continues_as,
                        redirected_to: None,
                        rules,
                        reasons,
                        catalog_version: catalog.version.clone(),
                        figures,
                    },
                )
                .await
            }
        };
        // What was published is written back even when a later step failed.
        effects.finish().await?;
        outcome
    }
}

async fn redirected(effects: &mut Effects<'_>, event: Redirected) -> Result<(), HandlerError> {
    let (to, rules, redirected_to) = (event.to.as_str(), &event.rules, &event.redirected_to);
    tracing::info!(to, ?rules, ?redirected_to, "redirected");
    effects.publish("redirected", &event).await
}

/// Builds the classifier service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Classifier>, WorkerError> {
    Worker::build(ServiceName::Classifier, config, |ctx: WorkerContext| Classifier {
        publisher: ctx.publisher,
        catalogs: ctx.catalogs,
        views: ctx.views,
    })
    .await
}
