//! The team's decision at window close (DOMAIN §8: G1–G3) as the event a command records. The
//! intake's `POST /v1/applications/{id}/decision` and the notifier's Slack buttons take the same
//! decision the same way: the rules are `sandpiper_rules::graduation`'s, and this adds only what
//! they need from the system (the catalog versions, the clock) and the linked draft a graduation
//! opens. Each caller publishes the returned event guarded by the view it read, so a decision
//! taken meanwhile (anywhere) fails the guard and is never recorded twice.

use sandpiper_contracts::engagement::TeamDecision;
use sandpiper_contracts::events::{Drafted, Graduated, Retired};
use sandpiper_contracts::ids::{ApplicationId, EventId};
use sandpiper_contracts::model::ApplicationDraft;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::graduation;

use crate::catalog_store::CatalogStore;
use crate::publish::{Outgoing, PublishError, Published, Publisher};

/// The event that records a decision.
#[derive(Debug, Clone)]
pub enum DecisionEvent {
    Graduated(Graduated),
    Retired(Retired),
}

/// What deciding did before the decision's own event: the linked draft a graduation stored, when
/// this attempt stored it (the caller folds it into the read model).
#[derive(Debug)]
pub struct Prepared {
    pub event: DecisionEvent,
    pub linked_draft: Option<Published>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// G1: the decision is not owed (the window is open, or it was taken already).
    #[error("{0}")]
    NotOwed(String),
    /// The linked draft of a graduation could not be stored: nothing was decided.
    #[error("drafting the linked application of {application} failed")]
    LinkedDraft {
        application: ApplicationId,
        #[source]
        source: PublishError,
    },
}

/// The event recording `decision` for `view` (G1), with the linked draft a graduation opens (G2)
/// already stored. Refused when the decision is not owed.
pub async fn prepare(
    publisher: &Publisher,
    catalogs: &CatalogStore,
    view: &ApplicationView,
    decision: TeamDecision,
    notes: Option<String>,
) -> Result<Prepared, DecisionError> {
    graduation::decision_owed(view).map_err(DecisionError::NotOwed)?;
    if decision == TeamDecision::Retire {
        return Ok(Prepared {
            event: DecisionEvent::Retired(graduation::retired(view, notes)),
            linked_draft: None,
        });
    }
    let now = publisher.clock().now();
    let service_id = view.body.service.clone().unwrap_or_default();
    // The family as the application was decided under (its catalog version); maturity as of the
    // decision date (the catalog in force now).
    let decided_under = view
        .decision
        .as_ref()
        .and_then(|d| catalogs.version(&d.catalog_version))
        .unwrap_or_else(|| catalogs.in_force_or_empty(now));
    let current = catalogs.in_force_or_empty(now);
    let matured = graduation::matured(current.service(&service_id), now.date_naive());
    let mut decided = graduation::graduation(view, decided_under.service(&service_id), matured);
    let (graduated_to, linked_draft) = match decided.linked_draft.take() {
        Some(draft) => {
            let (id, published) = draft_linked(publisher, view, draft).await?;
            (Some(id), published)
        }
        None => (None, None),
    };
    Ok(Prepared {
        event: DecisionEvent::Graduated(graduation::graduated(
            decided,
            graduated_to,
            notes,
            decided_under.version.clone(),
        )),
        linked_draft,
    })
}

/// The linked draft a graduation opens (G2). Drafted before `graduated` is recorded (which names
/// it), under ids derived from the application: a graduation retried after a conflict, or after
/// this draft was stored and the rest failed, finds the same draft instead of opening another.
async fn draft_linked(
    publisher: &Publisher,
    view: &ApplicationView,
    draft: ApplicationDraft,
) -> Result<(ApplicationId, Option<Published>), DecisionError> {
    let cause = view.id.as_cause();
    let linked = ApplicationId::derived(&cause, "graduation.linked");
    let published = publisher
        .publish(Outgoing {
            id: EventId::derived(&cause, "graduation.drafted"),
            partner: &view.partner_id,
            application: linked,
            payload: &Drafted {
                draft,
                originated_from: Some(view.id),
            },
            // Only as the linked application's first event.
            expected_version: Some(0),
            time: None,
        })
        .await;
    match published {
        Ok(published) => Ok((linked, Some(published))),
        // Drafted by an earlier attempt at this graduation.
        Err(PublishError::Conflict(_)) => Ok((linked, None)),
        Err(source) => Err(DecisionError::LinkedDraft {
            application: view.id,
            source,
        }),
    }
}
