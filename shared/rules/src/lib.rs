//! The rulebook of `DOMAIN.md` as pure functions: no I/O, no async, no clock, no logging. The
//! classifier, the reviewer, the scheduler and preflight all call these, so no rule is written
//! twice. Every decision names the rule ids that produced it, with reasons a partner can read.
//!
//! # Layout
//!
//! - [`text`]: the text tests the rules need (workload normalisation, service mentions,
//!   quantitative targets, exploratory phrasing, metric word overlap) and the dollar format.
//! - [`eligibility`](mod@eligibility): E1–E5, with K2 for a service not yet in the catalog.
//! - [`classify`](mod@classify): pool classification (C1–C4, K1, P1) and the monthly figures of C2.
//! - [`next_step`](mod@next_step): what follows classification: which body is reviewed in which
//!   pool, or nothing reviewed here (K1 to `activate_portfolio`, C4a); the classifier and
//!   preflight both follow it.
//! - [`components`]: the four components of the review (U1–U4, M, W, B).
//! - [`review`](mod@review): the tier (T1–T5, P1), its reasons and what would raise it; the review period (T6).
//! - [`credits`]: credits, tranches, validity and grace (TR1–TR5, TR8).
//! - [`office_hours`]: the sessions and their dates (OH1–OH3).
//! - [`engagement`]: the engagement as it runs: what an approval starts, what each checkpoint
//!   decides when it falls due (TR3, TR4, TR6, TR8, G1), a blocking concern (OH3), a retirement
//!   (G3). Effects in order; the scheduler only stores them.
//! - [`graduation`]: the team's decision (G1), its target (G2, G4), a retirement (G3).
//! - [`position`]: a startup's credit position (CP1).
//! - [`agenda`]: what falls due for an application, with what each checkpoint will decide (the
//!   scheduler's own [`engagement::at_checkpoint`] run forward), and calendar revisions.
//!
//! # Order of classification (decided)
//!
//! [`classify()`] takes the first step that applies:
//!
//! 1. Eligibility failures (E1–E5, K2) → `Ineligible`; the reviewer rejects at the end of the
//!    review period (T1).
//! 2. K1, a matured service → `Redirect`: the bedrock family to `bedrock_poc` as a new linked
//!    application (C3), every other family to `activate_portfolio`, recorded in the stack. A
//!    `bedrock_poc` filing naming a matured bedrock service is already where K1 points, so it is
//!    not redirected (that would loop) and goes on to step 3.
//! 3. A direct `bedrock_poc` filing → `Fits` `bedrock_poc`, reviewed under P1; C2 is not
//!    re-applied to it.
//! 4. C4 stacking, by normalised workload label: overlap with a Build for Startups engagement →
//!    `Ineligible` (C4b), which wins over an overlapping Bedrock POC; overlap with an approved or
//!    pending Bedrock POC → `Redirect` onto that stack entry (C4a, C3). Activate Portfolio always
//!    stacks cleanly.
//! 5. C1/C2, consumption: model inference above the emerging service → `Redirect` to a new linked
//!    `bedrock_poc` application (C3); otherwise, ties included, `Fits` `innovation_sandbox`.
//!
//! # Decided details
//!
//! - Money is summed with saturating arithmetic; a range line counts at its midpoint, rounded down
//!   ([`figures`]).
//! - U2's units and number shape are documented on [`text::quantitative_target`], U4's phrases on
//!   [`text::exploratory_phrase`], M's stopwords on [`text::STOPWORDS`].
//! - T4's mid-window checkpoint is a day `d` with `window / 3 <= d <= 2 * window / 3` (integer
//!   division); its closing checkpoint is the window's last day.
//! - P1: all four strong → $25K whatever the budget; any weak component (one or more) → $10K;
//!   rejections per T1/T2. A `bedrock_poc` runs a 60-day window whatever was filed
//!   ([`components::window_days`]): a linked one is opened with 60 days, and W, M's checkpoints and
//!   the credits judge those 60 days.

pub mod agenda;
pub mod calibration;
pub mod classify;
pub mod components;
pub mod credits;
pub mod eligibility;
pub mod engagement;
pub mod graduation;
pub mod next_step;
pub mod office_hours;
pub mod position;
pub mod review;
pub mod text;

pub use classify::{classify, figures};
pub use eligibility::{RESTRICTED_INDUSTRIES, eligibility};
pub use next_step::{NextStep, next_step};
pub use review::{review, review_period_days};
pub use text::normalise_workload;

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
