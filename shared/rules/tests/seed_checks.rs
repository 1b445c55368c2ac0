//! The checks DOMAIN §5 takes from the seed, and the three sample applications end to end.

mod common;

use common::*;
use sandpiper_contracts::decision::{Classification, Outcome, PoolFigures, Review, Strength};
use sandpiper_contracts::model::Programme;
use sandpiper_rules::{classify, review, review_period_days};

fn sandbox(body: &sandpiper_contracts::model::ApplicationBody) -> Review {
    review(body, Programme::InnovationSandbox, &catalog(), &[])
}

fn strengths(r: &Review) -> [Strength; 4] {
    let c = &r.components;
    [
        c.use_case.strength,
        c.metrics.strength,
        c.window.strength,
        c.budget.strength,
    ]
}

fn has(r: &Review, rule: &str) -> bool {
    r.rules.iter().any(|x| x == rule)
}

#[test]
fn seed_check_the_worked_example_is_four_strong_and_20k_after_12_days() {
    let body = worked();
    assert!(matches!(
        classify(&body, true, &catalog(), at()),
        Classification::Fits {
            pool: Programme::InnovationSandbox,
            ..
        }
    ));
    let r = sandbox(&body);
    assert_eq!(strengths(&r), [Strength::Strong; 4], "{:#?}", r.components);
    assert_eq!(body.evaluation_window_days, 60);
    assert_eq!(r.figures.total_monthly_usd, 2_540);
    assert_eq!(r.outcome, Outcome::Approved { tier_usd: 20_000 });
    assert!(has(&r, "T5") && !has(&r, "T4"));
    assert_eq!(review_period_days(Programme::InnovationSandbox), 12);
}

#[test]
fn seed_check_the_3150_budget_with_mid_and_closing_checkpoints_is_25k() {
    let body = ceiling();
    let r = sandbox(&body);
    assert_eq!(r.figures.total_monthly_usd, 3_150);
    assert_eq!(strengths(&r), [Strength::Strong; 4]);
    assert_eq!(r.outcome, Outcome::Approved { tier_usd: 25_000 }, "{:?}", r.reasons);
    assert!(has(&r, "T4"));
    assert!(r.next_tier.is_empty(), "nothing above the ceiling: {:?}", r.next_tier);
    // Inference $800 < Bedrock Agents $1,800: it stays in the sandbox (C2).
    assert!(matches!(
        classify(&body, true, &catalog(), at()),
        Classification::Fits {
            pool: Programme::InnovationSandbox,
            ..
        }
    ));
}

#[test]
fn seed_check_exploring_agents_is_vague_and_rejected() {
    let body = example("exploring-agents");
    assert_eq!(
        body.use_case,
        "Exploring Bedrock Agents for various customer-support use cases."
    );
    let r = sandbox(&body);
    assert!(r.vague);
    assert_eq!(strengths(&r), [Strength::Weak; 4]);
    assert!(has(&r, "U4") && has(&r, "T2"));
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(!r.next_tier.is_empty(), "it says what would make it approvable");
}

/// Amazon Q Business docs search: names the service, targets "80%" and "sub-3-second", 4 metrics
/// with "answer accuracy", checkpoints 15 and 30 of a 30-day window, exact budget of $1,530 → all
/// strong, but below $3,000 → $20K (T5), $1,470 short of T4.
#[test]
fn seed_check_amazon_q_business_docs_is_20k() {
    let body = example("amazon-q-business-docs");
    let r = sandbox(&body);
    assert_eq!(strengths(&r), [Strength::Strong; 4], "{:#?}", r.components);
    assert!(!r.vague);
    assert_eq!(r.figures.total_monthly_usd, 1_530);
    assert_eq!(r.outcome, Outcome::Approved { tier_usd: 20_000 });
    assert!(has(&r, "T5"));
    assert_eq!(
        r.next_tier.len(),
        1,
        "only the budget keeps it from T4: {:?}",
        r.next_tier
    );
    assert!(r.next_tier[0].contains("$1,470 short"), "{:?}", r.next_tier);
}

#[test]
fn the_examples_fit_innovation_sandbox_with_their_figures() {
    for (name, emerging, inference) in [
        ("bedrock-agents-support", 1_200, 850),
        ("amazon-q-business-docs", 1_400, 0),
        ("exploring-agents", 1_250, 0),
    ] {
        let c = classify(&example(name), true, &catalog(), at());
        let Classification::Fits {
            pool, rules, figures, ..
        } = &c
        else {
            panic!("{name}: {c:?}")
        };
        assert_eq!(*pool, Programme::InnovationSandbox, "{name}");
        assert!(rules.iter().any(|r| r == "C2"), "{name}: {rules:?}");
        assert_eq!(
            (
                figures.emerging_service_monthly_usd,
                figures.model_inference_monthly_usd
            ),
            (emerging, inference),
            "{name}"
        );
    }
}

#[test]
fn classification_reasons_quote_both_figures_in_dollars() {
    let Classification::Fits { reasons, rules, .. } = classify(&worked(), true, &catalog(), at()) else {
        panic!()
    };
    assert_eq!(rules, ["C1", "C4", "C2"]);
    let Classification::Fits { rules: no_stack, .. } =
        classify(&example("amazon-q-business-docs"), true, &catalog(), at())
    else {
        panic!()
    };
    assert_eq!(no_stack, ["C1", "C2"], "C4 only when there is a stack to check");
    assert!(
        reasons[0].contains("$1,200/month") && reasons[0].contains("$850/month"),
        "{reasons:?}"
    );
    let mut body = worked();
    body.budget[1].monthly_usd = Some(1_500);
    let Classification::Redirect { reasons, rules, .. } = classify(&body, true, &catalog(), at()) else {
        panic!()
    };
    assert_eq!(rules, ["C1", "C4", "C2", "C3"], "C4: the worked example has a stack");
    assert!(
        reasons[0].contains("$1,500/month") && reasons[0].contains("$1,200/month"),
        "{reasons:?}"
    );
}

#[test]
fn decisions_round_trip_through_json() {
    let body = worked();
    let c = classify(&body, true, &catalog(), at());
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Classification>(&json).unwrap(), c);
    let r = sandbox(&body);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["outcome"]["decision"], "approved");
    assert_eq!(json["outcome"]["tier_usd"], 20_000);
    assert_eq!(serde_json::from_value::<Review>(json).unwrap(), r);
    assert_eq!(
        serde_json::to_value(PoolFigures::default()).unwrap()["total_monthly_usd"],
        0
    );
}
