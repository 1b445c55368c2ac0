//! Helpers shared by the integration tests: the examples, the seed's figures, and a pipeline that
//! runs a body the way the services do (eligibility and classification, then the review of the
//! pool it lands in), reduced to a verdict a table can state.

// Each test file uses a different part of this module; helpers panic like the tests they serve.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, Utc};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::decision::{Classification, Continuation, Outcome, Review, Strength};
use sandpiper_contracts::model::{
    ApplicationBody, ApplicationDraft, BudgetCategory, BudgetLine, Programme, parse_json,
};
use sandpiper_contracts::rule::RuleId;
use sandpiper_rules::{NextStep, classify, next_step, review};

/// Where the sample applications live (beside the workspace).
pub const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/examples/");

/// The submission time of every test application.
pub fn at() -> DateTime<Utc> {
    "2026-06-01T09:00:00Z".parse().unwrap()
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

pub fn catalog() -> Catalog {
    Catalog::builtin().unwrap()
}

/// A sample application, parsed and validated as intake does.
pub fn example(name: &str) -> ApplicationBody {
    let path = format!("{EXAMPLES}{name}.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    parse_json::<ApplicationDraft>(&bytes)
        .unwrap()
        .validate(&catalog(), at())
        .unwrap()
}

/// The seed's worked example: Bedrock Agents, four strong components, $2,540/month, 60 days.
pub fn worked() -> ApplicationBody {
    example("bedrock-agents-support")
}

pub fn line(item: &str, category: BudgetCategory, amount: i64) -> BudgetLine {
    BudgetLine {
        item: item.into(),
        category,
        monthly_usd: Some(amount),
        monthly_usd_range: None,
        basis: None,
    }
}

/// The seed's $3,150/month Bedrock Agents budget.
pub fn seed_ceiling_budget() -> Vec<BudgetLine> {
    vec![
        line("Bedrock Agents invocations", BudgetCategory::EmergingService, 1_800),
        line("Claude Sonnet 4", BudgetCategory::ModelInference, 800),
        line("Lambda", BudgetCategory::Supporting, 200),
        line("OpenSearch", BudgetCategory::Supporting, 300),
        line("CloudWatch", BudgetCategory::Supporting, 50),
    ]
}

/// The worked example with the seed's $3,150 budget and checkpoints on days 30 and 60 (T4).
pub fn ceiling() -> ApplicationBody {
    let mut body = worked();
    body.budget = seed_ceiling_budget();
    body.feedback_checkpoints_days = vec![30, 60];
    body
}

/// A use case naming Bedrock Agents with a 30% target, padded to exactly `words` words.
pub fn use_case_of(words: usize) -> String {
    let mut text: Vec<&str> = "Bedrock Agents will auto-resolve 30% of tickets".split(' ').collect();
    while text.len() < words {
        text.push("support");
    }
    text.truncate(words);
    text.join(" ")
}

/// Sets a catalog service's dates (K1, K2).
pub fn set_dates(catalog: &mut Catalog, id: &str, emerging_from: Option<&str>, matured_at: Option<&str>) {
    let service = catalog.services.iter_mut().find(|s| s.id == id).unwrap();
    if let Some(d) = emerging_from {
        service.emerging_from = date(d);
    }
    if let Some(d) = matured_at {
        service.matured_at = Some(date(d));
    }
}

/// What a pipeline run starts from.
#[derive(Debug, Clone)]
pub struct Input {
    pub body: ApplicationBody,
    pub has_partner: bool,
    pub catalog: Catalog,
}

impl Input {
    pub fn new(body: ApplicationBody) -> Input {
        Input {
            body,
            has_partner: true,
            catalog: catalog(),
        }
    }
}

/// Where an application ends up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Rejected,
    Approved(i64),
    Redirected(Programme, Continuation),
}

pub const FLOOR: Verdict = Verdict::Approved(10_000);
pub const TYPICAL: Verdict = Verdict::Approved(20_000);
pub const TOP: Verdict = Verdict::Approved(25_000);

pub fn verdict(outcome: Outcome) -> Verdict {
    match outcome {
        Outcome::Rejected => Verdict::Rejected,
        Outcome::Approved { tier_usd } => Verdict::Approved(tier_usd),
    }
}

/// A pipeline run: the classification, the review of the pool it lands in (for a redirect that
/// opens a linked application, the review that application gets; none for a redirect that is
/// not reviewed here), the verdict and every rule id named.
#[derive(Debug)]
pub struct Decided {
    pub classification: Classification,
    pub review: Option<Review>,
    pub verdict: Verdict,
    pub rules: Vec<RuleId>,
}

impl Decided {
    pub fn fired(&self, rule: &str) -> bool {
        self.rules.iter().any(|r| r == rule)
    }

    /// The ids of the weak components (U, M, W, B).
    pub fn weak(&self) -> Vec<&'static str> {
        let Some(r) = &self.review else { return Vec::new() };
        [
            ("U", &r.components.use_case),
            ("M", &r.components.metrics),
            ("W", &r.components.window),
            ("B", &r.components.budget),
        ]
        .into_iter()
        .filter(|(_, c)| c.strength == Strength::Weak)
        .map(|(id, _)| id)
        .collect()
    }
}

pub fn decide(input: &Input) -> Decided {
    let Input {
        body,
        has_partner,
        catalog,
    } = input;
    let classification = classify(body, *has_partner, catalog, at());
    let (Classification::Fits { rules, .. }
    | Classification::Ineligible { rules, .. }
    | Classification::Redirect { rules, .. }) = &classification;
    // The services' own step after classification: what is reviewed, and in which pool.
    let (review, redirect) = match next_step(body, &classification) {
        NextStep::Review { pool, failures } => (Some(review(body, pool, catalog, &failures)), None),
        NextStep::ReviewLinked { pool, body: linked } => (
            Some(review(&linked, pool, catalog, &[])),
            Some(Verdict::Redirected(pool, Continuation::NewLinkedApplication)),
        ),
        NextStep::Redirected { to, continues_as } => (None, Some(Verdict::Redirected(to, continues_as))),
    };
    let mut all = rules.clone();
    if let Some(r) = &review {
        all.extend(r.rules.iter().cloned());
    }
    let verdict = redirect.unwrap_or_else(|| verdict(review.as_ref().unwrap().outcome));
    Decided {
        classification,
        review,
        verdict,
        rules: all,
    }
}

/// One row of a rule's table: an edit of the baseline, and where it must end up.
pub struct Case {
    pub name: &'static str,
    pub edit: fn(&mut Input),
    pub verdict: Verdict,
    /// Rule ids that must appear in the decision.
    pub fired: &'static [&'static str],
    /// Exactly the components that must be weak.
    pub weak: &'static [&'static str],
}

pub fn case(
    name: &'static str,
    edit: fn(&mut Input),
    verdict: Verdict,
    fired: &'static [&'static str],
    weak: &'static [&'static str],
) -> Case {
    Case {
        name,
        edit,
        verdict,
        fired,
        weak,
    }
}

/// Runs a rule's table against `baseline`. Unless the rule is a non-gate (`must_change` false),
/// at least one row must end up elsewhere than the baseline: the rule changes outcomes.
pub fn check(rule: &str, baseline: ApplicationBody, must_change: bool, cases: &[Case]) {
    let base = Input::new(baseline);
    let base_verdict = decide(&base).verdict;
    for c in cases {
        let mut input = base.clone();
        (c.edit)(&mut input);
        let d = decide(&input);
        let context = || {
            let reasons = d.review.as_ref().map(|r| (&r.reasons, &r.next_tier));
            format!("{rule} / {}: {:?}\n{reasons:#?}", c.name, d.classification)
        };
        assert_eq!(d.verdict, c.verdict, "{}", context());
        for fired in c.fired {
            assert!(d.fired(fired), "{fired} missing from {:?} in {}", d.rules, context());
        }
        assert_eq!(d.weak(), c.weak, "weak components in {}", context());
    }
    if must_change {
        assert!(
            cases.iter().any(|c| c.verdict != base_verdict),
            "{rule}: no row changes the outcome ({base_verdict:?})"
        );
    }
}

/// Cases per property: `SANDPIPER_FUZZ_CASES` when set (the bench's 100,000, as for
/// `sandpiper-contracts`' fuzz test), else `default`.
pub fn fuzz_cases(default: u32) -> u32 {
    std::env::var("SANDPIPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
