//! Eligibility (DOMAIN §3): E1–E5, with K2 for a service that has not entered the catalog yet.
//! E4 is the absence of a gate: stage, structure, spend, team size and revenue are never read.

use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::decision::Finding;
use sandpiper_contracts::model::ApplicationBody;

use crate::text::normalise_workload;

/// E2's policy list of restricted industries (decided list), in normalised form.
pub const RESTRICTED_INDUSTRIES: &[&str] = &["gambling", "adult-content", "weapons", "tobacco", "cannabis"];

fn finding(rule: &str, reason: String) -> Finding {
    Finding {
        rule: rule.into(),
        reason,
    }
}

/// Every eligibility failure of a submitted body as of `at` (its submission time) against
/// `catalog` (the version in force then, K2). `has_partner` is E3: the filing partner is known.
///
/// A matured service (K1) is not a failure here: classification redirects it.
pub fn eligibility(body: &ApplicationBody, has_partner: bool, catalog: &Catalog, at: DateTime<Utc>) -> Vec<Finding> {
    let mut failures = Vec::new();

    let account = &body.startup.aws_account_id;
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        failures.push(finding(
            "E1",
            format!("An AWS account id of exactly 12 digits is required; {account:?} is not one (E1)."),
        ));
    }

    // Normalised like workloads, so "Adult Content" and "adult_content" are both caught.
    let industry = normalise_workload(&body.startup.industry);
    if RESTRICTED_INDUSTRIES.contains(&industry.as_str()) {
        failures.push(finding(
            "E2",
            format!(
                "The industry {:?} is restricted by policy ({}) (E2).",
                body.startup.industry,
                RESTRICTED_INDUSTRIES.join(", ")
            ),
        ));
    }

    if !has_partner {
        failures.push(finding(
            "E3",
            "A filing partner is required: the application must be submitted with a partner's credentials (E3).".into(),
        ));
    }

    match catalog.service(&body.service) {
        None => failures.push(finding(
            "E5",
            format!(
                "{:?} is not an emerging service of catalog {}; exactly one catalog service must be named (E5).",
                body.service, catalog.version
            ),
        )),
        Some(service) if service.emerging_from > at.date_naive() => failures.push(finding(
            "K2",
            format!(
                "{} enters the catalog on {}, after this submission on {}, so it is not yet an emerging service (E5, K2).",
                service.display_name,
                service.emerging_from,
                at.date_naive()
            ),
        )),
        Some(_) => {}
    }
    failures
}
