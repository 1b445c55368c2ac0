//! What a decision says and why (DOMAIN §3–§5): the shapes the rules produce and the events carry.
//! The rules themselves live in `sandpiper-rules`; these types are here so events and views can
//! name them without depending on the rules.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::Programme;
use crate::rule::RuleId;

/// A rule that failed or fired, and why, in words a partner reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// A rule id of DOMAIN.md (`E2`, `C4b`, `K1`, …).
    pub rule: RuleId,
    pub reason: String,
}

/// The monthly figures pool classification compares (C2). Range lines count at their midpoint
/// (decided: the reviewer downgrades ranges, but the pool boundary needs one number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PoolFigures {
    pub emerging_service_monthly_usd: i64,
    pub model_inference_monthly_usd: i64,
    pub supporting_monthly_usd: i64,
    pub other_monthly_usd: i64,
    /// All lines together (T4 compares it with $3,000).
    pub total_monthly_usd: i64,
}

/// Strong or weak (DOMAIN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    Strong,
    Weak,
}

/// One component's score, with the reasons and rule ids behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComponentScore {
    pub strength: Strength,
    pub reasons: Vec<String>,
    pub rules: Vec<RuleId>,
}

/// The four components (U, M, W, B).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Components {
    pub use_case: ComponentScore,
    pub metrics: ComponentScore,
    pub window: ComponentScore,
    pub budget: ComponentScore,
}

/// What the review decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Outcome {
    Approved { tier_usd: i64 },
    Rejected,
}

/// A complete review (T1–T5, P1): the components, the outcome, why, and how to do better.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    pub pool: Programme,
    pub components: Components,
    /// U4: the use case is exploratory with no quantitative target.
    pub vague: bool,
    pub outcome: Outcome,
    /// Every rule id behind the outcome, components' included.
    pub rules: Vec<RuleId>,
    pub reasons: Vec<String>,
    /// What to change to reach the next tier (empty at the ceiling).
    pub next_tier: Vec<String>,
    pub figures: PoolFigures,
}

/// Where a redirected application carries on (C3, C4a, K1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Continuation {
    /// C3 (and K1 for the bedrock family): a new, linked `bedrock_poc` application reviewed under P1.
    NewLinkedApplication,
    /// C4a: the approved or pending Bedrock POC already in the startup's stack (its index there).
    ExistingStackEntry { stack_index: usize },
    /// K1 for other families: recorded as a stack entry of the target programme, not run here.
    RecordedInStack,
}

/// What pool classification decided (C1–C4, K1–K2, E1–E5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Classification {
    /// The application stays in (or was filed in) this pool and goes to review.
    Fits {
        pool: Programme,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        figures: PoolFigures,
    },
    /// It belongs in another pool.
    Redirect {
        to: Programme,
        continues_as: Continuation,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        figures: PoolFigures,
    },
    /// It cannot be funded (E1–E5, C4b); the reviewer rejects it at the end of the review period.
    Ineligible {
        pool: Programme,
        failures: Vec<Finding>,
        rules: Vec<RuleId>,
        reasons: Vec<String>,
        figures: PoolFigures,
    },
}

/// Why a classification came out as it did: its rule ids, reasons and figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationBasis {
    pub rules: Vec<RuleId>,
    pub reasons: Vec<String>,
    pub figures: PoolFigures,
}

impl Classification {
    /// The rule ids, reasons and figures, whichever way it went.
    pub fn basis(&self) -> ClassificationBasis {
        let (Classification::Fits {
            rules,
            reasons,
            figures,
            ..
        }
        | Classification::Ineligible {
            rules,
            reasons,
            figures,
            ..
        }
        | Classification::Redirect {
            rules,
            reasons,
            figures,
            ..
        }) = self;
        ClassificationBasis {
            rules: rules.clone(),
            reasons: reasons.clone(),
            figures: *figures,
        }
    }
}
