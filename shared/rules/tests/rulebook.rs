//! One table per rule id of DOMAIN §3–§5 (and K1, K2, P1). Each row edits a baseline application
//! just enough to trip (or not trip) the rule, and states where it must end up: a rule whose rows
//! all ended up at the baseline would not be tested, so `check` refuses such a table.

mod common;

use common::*;
use sandpiper_contracts::decision::{Classification, Continuation, Finding, Outcome};
use sandpiper_contracts::model::{BudgetCategory, Programme, StackEntry, StackStatus, TargetMetric};
use sandpiper_contracts::rule::RuleId;
use sandpiper_rules::{eligibility, review, review_period_days};

const REDIRECT_NEW: Verdict = Verdict::Redirected(Programme::BedrockPoc, Continuation::NewLinkedApplication);
const TO_ACTIVATE: Verdict = Verdict::Redirected(Programme::ActivatePortfolio, Continuation::RecordedInStack);

fn onto(stack_index: usize) -> Verdict {
    Verdict::Redirected(Programme::BedrockPoc, Continuation::ExistingStackEntry { stack_index })
}

/// A use case that names Bedrock Agents, has 35 words and states no target.
const NO_TARGET: &str = "Evaluation of Bedrock Agents to resolve incoming customer support tickets for our SaaS customer base, classifying each ticket, retrieving documentation, drafting responses and escalating the hard ones to the human queue with full context attached.";

fn untargeted(i: &mut Input, prefix: &str) {
    i.body.use_case = format!("{prefix}{NO_TARGET}");
    i.body.target_metrics.clear();
}

fn weak_window(i: &mut Input) {
    i.body.evaluation_window_days = 45;
}

fn stack(programme: Programme, workload: Option<&str>, status: StackStatus) -> StackEntry {
    StackEntry {
        programme,
        amount_usd: Some(25_000),
        workload: workload.map(str::to_owned),
        status,
    }
}

fn inference(i: &mut Input, amount: i64) {
    i.body.budget[1].monthly_usd = Some(amount);
}

// ---------------------------------------------------------------------------------------------
// §3 Eligibility

#[test]
fn rule_e1_aws_account_id_must_be_exactly_twelve_digits() {
    fn account(i: &mut Input, id: &str) {
        i.body.startup.aws_account_id = id.into();
    }
    check(
        "E1",
        worked(),
        true,
        &[
            case(
                "five digits",
                |i| account(i, "12345"),
                Verdict::Rejected,
                &["E1", "T1"],
                &[],
            ),
            case(
                "thirteen digits",
                |i| account(i, "1111222233334"),
                Verdict::Rejected,
                &["E1"],
                &[],
            ),
            case(
                "a letter",
                |i| account(i, "11112222333a"),
                Verdict::Rejected,
                &["E1"],
                &[],
            ),
            case(
                "grouped",
                |i| account(i, "1111-2222-3333"),
                Verdict::Rejected,
                &["E1"],
                &[],
            ),
            case(
                "non-ASCII digits",
                |i| account(i, "١١١١٢٢٢٢٣٣٣٣"),
                Verdict::Rejected,
                &["E1"],
                &[],
            ),
            case("blank", |i| account(i, ""), Verdict::Rejected, &["E1"], &[]),
            case("twelve zeros", |i| account(i, "000000000000"), TYPICAL, &[], &[]),
        ],
    );
}

#[test]
fn rule_e2_restricted_industries_are_rejected() {
    fn industry(i: &mut Input, name: &str) {
        i.body.startup.industry = name.into();
    }
    check(
        "E2",
        worked(),
        true,
        &[
            case(
                "gambling",
                |i| industry(i, "gambling"),
                Verdict::Rejected,
                &["E2", "T1"],
                &[],
            ),
            case(
                "adult-content",
                |i| industry(i, "adult-content"),
                Verdict::Rejected,
                &["E2"],
                &[],
            ),
            case("weapons", |i| industry(i, "weapons"), Verdict::Rejected, &["E2"], &[]),
            case("tobacco", |i| industry(i, "tobacco"), Verdict::Rejected, &["E2"], &[]),
            case("cannabis", |i| industry(i, "cannabis"), Verdict::Rejected, &["E2"], &[]),
            case(
                "normalised",
                |i| industry(i, " Adult Content "),
                Verdict::Rejected,
                &["E2"],
                &[],
            ),
            case(
                "upper case",
                |i| industry(i, "CANNABIS"),
                Verdict::Rejected,
                &["E2"],
                &[],
            ),
            case("gaming is not gambling", |i| industry(i, "gaming"), TYPICAL, &[], &[]),
            case("fintech", |i| industry(i, "fintech"), TYPICAL, &[], &[]),
        ],
    );
}

#[test]
fn rule_e3_a_filing_partner_is_required() {
    check(
        "E3",
        worked(),
        true,
        &[
            case(
                "no partner",
                |i| i.has_partner = false,
                Verdict::Rejected,
                &["E3", "T1"],
                &[],
            ),
            case("a partner", |i| i.has_partner = true, TYPICAL, &[], &[]),
        ],
    );
}

#[test]
fn rule_e4_a_solo_pre_revenue_founder_is_eligible() {
    fn solo(i: &mut Input) {
        i.body.startup.stage = Some("pre-seed".into());
        i.body.startup.team_size = Some(1);
        i.body.startup.monthly_recurring_revenue_usd = Some(0);
    }
    // E4 is the absence of a gate: nothing here may change the outcome.
    check(
        "E4",
        worked(),
        false,
        &[
            case("solo, pre-revenue", solo, TYPICAL, &[], &[]),
            case(
                "nothing stated",
                |i| {
                    i.body.startup.stage = None;
                    i.body.startup.team_size = None;
                    i.body.startup.monthly_recurring_revenue_usd = None;
                },
                TYPICAL,
                &[],
                &[],
            ),
            case(
                "large and revenue-rich",
                |i| {
                    i.body.startup.stage = Some("public".into());
                    i.body.startup.team_size = Some(10_000_000);
                    i.body.startup.monthly_recurring_revenue_usd = Some(100_000_000);
                },
                TYPICAL,
                &[],
                &[],
            ),
        ],
    );
    let mut input = Input::new(worked());
    solo(&mut input);
    assert!(eligibility(&input.body, true, &input.catalog, at()).is_empty());
}

#[test]
fn rule_e5_the_service_must_be_in_the_catalog() {
    fn service(i: &mut Input, id: &str) {
        i.body.service = id.into();
    }
    check(
        "E5",
        worked(),
        true,
        &[
            case(
                "unknown",
                |i| service(i, "amazon-lex"),
                Verdict::Rejected,
                &["E5", "T1"],
                &["U", "M"],
            ),
            case(
                "a display name, not an id",
                |i| service(i, "Bedrock Agents"),
                Verdict::Rejected,
                &["E5"],
                &["M"],
            ),
            case("blank", |i| service(i, ""), Verdict::Rejected, &["E5"], &["U", "M"]),
            case("the id", |i| service(i, "bedrock-agents"), TYPICAL, &[], &[]),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// §2 The catalog

#[test]
fn rule_k1_a_matured_service_is_redirected_by_family() {
    fn mature(i: &mut Input, id: &str, on: &str) {
        set_dates(&mut i.catalog, id, None, Some(on));
    }
    check(
        "K1",
        worked(),
        true,
        &[
            case(
                "bedrock, matured on the submission day",
                |i| mature(i, "bedrock-agents", "2026-06-01"),
                REDIRECT_NEW,
                &["K1", "C3"],
                &[],
            ),
            case(
                "bedrock, matured long ago",
                |i| mature(i, "bedrock-agents", "2026-01-01"),
                REDIRECT_NEW,
                &["K1"],
                &[],
            ),
            case(
                "bedrock, matures tomorrow",
                |i| mature(i, "bedrock-agents", "2026-06-02"),
                TYPICAL,
                &[],
                &[],
            ),
            case(
                "q family goes to Activate Portfolio",
                |i| {
                    i.body = example("amazon-q-business-docs");
                    mature(i, "amazon-q-business", "2026-05-01");
                },
                TO_ACTIVATE,
                &["K1"],
                &[],
            ),
            case(
                "sagemaker family goes to Activate Portfolio",
                |i| {
                    i.body.service = "sagemaker-unified-studio".into();
                    mature(i, "sagemaker-unified-studio", "2026-05-01");
                },
                TO_ACTIVATE,
                &["K1"],
                &[],
            ),
            case(
                "a Bedrock POC filing is already where K1 points (no loop)",
                |i| {
                    i.body.programme = Programme::BedrockPoc;
                    mature(i, "bedrock-agents", "2026-05-01");
                },
                TOP,
                &["K1", "P1"],
                &[],
            ),
        ],
    );
}

#[test]
fn rule_k2_a_service_enters_the_set_on_its_emerging_date() {
    check(
        "K2",
        worked(),
        true,
        &[
            case(
                "emerges tomorrow",
                |i| set_dates(&mut i.catalog, "bedrock-agents", Some("2026-06-02"), None),
                Verdict::Rejected,
                &["E5", "K2", "T1"],
                &[],
            ),
            case(
                "emerges on the submission day",
                |i| set_dates(&mut i.catalog, "bedrock-agents", Some("2026-06-01"), None),
                TYPICAL,
                &[],
                &[],
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// §4 Pool classification

#[test]
fn rule_c1_the_variable_under_test_decides_the_pool() {
    check(
        "C1",
        worked(),
        true,
        &[
            case(
                "the foundation model is the variable",
                |i| inference(i, 1_201),
                REDIRECT_NEW,
                &["C1", "C2", "C3"],
                &[],
            ),
            case(
                "the emerging service is the variable",
                |i| i.body.budget[0].monthly_usd = Some(5_000),
                TOP,
                &["C1", "C2", "T4"],
                &[],
            ),
        ],
    );

    // The table's verdicts are C2's comparison; what C1 itself adds is the judgement the decision
    // states: which variable is under test. These fail if C1's judgement is dropped or inverted.
    fn said(edit: fn(&mut Input)) -> (Vec<RuleId>, String) {
        let mut input = Input::new(worked());
        edit(&mut input);
        let d = decide(&input);
        let (Classification::Fits { reasons, .. }
        | Classification::Redirect { reasons, .. }
        | Classification::Ineligible { reasons, .. }) = &d.classification;
        (d.rules, reasons.join(" "))
    }
    let (rules, model) = said(|i| inference(i, 1_201));
    assert!(
        model.contains("the foundation-model choice is the variable under test") && model.contains("(C1, C2)"),
        "{model}"
    );
    assert!(rules.contains(&RuleId::C1));
    let (_, service) = said(|_| {});
    assert!(
        service.contains("the service is the variable under test") && service.contains("(C1, C2)"),
        "{service}"
    );
    // C1 judges an Innovation Sandbox filing; a Bedrock POC filing is reviewed as filed (P1).
    let (rules, _) = said(|i| i.body.programme = Programme::BedrockPoc);
    assert!(!rules.contains(&RuleId::C1), "{rules:?}");
}

#[test]
fn rule_c2_consumption_decides_the_boundary_ties_stay() {
    check(
        "C2",
        worked(),
        true,
        &[
            case("inference larger", |i| inference(i, 1_201), REDIRECT_NEW, &["C2"], &[]),
            case("a tie stays", |i| inference(i, 1_200), TYPICAL, &["C2"], &[]),
            case(
                "supporting lines do not count",
                |i| i.body.budget[2].monthly_usd = Some(5_000),
                TOP,
                &["C2"],
                &[],
            ),
            case(
                "a range counts at its midpoint: 1,201",
                |i| {
                    i.body.budget[1].monthly_usd = None;
                    i.body.budget[1].monthly_usd_range = Some([1_000, 1_403]);
                },
                REDIRECT_NEW,
                &["C2"],
                &["B"],
            ),
            case(
                "a midpoint rounds down: 1,200",
                |i| {
                    i.body.budget[1].monthly_usd = None;
                    i.body.budget[1].monthly_usd_range = Some([1_000, 1_401]);
                },
                FLOOR,
                &["C2"],
                &["B"],
            ),
        ],
    );
}

#[test]
fn rule_c3_a_misfiled_application_is_redirected_never_rejected() {
    check(
        "C3",
        worked(),
        true,
        &[
            case(
                "inference-dominated",
                |i| inference(i, 5_000),
                REDIRECT_NEW,
                &["C3"],
                &[],
            ),
            case(
                "overlapping a Bedrock POC",
                |i| {
                    i.body.stack = vec![stack(
                        Programme::BedrockPoc,
                        Some("customer-support"),
                        StackStatus::Pending,
                    )]
                },
                onto(0),
                &["C3"],
                &[],
            ),
        ],
    );
    // The linked application continues under P1 and, all four strong, gets $25K.
    let mut input = Input::new(worked());
    inference(&mut input, 5_000);
    let continued = decide(&input).review.unwrap();
    assert_eq!(continued.pool, Programme::BedrockPoc);
    assert_eq!(verdict(continued.outcome), TOP);
}

#[test]
fn rule_c4_stacking_by_normalised_workload() {
    fn only(i: &mut Input, entry: StackEntry) {
        i.body.stack = vec![entry];
    }
    use Programme::*;
    use StackStatus::*;
    check(
        "C4",
        worked(),
        true,
        &[
            case(
                "Activate Portfolio stacks cleanly, even on the same workload",
                |i| only(i, stack(ActivatePortfolio, Some("customer-support"), Approved)),
                TYPICAL,
                &["C4"],
                &[],
            ),
            case(
                "a distinct Bedrock POC stacks",
                |i| only(i, stack(BedrockPoc, Some("invoice-extraction"), Approved)),
                TYPICAL,
                &["C4"],
                &[],
            ),
            case(
                "a distinct Build for Startups stacks",
                |i| only(i, stack(BuildForStartups, Some("soc2-architecture"), Approved)),
                TYPICAL,
                &["C4"],
                &[],
            ),
            case(
                "an unlabelled Build for Startups cannot overlap",
                |i| only(i, stack(BuildForStartups, None, Approved)),
                TYPICAL,
                &["C4"],
                &[],
            ),
            case(
                "labels overlap after normalising",
                |i| only(i, stack(BuildForStartups, Some("Customer Support!!"), Approved)),
                Verdict::Rejected,
                &["C4", "C4b"],
                &[],
            ),
            case(
                "a Bedrock POC overlap",
                |i| only(i, stack(BedrockPoc, Some("CUSTOMER_SUPPORT"), Pending)),
                onto(0),
                &["C4", "C4a"],
                &[],
            ),
        ],
    );
}

#[test]
fn rule_c4a_overlap_with_a_bedrock_poc_redirects_onto_it() {
    use Programme::*;
    use StackStatus::*;
    check(
        "C4a",
        worked(),
        true,
        &[
            case(
                "approved",
                |i| {
                    i.body.stack = vec![
                        stack(ActivatePortfolio, None, Pending),
                        stack(BedrockPoc, Some("Customer Support"), Approved),
                    ]
                },
                onto(1),
                &["C4", "C4a", "C3"],
                &[],
            ),
            case(
                "pending",
                |i| {
                    i.body.stack = vec![
                        stack(ActivatePortfolio, None, Pending),
                        stack(BedrockPoc, Some("customer support"), Pending),
                    ]
                },
                onto(1),
                &["C4a"],
                &[],
            ),
            case(
                "the overlapping entry, not the first one",
                |i| {
                    i.body.stack = vec![
                        stack(BedrockPoc, Some("invoice-extraction"), Approved),
                        stack(BedrockPoc, Some("customer-support"), Approved),
                    ]
                },
                onto(1),
                &["C4a"],
                &[],
            ),
        ],
    );
}

#[test]
fn rule_c4b_overlap_with_build_for_startups_is_rejected() {
    use Programme::*;
    use StackStatus::*;
    check(
        "C4b",
        worked(),
        true,
        &[
            case(
                "approved engagement",
                |i| i.body.stack = vec![stack(BuildForStartups, Some("customer_support"), Approved)],
                Verdict::Rejected,
                &["C4", "C4b", "T1"],
                &[],
            ),
            case(
                "pending engagement",
                |i| i.body.stack = vec![stack(BuildForStartups, Some("customer-support"), Pending)],
                Verdict::Rejected,
                &["C4b"],
                &[],
            ),
            case(
                "wins over an overlapping Bedrock POC earlier in the stack",
                |i| {
                    i.body.stack = vec![
                        stack(BedrockPoc, Some("customer-support"), Approved),
                        stack(BuildForStartups, Some("customer-support"), Approved),
                    ]
                },
                Verdict::Rejected,
                &["C4b"],
                &[],
            ),
        ],
    );
    let mut input = Input::new(worked());
    input.body.stack = vec![stack(BuildForStartups, Some("customer-support"), Approved)];
    let d = decide(&input);
    let Classification::Ineligible { failures, .. } = &d.classification else {
        panic!("{:?}", d.classification)
    };
    let expected = Finding {
        rule: RuleId::C4b,
        reason: "scope overlaps Build for Startups engagement".into(),
    };
    assert_eq!(failures, &[expected]);
    let review = d.review.unwrap();
    assert!(
        review
            .reasons
            .iter()
            .any(|r| r.contains("scope overlaps Build for Startups engagement"))
    );
}

// ---------------------------------------------------------------------------------------------
// §5 The components

#[test]
fn rule_u1_the_use_case_names_the_service() {
    fn rename(i: &mut Input, name: &str) {
        i.body.use_case = i.body.use_case.replace("Bedrock Agents", name);
    }
    check(
        "U1",
        worked(),
        true,
        &[
            case(
                "not named",
                |i| rename(i, "the agent framework"),
                FLOOR,
                &["U1", "T3"],
                &["U"],
            ),
            case(
                "an alias",
                |i| rename(i, "Agents for Amazon Bedrock"),
                TYPICAL,
                &[],
                &[],
            ),
            case("the id", |i| rename(i, "bedrock-agents"), TYPICAL, &[], &[]),
            case("any case", |i| rename(i, "BEDROCK AGENTS"), TYPICAL, &[], &[]),
        ],
    );
    let use_case = decide(&Input::new(worked())).review.unwrap().components.use_case;
    assert!(
        use_case
            .reasons
            .iter()
            .any(|r| r == "Names the service (\"Bedrock Agents\") (U1)."),
        "the reason quotes the display name: {use_case:?}"
    );
}

#[test]
fn rule_u2_a_quantitative_target() {
    fn targets(i: &mut Input, target: &str) {
        untargeted(i, "");
        i.body.target_metrics = vec![TargetMetric {
            name: "auto-resolution".into(),
            target: target.into(),
        }];
    }
    check(
        "U2",
        worked(),
        true,
        &[
            case("none", |i| untargeted(i, ""), FLOOR, &["U2", "T3"], &["U"]),
            case(
                "a number without a unit",
                |i| {
                    untargeted(i, "");
                    i.body.use_case.push_str(" Resolve 40 tickets an hour.");
                },
                FLOOR,
                &["U2"],
                &["U"],
            ),
            case(
                "in the text",
                |i| {
                    untargeted(i, "");
                    i.body.use_case.push_str(" Answers in under 800 ms.");
                },
                TYPICAL,
                &[],
                &[],
            ),
            case("a listed numeric target", |i| targets(i, "30%"), TYPICAL, &[], &[]),
            case(
                "a listed target without a number",
                |i| targets(i, "high"),
                FLOOR,
                &["U2"],
                &["U"],
            ),
        ],
    );
}

#[test]
fn rule_u3_at_least_thirty_words() {
    check(
        "U3",
        worked(),
        true,
        &[
            case(
                "29 words",
                |i| i.body.use_case = use_case_of(29),
                FLOOR,
                &["U3", "T3"],
                &["U"],
            ),
            case("30 words", |i| i.body.use_case = use_case_of(30), TYPICAL, &[], &[]),
        ],
    );
}

#[test]
fn rule_u4_exploratory_without_a_target_is_vague() {
    // With the window weak too, vagueness is what turns a $10K approval into a rejection (T2).
    check(
        "U4",
        worked(),
        true,
        &[
            case(
                "exploring",
                |i| {
                    untargeted(i, "Exploring agents. ");
                    weak_window(i);
                },
                Verdict::Rejected,
                &["U4", "T2"],
                &["U", "W"],
            ),
            case(
                "explore what",
                |i| {
                    untargeted(i, "We explore what agents do. ");
                    weak_window(i);
                },
                Verdict::Rejected,
                &["U4"],
                &["U", "W"],
            ),
            case(
                "what … can do",
                |i| {
                    untargeted(i, "We want to see what agents can do. ");
                    weak_window(i);
                },
                Verdict::Rejected,
                &["U4"],
                &["U", "W"],
            ),
            case(
                "various … use cases",
                |i| {
                    untargeted(i, "Agents for various support use cases. ");
                    weak_window(i);
                },
                Verdict::Rejected,
                &["U4"],
                &["U", "W"],
            ),
            case(
                "for our workflows",
                |i| {
                    untargeted(i, "Agents for our workflows. ");
                    weak_window(i);
                },
                Verdict::Rejected,
                &["U4"],
                &["U", "W"],
            ),
            case(
                "not exploratory: no target alone is only weak",
                |i| {
                    untargeted(i, "");
                    weak_window(i);
                },
                FLOOR,
                &["U2", "T3"],
                &["U", "W"],
            ),
            case(
                "a target lifts the vagueness",
                |i| {
                    untargeted(i, "Exploring agents to reach 30% auto-resolution. ");
                    weak_window(i);
                },
                FLOOR,
                &["T3"],
                &["W"],
            ),
        ],
    );
}

#[test]
fn rule_m_metrics_need_three_a_typical_one_and_a_checkpoint() {
    fn metrics(i: &mut Input, list: &[&str]) {
        i.body.metrics = list.iter().map(|m| (*m).to_owned()).collect();
    }
    check(
        "M",
        worked(),
        true,
        &[
            case(
                "two metrics",
                |i| i.body.metrics.truncate(2),
                FLOOR,
                &["M", "T3"],
                &["M"],
            ),
            case(
                "none typical",
                |i| metrics(i, &["team happiness", "number of meetings", "coffee consumed"]),
                FLOOR,
                &["M"],
                &["M"],
            ),
            case(
                "\"latency\" matches \"tool-call latency\"",
                |i| metrics(i, &["latency p95", "ticket volume", "CSAT score"]),
                TYPICAL,
                &[],
                &[],
            ),
            case(
                "a plural matches",
                |i| metrics(i, &["invocations per ticket", "ticket volume", "CSAT score"]),
                TYPICAL,
                &[],
                &[],
            ),
            case(
                "word overlap is enough: cost",
                |i| metrics(i, &["cost per resolved ticket", "ticket volume", "CSAT score"]),
                TYPICAL,
                &[],
                &[],
            ),
            case(
                "only a stopword in common",
                |i| metrics(i, &["tickets per hour", "ticket volume", "CSAT score"]),
                FLOOR,
                &["M"],
                &["M"],
            ),
            case(
                "no checkpoint",
                |i| i.body.feedback_checkpoints_days.clear(),
                FLOOR,
                &["M"],
                &["M"],
            ),
            case(
                "a checkpoint after the window",
                |i| i.body.feedback_checkpoints_days = vec![61],
                FLOOR,
                &["M"],
                &["M"],
            ),
            case(
                "a checkpoint on day 0",
                |i| i.body.feedback_checkpoints_days = vec![0],
                FLOOR,
                &["M"],
                &["M"],
            ),
            case(
                "one checkpoint inside is enough",
                |i| i.body.feedback_checkpoints_days = vec![1],
                TYPICAL,
                &[],
                &[],
            ),
        ],
    );
}

#[test]
fn rule_w_thirty_or_sixty_days_are_strong() {
    check(
        "W",
        worked(),
        true,
        &[
            case(
                "45 days",
                |i| i.body.evaluation_window_days = 45,
                FLOOR,
                &["W", "T3"],
                &["W"],
            ),
            case("59 days", |i| i.body.evaluation_window_days = 59, FLOOR, &["W"], &["W"]),
            case("31 days", |i| i.body.evaluation_window_days = 31, FLOOR, &["W"], &["W"]),
            case("30 days", |i| i.body.evaluation_window_days = 30, TYPICAL, &[], &[]),
            case("60 days", |i| i.body.evaluation_window_days = 60, TYPICAL, &[], &[]),
        ],
    );
}

#[test]
fn rule_b_budget_exact_with_an_emerging_line_and_nothing_unfundable() {
    check(
        "B",
        worked(),
        true,
        &[
            case(
                "a range estimate",
                |i| {
                    i.body.budget[2].monthly_usd = None;
                    i.body.budget[2].monthly_usd_range = Some([150, 250]);
                },
                FLOOR,
                &["B", "T3"],
                &["B"],
            ),
            case(
                "no emerging_service line",
                |i| {
                    i.body.budget[0].category = BudgetCategory::Supporting;
                    i.body.budget[1].category = BudgetCategory::Supporting;
                },
                FLOOR,
                &["B"],
                &["B"],
            ),
            case(
                "an other line",
                |i| i.body.budget.push(line("Office rent", BudgetCategory::Other, 100)),
                FLOOR,
                &["B"],
                &["B"],
            ),
        ],
    );
    let mut input = Input::new(worked());
    input.body.budget[2].monthly_usd = None;
    input.body.budget[2].monthly_usd_range = Some([150, 250]);
    let budget = decide(&input).review.unwrap().components.budget;
    assert!(
        budget
            .reasons
            .iter()
            .any(|r| r.contains("Range estimates are downgraded")),
        "{budget:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// §5 The tier

#[test]
fn rule_t1_any_eligibility_failure_rejects() {
    check(
        "T1",
        worked(),
        true,
        &[
            case(
                "restricted industry",
                |i| i.body.startup.industry = "gambling".into(),
                Verdict::Rejected,
                &["T1", "E2"],
                &[],
            ),
            case(
                "two failures",
                |i| {
                    i.has_partner = false;
                    i.body.startup.aws_account_id = "1".into();
                },
                Verdict::Rejected,
                &["T1", "E1", "E3"],
                &[],
            ),
        ],
    );
    // Directly: whatever the components, a failure passed in rejects, with its id and reason.
    let failure = Finding {
        rule: RuleId::C4b,
        reason: "scope overlaps Build for Startups engagement".into(),
    };
    let r = review(
        &ceiling(),
        Programme::InnovationSandbox,
        &catalog(),
        std::slice::from_ref(&failure),
    );
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.rules.contains(&RuleId::T1) && r.rules.contains(&RuleId::C4b));
    assert!(r.reasons.iter().any(|x| x.contains(&failure.reason)));
    assert!(!r.next_tier.is_empty(), "it says what would make it approvable");
}

#[test]
fn rule_t2_vague_and_another_weak_component_reject() {
    check(
        "T2",
        worked(),
        true,
        &[
            case(
                "the seed's exploring application",
                |i| i.body = example("exploring-agents"),
                Verdict::Rejected,
                &["T2", "U4"],
                &["U", "M", "W", "B"],
            ),
            case(
                "vague and a weak budget",
                |i| {
                    untargeted(i, "Exploring agents. ");
                    i.body.budget.push(line("Office rent", BudgetCategory::Other, 100));
                },
                Verdict::Rejected,
                &["T2"],
                &["U", "B"],
            ),
            case(
                "vague alone is only downgraded",
                |i| untargeted(i, "Exploring agents. "),
                FLOOR,
                &["U4", "T3"],
                &["U"],
            ),
        ],
    );
}

#[test]
fn rule_t3_any_weak_component_is_the_10k_floor() {
    check(
        "T3",
        worked(),
        true,
        &[
            case(
                "one weak",
                |i| i.body.evaluation_window_days = 45,
                FLOOR,
                &["T3"],
                &["W"],
            ),
            case(
                "two weak",
                |i| {
                    i.body.evaluation_window_days = 45;
                    i.body.metrics.truncate(1);
                },
                FLOOR,
                &["T3"],
                &["M", "W"],
            ),
            case(
                "all four weak, none vague",
                |i| {
                    untargeted(i, "");
                    i.body.metrics.truncate(1);
                    i.body.evaluation_window_days = 45;
                    i.body.budget.push(line("Office rent", BudgetCategory::Other, 100));
                },
                FLOOR,
                &["T3"],
                &["U", "M", "W", "B"],
            ),
        ],
    );
}

#[test]
fn rule_t4_ceiling_needs_3000_a_mid_window_and_a_closing_checkpoint() {
    fn days(i: &mut Input, d: &[i64]) {
        i.body.feedback_checkpoints_days = d.to_vec();
    }
    check(
        "T4",
        ceiling(),
        true,
        &[
            case("the seed's $3,150 with days 30 and 60", |_| {}, TOP, &["T4"], &[]),
            case(
                "mid-window starts at day 20 of 60",
                |i| days(i, &[20, 60]),
                TOP,
                &["T4"],
                &[],
            ),
            case(
                "mid-window ends at day 40 of 60",
                |i| days(i, &[40, 60]),
                TOP,
                &["T4"],
                &[],
            ),
            case("day 19 is too early", |i| days(i, &[19, 60]), TYPICAL, &["T5"], &[]),
            case("day 41 is too late", |i| days(i, &[41, 60]), TYPICAL, &["T5"], &[]),
            case("no closing checkpoint", |i| days(i, &[30, 59]), TYPICAL, &["T5"], &[]),
            case("no mid-window checkpoint", |i| days(i, &[60]), TYPICAL, &["T5"], &[]),
            case(
                "$2,999",
                |i| i.body.budget[3].monthly_usd = Some(149),
                TYPICAL,
                &["T5"],
                &[],
            ),
            case(
                "exactly $3,000",
                |i| i.body.budget[3].monthly_usd = Some(150),
                TOP,
                &["T4"],
                &[],
            ),
            case(
                "a 30-day window: days 10 and 30",
                |i| {
                    i.body.evaluation_window_days = 30;
                    days(i, &[10, 30]);
                },
                TOP,
                &["T4"],
                &[],
            ),
        ],
    );
}

#[test]
fn rule_t5_all_strong_otherwise_is_the_typical_20k() {
    check(
        "T5",
        ceiling(),
        true,
        &[
            case(
                "the seed's worked example",
                |i| i.body = worked(),
                TYPICAL,
                &["T5"],
                &[],
            ),
            case(
                "a 30-day window",
                |i| {
                    i.body = worked();
                    i.body.evaluation_window_days = 30;
                },
                TYPICAL,
                &["T5"],
                &[],
            ),
        ],
    );
    let r = decide(&Input::new(worked())).review.unwrap();
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("total monthly budget $2,540 is below $3,000 (T4), so the typical tier applies")),
        "{:?}",
        r.reasons
    );
    assert!(
        r.next_tier.iter().any(|n| n.contains("$460 short")),
        "{:?}",
        r.next_tier
    );
}

#[test]
fn rule_t6_the_review_period() {
    for (pool, days) in [
        (Programme::InnovationSandbox, 12),
        (Programme::BedrockPoc, 14),
        (Programme::ActivatePortfolio, 12),
        (Programme::BuildForStartups, 12),
    ] {
        assert_eq!(review_period_days(pool), days, "{pool:?}");
        if pool.is_filed_here() {
            let r = review(&worked(), pool, &catalog(), &[]);
            assert!(r.rules.contains(&RuleId::T6));
            assert!(
                r.reasons.iter().any(|x| x.contains(&format!("{days} days"))),
                "{:?}",
                r.reasons
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// §1 P1

#[test]
fn rule_p1_a_bedrock_poc_is_25k_strong_10k_weak() {
    fn poc(i: &mut Input) {
        i.body.programme = Programme::BedrockPoc;
    }
    check(
        "P1",
        worked(),
        true,
        &[
            case("all strong, whatever the budget", poc, TOP, &["P1"], &[]),
            case(
                "C2 is not re-applied",
                |i| {
                    poc(i);
                    inference(i, 9_000);
                },
                TOP,
                &["P1"],
                &[],
            ),
            case(
                "the window is P1's 60 days, so a 45-day filing is not weak",
                |i| {
                    poc(i);
                    i.body.evaluation_window_days = 45;
                },
                TOP,
                &["P1"],
                &[],
            ),
            case(
                "a C3 redirect from a 45-day sandbox carries on with a 60-day window",
                |i| {
                    inference(i, 9_000);
                    i.body.evaluation_window_days = 45;
                },
                REDIRECT_NEW,
                &["C3", "P1"],
                &[],
            ),
            case(
                "one weak",
                |i| {
                    poc(i);
                    i.body.budget.push(line("Office rent", BudgetCategory::Other, 100));
                },
                FLOOR,
                &["P1", "T3"],
                &["B"],
            ),
            case(
                "two weak are the floor too",
                |i| {
                    poc(i);
                    i.body.metrics.truncate(2);
                    i.body.budget.push(line("Office rent", BudgetCategory::Other, 100));
                },
                FLOOR,
                &["P1"],
                &["M", "B"],
            ),
            case(
                "vague and weak: T2",
                |i| {
                    i.body = example("exploring-agents");
                    poc(i);
                },
                Verdict::Rejected,
                &["P1", "T2"],
                &["U", "M", "B"],
            ),
            case(
                "ineligible: T1",
                |i| {
                    poc(i);
                    i.body.startup.industry = "weapons".into();
                },
                Verdict::Rejected,
                &["T1", "E2"],
                &[],
            ),
        ],
    );
    let mut input = Input::new(worked());
    poc(&mut input);
    inference(&mut input, 9_000);
    let d = decide(&input);
    assert!(!d.fired("C2"), "{:?}", d.rules);
    assert_eq!(review_period_days(Programme::BedrockPoc), 14);
}
