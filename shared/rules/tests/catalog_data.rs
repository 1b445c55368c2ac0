//! The shipped catalog data file (`shared/contracts/data/catalog-2026.toml`) against DOMAIN §2:
//! the 2026 set's family, split preference and graduation target, the typical metrics of the table
//! and the office-hours participants of K3, and the aliases K3 names.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sandpiper_contracts::catalog::{Catalog, GraduationTarget, ServiceFamily, SplitPreference};

/// One row of DOMAIN §2's table, with K3's participants.
struct Row {
    id: &'static str,
    family: ServiceFamily,
    split: SplitPreference,
    graduation: GraduationTarget,
    typical_metrics: &'static [&'static str],
    participants: &'static [&'static str],
}

const SAGEMAKER_METRICS: &[&str] = &[
    "training throughput",
    "deployment latency",
    "MLOps integration",
    "cost fit",
];

const DOMAIN_2026: &[Row] = &[
    Row {
        id: "bedrock-agents",
        family: ServiceFamily::Bedrock,
        split: SplitPreference::SplitForLargerScope,
        graduation: GraduationTarget::BedrockPoc,
        typical_metrics: &[
            "tool-call latency",
            "multi-step workflow accuracy",
            "integration friction",
            "cost per agent invocation",
        ],
        // K3, listed.
        participants: &[
            "Bedrock Agents product management",
            "agent runtime engineering",
            "tool-calling integration engineering",
            "agent observability engineering",
        ],
    },
    Row {
        id: "bedrock-knowledge-bases-v2",
        family: ServiceFamily::Bedrock,
        split: SplitPreference::Single,
        graduation: GraduationTarget::BedrockPoc,
        typical_metrics: &[
            "retrieval accuracy",
            "ingestion of the corpus shape",
            "latency",
            "cost per retrieval",
        ],
        // K3 "others" (decided): the service's product team and its engineering team.
        participants: &[
            "Bedrock Knowledge Bases product team",
            "Bedrock Knowledge Bases engineering team",
        ],
    },
    Row {
        id: "amazon-q-business",
        family: ServiceFamily::Q,
        split: SplitPreference::SplitForLargerScope,
        graduation: GraduationTarget::ActivatePortfolio,
        typical_metrics: &[
            "answer accuracy",
            "latency",
            "source-attribution quality",
            "false-positive rate on out-of-scope queries",
        ],
        // K3, listed.
        participants: &[
            "Q Business product team",
            "retrieval engineering",
            "enterprise integration (connectors)",
        ],
    },
    Row {
        id: "amazon-q-developer",
        family: ServiceFamily::Q,
        split: SplitPreference::Single,
        graduation: GraduationTarget::ActivatePortfolio,
        typical_metrics: &["acceptance rate", "latency", "integration friction", "cost per seat"],
        // K3 "others" (decided).
        participants: &["Amazon Q Developer product team", "Amazon Q Developer engineering team"],
    },
    Row {
        id: "sagemaker-hyperpod-recipes",
        family: ServiceFamily::Sagemaker,
        split: SplitPreference::Single,
        // G2: by maturity at the decision date.
        graduation: GraduationTarget::ByMaturity,
        typical_metrics: SAGEMAKER_METRICS,
        // K3 sagemaker-*: the feature team; SageMaker platform engineering.
        participants: &[
            "SageMaker HyperPod recipes feature team",
            "SageMaker platform engineering",
        ],
    },
    Row {
        id: "sagemaker-unified-studio",
        family: ServiceFamily::Sagemaker,
        split: SplitPreference::Single,
        graduation: GraduationTarget::ByMaturity,
        typical_metrics: SAGEMAKER_METRICS,
        participants: &[
            "SageMaker Unified Studio feature team",
            "SageMaker platform engineering",
        ],
    },
];

#[test]
fn rule_k3_the_shipped_catalog_matches_domain_section_2() {
    let catalog = Catalog::builtin().unwrap();
    let ids: Vec<&str> = DOMAIN_2026.iter().map(|r| r.id).collect();
    assert_eq!(catalog.ids(), ids, "exactly the 2026 set, in DOMAIN's order");
    for row in DOMAIN_2026 {
        let s = catalog.service(row.id).unwrap();
        assert_eq!(
            (s.family, s.split_preference, s.graduation_target),
            (row.family, row.split, row.graduation),
            "{}",
            row.id
        );
        assert_eq!(
            s.typical_metrics, row.typical_metrics,
            "{}: typical metrics (K3)",
            row.id
        );
        assert_eq!(
            s.office_hours_participants, row.participants,
            "{}: office-hours participants (K3, OH2)",
            row.id
        );
        assert!(!s.display_name.trim().is_empty(), "{}: a display name (K3)", row.id);
        assert!(s.matured_at.is_none(), "{}: the 2026 set has not matured (K1)", row.id);
    }
}

#[test]
fn rule_k3_the_aliases_domain_names_count_as_naming_bedrock_agents() {
    let catalog = Catalog::builtin().unwrap();
    let agents = catalog.service("bedrock-agents").unwrap();
    let names: Vec<&str> = std::iter::once(agents.display_name.as_str())
        .chain(agents.aliases.iter().map(String::as_str))
        .collect();
    for name in ["Bedrock Agents", "Agents for Amazon Bedrock"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}
