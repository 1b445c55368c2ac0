//! Eligibility (DOMAIN §3): E1–E5, with K2 for a service that has not entered the catalog yet.
//! E4 is the absence of a gate: stage, structure, spend, team size and revenue are never read.

use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::decision::Finding;
use sandpiper_contracts::model::{ApplicationBody, CatalogStanding, catalog_standing, is_aws_account_id};
use sandpiper_contracts::rule::RuleId;

use crate::text::normalise_workload;

/// E2's policy list of restricted industries (decided list), in normalised form.
pub const RESTRICTED_INDUSTRIES: &[&str] = &["gambling", "adult-content", "weapons", "tobacco", "cannabis"];

fn finding(rule: RuleId, reason: String) -> Finding {
    Finding { rule, reason }
}

/// Every eligibility failure of a submitted body as of `at` (its submission time) against
/// `catalog` (the version in force then, K2). `has_partner` is E3: the filing partner is known.
///
/// A matured service (K1) is not a failure here: classification redirects it.
pub fn eligibility(body: &ApplicationBody, has_partner: bool, catalog: &Catalog, at: DateTime<Utc>) -> Vec<Finding> {
    let mut failures = Vec::new();

    // The predicate is the one submission validation uses (contracts), so E1 is written once.
    let account = &body.startup.aws_account_id;
    if !is_aws_account_id(account) {
        failures.push(finding(
            RuleId::E1,
            format!("An AWS account id of exactly 12 digits is required; {account:?} is not one (E1)."),
        ));
    }

    // Normalised like workloads, so "Adult Content" and "adult_content" are both caught.
    let industry = normalise_workload(&body.startup.industry);
    if RESTRICTED_INDUSTRIES.contains(&industry.as_str()) {
        failures.push(finding(
            RuleId::E2,
            format!(
                "The industry {:?} is restricted by policy ({}) (E2).",
                body.startup.industry,
                RESTRICTED_INDUSTRIES.join(", ")
            ),
        ));
    }

    if !has_partner {
        failures.push(finding(
            RuleId::E3,
            "A filing partner is required: the application must be submitted with a partner's credentials (E3).".into(),
        ));
    }

    // E5 with K2, by the predicate submission validation uses. A service that has not entered the
    // catalog yet fails E5 (it is not an emerging service) because of K2, so both are recorded.
    match catalog_standing(catalog, &body.service, at.date_naive()) {
        CatalogStanding::Unknown => failures.push(finding(
            RuleId::E5,
            format!(
                "{:?} is not an emerging service of catalog {}; exactly one catalog service must be named (E5).",
                body.service, catalog.version
            ),
        )),
        CatalogStanding::NotYetEmerging(service) => {
            failures.push(finding(
                RuleId::E5,
                format!(
                    "{} is not yet an emerging service of catalog {} (E5).",
                    service.display_name, catalog.version
                ),
            ));
            failures.push(finding(
                RuleId::K2,
                format!(
                    "{} enters the catalog on {}, after this submission on {} (K2).",
                    service.display_name,
                    service.emerging_from,
                    at.date_naive()
                ),
            ));
        }
        CatalogStanding::InCatalog(_) => {}
    }
    failures
}
