//! The review (DOMAIN §5, P1): the four components, each strong or weak with its reasons, and the
//! tier they lead to, with what would raise it.

use sandpiper_contracts::catalog::{Catalog, CatalogService};
use sandpiper_contracts::decision::{ComponentScore, Components, Finding, Outcome, Review, Strength};
use sandpiper_contracts::model::{ApplicationBody, BudgetCategory, Programme};

use crate::classify::figures;
use crate::text;

/// T4's threshold on the total monthly budget.
pub const CEILING_BUDGET_USD: i64 = 3_000;
/// U3's minimum length of a use case.
pub const MIN_USE_CASE_WORDS: usize = 30;
/// M's minimum number of metrics.
pub const MIN_METRICS: usize = 3;

/// T6: how long the review takes before the decision is published.
pub fn review_period_days(pool: Programme) -> i64 {
    match pool {
        Programme::BedrockPoc => 14,
        _ => 12,
    }
}

/// A component being scored: its reasons, rules, and what would make it strong.
struct Scoring {
    rule: &'static str,
    weak: bool,
    reasons: Vec<String>,
    rules: Vec<String>,
    fixes: Vec<String>,
}

impl Scoring {
    fn new(rule: &'static str) -> Scoring {
        Scoring {
            rule,
            weak: false,
            reasons: Vec::new(),
            rules: vec![rule.to_owned()],
            fixes: Vec::new(),
        }
    }

    fn pass(&mut self, reason: String) {
        self.reasons.push(reason);
    }

    fn fail(&mut self, rule: &str, reason: String, fix: String) {
        self.weak = true;
        self.reasons.push(reason);
        if !self.rules.iter().any(|r| r == rule) {
            self.rules.push(rule.to_owned());
        }
        self.fixes.push(fix);
    }

    fn score(&self) -> ComponentScore {
        ComponentScore {
            strength: if self.weak { Strength::Weak } else { Strength::Strong },
            reasons: self.reasons.clone(),
            rules: self.rules.clone(),
        }
    }
}

/// U: the use case (U1–U4). Returns the scoring and whether it is vague (U4).
fn use_case(body: &ApplicationBody, service: Option<&CatalogService>) -> (Scoring, bool) {
    let mut s = Scoring::new("U");
    let text_ = &body.use_case;
    // The display name and aliases first, so the reason quotes what a person wrote.
    let mut names = Vec::new();
    if let Some(service) = service {
        names.push(service.display_name.clone());
        names.extend(service.aliases.iter().cloned());
    }
    names.extend([body.service.clone(), body.service.replace('-', " ")]);
    let display = service
        .map(|s| s.display_name.clone())
        .unwrap_or_else(|| body.service.clone());
    match names.iter().find(|n| text::mentions(text_, n)) {
        Some(name) => s.pass(format!("Names the service ({name:?}) (U1).")),
        None => s.fail(
            "U1",
            format!("Does not name {display} (U1)."),
            format!("Name {display} in the use case (U1)."),
        ),
    }
    let target = text::quantitative_target(text_).or_else(|| {
        body.target_metrics
            .iter()
            .find(|t| t.target.chars().any(|c| c.is_ascii_digit()))
            .map(|t| format!("{}: {}", t.name, t.target))
    });
    match &target {
        Some(target) => s.pass(format!("States a quantitative target ({target}) (U2).")),
        None => s.fail(
            "U2",
            "States no quantitative target (a number with %, ms, s, x, days or hours) (U2).".into(),
            "State at least one quantitative target, e.g. \"30% auto-resolution\" or \"p95 under 800 ms\" (U2).".into(),
        ),
    }
    let words = text_.split_whitespace().count();
    if words >= MIN_USE_CASE_WORDS {
        s.pass(format!("{words} words (U3)."));
    } else {
        s.fail(
            "U3",
            format!("{words} words; at least {MIN_USE_CASE_WORDS} are expected (U3)."),
            format!("Describe the use case in at least {MIN_USE_CASE_WORDS} words: the workflow, integration points and targets (U3)."),
        );
    }
    let vague = match text::exploratory_phrase(text_) {
        Some(phrase) if target.is_none() => {
            s.fail(
                "U4",
                format!("Exploratory (\"{phrase}\") with no quantitative target: vague (U4)."),
                "Replace exploratory wording with the specific evaluation and its targets (U4).".into(),
            );
            true
        }
        _ => false,
    };
    (s, vague)
}

/// M: the metrics and the feedback commitment.
fn metrics(body: &ApplicationBody, service: Option<&CatalogService>) -> Scoring {
    let mut s = Scoring::new("M");
    let count = body.metrics.len();
    if count >= MIN_METRICS {
        s.pass(format!("{count} metrics."));
    } else {
        s.fail(
            "M",
            format!("{count} metric(s); at least {MIN_METRICS} are expected."),
            format!("List at least {MIN_METRICS} metrics the evaluation will capture."),
        )
    }
    let typical = service.map(|s| s.typical_metrics.clone()).unwrap_or_default();
    let typical_words: Vec<(String, String)> = typical
        .iter()
        .flat_map(|t| text::significant_words(t).into_iter().map(move |w| (w, t.clone())))
        .collect();
    let matched = body.metrics.iter().find_map(|m| {
        let words = text::significant_words(m);
        typical_words
            .iter()
            .find(|(w, _)| words.contains(w))
            .map(|(_, t)| (m.clone(), t.clone()))
    });
    match matched {
        Some((metric, typical)) => s.pass(format!(
            "{metric:?} covers the service team's typical metric {typical:?}."
        )),
        None => s.fail(
            "M",
            "No metric matches the service's typical metrics (K3).".into(),
            format!(
                "Capture at least one of the service team's typical metrics: {}.",
                typical.join(", ")
            ),
        ),
    }
    let window = body.evaluation_window_days;
    let inside: Vec<i64> = body
        .feedback_checkpoints_days
        .iter()
        .copied()
        .filter(|d| (1..=window).contains(d))
        .collect();
    if inside.is_empty() {
        s.fail(
            "M",
            format!("No share-back checkpoint inside the {window}-day window."),
            format!(
                "Commit to sharing feedback back at a checkpoint inside the window, e.g. day {} and day {window}.",
                window / 2
            ),
        );
    } else {
        s.pass(format!("Shares feedback back on day(s) {inside:?} of the window."));
    }
    s
}

/// W: the evaluation window.
fn window(body: &ApplicationBody) -> Scoring {
    let mut s = Scoring::new("W");
    let days = body.evaluation_window_days;
    if days == 30 || days == 60 {
        s.pass(format!("A standard {days}-day window."));
    } else {
        s.fail(
            "W",
            format!("{days} days: reviewers expect one of the two standard shapes, 30 or 60 days."),
            "Use a 30-day window for a narrow scope or 60 days for a broader one.".into(),
        );
    }
    s
}

/// B: the budget.
fn budget(body: &ApplicationBody) -> Scoring {
    let mut s = Scoring::new("B");
    let ranges: Vec<&str> = body
        .budget
        .iter()
        .filter(|l| l.monthly_usd.is_none())
        .map(|l| l.item.as_str())
        .collect();
    if ranges.is_empty() {
        s.pass("Every line has an exact monthly amount.".into());
    } else {
        s.fail(
            "B",
            format!("Range estimates are downgraded: {}.", ranges.join(", ")),
            "Give an exact monthly amount for every line.".into(),
        );
    }
    if body
        .budget
        .iter()
        .any(|l| l.category == BudgetCategory::EmergingService)
    {
        s.pass("Includes the emerging service's own consumption.".into());
    } else {
        s.fail(
            "B",
            "No line for the emerging service itself.".into(),
            "Add the emerging service's monthly consumption as an emerging_service line.".into(),
        );
    }
    let other: Vec<&str> = body
        .budget
        .iter()
        .filter(|l| l.category == BudgetCategory::Other)
        .map(|l| l.item.as_str())
        .collect();
    if !other.is_empty() {
        s.fail(
            "B",
            format!("Not fundable from the pool: {}.", other.join(", ")),
            "Remove consumption the pool does not fund (category other).".into(),
        );
    }
    s
}

/// T4's feedback commitment: a mid-window checkpoint (in the middle third of the window, decided)
/// and a closing one (on the window's last day).
fn checkpoints(body: &ApplicationBody) -> (bool, bool) {
    let window = body.evaluation_window_days;
    let mid = body
        .feedback_checkpoints_days
        .iter()
        .any(|&d| d.saturating_mul(3) >= window && d.saturating_mul(3) <= window.saturating_mul(2));
    let closing = body.feedback_checkpoints_days.contains(&window);
    (mid, closing)
}

/// Reviews a submitted body for `pool`. `eligibility_failures` force a rejection (T1).
pub fn review(body: &ApplicationBody, pool: Programme, catalog: &Catalog, eligibility_failures: &[Finding]) -> Review {
    let service = catalog.service(&body.service);
    let figures = figures(body);
    let (u, vague) = use_case(body, service);
    let scorings = [u, metrics(body, service), window(body), budget(body)];
    let weak: Vec<&Scoring> = scorings.iter().filter(|s| s.weak).collect();
    let weak_names: Vec<&str> = weak.iter().map(|s| s.rule).collect();
    let [u, m, w, b] = &scorings;
    let components = Components {
        use_case: u.score(),
        metrics: m.score(),
        window: w.score(),
        budget: b.score(),
    };

    let mut rules: Vec<String> = Vec::new();
    for s in &scorings {
        for r in &s.rules {
            if !rules.contains(r) {
                rules.push(r.clone());
            }
        }
    }
    let mut reasons = Vec::new();
    let mut next_tier = Vec::new();
    let fixes = |next: &mut Vec<String>| {
        for s in &weak {
            next.extend(s.fixes.iter().cloned());
        }
    };
    let bedrock = pool == Programme::BedrockPoc;
    if bedrock {
        rules.push("P1".into());
    }

    let outcome = if !eligibility_failures.is_empty() {
        rules.push("T1".into());
        for f in eligibility_failures {
            if !rules.contains(&f.rule) {
                rules.push(f.rule.clone());
            }
            reasons.push(format!("{} ({})", f.reason, f.rule));
            next_tier.push(format!("Resolve: {} ({}).", f.reason, f.rule));
        }
        reasons.push("Not eligible: rejected (T1).".into());
        Outcome::Rejected
    } else if vague && weak.len() >= 2 {
        rules.push("T2".into());
        reasons.push(format!(
            "The use case is vague (U4) and other components are weak too ({}): rejected (T2).",
            weak_names.join(", ")
        ));
        fixes(&mut next_tier);
        Outcome::Rejected
    } else if !weak.is_empty() {
        rules.push("T3".into());
        reasons.push(format!(
            "Weak component(s): {}. Approved at the $10,000 floor (T3{}).",
            weak_names.join(", "),
            if bedrock { ", P1" } else { "" }
        ));
        fixes(&mut next_tier);
        Outcome::Approved { tier_usd: 10_000 }
    } else if bedrock {
        reasons.push("All four components are strong: approved at $25,000 (P1).".into());
        Outcome::Approved { tier_usd: 25_000 }
    } else {
        let total = figures.total_monthly_usd;
        let (mid, closing) = checkpoints(body);
        if total >= CEILING_BUDGET_USD && mid && closing {
            rules.push("T4".into());
            reasons.push(format!(
                "All four components are strong, the total monthly budget is ${total} (at least ${CEILING_BUDGET_USD}) and feedback is committed at mid-window and closing: approved at the $25,000 ceiling (T4)."
            ));
            Outcome::Approved { tier_usd: 25_000 }
        } else {
            rules.push("T5".into());
            let window = body.evaluation_window_days;
            if total < CEILING_BUDGET_USD {
                next_tier.push(format!(
                    "Raise the total monthly budget to at least ${CEILING_BUDGET_USD} (now ${total}, ${} short) with consumption the evaluation needs (T4).",
                    CEILING_BUDGET_USD - total
                ));
            }
            if !mid {
                next_tier.push(format!(
                    "Commit to a mid-window feedback checkpoint (around day {}) (T4).",
                    window / 2
                ));
            }
            if !closing {
                next_tier.push(format!("Commit to a closing feedback checkpoint on day {window} (T4)."));
            }
            reasons.push(format!(
                "All four components are strong; {} so the typical tier applies: approved at $20,000 (T5).",
                t4_gap(total, mid, closing)
            ));
            Outcome::Approved { tier_usd: 20_000 }
        }
    };
    rules.push("T6".into());
    reasons.push(format!(
        "Decided {} days after submission (T6).",
        review_period_days(pool)
    ));
    Review {
        pool,
        components,
        vague,
        outcome,
        rules,
        reasons,
        next_tier,
        figures,
    }
}

fn t4_gap(total: i64, mid: bool, closing: bool) -> String {
    let mut gaps = Vec::new();
    if total < CEILING_BUDGET_USD {
        gaps.push(format!(
            "the total monthly budget ${total} is below ${CEILING_BUDGET_USD}"
        ));
    }
    if !mid {
        gaps.push("no mid-window checkpoint".to_owned());
    }
    if !closing {
        gaps.push("no closing checkpoint".to_owned());
    }
    format!("{} (T4),", gaps.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{catalog, example, worked};
    use sandpiper_contracts::model::BudgetLine;

    fn tier(review: &Review) -> Option<i64> {
        match review.outcome {
            Outcome::Approved { tier_usd } => Some(tier_usd),
            Outcome::Rejected => None,
        }
    }

    fn sandbox(body: &ApplicationBody) -> Review {
        review(body, Programme::InnovationSandbox, &catalog(), &[])
    }

    fn has(review: &Review, rule: &str) -> bool {
        review.rules.iter().any(|r| r == rule)
    }

    fn line(item: &str, category: BudgetCategory, amount: i64) -> BudgetLine {
        BudgetLine {
            item: item.into(),
            category,
            monthly_usd: Some(amount),
            monthly_usd_range: None,
            basis: None,
        }
    }

    /// The seed's $3,150/month Bedrock Agents budget.
    fn seed_ceiling_budget() -> Vec<BudgetLine> {
        vec![
            line("Bedrock Agents invocations", BudgetCategory::EmergingService, 1_800),
            line(
                "Claude Sonnet 4 for agent reasoning",
                BudgetCategory::ModelInference,
                800,
            ),
            line("Lambda orchestration", BudgetCategory::Supporting, 200),
            line("OpenSearch Serverless", BudgetCategory::Supporting, 300),
            line("CloudWatch logging", BudgetCategory::Supporting, 50),
        ]
    }

    #[test]
    fn seed_check_the_worked_example_is_20k_with_four_strong_components() {
        let r = sandbox(&worked());
        for c in [
            &r.components.use_case,
            &r.components.metrics,
            &r.components.window,
            &r.components.budget,
        ] {
            assert_eq!(c.strength, Strength::Strong, "{c:?}");
        }
        assert_eq!(r.figures.total_monthly_usd, 2_540);
        assert_eq!(tier(&r), Some(20_000));
        assert!(has(&r, "T5") && has(&r, "T6"));
        assert!(
            r.next_tier.iter().any(|n| n.contains("$460 short")),
            "{:?}",
            r.next_tier
        );
    }

    #[test]
    fn seed_check_the_3150_budget_with_mid_and_closing_checkpoints_is_25k() {
        let mut body = worked();
        body.budget = seed_ceiling_budget();
        body.feedback_checkpoints_days = vec![30, 60];
        let r = sandbox(&body);
        assert_eq!(tier(&r), Some(25_000), "{:?}", r.reasons);
        assert!(has(&r, "T4"));
        assert!(r.next_tier.is_empty());
    }

    #[test]
    fn seed_check_exploring_is_vague_and_rejected() {
        let r = sandbox(&example("exploring-agents"));
        assert!(r.vague);
        assert!(has(&r, "U4") && has(&r, "T2"));
        assert_eq!(r.outcome, Outcome::Rejected);
    }

    #[test]
    fn the_q_business_example_is_20k() {
        let r = sandbox(&example("amazon-q-business-docs"));
        assert_eq!(tier(&r), Some(20_000), "{:?}", r.reasons);
    }

    #[test]
    fn rule_u1_the_use_case_names_the_service() {
        let mut body = worked();
        body.use_case = body.use_case.replace("Bedrock Agents", "the agent framework");
        let r = sandbox(&body);
        assert!(r.components.use_case.rules.contains(&"U1".to_owned()));
        assert_eq!(tier(&r), Some(10_000));
        body.use_case = body
            .use_case
            .replacen("the agent framework", "Agents for Amazon Bedrock", 1);
        assert_eq!(tier(&sandbox(&body)), Some(20_000), "an alias counts (K3)");
    }

    #[test]
    fn rule_u2_a_quantitative_target() {
        let mut body = worked();
        body.use_case = "Evaluation of Bedrock Agents to resolve incoming customer support tickets for our SaaS customer base, classifying each ticket, retrieving documentation, drafting responses and escalating the hard ones to the human queue with full context attached.".into();
        body.target_metrics.clear();
        let r = sandbox(&body);
        assert!(
            r.components.use_case.rules.contains(&"U2".to_owned()),
            "{:?}",
            r.components.use_case
        );
        assert_eq!(tier(&r), Some(10_000));
        body.target_metrics = vec![sandpiper_contracts::model::TargetMetric {
            name: "auto-resolution".into(),
            target: "30%".into(),
        }];
        assert_eq!(
            tier(&sandbox(&body)),
            Some(20_000),
            "a numeric target_metrics entry counts"
        );
    }

    #[test]
    fn rule_u3_at_least_thirty_words() {
        let mut body = worked();
        body.use_case = "Bedrock Agents resolving 30% of support tickets.".into();
        let r = sandbox(&body);
        assert!(r.components.use_case.rules.contains(&"U3".to_owned()));
        assert_eq!(tier(&r), Some(10_000));
    }

    #[test]
    fn rule_u4_exploratory_without_target_is_vague_but_alone_it_is_only_weak() {
        let mut body = worked();
        body.use_case = format!(
            "Exploring what Bedrock Agents can do {}",
            "for our support team and the way it works with tickets ".repeat(3)
        );
        body.target_metrics.clear();
        let r = sandbox(&body);
        assert!(r.vague && r.components.use_case.rules.contains(&"U4".to_owned()));
        assert_eq!(
            tier(&r),
            Some(10_000),
            "vague but every other component strong: T3, not T2"
        );
        body.use_case.push_str(" Target: 30% auto-resolution.");
        assert!(!sandbox(&body).vague, "a quantitative target lifts the vagueness");
    }

    #[test]
    fn rule_m_three_metrics_a_typical_one_and_a_checkpoint() {
        let mut few = worked();
        few.metrics.truncate(2);
        assert_eq!(sandbox(&few).components.metrics.strength, Strength::Weak);
        let mut off_topic = worked();
        off_topic.metrics = vec![
            "team happiness".into(),
            "number of meetings".into(),
            "coffee consumed".into(),
        ];
        assert_eq!(sandbox(&off_topic).components.metrics.strength, Strength::Weak);
        let mut outside = worked();
        outside.feedback_checkpoints_days = vec![90];
        let r = sandbox(&outside);
        assert_eq!(r.components.metrics.strength, Strength::Weak);
        assert_eq!(tier(&r), Some(10_000));
    }

    #[test]
    fn rule_w_thirty_or_sixty_days() {
        for (days, strength) in [
            (30, Strength::Strong),
            (45, Strength::Weak),
            (60, Strength::Strong),
            (59, Strength::Weak),
        ] {
            let mut body = worked();
            body.evaluation_window_days = days;
            body.feedback_checkpoints_days = vec![days / 2, days];
            assert_eq!(sandbox(&body).components.window.strength, strength, "{days}");
        }
    }

    #[test]
    fn rule_b_exact_amounts_an_emerging_line_and_nothing_unfundable() {
        let mut range = worked();
        range.budget[2].monthly_usd = None;
        range.budget[2].monthly_usd_range = Some([150, 250]);
        assert_eq!(sandbox(&range).components.budget.strength, Strength::Weak);
        let mut no_emerging = worked();
        no_emerging.budget[0].category = BudgetCategory::Supporting;
        assert_eq!(sandbox(&no_emerging).components.budget.strength, Strength::Weak);
        let mut other = worked();
        other.budget.push(line("Office rent", BudgetCategory::Other, 100));
        let r = sandbox(&other);
        assert_eq!(r.components.budget.strength, Strength::Weak);
        assert_eq!(tier(&r), Some(10_000));
    }

    #[test]
    fn rule_t1_eligibility_failures_reject() {
        let failure = Finding {
            rule: "E2".into(),
            reason: "restricted industry".into(),
        };
        let r = review(&worked(), Programme::InnovationSandbox, &catalog(), &[failure]);
        assert_eq!(r.outcome, Outcome::Rejected);
        assert!(has(&r, "T1") && has(&r, "E2"));
    }

    #[test]
    fn rule_t2_vague_and_another_weak_component_reject() {
        let mut body = example("exploring-agents");
        let r = sandbox(&body);
        assert!(has(&r, "T2"));
        // The same vague use case with every other component strong is only downgraded.
        let strong = worked();
        body.metrics = strong.metrics;
        body.feedback_checkpoints_days = vec![30, 60];
        body.evaluation_window_days = 60;
        body.budget = strong.budget;
        assert_eq!(tier(&sandbox(&body)), Some(10_000));
    }

    #[test]
    fn rule_t3_any_weak_component_is_the_floor() {
        let mut body = worked();
        body.evaluation_window_days = 45;
        body.feedback_checkpoints_days = vec![20, 45];
        let r = sandbox(&body);
        assert_eq!(tier(&r), Some(10_000));
        assert!(has(&r, "T3"));
        assert!(!r.next_tier.is_empty());
    }

    #[test]
    fn rule_t4_needs_budget_and_both_checkpoints() {
        let mut body = worked();
        body.budget = seed_ceiling_budget();
        body.feedback_checkpoints_days = vec![60];
        let r = sandbox(&body);
        assert_eq!(tier(&r), Some(20_000), "no mid-window checkpoint");
        assert!(r.next_tier.iter().any(|n| n.contains("mid-window")));
        body.feedback_checkpoints_days = vec![30];
        assert_eq!(tier(&sandbox(&body)), Some(20_000), "no closing checkpoint");
        body.feedback_checkpoints_days = vec![25, 60];
        assert_eq!(
            tier(&sandbox(&body)),
            Some(25_000),
            "day 25 is in the middle third of 60"
        );
    }

    #[test]
    fn rule_t5_all_strong_otherwise_is_typical() {
        let r = sandbox(&worked());
        assert!(has(&r, "T5"));
        assert_eq!(tier(&r), Some(20_000));
    }

    #[test]
    fn rule_t6_review_periods() {
        assert_eq!(review_period_days(Programme::InnovationSandbox), 12);
        assert_eq!(review_period_days(Programme::BedrockPoc), 14);
        assert!(has(&sandbox(&worked()), "T6"));
    }

    #[test]
    fn rule_p1_bedrock_poc_is_25k_strong_10k_weak() {
        let poc = |body: &ApplicationBody| review(body, Programme::BedrockPoc, &catalog(), &[]);
        let r = poc(&worked());
        assert_eq!(tier(&r), Some(25_000), "all strong → $25K even below T4's budget");
        assert!(has(&r, "P1"));
        let mut weak = worked();
        weak.evaluation_window_days = 45;
        assert_eq!(tier(&poc(&weak)), Some(10_000));
        assert_eq!(
            poc(&example("exploring-agents")).outcome,
            Outcome::Rejected,
            "T2 applies to P1"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::classify::classify;
    use crate::fixtures::{at, catalog, worked};
    use proptest::prelude::*;
    use sandpiper_contracts::model::BudgetLine;

    fn rank(outcome: Outcome) -> i64 {
        match outcome {
            Outcome::Rejected => 0,
            Outcome::Approved { tier_usd } => tier_usd,
        }
    }

    fn category() -> impl Strategy<Value = BudgetCategory> {
        prop_oneof![
            Just(BudgetCategory::EmergingService),
            Just(BudgetCategory::ModelInference),
            Just(BudgetCategory::Supporting),
            Just(BudgetCategory::Other)
        ]
    }

    fn budget_line() -> impl Strategy<Value = BudgetLine> {
        (
            ".{0,20}",
            category(),
            any::<i64>(),
            proptest::option::of((any::<i64>(), any::<i64>())),
        )
            .prop_map(|(item, category, amount, range)| match range {
                Some((low, high)) => BudgetLine {
                    item,
                    category,
                    monthly_usd: None,
                    monthly_usd_range: Some([low, high]),
                    basis: None,
                },
                None => BudgetLine {
                    item,
                    category,
                    monthly_usd: Some(amount),
                    monthly_usd_range: None,
                    basis: None,
                },
            })
    }

    prop_compose! {
        fn body()(
            use_case in ".{0,300}",
            service in prop_oneof![Just("bedrock-agents".to_owned()), Just("amazon-q-business".to_owned()), ".{0,12}"],
            metrics in proptest::collection::vec(".{0,40}", 0..6),
            checkpoints in proptest::collection::vec(any::<i64>(), 0..4),
            window in prop_oneof![Just(30i64), Just(45), Just(60), any::<i64>()],
            budget in proptest::collection::vec(budget_line(), 0..6),
            industry in ".{0,12}",
            workload in ".{0,12}",
        ) -> ApplicationBody {
            let mut body = worked();
            body.use_case = use_case;
            body.service = service;
            body.metrics = metrics;
            body.feedback_checkpoints_days = checkpoints;
            body.evaluation_window_days = window;
            body.budget = budget;
            body.startup.industry = industry;
            body.workload = workload;
            body
        }
    }

    proptest! {
        #[test]
        fn scoring_and_classification_never_panic(body in body()) {
            let _ = classify(&body, true, &catalog(), at());
            let _ = review(&body, Programme::InnovationSandbox, &catalog(), &[]);
            let _ = review(&body, Programme::BedrockPoc, &catalog(), &[]);
        }

        #[test]
        fn strengthening_one_component_never_lowers_the_tier(body in body(), which in 0usize..4) {
            let strong = worked();
            let before = review(&body, Programme::InnovationSandbox, &catalog(), &[]);
            let mut better = body.clone();
            match which {
                0 => { better.use_case = strong.use_case; better.service = strong.service; better.target_metrics = strong.target_metrics; }
                1 => { better.metrics = strong.metrics; better.feedback_checkpoints_days.push(1); }
                2 => { better.evaluation_window_days = 60; }
                _ => { better.budget.retain(|l| l.monthly_usd.is_some() && l.category != BudgetCategory::Other);
                       better.budget.push(BudgetLine { item: "service".into(), category: BudgetCategory::EmergingService, monthly_usd: Some(1), monthly_usd_range: None, basis: None }); }
            }
            let after = review(&better, Programme::InnovationSandbox, &catalog(), &[]);
            prop_assume!(match which { 0 => after.components.use_case.strength == Strength::Strong, 1 => after.components.metrics.strength == Strength::Strong, 2 => after.components.window.strength == Strength::Strong, _ => after.components.budget.strength == Strength::Strong });
            prop_assert!(rank(after.outcome) >= rank(before.outcome), "{:?} → {:?}", before.reasons, after.reasons);
        }
    }
}
