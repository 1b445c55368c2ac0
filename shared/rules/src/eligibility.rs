//! Eligibility (DOMAIN §3): E1–E5, with K2 for a service not yet in the catalog.

use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::decision::Finding;
use sandpiper_contracts::model::ApplicationBody;

use crate::classify::normalise_workload;

/// E2's policy list of restricted industries (decided list).
pub const RESTRICTED_INDUSTRIES: &[&str] = &["gambling", "adult-content", "weapons", "tobacco", "cannabis"];

fn finding(rule: &str, reason: String) -> Finding {
    Finding {
        rule: rule.into(),
        reason,
    }
}

/// Every eligibility failure of a submitted body as of `at` (its submission time). E4 is the
/// absence of a gate: stage, structure, spend, team size and revenue are never looked at.
pub fn eligibility(body: &ApplicationBody, has_partner: bool, catalog: &Catalog, at: DateTime<Utc>) -> Vec<Finding> {
    let mut failures = Vec::new();
    let account = &body.startup.aws_account_id;
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        failures.push(finding(
            "E1",
            format!("an AWS account id of 12 digits is required; {account:?} is not one"),
        ));
    }
    let industry = normalise_workload(&body.startup.industry);
    if RESTRICTED_INDUSTRIES.contains(&industry.as_str()) {
        failures.push(finding(
            "E2",
            format!("the industry {:?} is restricted by policy", body.startup.industry),
        ));
    }
    if !has_partner {
        failures.push(finding("E3", "a filing partner is required".into()));
    }
    match catalog.service(&body.service) {
        None => failures.push(finding(
            "E5",
            format!(
                "{:?} is not an emerging service of catalog {}; exactly one catalog service must be named",
                body.service, catalog.version
            ),
        )),
        Some(service) if service.emerging_from > at.date_naive() => failures.push(finding(
            "K2",
            format!(
                "{} enters the catalog on {}, after this submission (E5)",
                service.display_name, service.emerging_from
            ),
        )),
        Some(_) => {}
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, catalog, worked};

    fn rules(failures: &[Finding]) -> Vec<&str> {
        failures.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn the_worked_example_is_eligible() {
        assert!(eligibility(&worked(), true, &catalog(), at()).is_empty());
    }

    #[test]
    fn rule_e1_needs_a_twelve_digit_account() {
        let mut body = worked();
        body.startup.aws_account_id = "12345".into();
        assert_eq!(rules(&eligibility(&body, true, &catalog(), at())), ["E1"]);
    }

    #[test]
    fn rule_e2_restricted_industries() {
        for industry in ["gambling", "Adult Content", "weapons", "tobacco", "cannabis"] {
            let mut body = worked();
            body.startup.industry = industry.into();
            assert_eq!(rules(&eligibility(&body, true, &catalog(), at())), ["E2"], "{industry}");
        }
    }

    #[test]
    fn rule_e3_needs_a_filing_partner() {
        assert_eq!(rules(&eligibility(&worked(), false, &catalog(), at())), ["E3"]);
    }

    #[test]
    fn rule_e4_no_gate_on_stage_team_or_revenue() {
        let mut body = worked();
        body.startup.stage = Some("pre-seed".into());
        body.startup.team_size = Some(1);
        body.startup.monthly_recurring_revenue_usd = Some(0);
        assert!(
            eligibility(&body, true, &catalog(), at()).is_empty(),
            "a solo, pre-revenue founder is eligible"
        );
    }

    #[test]
    fn rule_e5_the_service_must_be_in_the_catalog() {
        let mut body = worked();
        body.service = "amazon-lex".into();
        assert_eq!(rules(&eligibility(&body, true, &catalog(), at())), ["E5"]);
    }

    #[test]
    fn rule_k2_a_service_enters_on_its_emerging_date() {
        let mut later = catalog();
        for service in &mut later.services {
            if service.id == "bedrock-agents" {
                service.emerging_from = "2026-07-01".parse().unwrap();
            }
        }
        assert_eq!(rules(&eligibility(&worked(), true, &later, at())), ["K2"]);
        let after: DateTime<Utc> = "2026-07-01T00:00:00Z".parse().unwrap();
        assert!(eligibility(&worked(), true, &later, after).is_empty());
    }
}
