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
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::ApplicationBody;
use sandpiper_contracts::names::ServiceName;
use sandpiper_rules::NextStep;
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::worker::{Worker, WorkerContext, WorkerError, payload, publish_caused};

/// The classifier's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8082;

pub struct Classifier {
    publisher: Publisher,
    catalogs: CatalogStore,
}

impl Classifier {
    async fn publish<P: sandpiper_contracts::events::EventPayload>(
        &self,
        delivery: &Delivery,
        application: ApplicationId,
        label: &str,
        payload: &P,
    ) -> Result<(), HandlerError> {
        // Derived from the cause: a redelivered `submitted` republishes the same ids.
        publish_caused(
            &self.publisher,
            &delivery.envelope.id,
            label,
            &delivery.envelope.partnerid,
            application,
            payload,
        )
        .await
    }

    /// C3: the new linked application that carries on (`carried`, from
    /// [`sandpiper_rules::next_step`]), drafted and submitted.
    async fn open_linked(&self, delivery: &Delivery, carried: ApplicationBody) -> Result<ApplicationId, HandlerError> {
        let linked = ApplicationId::derived(&delivery.envelope.id, "linked");
        let drafted = Drafted {
            draft: carried.clone().into(),
            originated_from: Some(delivery.envelope.subject),
        };
        self.publish(delivery, linked, "linked.drafted", &drafted).await?;
        self.publish(
            delivery,
            linked,
            "linked.submitted",
            &Submitted { application: carried },
        )
        .await?;
        Ok(linked)
    }
}

impl Handler for Classifier {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Submitted]
    }

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let submitted: Submitted = payload(&delivery)?;
        let body = submitted.application;
        let at = delivery.envelope.time;
        // A version published a moment ago must count (K4).
        self.catalogs
            .sync()
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        let catalog = self.catalogs.in_force_or_empty(at);
        let application = delivery.envelope.subject;
        let classified = |pool, rules, reasons, figures, eligibility_failures| Classified {
            pool,
            rules,
            reasons,
            catalog_version: catalog.version.clone(),
            figures,
            eligibility_failures,
            submitted_at: at,
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
        match step {
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
                self.publish(&delivery, application, "classified", &event).await
            }
            NextStep::ReviewLinked { pool, body: carried } => {
                let redirected_to = Some(self.open_linked(&delivery, *carried).await?);
                self.redirected(
                    &delivery,
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
                self.redirected(
                    &delivery,
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
        }
    }
}

impl Classifier {
    async fn redirected(&self, delivery: &Delivery, event: Redirected) -> Result<(), HandlerError> {
        let (to, rules, redirected_to) = (event.to.as_str(), &event.rules, &event.redirected_to);
        tracing::info!(to, ?rules, ?redirected_to, "redirected");
        let application = delivery.envelope.subject;
        self.publish(delivery, application, "redirected", &event).await
    }
}

/// Builds the classifier service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Classifier>, WorkerError> {
    Worker::build(ServiceName::Classifier, config, |ctx: WorkerContext| Classifier {
        publisher: ctx.publisher,
        catalogs: ctx.catalogs,
    })
    .await
}
