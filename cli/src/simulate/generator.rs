//! The cohort generator: N realistic Innovation Sandbox applications and how each team behaves
//! once funded, from a seed. The same seed gives the same cohort, byte for byte: the random
//! stream is ChaCha8 (`rand_chacha`, whose output is fixed by its algorithm, not by a `rand`
//! release), seeded with `seed_from_u64(seed)` and drawn in one fixed order, one application after
//! another.
//!
//! # The mix
//!
//! Each application is drawn independently; the shares below are the probabilities of each draw.
//! They are tuned so that, through the real rules, the cohort lands near DOMAIN §10's reference
//! rates (split tranches 20–25% of approved sandbox engagements, graduation 40–50% of
//! Bedrock-family engagements, retirement 15–20% of engagements).
//!
//! **Service and filing** (of all applications):
//!
//! | share | what is filed | what the rules do with it |
//! |---|---|---|
//! | 30% | `bedrock-agents` (split for larger scope) | a fifth are inference-heavy: redirected (C2, C3) |
//! | 17% | `bedrock-knowledge-bases-v2` | a fifth are inference-heavy: redirected (C2, C3) |
//! | 16% | `amazon-q-business` (split for larger scope) | |
//! | 12% | `amazon-q-developer` | |
//! | 8% | `sagemaker-hyperpod-recipes` | |
//! | 9% | `sagemaker-unified-studio` | |
//! | 3% | `bedrock-prompt-flows`, matured 2026-01-15 in the simulation's catalog version | redirected to a linked Bedrock POC (K1, C3) |
//! | 2% | `amazon-q-apps`, matured 2026-01-15 in the simulation's catalog version | redirected to Activate Portfolio (K1) |
//! | 3% | a direct `bedrock_poc` filing for Bedrock Agents or Knowledge Bases | reviewed under P1 |
//!
//! The matured services are not in the built-in catalog: [`simulation_catalog`] is the built-in
//! one plus those two, published by the driver as version [`CATALOG_VERSION`] effective at the
//! simulation's start (K4).
//!
//! **Scope**: a *large* scope (a 60-day window, $3,000–$6,500 a month, checkpoints at day 30 and
//! 60 in 85% of cases, day 60 only otherwise) for 76% of `bedrock-agents`, 74% of
//! `amazon-q-business` and 40% of the other services; otherwise a *narrow* one ($900–$2,900 a
//! month; a 30-day window in 85% of cases, 60 days in 5%, 31–59 days in 10%; checkpoints at day
//! 15 and 30 in 75% of cases, day 30 only otherwise). 8% of large scopes pick a non-standard
//! 45-day window. Large scopes of the split services are what TR3 splits.
//!
//! **Budget shape**: Bedrock-family budgets spend 50–60% on the service, 20–30% on model
//! inference and the rest on supporting lines; inference-heavy ones (a fifth of the Bedrock
//! family) spend 25–35% on the service and 45–60% on inference. Other families: 70–85% on the
//! service, the rest supporting. The production projection is 2–4 times the monthly budget.
//!
//! **Review components** (independently):
//!
//! - U: strong 84%; no quantitative target 4% (U2); under 30 words 3% (U3); vague 9%
//!   ("exploring … for our workflows", no target: U4; rejected when another component is weak, T2).
//! - M: strong 88%; two metrics 6%; none of the service's typical metrics 3%; no checkpoint
//!   inside the window 3%.
//! - B: strong 88%; a range estimate 9%; a line of category `other` 3%.
//! - W: from the scope above (30 or 60 days strong, anything else weak).
//!
//! **Eligibility and stack**: 1% of startups are in a restricted industry (E2, rejected). 40% hold
//! Activate Portfolio credits ($5K–$100K, approved or pending); 22% a Build for Startups
//! engagement, a tenth of them on the same workload (rejected, C4b); 10% a Bedrock POC, a quarter
//! of them on the same workload, spelt differently (redirected onto it, C4a).
//!
//! **Team**: solo founders 10%, 2–10 people 50%, 11–50 30%, 51–300 10%; stage and revenue vary.
//!
//! **Behaviour once funded** (the same for a linked Bedrock POC as for the application it came
//! from):
//!
//! | consumption | share | weekly spend over the window |
//! |---|---|---|
//! | none | 12% | nothing: clawed back at window close (TR6) |
//! | under plan | 22% | 10–35% of the credits |
//! | on plan | 50% | 75–100% of the credits |
//! | overage | 16% | 120–160% of the credits: the excess is billed directly (TR7) |
//!
//! Each week's report varies ±15% around the plan. 12% of teams raise a blocking concern on day
//! 5–25 of the window (OH3; before day 30 it withholds tranche 2, TR3). At window close the team
//! decides after 0 (60%), 1 (25%) or 2 (15%) weeks:
//!
//! | team | graduate | retire | never decides (the balance expires) |
//! |---|---|---|---|
//! | on plan or overage, no concern | 62% | 12% | 26% |
//! | under plan, no concern | 22% | 34% | 44% |
//! | raised a blocking concern | 35% | 35% | 30% |
//!
//! Graduates keep drawing 30–60% of their window rate during the grace period (G4, TR5) while a
//! balance is left.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sandpiper_contracts::catalog::{
    Catalog, CatalogError, CatalogService, GraduationTarget, ServiceFamily, SplitPreference,
};
use sandpiper_contracts::engagement::TeamDecision;
use sandpiper_contracts::model::{
    ApplicationDraft, BudgetCategory, BudgetLineDraft, Programme, StackEntry, StackStatus, StartupDraft, TargetMetric,
};

/// The catalog version the simulation publishes (the built-in services plus two matured ones).
pub const CATALOG_VERSION: &str = "2026.1-sim";
/// When the simulation's matured services left the emerging set (K1).
const MATURED_AT: &str = "2026-01-15";

/// How a team spends its credits during the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// No consumption at all: clawed back at window close (TR6).
    None,
    Under,
    OnPlan,
    Overage,
}

/// What the team does once funded.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub pattern: Pattern,
    /// The share of the credits the team means to spend over the window, in percent.
    pub plan_pct: i64,
    /// Raises a blocking concern on this day of the window.
    pub concern_on_day: Option<i64>,
    /// What it decides at window close; `None`: it never decides.
    pub decision: Option<TeamDecision>,
    /// Weeks between the window's close and the decision.
    pub decision_delay_weeks: i64,
    /// After graduating, the weekly spend during the grace period, in percent of the window rate.
    pub grace_pct: i64,
    /// Seeds the week-to-week variation of the spend.
    pub jitter: u64,
}

impl Behaviour {
    /// The consumption to report in `week` (a week counter of the simulation) for credits of
    /// `credits_usd` over a window of `window_days`: the plan spread over the window, ±15%.
    pub fn weekly_spend(&self, credits_usd: i64, window_days: i64, week: i64) -> i64 {
        if self.pattern == Pattern::None || window_days <= 0 {
            return 0;
        }
        let plan = credits_usd.saturating_mul(self.plan_pct).saturating_mul(7) / (100 * window_days);
        // ±15%, from a hash of the application's jitter seed and the week: the same every run.
        let wobble = (splitmix(self.jitter ^ (week as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) % 31) as i64 - 15;
        (plan + plan * wobble / 100).max(1)
    }

    /// The weekly spend during the grace period after graduating.
    pub fn grace_spend(&self, credits_usd: i64, window_days: i64, week: i64) -> i64 {
        self.weekly_spend(credits_usd, window_days, week) * self.grace_pct / 100
    }
}

/// How the generator meant the application (for the report and the tests; the rules decide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filing {
    Sandbox,
    /// Model inference above the emerging service (C2).
    InferenceHeavy,
    /// A service that matured before the simulation started (K1).
    Matured,
    /// Filed as a Bedrock POC (P1).
    DirectPoc,
}

/// One generated application: the body to file and the team's behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub index: usize,
    pub filing: Filing,
    pub body: ApplicationDraft,
    pub behaviour: Behaviour,
}

/// The built-in catalog plus two services that matured before the simulation starts, so that K1
/// redirections happen: `bedrock-prompt-flows` (bedrock family) and `amazon-q-apps` (q family).
pub fn simulation_catalog(effective_from: chrono::NaiveDate) -> Result<Catalog, CatalogError> {
    let mut catalog = Catalog::builtin()?;
    let matured: chrono::NaiveDate = MATURED_AT.parse().unwrap_or(effective_from);
    let emerged: chrono::NaiveDate = "2024-07-10".parse().unwrap_or(effective_from);
    let service = |id: &str, display: &str, family, target, metrics: &[&str]| CatalogService {
        id: id.into(),
        display_name: display.into(),
        aliases: vec![format!("Amazon {display}")],
        family,
        split_preference: SplitPreference::Single,
        graduation_target: target,
        typical_metrics: metrics.iter().map(|m| (*m).to_owned()).collect(),
        office_hours_participants: vec![format!("{display} product team"), format!("{display} engineering team")],
        emerging_from: emerged,
        matured_at: Some(matured),
    };
    catalog.services.push(service(
        "bedrock-prompt-flows",
        "Bedrock Prompt Flows",
        ServiceFamily::Bedrock,
        GraduationTarget::BedrockPoc,
        &[
            "flow latency",
            "step accuracy",
            "integration friction",
            "cost per flow run",
        ],
    ));
    catalog.services.push(service(
        "amazon-q-apps",
        "Q Apps",
        ServiceFamily::Q,
        GraduationTarget::ActivatePortfolio,
        &["app adoption", "answer accuracy", "latency", "cost per seat"],
    ));
    catalog.version = CATALOG_VERSION.into();
    catalog.effective_from = effective_from;
    catalog.checked()
}

/// `n` applications from `seed`; see the module documentation for the mix.
pub fn cohort(seed: u64, n: usize, catalog: &Catalog) -> Vec<Profile> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|index| profile(&mut rng, index, catalog)).collect()
}

/// Picks by weight: `choices` are (weight, value).
fn pick<T: Copy>(rng: &mut ChaCha8Rng, choices: &[(u32, T)]) -> T {
    let total: u32 = choices.iter().map(|(w, _)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (weight, value) in choices {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    choices[choices.len() - 1].1
}

/// Whole tens of dollars in `low..=high`.
fn dollars(rng: &mut ChaCha8Rng, low: i64, high: i64) -> i64 {
    rng.random_range(low / 10..=high / 10) * 10
}

fn pct(rng: &mut ChaCha8Rng, low: i64, high: i64) -> i64 {
    rng.random_range(low..=high)
}

const FIRST: &[&str] = &[
    "Helio",
    "Brightline",
    "Northwind",
    "Quarry",
    "Tidal",
    "Lumen",
    "Cobalt",
    "Ember",
    "Juniper",
    "Kestrel",
    "Meridian",
    "Orchid",
    "Pylon",
    "Relay",
    "Sable",
    "Vesper",
];
const SECOND: &[&str] = &[
    "Labs",
    "Analytics",
    "Health",
    "Robotics",
    "Commerce",
    "Logistics",
    "Legal",
    "Finance",
    "Studio",
    "Systems",
];
const INDUSTRIES: &[&str] = &[
    "saas",
    "fintech",
    "healthtech",
    "legaltech",
    "logistics",
    "retail",
    "edtech",
    "developer-tools",
    "media",
];
const RESTRICTED: &[&str] = &["gambling", "tobacco"];
const STAGES: &[&str] = &["pre_seed", "seed", "series_a", "series_b", "growth"];

/// What a workload is, and the wording the use case uses for it.
struct Workload {
    label: &'static str,
    task: &'static str,
    source: &'static str,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        label: "customer-support",
        task: "resolve incoming customer support tickets",
        source: "the ticket inbox and the help-centre articles",
    },
    Workload {
        label: "contract-review",
        task: "extract obligations and renewal terms from customer contracts",
        source: "the contract repository and the CRM",
    },
    Workload {
        label: "claims-processing",
        task: "triage insurance claims and draft adjuster notes",
        source: "the claims queue and the policy documents",
    },
    Workload {
        label: "internal-documentation-search",
        task: "answer engineering questions from internal documentation",
        source: "Confluence, Notion and the GitHub wikis",
    },
    Workload {
        label: "sales-enablement",
        task: "prepare account briefs for the sales team",
        source: "the CRM, call transcripts and product sheets",
    },
    Workload {
        label: "code-review",
        task: "review pull requests and suggest fixes",
        source: "the monorepo and the CI logs",
    },
    Workload {
        label: "fraud-triage",
        task: "triage flagged payments for the fraud analysts",
        source: "the payments ledger and the case notes",
    },
    Workload {
        label: "model-training",
        task: "train and deploy the demand-forecasting models",
        source: "the feature store and the order history",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UseCase {
    Strong,
    NoTarget,
    Short,
    Vague,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metrics {
    Strong,
    Two,
    Untypical,
    NoCheckpoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    Strong,
    Range,
    Other,
}

fn profile(rng: &mut ChaCha8Rng, index: usize, catalog: &Catalog) -> Profile {
    // Service and filing.
    let (service_id, mut filing) = pick(
        rng,
        &[
            (30, ("bedrock-agents", Filing::Sandbox)),
            (17, ("bedrock-knowledge-bases-v2", Filing::Sandbox)),
            (16, ("amazon-q-business", Filing::Sandbox)),
            (12, ("amazon-q-developer", Filing::Sandbox)),
            (8, ("sagemaker-hyperpod-recipes", Filing::Sandbox)),
            (9, ("sagemaker-unified-studio", Filing::Sandbox)),
            (3, ("bedrock-prompt-flows", Filing::Matured)),
            (2, ("amazon-q-apps", Filing::Matured)),
            (3, ("", Filing::DirectPoc)),
        ],
    );
    let service_id = if filing == Filing::DirectPoc {
        pick(rng, &[(2, "bedrock-agents"), (1, "bedrock-knowledge-bases-v2")])
    } else {
        service_id
    };
    let service = catalog.service(service_id);
    let family = service.map(|s| s.family).unwrap_or(ServiceFamily::Bedrock);
    let display = service
        .map(|s| s.display_name.clone())
        .unwrap_or_else(|| service_id.to_owned());
    if filing == Filing::Sandbox && family == ServiceFamily::Bedrock && rng.random_bool(0.20) {
        filing = Filing::InferenceHeavy;
    }

    // Scope: window, total budget, checkpoints.
    let large_share = match service_id {
        "bedrock-agents" => 0.76,
        "amazon-q-business" => 0.74,
        _ => 0.40,
    };
    let large = filing == Filing::DirectPoc || rng.random_bool(large_share);
    let (window, total, checkpoints) = if large {
        let window = if filing != Filing::DirectPoc && rng.random_bool(0.08) {
            45
        } else {
            60
        };
        let checkpoints = if rng.random_bool(0.85) {
            vec![window / 2, window]
        } else {
            vec![window]
        };
        (window, dollars(rng, 3_000, 6_500), checkpoints)
    } else {
        let window = pick(rng, &[(85, 30), (5, 60), (10, 0)]);
        let window = if window == 0 { pct(rng, 31, 59) } else { window };
        let checkpoints = if rng.random_bool(0.75) {
            vec![window / 2, window]
        } else {
            vec![window]
        };
        (window, dollars(rng, 900, 2_900), checkpoints)
    };

    // Components.
    let use_case = pick(
        rng,
        &[
            (84, UseCase::Strong),
            (4, UseCase::NoTarget),
            (3, UseCase::Short),
            (9, UseCase::Vague),
        ],
    );
    let metrics_kind = pick(
        rng,
        &[
            (88, Metrics::Strong),
            (6, Metrics::Two),
            (3, Metrics::Untypical),
            (3, Metrics::NoCheckpoint),
        ],
    );
    let budget_kind = pick(rng, &[(88, Budget::Strong), (9, Budget::Range), (3, Budget::Other)]);

    // The startup.
    let workload = &WORKLOADS[rng.random_range(0..WORKLOADS.len())];
    let name = format!(
        "{} {} {index}",
        FIRST[rng.random_range(0..FIRST.len())],
        SECOND[rng.random_range(0..SECOND.len())]
    );
    let industry = if rng.random_bool(0.01) {
        RESTRICTED[rng.random_range(0..RESTRICTED.len())]
    } else {
        INDUSTRIES[rng.random_range(0..INDUSTRIES.len())]
    };
    let team_size = match pick(rng, &[(10, 0), (50, 1), (30, 2), (10, 3)]) {
        0 => 1,
        1 => rng.random_range(2..=10),
        2 => rng.random_range(11..=50),
        _ => rng.random_range(51..=300),
    };
    let stage = STAGES[rng.random_range(0..STAGES.len())];
    let revenue = if rng.random_bool(0.3) {
        0
    } else {
        dollars(rng, 1_000, 500_000)
    };

    // The stack.
    let mut stack = Vec::new();
    if rng.random_bool(0.40) {
        stack.push(StackEntry {
            programme: Programme::ActivatePortfolio,
            amount_usd: Some(rng.random_range(1..=20) * 5_000),
            workload: None,
            status: if rng.random_bool(0.5) {
                StackStatus::Approved
            } else {
                StackStatus::Pending
            },
        });
    }
    if rng.random_bool(0.22) {
        let overlap = rng.random_bool(0.10);
        stack.push(StackEntry {
            programme: Programme::BuildForStartups,
            amount_usd: Some(25_000),
            workload: Some(if overlap {
                workload.label.to_owned()
            } else {
                "soc2-architecture".to_owned()
            }),
            status: StackStatus::Approved,
        });
    }
    if rng.random_bool(0.10) {
        let overlap = rng.random_bool(0.25);
        stack.push(StackEntry {
            programme: Programme::BedrockPoc,
            amount_usd: Some(rng.random_range(2..=10) * 5_000),
            // The same workload spelt another way still overlaps (C4's normalisation).
            workload: Some(if overlap {
                workload.label.replace('-', " ").to_uppercase()
            } else {
                "foundation-model-selection".to_owned()
            }),
            status: if rng.random_bool(0.5) {
                StackStatus::Approved
            } else {
                StackStatus::Pending
            },
        });
    }

    // The budget.
    let (service_share, inference_share) = match (filing, family) {
        (Filing::InferenceHeavy, _) => (pct(rng, 25, 35), pct(rng, 45, 60)),
        (_, ServiceFamily::Bedrock) => (pct(rng, 50, 60), pct(rng, 20, 30)),
        _ => (pct(rng, 70, 85), 0),
    };
    let emerging = (total * service_share / 100 / 10).max(1) * 10;
    let inference = total * inference_share / 100 / 10 * 10;
    let supporting = (total - emerging - inference).max(10);
    let mut budget = vec![BudgetLineDraft {
        item: Some(format!("{display} usage")),
        category: Some(BudgetCategory::EmergingService),
        monthly_usd: Some(emerging),
        monthly_usd_range: None,
        basis: Some(format!("the {} workload at evaluation volume", workload.label)),
    }];
    if budget_kind == Budget::Range {
        budget[0].monthly_usd = None;
        budget[0].monthly_usd_range = Some([emerging * 8 / 10, emerging * 12 / 10]);
    }
    if inference > 0 {
        budget.push(BudgetLineDraft {
            item: Some("Foundation-model inference".into()),
            category: Some(BudgetCategory::ModelInference),
            monthly_usd: Some(inference),
            monthly_usd_range: None,
            basis: None,
        });
    }
    let lambda = (supporting / 3 / 10).max(1) * 10;
    budget.push(BudgetLineDraft {
        item: Some("Lambda orchestration".into()),
        category: Some(BudgetCategory::Supporting),
        monthly_usd: Some(lambda),
        monthly_usd_range: None,
        basis: None,
    });
    if supporting - lambda > 0 {
        budget.push(BudgetLineDraft {
            item: Some("Storage and logging".into()),
            category: Some(BudgetCategory::Supporting),
            monthly_usd: Some(supporting - lambda),
            monthly_usd_range: None,
            basis: None,
        });
    }
    if budget_kind == Budget::Other {
        budget.push(BudgetLineDraft {
            item: Some("Third-party observability subscription".into()),
            category: Some(BudgetCategory::Other),
            monthly_usd: Some(dollars(rng, 100, 300)),
            monthly_usd_range: None,
            basis: None,
        });
    }

    // Use case and metrics.
    let target = pct(rng, 20, 60);
    let latency = rng.random_range(4..=12) * 100;
    let (use_case_text, target_metrics) = match use_case {
        UseCase::Strong => (
            format!(
                "Evaluation of {display} to {} for our {} customers. The evaluation connects {} and measures the service against the current manual process over the window. Target metrics: {target}% of items handled without escalation, p95 response under {latency} ms, and a cost per item within the projected budget.",
                workload.task,
                industry.replace('-', " "),
                workload.source
            ),
            vec![
                TargetMetric {
                    name: "items handled without escalation".into(),
                    target: format!("{target}%"),
                },
                TargetMetric {
                    name: "p95 response time".into(),
                    target: format!("<{latency} ms"),
                },
            ],
        ),
        UseCase::NoTarget => (
            format!(
                "Evaluation of {display} to {} for our {} customers. The evaluation connects {} and compares the service with the current manual process, looking at quality, speed and cost as the team works through the backlog together with the service team.",
                workload.task,
                industry.replace('-', " "),
                workload.source
            ),
            Vec::new(),
        ),
        UseCase::Short => (
            format!("{display} to {}: {target}% handled unaided.", workload.task),
            Vec::new(),
        ),
        UseCase::Vague => (
            format!(
                "We are exploring what {display} can do for our workflows. The team wants to try it on various use cases across the company, starting with {} and then whatever looks promising, and learn where it fits best.",
                workload.source
            ),
            Vec::new(),
        ),
    };
    let typical = service
        .and_then(|s| s.typical_metrics.first().cloned())
        .unwrap_or_else(|| "latency".into());
    let mut metrics = match metrics_kind {
        Metrics::Untypical => vec![
            "operator satisfaction survey score".to_owned(),
            "share of work closed unaided".to_owned(),
            "weekly engaged users in the pilot group".to_owned(),
        ],
        _ => vec![
            format!("{typical} measured weekly"),
            "operator satisfaction survey score".to_owned(),
            "share of work closed unaided".to_owned(),
        ],
    };
    if metrics_kind == Metrics::Two {
        metrics.truncate(2);
    } else if rng.random_bool(0.5) {
        metrics.push("weekly engaged users in the pilot group".into());
    }
    let feedback_checkpoints_days = if metrics_kind == Metrics::NoCheckpoint {
        Vec::new()
    } else {
        checkpoints
    };

    // Behaviour once funded.
    let pattern = pick(
        rng,
        &[
            (12, Pattern::None),
            (22, Pattern::Under),
            (50, Pattern::OnPlan),
            (16, Pattern::Overage),
        ],
    );
    let plan_pct = match pattern {
        Pattern::None => 0,
        Pattern::Under => pct(rng, 10, 35),
        Pattern::OnPlan => pct(rng, 75, 100),
        Pattern::Overage => pct(rng, 120, 160),
    };
    let concern_on_day = rng.random_bool(0.12).then(|| pct(rng, 5, 25));
    let odds: [(u32, Option<TeamDecision>); 3] = match (concern_on_day, pattern) {
        (Some(_), _) => [
            (35, Some(TeamDecision::Graduate)),
            (35, Some(TeamDecision::Retire)),
            (30, None),
        ],
        (None, Pattern::Under) => [
            (22, Some(TeamDecision::Graduate)),
            (34, Some(TeamDecision::Retire)),
            (44, None),
        ],
        (None, _) => [
            (62, Some(TeamDecision::Graduate)),
            (12, Some(TeamDecision::Retire)),
            (26, None),
        ],
    };
    let decision = pick(rng, &odds);
    let decision_delay_weeks = pick(rng, &[(60, 0), (25, 1), (15, 2)]);
    let grace_pct = pct(rng, 30, 60);
    let jitter = rng.random::<u64>();

    let body = ApplicationDraft {
        startup: Some(StartupDraft {
            name: Some(name),
            aws_account_id: Some(format!("{:012}", 310_000_000_000_u64 + index as u64)),
            industry: Some(industry.into()),
            stage: Some(stage.into()),
            team_size: Some(team_size),
            monthly_recurring_revenue_usd: Some(revenue),
        }),
        programme: Some(if filing == Filing::DirectPoc {
            Programme::BedrockPoc
        } else {
            Programme::InnovationSandbox
        }),
        service: Some(service_id.to_owned()),
        workload: Some(workload.label.to_owned()),
        use_case: Some(use_case_text),
        target_metrics: Some(target_metrics),
        metrics: Some(metrics),
        feedback_checkpoints_days: Some(feedback_checkpoints_days),
        evaluation_window_days: Some(window),
        budget: Some(budget),
        production_monthly_usd: Some(total * pct(rng, 2, 4)),
        stack: Some(stack),
    };
    Profile {
        index,
        filing,
        body,
        behaviour: Behaviour {
            pattern,
            plan_pct,
            concern_on_day,
            decision,
            decision_delay_weeks,
            grace_pct,
            jitter,
        },
    }
}

/// SplitMix64: a fixed, well-mixed hash of one word.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::{DateTime, Utc};
    use sandpiper_contracts::decision::{Classification, Continuation, Outcome};
    use sandpiper_contracts::model::ApplicationBody;

    fn start() -> DateTime<Utc> {
        "2026-03-02T09:00:00Z".parse().unwrap()
    }

    fn catalog() -> Catalog {
        simulation_catalog(start().date_naive()).unwrap()
    }

    /// What the rules make of a profile offline: the engagement's pool, tier and split, if any.
    fn engagement(body: &ApplicationBody, catalog: &Catalog) -> Option<(Programme, i64, bool)> {
        let at = start();
        let pool = match sandpiper_rules::classify(body, true, catalog, at) {
            Classification::Fits { pool, .. } => pool,
            Classification::Redirect {
                continues_as: Continuation::NewLinkedApplication,
                ..
            } => {
                let mut linked = body.clone();
                linked.programme = Programme::BedrockPoc;
                return engagement(&linked, catalog);
            }
            Classification::Redirect { .. } | Classification::Ineligible { .. } => return None,
        };
        let review = sandpiper_rules::review(body, pool, catalog, &[]);
        let Outcome::Approved { tier_usd } = review.outcome else {
            return None;
        };
        let service = catalog.service(&body.service);
        let plan = sandpiper_rules::credits::plan(body, pool, tier_usd, service, at, 90);
        Some((pool, tier_usd, plan.split))
    }

    #[test]
    fn the_same_seed_gives_the_same_cohort() {
        let catalog = catalog();
        assert_eq!(cohort(7, 300, &catalog), cohort(7, 300, &catalog));
        assert_ne!(cohort(7, 300, &catalog), cohort(8, 300, &catalog));
        // Drawn one application after another: a smaller cohort is a prefix of a larger one.
        assert_eq!(cohort(7, 50, &catalog)[..], cohort(7, 300, &catalog)[..50]);
    }

    #[test]
    fn every_application_is_a_valid_form_with_a_unique_account() {
        let catalog = catalog();
        let profiles = cohort(11, 2_000, &catalog);
        let mut accounts = std::collections::HashSet::new();
        for p in &profiles {
            let body = p.body.validate(&catalog, start());
            assert!(body.is_ok(), "#{}: {body:?}", p.index);
            assert!(accounts.insert(p.body.startup.as_ref().unwrap().aws_account_id.clone()));
        }
    }

    #[test]
    fn weekly_spend_follows_the_plan_within_fifteen_percent() {
        let profiles = cohort(3, 200, &catalog());
        for p in profiles {
            let b = &p.behaviour;
            let plan = 20_000 * b.plan_pct * 7 / (100 * 60);
            for week in 0..10 {
                let spend = b.weekly_spend(20_000, 60, week);
                if b.pattern == Pattern::None {
                    assert_eq!(spend, 0);
                } else {
                    assert!((spend - plan).abs() <= plan * 15 / 100 + 1, "{spend} vs {plan}");
                    assert_eq!(spend, b.weekly_spend(20_000, 60, week), "the same every time");
                }
            }
        }
    }

    /// The mix through the real rules, offline: the shares the docs promise, and DOMAIN §10's
    /// rates where the generator's behaviour decides them.
    #[test]
    fn the_mix_lands_near_the_reference_rates() {
        let catalog = catalog();
        let profiles = cohort(7, 6_000, &catalog);
        let n = profiles.len() as f64;
        let share = |count: usize, of: usize| 100.0 * count as f64 / of.max(1) as f64;

        let mut engagements = Vec::new();
        let (mut rejected, mut redirected) = (0, 0);
        for p in &profiles {
            let body = p.body.validate(&catalog, start()).unwrap();
            match sandpiper_rules::classify(&body, true, &catalog, start()) {
                Classification::Redirect { .. } => redirected += 1,
                Classification::Ineligible { .. } => rejected += 1,
                Classification::Fits { pool, .. } => {
                    let review = sandpiper_rules::review(&body, pool, &catalog, &[]);
                    rejected += usize::from(review.outcome == Outcome::Rejected);
                }
            }
            if let Some(e) = engagement(&body, &catalog) {
                engagements.push((p, body, e));
            }
        }
        let sandbox: Vec<_> = engagements
            .iter()
            .filter(|(_, _, (pool, _, _))| *pool == Programme::InnovationSandbox)
            .collect();
        let split = share(sandbox.iter().filter(|(_, _, (_, _, s))| *s).count(), sandbox.len());
        assert!((20.0..=25.0).contains(&split), "split tranches {split:.1}%");

        let redirected = 100.0 * redirected as f64 / n;
        assert!((10.0..=20.0).contains(&redirected), "redirected {redirected:.1}%");
        let rejected = 100.0 * rejected as f64 / n;
        assert!((3.0..=10.0).contains(&rejected), "rejected {rejected:.1}%");

        let tiers = |tier| engagements.iter().filter(|(_, _, (_, t, _))| *t == tier).count();
        let floor = share(tiers(10_000), engagements.len());
        assert!((25.0..=50.0).contains(&floor), "$10K floor {floor:.1}%");

        let bedrock: Vec<_> = engagements
            .iter()
            .filter(|(_, b, _)| catalog.service(&b.service).map(|s| s.family) == Some(ServiceFamily::Bedrock))
            .collect();
        let graduates = |list: &[&(&Profile, ApplicationBody, (Programme, i64, bool))]| {
            list.iter()
                .filter(|(p, _, _)| {
                    p.behaviour.pattern != Pattern::None && p.behaviour.decision == Some(TeamDecision::Graduate)
                })
                .count()
        };
        let graduation = share(graduates(&bedrock), bedrock.len());
        assert!(
            (40.0..=50.0).contains(&graduation),
            "bedrock graduation {graduation:.1}%"
        );
        let retired = engagements
            .iter()
            .filter(|(p, _, _)| {
                p.behaviour.pattern != Pattern::None && p.behaviour.decision == Some(TeamDecision::Retire)
            })
            .count();
        let retirement = share(retired, engagements.len());
        assert!((15.0..=20.0).contains(&retirement), "retirement {retirement:.1}%");
    }
}
