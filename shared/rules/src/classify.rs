//! Pool classification (DOMAIN §4, K1, P1): which pool an application belongs in, and why.

use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::{Catalog, ServiceFamily};
use sandpiper_contracts::decision::{Classification, Continuation, PoolFigures};
use sandpiper_contracts::model::{ApplicationBody, BudgetCategory, Programme, StackStatus};

use crate::eligibility::eligibility;

/// C4's normal form of a workload label: lower case, runs of non-alphanumerics to one `-`.
pub fn normalise_workload(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// A line's monthly amount: exact, or a range's midpoint (rounded down).
fn monthly(exact: Option<i64>, range: Option<[i64; 2]>) -> i64 {
    match (exact, range) {
        (Some(amount), _) => amount,
        (None, Some([low, high])) => low.saturating_add(high) / 2,
        (None, None) => 0,
    }
}

/// The monthly totals by category (C2, T4).
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Classifies a submitted body as of its submission time `at` (K2: with the catalog in force then).
pub fn classify(body: &ApplicationBody, has_partner: bool, catalog: &Catalog, at: DateTime<Utc>) -> Classification {
    let figures = figures(body);
    let failures = eligibility(body, has_partner, catalog, at);
    if !failures.is_empty() {
        let rules = failures.iter().map(|f| f.rule.clone()).collect();
        let reasons = failures.iter().map(|f| f.reason.clone()).collect();
        return Classification::Ineligible {
            pool: body.programme,
            failures,
            rules,
            reasons,
            figures,
        };
    }

    // A direct Bedrock POC filing is reviewed as filed (P1); it is not an emerging-service pool.
    if body.programme == Programme::BedrockPoc {
        return Classification::Fits {
            pool: Programme::BedrockPoc,
            rules: strings(&["P1"]),
            reasons: vec![
                "Filed as a Bedrock POC: reviewed on the same four components, decided after 14 days (P1).".into(),
            ],
            figures,
        };
    }

    if let Some(service) = catalog.service(&body.service)
        && let Some(matured) = service.matured_at
        && matured <= at.date_naive()
    {
        let (to, continues_as, rules) = match service.family {
            ServiceFamily::Bedrock => (
                Programme::BedrockPoc,
                Continuation::NewLinkedApplication,
                strings(&["K1", "C3"]),
            ),
            _ => (
                Programme::ActivatePortfolio,
                Continuation::RecordedInStack,
                strings(&["K1"]),
            ),
        };
        return Classification::Redirect {
            to,
            continues_as,
            rules,
            reasons: vec![format!(
                "{} matured on {matured} and no longer qualifies for Innovation Sandbox (catalog {}); redirected to {} (K1).",
                service.display_name,
                catalog.version,
                to.as_str()
            )],
            figures,
        };
    }

    let workload = normalise_workload(&body.workload);
    let mut rules = strings(&["C1"]);
    let mut reasons = Vec::new();
    if !body.stack.is_empty() {
        rules.push("C4".into());
        for (index, entry) in body.stack.iter().enumerate() {
            let overlaps = entry
                .workload
                .as_deref()
                .is_some_and(|w| normalise_workload(w) == workload);
            match entry.programme {
                Programme::BuildForStartups if overlaps => {
                    let reason = "scope overlaps Build for Startups engagement".to_owned();
                    let failure = sandpiper_contracts::decision::Finding {
                        rule: "C4b".into(),
                        reason: reason.clone(),
                    };
                    return Classification::Ineligible {
                        pool: body.programme,
                        failures: vec![failure],
                        rules: strings(&["C4", "C4b"]),
                        reasons: vec![format!("{reason}: both are workload {workload:?} (C4b).")],
                        figures,
                    };
                }
                Programme::BedrockPoc
                    if overlaps && matches!(entry.status, StackStatus::Approved | StackStatus::Pending) =>
                {
                    return Classification::Redirect {
                        to: Programme::BedrockPoc,
                        continues_as: Continuation::ExistingStackEntry { stack_index: index },
                        rules: strings(&["C4", "C4a", "C3"]),
                        reasons: vec![format!(
                            "The startup's {} Bedrock POC already covers workload {workload:?}: this evaluation continues under it, not as a second application (C4a, C3).",
                            if entry.status == StackStatus::Approved {
                                "approved"
                            } else {
                                "pending"
                            }
                        )],
                        figures,
                    };
                }
                Programme::ActivatePortfolio => reasons.push("Activate Portfolio stacks cleanly (C4).".into()),
                _ => reasons.push(format!(
                    "The {} engagement in the stack is a distinct use case (C4).",
                    entry.programme.as_str()
                )),
            }
        }
    }

    rules.push("C2".into());
    let (emerging, inference) = (
        figures.emerging_service_monthly_usd,
        figures.model_inference_monthly_usd,
    );
    if inference > emerging {
        rules.push("C3".into());
        reasons.push(format!(
            "Model inference (${inference}/month) outweighs the emerging service (${emerging}/month): the foundation-model choice is the variable under test, so this is Bedrock POC scope (C1, C2); it continues as a new, linked Bedrock POC application (C3)."
        ));
        return Classification::Redirect {
            to: Programme::BedrockPoc,
            continues_as: Continuation::NewLinkedApplication,
            rules,
            reasons,
            figures,
        };
    }
    reasons.insert(
        0,
        format!(
            "The emerging service (${emerging}/month) is at least model inference (${inference}/month): the service is the variable under test, so Innovation Sandbox fits (C1, C2)."
        ),
    );
    Classification::Fits {
        pool: Programme::InnovationSandbox,
        rules,
        reasons,
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, catalog, example, worked};
    use sandpiper_contracts::model::StackEntry;

    fn rules_of(c: &Classification) -> Vec<String> {
        match c {
            Classification::Fits { rules, .. }
            | Classification::Redirect { rules, .. }
            | Classification::Ineligible { rules, .. } => rules.clone(),
        }
    }

    fn stack(programme: Programme, workload: &str, status: StackStatus) -> StackEntry {
        StackEntry {
            programme,
            amount_usd: Some(25_000),
            workload: Some(workload.into()),
            status,
        }
    }

    #[test]
    fn the_examples_fit_innovation_sandbox() {
        for name in ["bedrock-agents-support", "amazon-q-business-docs", "exploring-agents"] {
            let c = classify(&example(name), true, &catalog(), at());
            assert!(
                matches!(
                    c,
                    Classification::Fits {
                        pool: Programme::InnovationSandbox,
                        ..
                    }
                ),
                "{name}: {c:?}"
            );
        }
    }

    #[test]
    fn normalised_workloads() {
        assert_eq!(normalise_workload("  Customer Support!! "), "customer-support");
        assert_eq!(normalise_workload("customer_support"), "customer-support");
        assert_eq!(normalise_workload("SOC2 architecture"), "soc2-architecture");
    }

    #[test]
    fn rule_c1_c2_inference_above_the_emerging_service_is_bedrock_poc() {
        let mut body = worked();
        body.budget[1].monthly_usd = Some(1_201);
        let c = classify(&body, true, &catalog(), at());
        assert!(
            matches!(
                c,
                Classification::Redirect {
                    to: Programme::BedrockPoc,
                    continues_as: Continuation::NewLinkedApplication,
                    ..
                }
            ),
            "{c:?}"
        );
        assert!(rules_of(&c).iter().any(|r| r == "C2"));
        body.budget[1].monthly_usd = Some(1_200);
        assert!(
            matches!(classify(&body, true, &catalog(), at()), Classification::Fits { .. }),
            "C2: a tie stays in the sandbox"
        );
    }

    #[test]
    fn rule_c2_supporting_lines_do_not_count() {
        let mut body = worked();
        body.budget[4].category = BudgetCategory::Supporting;
        body.budget[4].monthly_usd = Some(100_000);
        assert!(matches!(
            classify(&body, true, &catalog(), at()),
            Classification::Fits { .. }
        ));
    }

    #[test]
    fn rule_c3_a_misfiled_application_is_redirected_with_a_link_never_rejected() {
        let mut body = worked();
        body.budget[1].monthly_usd = Some(5_000);
        let c = classify(&body, true, &catalog(), at());
        assert!(rules_of(&c).contains(&"C3".to_owned()));
        assert!(!matches!(c, Classification::Ineligible { .. }));
    }

    #[test]
    fn rule_c4_activate_portfolio_stacks_cleanly() {
        let mut body = worked();
        body.stack = vec![stack(
            Programme::ActivatePortfolio,
            "customer-support",
            StackStatus::Approved,
        )];
        let c = classify(&body, true, &catalog(), at());
        assert!(matches!(c, Classification::Fits { .. }), "{c:?}");
        assert!(rules_of(&c).contains(&"C4".to_owned()));
    }

    #[test]
    fn rule_c4a_overlap_with_a_bedrock_poc_redirects_onto_it() {
        for status in [StackStatus::Approved, StackStatus::Pending] {
            let mut body = worked();
            body.stack = vec![
                stack(Programme::ActivatePortfolio, "x", status),
                stack(Programme::BedrockPoc, "Customer Support", status),
            ];
            let c = classify(&body, true, &catalog(), at());
            assert!(
                matches!(
                    c,
                    Classification::Redirect {
                        continues_as: Continuation::ExistingStackEntry { stack_index: 1 },
                        ..
                    }
                ),
                "{c:?}"
            );
            assert!(rules_of(&c).contains(&"C4a".to_owned()));
        }
        let mut distinct = worked();
        distinct.stack = vec![stack(Programme::BedrockPoc, "invoice-extraction", StackStatus::Pending)];
        assert!(
            matches!(classify(&distinct, true, &catalog(), at()), Classification::Fits { .. }),
            "distinct use cases stack"
        );
    }

    #[test]
    fn rule_c4b_overlap_with_build_for_startups_is_rejected() {
        let mut body = worked();
        body.stack = vec![stack(
            Programme::BuildForStartups,
            "customer support",
            StackStatus::Approved,
        )];
        let c = classify(&body, true, &catalog(), at());
        let Classification::Ineligible { failures, .. } = &c else {
            panic!("{c:?}")
        };
        assert_eq!(failures[0].rule, "C4b");
        assert_eq!(failures[0].reason, "scope overlaps Build for Startups engagement");
        // The seed's own stack (Build for Startups on SOC 2 work) is distinct.
        assert!(matches!(
            classify(&worked(), true, &catalog(), at()),
            Classification::Fits { .. }
        ));
    }

    #[test]
    fn rule_k1_a_matured_service_is_redirected_by_family() {
        let mut matured = catalog();
        for service in &mut matured.services {
            service.matured_at = Some("2026-05-01".parse().unwrap());
        }
        let bedrock = classify(&worked(), true, &matured, at());
        assert!(
            matches!(
                bedrock,
                Classification::Redirect {
                    to: Programme::BedrockPoc,
                    continues_as: Continuation::NewLinkedApplication,
                    ..
                }
            ),
            "{bedrock:?}"
        );
        assert!(rules_of(&bedrock).contains(&"K1".to_owned()));
        let q = classify(&example("amazon-q-business-docs"), true, &matured, at());
        assert!(
            matches!(
                q,
                Classification::Redirect {
                    to: Programme::ActivatePortfolio,
                    continues_as: Continuation::RecordedInStack,
                    ..
                }
            ),
            "{q:?}"
        );
        let before: DateTime<Utc> = "2026-04-30T00:00:00Z".parse().unwrap();
        assert!(
            matches!(classify(&worked(), true, &matured, before), Classification::Fits { .. }),
            "not matured yet"
        );
    }

    #[test]
    fn rule_p1_a_bedrock_poc_filing_is_reviewed_as_filed() {
        let mut body = worked();
        body.programme = Programme::BedrockPoc;
        body.budget[1].monthly_usd = Some(9_000);
        let c = classify(&body, true, &catalog(), at());
        assert!(
            matches!(
                c,
                Classification::Fits {
                    pool: Programme::BedrockPoc,
                    ..
                }
            ),
            "{c:?}"
        );
        let mut matured = catalog();
        for service in &mut matured.services {
            service.matured_at = Some("2026-05-01".parse().unwrap());
        }
        assert!(
            matches!(
                classify(&body, true, &matured, at()),
                Classification::Fits {
                    pool: Programme::BedrockPoc,
                    ..
                }
            ),
            "P1 is not an emerging-service pool"
        );
    }

    #[test]
    fn ineligible_applications_carry_their_failures() {
        let mut body = worked();
        body.startup.industry = "tobacco".into();
        let c = classify(&body, true, &catalog(), at());
        assert!(
            matches!(&c, Classification::Ineligible { failures, .. } if failures[0].rule == "E2"),
            "{c:?}"
        );
    }

    #[test]
    fn figures_sum_by_category_with_range_midpoints() {
        let f = figures(&example("exploring-agents"));
        assert_eq!(f.emerging_service_monthly_usd, 1_250);
        let f = figures(&worked());
        assert_eq!(
            (
                f.emerging_service_monthly_usd,
                f.model_inference_monthly_usd,
                f.supporting_monthly_usd,
                f.total_monthly_usd
            ),
            (1_200, 850, 490, 2_540)
        );
    }
}
