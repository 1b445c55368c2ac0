//! Pool classification (DOMAIN §4, K1, P1): which pool an application belongs in, and why. The
//! order of the steps is documented in the crate doc.

use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::{Catalog, ServiceFamily};
use sandpiper_contracts::decision::{Classification, Continuation, Finding, PoolFigures};
use sandpiper_contracts::model::{ApplicationBody, BudgetCategory, Programme, StackStatus};
use sandpiper_contracts::rule::RuleId;

use crate::eligibility::eligibility;
use crate::text::{normalise_workload, usd};

/// A line's monthly amount: exact, or a range's midpoint rounded down (C2 needs one number).
fn monthly(exact: Option<i64>, range: Option<[i64; 2]>) -> i64 {
    match (exact, range) {
        (Some(amount), _) => amount,
        // In i128 the sum cannot overflow, and the midpoint always fits back into i64.
        (None, Some([low, high])) => i64::try_from((i128::from(low) + i128::from(high)).div_euclid(2)).unwrap_or(low),
        (None, None) => 0,
    }
}

/// C2's figures: the monthly sum per category and in total (T4). A range line counts at its
/// midpoint, rounded down. Sums saturate rather than overflow.
pub fn figures(body: &ApplicationBody) -> PoolFigures {
    let mut f = PoolFigures::default();
    for line in &body.budget {
        let amount = monthly(line.monthly_usd, line.monthly_usd_range);
        let bucket = match line.category {
            BudgetCategory::EmergingService => &mut f.emerging_service_monthly_usd,
            BudgetCategory::ModelInference => &mut f.model_inference_monthly_usd,
            BudgetCategory::Supporting => &mut f.supporting_monthly_usd,
            BudgetCategory::Other => &mut f.other_monthly_usd,
        };
        *bucket = bucket.saturating_add(amount);
        f.total_monthly_usd = f.total_monthly_usd.saturating_add(amount);
    }
    f
}

fn ineligible(
    body: &ApplicationBody,
    failures: Vec<Finding>,
    rules: Vec<RuleId>,
    figures: PoolFigures,
) -> Classification {
    let reasons = failures.iter().map(|f| f.reason.clone()).collect();
    Classification::Ineligible {
        pool: body.programme,
        failures,
        rules,
        reasons,
        figures,
    }
}

/// Classifies a submitted body as of its submission time `at`, against the catalog in force then
/// (K2). Runs [`eligibility`] first. Every outcome carries [`figures`].
pub fn classify(body: &ApplicationBody, has_partner: bool, catalog: &Catalog, at: DateTime<Utc>) -> Classification {
    let figures = figures(body);

    // 1. Eligibility: failures are rejected at the end of the review period (T1), not here.
    let failures = eligibility(body, has_partner, catalog, at);
    if !failures.is_empty() {
        let rules = failures.iter().map(|f| f.rule).collect();
        return ineligible(body, failures, rules, figures);
    }

    // 2. K1: a matured service has left the set.
    let mut matured_note = None;
    if let Some(service) = catalog.service(&body.service)
        && let Some(matured) = service.matured_at
        && matured <= at.date_naive()
    {
        let (to, continues_as, rules) = match service.family {
            ServiceFamily::Bedrock => (
                Programme::BedrockPoc,
                Continuation::NewLinkedApplication,
                vec![RuleId::K1, RuleId::C3],
            ),
            ServiceFamily::Q | ServiceFamily::Sagemaker => (
                Programme::ActivatePortfolio,
                Continuation::RecordedInStack,
                vec![RuleId::K1],
            ),
        };
        let why = format!(
            "{} matured on {matured} and no longer qualifies as an emerging service (catalog {})",
            service.display_name, catalog.version
        );
        // A Bedrock POC filing is already where K1 points: redirecting it to a new linked Bedrock
        // POC would loop forever, so it carries on under P1 (step 3).
        if to != body.programme {
            let continuation = match continues_as {
                Continuation::NewLinkedApplication => "it continues as a new, linked Bedrock POC application (C3)",
                _ => "it is recorded in the startup's stack, not run here",
            };
            return Classification::Redirect {
                to,
                continues_as,
                rules,
                reasons: vec![format!("{why}: redirected to {} (K1); {continuation}.", to.as_str())],
                figures,
            };
        }
        matured_note = Some(format!(
            "{why}; a Bedrock POC filing is already in the pool K1 points to (K1)."
        ));
    }

    // 3. A direct Bedrock POC filing is reviewed as filed (P1); C2 is not re-applied to it.
    if body.programme == Programme::BedrockPoc {
        let mut rules = vec![RuleId::P1];
        let mut reasons = vec![
            "Filed as a Bedrock POC: reviewed on the same four components, decided after 14 days (P1).".to_owned(),
        ];
        if let Some(note) = matured_note {
            rules.insert(0, RuleId::K1);
            reasons.insert(0, note);
        }
        return Classification::Fits {
            pool: Programme::BedrockPoc,
            rules,
            reasons,
            figures,
        };
    }

    // 4. C4: stacking with the startup's other programmes.
    let stack_reasons = match stacking(body) {
        Stacking::Clear(reasons) => reasons,
        Stacking::OverlapsBuildForStartups { workload } => {
            let failure = Finding {
                rule: RuleId::C4b,
                reason: "scope overlaps Build for Startups engagement".into(),
            };
            let mut c = ineligible(body, vec![failure], vec![RuleId::C4, RuleId::C4b], figures);
            if let Classification::Ineligible { reasons, .. } = &mut c {
                reasons.push(format!(
                    "Both are workload {workload:?}: the Build for Startups engagement already covers this use case (C4b)."
                ));
            }
            return c;
        }
        Stacking::OverlapsBedrockPoc {
            stack_index,
            status,
            workload,
        } => {
            let status = match status {
                StackStatus::Approved => "approved",
                StackStatus::Pending => "pending",
            };
            return Classification::Redirect {
                to: Programme::BedrockPoc,
                continues_as: Continuation::ExistingStackEntry { stack_index },
                rules: vec![RuleId::C4, RuleId::C4a, RuleId::C3],
                reasons: vec![format!(
                    "The startup's {status} Bedrock POC (stack entry {stack_index}) already covers workload {workload:?}: this evaluation continues under it, not as a second application (C4a, C3)."
                )],
                figures,
            };
        }
    };

    // 5. C1/C2: which variable is under test, decided by consumption. Supporting lines do not count.
    let emerging = figures.emerging_service_monthly_usd;
    let inference = figures.model_inference_monthly_usd;
    // Rule ids in the order the steps ran: C4 (when the stack was checked) before C2, as the
    // services' messages have always listed them.
    let mut rules = vec![RuleId::C1];
    if !body.stack.is_empty() {
        rules.push(RuleId::C4);
    }
    rules.push(RuleId::C2);
    let mut reasons = Vec::new();
    let redirect = inference > emerging;
    if redirect {
        rules.push(RuleId::C3);
        reasons.push(format!(
            "Model inference ({}/month) is larger than the emerging service ({}/month): the foundation-model choice is the variable under test, so this is Bedrock POC scope (C1, C2); it continues as a new, linked Bedrock POC application (C3).",
            usd(inference),
            usd(emerging)
        ));
    } else {
        reasons.push(format!(
            "The emerging service ({}/month) is at least model inference ({}/month): the service is the variable under test, so Innovation Sandbox fits (C1, C2).",
            usd(emerging),
            usd(inference)
        ));
    }
    reasons.extend(stack_reasons);
    if redirect {
        Classification::Redirect {
            to: Programme::BedrockPoc,
            continues_as: Continuation::NewLinkedApplication,
            rules,
            reasons,
            figures,
        }
    } else {
        Classification::Fits {
            pool: Programme::InnovationSandbox,
            rules,
            reasons,
            figures,
        }
    }
}

/// What C4 found in the startup's stack.
enum Stacking {
    /// Everything stacks; one reason per entry.
    Clear(Vec<String>),
    /// C4b: rejected.
    OverlapsBuildForStartups { workload: String },
    /// C4a: continues under this Bedrock POC.
    OverlapsBedrockPoc {
        stack_index: usize,
        status: StackStatus,
        workload: String,
    },
}

/// C4. Overlap means equal normalised workload labels; an entry without a label cannot overlap.
/// A Build for Startups overlap (C4b) wins over a Bedrock POC overlap (C4a) wherever the two
/// entries sit in the stack (decided: a rejection cannot be escaped by redirecting).
fn stacking(body: &ApplicationBody) -> Stacking {
    let workload = normalise_workload(&body.workload);
    let overlaps = |label: Option<&str>| label.is_some_and(|w| normalise_workload(w) == workload);
    let entries = || body.stack.iter().enumerate();
    if entries().any(|(_, e)| e.programme == Programme::BuildForStartups && overlaps(e.workload.as_deref())) {
        return Stacking::OverlapsBuildForStartups { workload };
    }
    // Both statuses a stack entry can have (approved, pending) count for C4a.
    if let Some((stack_index, entry)) =
        entries().find(|(_, e)| e.programme == Programme::BedrockPoc && overlaps(e.workload.as_deref()))
    {
        return Stacking::OverlapsBedrockPoc {
            stack_index,
            status: entry.status,
            workload,
        };
    }
    let reasons = body
        .stack
        .iter()
        .map(|entry| match (entry.programme, entry.workload.as_deref()) {
            (Programme::ActivatePortfolio, _) => "Activate Portfolio stacks cleanly (C4).".to_owned(),
            // C4 sets an overlap condition only for these two; reaching here means no overlap.
            (programme @ (Programme::BuildForStartups | Programme::BedrockPoc), Some(other)) => format!(
                "The {} engagement (workload {:?}) is a distinct use case from {workload:?}, so it stacks (C4).",
                programme.as_str(),
                normalise_workload(other)
            ),
            // Any other entry (e.g. another innovation_sandbox) is not compared at all: saying
            // "distinct use case" would be untrue when the workloads are equal.
            (programme, Some(_)) => format!(
                "C4 sets no overlap condition for {} engagements, so it stacks whatever its workload (C4).",
                programme.as_str()
            ),
            (programme, None) => format!(
                "The {} engagement names no workload, so it cannot overlap (C4).",
                programme.as_str()
            ),
        })
        .collect();
    Stacking::Clear(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, catalog};
    use crate::fixtures::{example, worked};
    use sandpiper_contracts::model::{BudgetLine, StackEntry};

    fn line(category: BudgetCategory, exact: Option<i64>, range: Option<[i64; 2]>) -> BudgetLine {
        BudgetLine {
            item: "x".into(),
            category,
            monthly_usd: exact,
            monthly_usd_range: range,
            basis: None,
        }
    }

    #[test]
    fn figures_sum_by_category_with_range_midpoints_rounded_down() {
        let f = figures(&worked());
        assert_eq!(
            (
                f.emerging_service_monthly_usd,
                f.model_inference_monthly_usd,
                f.supporting_monthly_usd,
                f.other_monthly_usd,
                f.total_monthly_usd
            ),
            (1_200, 850, 490, 0, 2_540)
        );
        assert_eq!(
            figures(&example("exploring-agents")).emerging_service_monthly_usd,
            1_250
        );

        let mut body = worked();
        body.budget = vec![
            line(BudgetCategory::ModelInference, None, Some([100, 201])),
            line(BudgetCategory::Other, Some(7), None),
        ];
        let f = figures(&body);
        assert_eq!(
            (f.model_inference_monthly_usd, f.other_monthly_usd, f.total_monthly_usd),
            (150, 7, 157)
        );
    }

    #[test]
    fn figures_saturate_instead_of_overflowing() {
        let mut body = worked();
        body.budget = vec![
            line(BudgetCategory::EmergingService, Some(i64::MAX), None),
            line(BudgetCategory::EmergingService, Some(i64::MAX), None),
            line(BudgetCategory::Supporting, None, Some([i64::MAX, i64::MAX])),
            line(BudgetCategory::Other, None, Some([i64::MIN, i64::MIN])),
        ];
        let f = figures(&body);
        assert_eq!(f.emerging_service_monthly_usd, i64::MAX);
        assert_eq!(f.supporting_monthly_usd, i64::MAX);
        assert_eq!(f.other_monthly_usd, i64::MIN);
    }

    #[test]
    fn c4_reasons_say_distinct_only_when_the_workloads_were_compared_and_differ() {
        let entry = |programme, workload: &str| StackEntry {
            programme,
            amount_usd: None,
            workload: Some(workload.into()),
            status: StackStatus::Approved,
        };
        let mut body = worked();
        body.stack = vec![
            entry(Programme::InnovationSandbox, &body.workload),
            entry(Programme::BuildForStartups, "SOC 2 buildout"),
        ];
        let Classification::Fits { reasons, .. } = classify(&body, true, &catalog(), at()) else {
            panic!("both entries stack (C4)");
        };
        assert!(
            reasons[1].starts_with("C4 sets no overlap condition for innovation_sandbox engagements"),
            "{reasons:?}"
        );
        assert!(!reasons[1].contains("distinct"), "{reasons:?}");
        assert!(
            reasons[2].contains("(workload \"soc-2-buildout\") is a distinct use case"),
            "{reasons:?}"
        );
    }
}
