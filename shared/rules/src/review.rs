//! The review (DOMAIN §5, P1): the tier the four components lead to (T1–T5), why, what would raise
//! it, and when the decision is published (T6).

use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::decision::{Components, Finding, Outcome, Review};
use sandpiper_contracts::model::{ApplicationBody, Programme};
use sandpiper_contracts::rule::RuleId;

use crate::classify::figures;
use crate::components::{self, Scoring};
use crate::text::usd;

/// T3's floor and P1's weak tier.
pub const FLOOR_USD: i64 = 10_000;
/// T5's typical tier.
pub const TYPICAL_USD: i64 = 20_000;
/// T4's ceiling, and P1's tier when all four components are strong.
pub const CEILING_USD: i64 = 25_000;
/// T4's threshold on the total monthly budget (all lines).
pub const CEILING_BUDGET_USD: i64 = 3_000;

/// T6: the review period in days, after which the decision is published: 14 for `bedrock_poc`
/// (P1), 12 for `innovation_sandbox` and anything else.
pub fn review_period_days(pool: Programme) -> i64 {
    match pool {
        Programme::BedrockPoc => 14,
        Programme::InnovationSandbox | Programme::ActivatePortfolio | Programme::BuildForStartups => 12,
    }
}

/// T4's feedback commitment (decided, integer division): a mid-window checkpoint is a day `d` with
/// `window / 3 <= d <= 2 * window / 3`; a closing one is the window's last day.
fn checkpoints(body: &ApplicationBody) -> (bool, bool) {
    let window = body.evaluation_window_days;
    let (low, high) = (window / 3, window.saturating_mul(2) / 3);
    let days = &body.feedback_checkpoints_days;
    (days.iter().any(|d| (low..=high).contains(d)), days.contains(&window))
}

/// What would make an eligibility failure go away (T1's `next_tier`).
fn remedy(failure: &Finding) -> String {
    match failure.rule {
        RuleId::E1 => "Give the startup's 12-digit AWS account id (E1).".into(),
        RuleId::E2 => {
            "None while the industry is restricted by policy: such applications cannot be funded (E2).".into()
        }
        RuleId::E3 => "Submit the application through a filing partner (E3).".into(),
        RuleId::E5 => "Name exactly one service of the catalog in force, by its id (E5).".into(),
        RuleId::K2 => "Apply once the service has entered the catalog (its emerging_from date) (K2).".into(),
        RuleId::C4b => "Evaluate a workload distinct from the Build for Startups engagement (C4b).".into(),
        rule => format!("Resolve: {} ({rule}).", failure.reason),
    }
}

fn names(scorings: &[&Scoring]) -> String {
    let names: Vec<String> = scorings.iter().map(|s| format!("{} ({})", s.name, s.id)).collect();
    names.join(", ")
}

fn push_unique(rules: &mut Vec<RuleId>, rule: RuleId) {
    if !rules.contains(&rule) {
        rules.push(rule);
    }
}

/// Reviews a submitted body for `pool` against `catalog`: the four components, then the tier.
/// `eligibility_failures` (E1–E5, K2, C4b from classification) force a rejection (T1). For
/// `bedrock_poc` the tier follows P1 instead of T3–T5.
pub fn review(body: &ApplicationBody, pool: Programme, catalog: &Catalog, eligibility_failures: &[Finding]) -> Review {
    let service = catalog.service(&body.service);
    let figures = figures(body);
    let (use_case, vague) = components::use_case(body, service);
    let scorings = [
        use_case,
        components::metrics(body, service, pool),
        components::window(body, pool),
        components::budget(body),
    ];
    let weak: Vec<&Scoring> = scorings.iter().filter(|s| s.weak).collect();
    let other_weak: Vec<&Scoring> = weak.iter().copied().filter(|s| s.id != RuleId::U).collect();
    let weak_fixes = |list: &[&Scoring]| -> Vec<String> { list.iter().flat_map(|s| s.fixes.iter().cloned()).collect() };

    let mut rules: Vec<RuleId> = Vec::new();
    for rule in scorings.iter().flat_map(|s| &s.rules) {
        push_unique(&mut rules, *rule);
    }
    let p1 = pool == Programme::BedrockPoc;
    if p1 {
        push_unique(&mut rules, RuleId::P1);
    }
    let mut reasons = Vec::new();
    let mut next_tier = Vec::new();
    // T2's condition, also reported on a T1 rejection so fixing eligibility alone is not oversold.
    let t2 = vague && !other_weak.is_empty();
    let t2_fix = "State a quantitative target and drop the exploratory wording (U4): without the vagueness the application is approvable (T3).";

    let outcome = if !eligibility_failures.is_empty() {
        push_unique(&mut rules, RuleId::T1);
        for failure in eligibility_failures {
            push_unique(&mut rules, failure.rule);
            reasons.push(format!("Not eligible: {}", failure.reason));
            next_tier.push(remedy(failure));
        }
        let ids: Vec<&str> = eligibility_failures.iter().map(|f| f.rule.as_str()).collect();
        reasons.push(format!("Eligibility failed ({}): rejected (T1).", ids.join(", ")));
        if t2 {
            next_tier.push(t2_fix.to_owned());
        }
        Outcome::Rejected
    } else if t2 {
        push_unique(&mut rules, RuleId::T2);
        reasons.push(format!(
            "The use case is vague (U4) and {} is weak too: rejected (T2).",
            names(&other_weak)
        ));
        next_tier.push(t2_fix.to_owned());
        next_tier.push(format!(
            "Or make the other weak components strong: {}",
            weak_fixes(&other_weak).join(" ")
        ));
        Outcome::Rejected
    } else if !weak.is_empty() {
        push_unique(&mut rules, RuleId::T3);
        let basis = if p1 {
            format!("{}, {}", RuleId::P1, RuleId::T3)
        } else {
            RuleId::T3.to_string()
        };
        reasons.push(format!(
            "Weak: {}: approved at the {} floor ({basis}).",
            names(&weak),
            usd(FLOOR_USD)
        ));
        next_tier = weak_fixes(&weak);
        Outcome::Approved { tier_usd: FLOOR_USD }
    } else if p1 {
        reasons.push(format!(
            "All four components are strong: approved at {} (P1).",
            usd(CEILING_USD)
        ));
        Outcome::Approved { tier_usd: CEILING_USD }
    } else {
        let total = figures.total_monthly_usd;
        let window = body.evaluation_window_days;
        let (mid, closing) = checkpoints(body);
        if total >= CEILING_BUDGET_USD && mid && closing {
            push_unique(&mut rules, RuleId::T4);
            reasons.push(format!(
                "All four components are strong, the total monthly budget {} is at least {} and feedback is committed at mid-window and at closing (T4): approved at the {} ceiling.",
                usd(total),
                usd(CEILING_BUDGET_USD),
                usd(CEILING_USD)
            ));
            Outcome::Approved { tier_usd: CEILING_USD }
        } else {
            push_unique(&mut rules, RuleId::T5);
            let mut gaps = Vec::new();
            if total < CEILING_BUDGET_USD {
                gaps.push(format!(
                    "total monthly budget {} is below {}",
                    usd(total),
                    usd(CEILING_BUDGET_USD)
                ));
                next_tier.push(format!(
                    "Raise the total monthly budget to at least {} (now {}, {} short) with consumption the evaluation needs (T4).",
                    usd(CEILING_BUDGET_USD),
                    usd(total),
                    usd(CEILING_BUDGET_USD.saturating_sub(total))
                ));
            }
            if !mid {
                gaps.push("no mid-window checkpoint".to_owned());
                next_tier.push(format!(
                    "Commit to a mid-window feedback checkpoint, between day {} and day {} (T4).",
                    window / 3,
                    window.saturating_mul(2) / 3
                ));
            }
            if !closing {
                gaps.push("no closing checkpoint".to_owned());
                next_tier.push(format!("Commit to a closing feedback checkpoint on day {window} (T4)."));
            }
            reasons.push(format!(
                "All four components are strong; {} (T4), so the typical tier applies: approved at {} (T5).",
                gaps.join(", "),
                usd(TYPICAL_USD)
            ));
            Outcome::Approved { tier_usd: TYPICAL_USD }
        }
    };

    push_unique(&mut rules, RuleId::T6);
    reasons.push(format!(
        "The decision is published {} days after submission (T6{}).",
        review_period_days(pool),
        if p1 { ", P1" } else { "" }
    ));
    let [u, m, w, b] = &scorings;
    Review {
        pool,
        components: Components {
            use_case: u.score(),
            metrics: m.score(),
            window: w.score(),
            budget: b.score(),
        },
        vague,
        outcome,
        rules,
        reasons,
        next_tier,
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_window_is_the_middle_third_by_integer_division() {
        let mut body = crate::fixtures::worked();
        for (window, day, mid) in [
            (60, 19, false),
            (60, 20, true),
            (60, 40, true),
            (60, 41, false),
            (45, 15, true),
            (45, 30, true),
            (31, 10, true),
            (31, 20, true),
            (31, 21, false),
        ] {
            body.evaluation_window_days = window;
            body.feedback_checkpoints_days = vec![day];
            assert_eq!(checkpoints(&body).0, mid, "day {day} of {window}");
        }
    }
}
