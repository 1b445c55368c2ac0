//! The bodies of the API's answers that more than one crate reads: the intake writes them, the
//! console and the CLI read them, and the OpenAPI document describes them from here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agenda::AgendaItem;
use crate::decision::{Classification, Components, Outcome, PoolFigures};
use crate::engagement::PositionPart;
use crate::model::Programme;
use crate::rule::RuleId;
use crate::state::State;
use crate::view::ApplicationView;

/// What preflight found: the review's decision, or a redirect that is not reviewed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreflightDecision {
    Approved,
    Rejected,
    /// K1 to `activate_portfolio` (recorded in the stack) or C4a (continues the startup's
    /// existing Bedrock POC): no review happens in the pipeline, so there is no tier.
    Redirected,
}

/// What the pipeline would decide, and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preflight {
    pub decision: PreflightDecision,
    /// The pool the application would be reviewed in (a C3 redirect: the linked application's),
    /// or, when `redirected`, the pool it is redirected to.
    pub pool: Programme,
    /// The classification (C1–C4, K1–K2, E1–E5), with its rules and reasons.
    pub classification: Classification,
    /// Absent when `redirected`: nothing is reviewed.
    pub components: Option<Components>,
    /// `approved` with `tier_usd`, or `rejected`; absent when `redirected`.
    pub outcome: Option<Outcome>,
    /// The tier in dollars when approved.
    pub tier_usd: Option<i64>,
    pub rules: Vec<RuleId>,
    pub reasons: Vec<String>,
    /// What to change to reach the next tier (empty when `redirected`).
    pub next_tier: Vec<String>,
    pub figures: PoolFigures,
    /// The review period before the decision would be published (T6); absent when `redirected`.
    pub review_period_days: Option<i64>,
    pub catalog_version: String,
}

/// The order of a listing: applications are created in id order (ULIDs sort by time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Oldest,
    Newest,
}

/// A page of applications, in the order asked for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicationPage {
    pub items: Vec<ApplicationView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many applications match every filter but `state`, per state (states with none are
    /// left out): the counts a pipeline shows beside its state filter.
    #[serde(default)]
    pub counts: BTreeMap<State, usize>,
}

/// A page of the agenda, in time order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgendaPage {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub items: Vec<AgendaItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A startup's credit position (CP1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreditPosition {
    pub aws_account_id: String,
    pub parts: Vec<PositionPart>,
    pub total_usd: i64,
    /// The standard stack (Activate Portfolio + Build for Startups + Bedrock POC) tops out here.
    pub standard_stack_ceiling_usd: i64,
    /// With an Innovation Sandbox layered on, the typical range.
    pub typical_with_sandbox_usd: [i64; 2],
    pub rules: Vec<RuleId>,
}

/// The system's time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClockReading {
    pub now: DateTime<Utc>,
    /// `wall` or `simulated`.
    pub mode: String,
}

/// `GET /v1/reports/forecast`: how often the review simulation's forecast matched AWS's real
/// decision (issue #17, `review = ace`), over the caller's applications AWS has decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastCalibration {
    /// Applications with a forecast and AWS's decision.
    pub decided: u64,
    /// Applications with a forecast still waiting for AWS.
    pub pending: u64,
    /// Of `decided`, those AWS decided as forecast (approved or rejected).
    pub outcome_matched: u64,
    /// Of `decided`, those with the forecast tier too (the same amount, or both rejected).
    pub tier_matched: u64,
    /// `outcome_matched / decided`; null while nothing is decided.
    pub outcome_match_rate: Option<f64>,
    /// `tier_matched / decided`; null while nothing is decided.
    pub tier_match_rate: Option<f64>,
    /// Each decided application, forecast beside actual, in creation order.
    pub applications: Vec<ForecastComparison>,
}

/// One application's forecast beside AWS's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastComparison {
    #[schema(value_type = String)]
    pub application_id: crate::ids::ApplicationId,
    pub forecast: Outcome,
    pub actual: Outcome,
    pub outcome_matched: bool,
    pub tier_matched: bool,
}
