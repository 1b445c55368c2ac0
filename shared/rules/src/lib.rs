//! The rulebook of `DOMAIN.md` as pure functions: no I/O, no clock, no logging. The classifier,
//! the reviewer and preflight all call these, so no rule is written twice. Every decision names
//! the rule ids that produced it, with reasons a partner can read.
//!
//! # Layout
//!
//! - [`text`]: the text tests the rules need (service mentions, quantitative targets, exploratory
//!   phrasing, word overlap).
//! - [`eligibility`]: E1–E5 and K2.
//! - [`classify`]: pool classification, C1–C4, K1 and P1, with the monthly figures of C2.
//! - [`review`]: the four components (U, M, W, B) and the tier (T1–T6, P1).
//! - [`credits`]: credits, tranches, validity and grace (TR1–TR5, TR8).
//! - [`office_hours`]: the sessions and their dates (OH1–OH3).
//!
//! # Order of classification (decided)
//!
//! Eligibility failures first (they are rejected at review, T1); then a matured service (K1); then
//! a direct `bedrock_poc` filing, reviewed under P1 as filed (C2 is not re-applied to it); then
//! stacking (C4b rejects, C4a redirects onto the existing Bedrock POC); then consumption (C2).

pub mod classify;
pub mod credits;
pub mod eligibility;
pub mod office_hours;
pub mod review;
pub mod text;

pub use classify::{classify, figures, normalise_workload};
pub use eligibility::{RESTRICTED_INDUSTRIES, eligibility};
pub use review::{review, review_period_days};

#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Utc};
    use sandpiper_contracts::catalog::Catalog;
    use sandpiper_contracts::model::{ApplicationBody, ApplicationDraft, parse_json};

    pub fn at() -> DateTime<Utc> {
        "2026-06-01T09:00:00Z".parse().unwrap()
    }

    pub fn catalog() -> Catalog {
        Catalog::builtin().unwrap()
    }

    pub fn example(name: &str) -> ApplicationBody {
        let path = format!("{}/../../../shared/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let draft: ApplicationDraft = parse_json(&bytes).unwrap();
        draft.validate(&catalog(), at()).unwrap()
    }

    /// The worked example of the seed (bedrock-agents-support.json).
    pub fn worked() -> ApplicationBody {
        example("bedrock-agents-support")
    }
}
