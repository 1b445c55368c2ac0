//! The team's decision at window close (DOMAIN §8): when it is owed (G1), where a graduation goes
//! (G2) and what it leaves (G4), and what a retirement means (G3).

use chrono::NaiveDate;
use sandpiper_contracts::catalog::{CatalogService, ServiceFamily};
use sandpiper_contracts::events::{Graduated, Retired};
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::{ApplicationDraft, BudgetCategory, BudgetLineDraft, Programme};
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;

use crate::engagement::catalog_version;

/// G1: a decision is taken once, after the window closed. `Err` says why not, for a 409.
pub fn decision_owed(view: &ApplicationView) -> Result<(), String> {
    if view.state == State::WindowClosed {
        return Ok(());
    }
    let when = match view.state {
        State::Active | State::Approved | State::InReview | State::Submitted | State::Draft => {
            "the window has not closed yet"
        }
        _ => "it is no longer owed",
    };
    Err(format!(
        "application {} is {}: a decision is taken after the window closes and only once (G1); {when}",
        view.id,
        view.state.as_str()
    ))
}

/// Where a graduation goes (G2), and the linked draft it opens when the next step is filed here.
#[derive(Debug, Clone, PartialEq)]
pub struct Graduation {
    pub target: Programme,
    pub reason: String,
    /// The linked application to draft (a `bedrock_poc` or an `innovation_sandbox`); none when
    /// the graduation is recorded in the stack (`activate_portfolio`).
    pub linked_draft: Option<ApplicationDraft>,
}

/// Whether a service has matured by `on` (K1): a service gone from the catalog in force has left
/// the adoption-driving phase, so it counts as matured.
pub fn matured(in_force: Option<&CatalogService>, on: NaiveDate) -> bool {
    in_force.is_none_or(|s| s.matured_at.is_some_and(|m| m <= on))
}

/// G2: the graduation target by family. `decided_under` is the service as the application was
/// decided under (its family, its display name); `matured` is K1 as of the decision date.
pub fn graduation(view: &ApplicationView, decided_under: Option<&CatalogService>, matured: bool) -> Graduation {
    let (target, reason) = match decided_under.map(|s| s.family) {
        Some(ServiceFamily::Bedrock) => (
            Programme::BedrockPoc,
            "Bedrock family: a linked Bedrock POC application is drafted for the production scope, with the production projection as budget (G2).",
        ),
        Some(ServiceFamily::Sagemaker) if !matured => (
            Programme::InnovationSandbox,
            "SageMaker feature not yet matured: a linked Innovation Sandbox application is drafted (G2).",
        ),
        _ => (
            Programme::ActivatePortfolio,
            "Graduates to Activate Portfolio, recorded in the startup's stack (G2).",
        ),
    };
    let linked_draft = (target != Programme::ActivatePortfolio).then(|| {
        let mut draft = view.body.clone();
        draft.programme = Some(target);
        if target == Programme::BedrockPoc {
            // P1: a Bedrock POC runs 60 days; its budget is the evaluation's production projection.
            draft.evaluation_window_days = Some(60);
            if let Some(monthly) = view.body.production_monthly_usd {
                let service_id = view.body.service.clone().unwrap_or_default();
                let display = decided_under.map_or(service_id, |s| s.display_name.clone());
                draft.budget = Some(vec![BudgetLineDraft {
                    item: Some(format!("{display} at production scale")),
                    category: Some(BudgetCategory::EmergingService),
                    monthly_usd: Some(monthly),
                    monthly_usd_range: None,
                    basis: Some("the production projection of the evaluation".into()),
                }]);
            }
        }
        draft
    });
    Graduation {
        target,
        reason: reason.to_owned(),
        linked_draft,
    }
}

/// The `graduated` event (G1, G2, G4) of a graduation, naming the linked draft it opened.
pub fn graduated(
    graduation: Graduation,
    graduated_to: Option<ApplicationId>,
    notes: Option<String>,
    catalog_version: String,
) -> Graduated {
    Graduated {
        target: graduation.target,
        graduated_to,
        notes,
        rules: vec![RuleId::G1, RuleId::G2, RuleId::G4],
        reasons: vec![
            graduation.reason,
            "The remaining balance serves the grace period until validity ends (G4, TR5).".into(),
        ],
        catalog_version,
    }
}

/// The `retired` event (G1, G3); the scheduler forfeits the balance on it.
pub fn retired(view: &ApplicationView, notes: Option<String>) -> Retired {
    Retired {
        notes,
        rules: vec![RuleId::G1, RuleId::G3],
        reasons: vec!["The team retired the evaluation: the remaining balance is forfeited; the feedback summary is still owed (G3).".into()],
        catalog_version: catalog_version(view),
    }
}
