//! Credits and tranches (DOMAIN §6): what is applied at approval, when, and for how long.

use chrono::{DateTime, Duration, Months, Utc};
use sandpiper_contracts::catalog::{CatalogService, SplitPreference};
use sandpiper_contracts::engagement::{Tranche, TrancheStatus, Window};
use sandpiper_contracts::model::{ApplicationBody, Programme};
use sandpiper_contracts::rule::RuleId;

use crate::classify::figures;
use crate::components::window_days;

/// TR3: the first tranche of a split.
pub const FIRST_TRANCHE_USD: i64 = 10_000;
/// TR3: the day of the mid-window check-in of a split (60-day) window.
pub const SPLIT_RELEASE_DAY: i64 = 30;
/// TR5: the grace period's default length (policy: 60 to 90 days).
pub const DEFAULT_GRACE_DAYS: i64 = 90;
/// TR8: the share of the pro-rata amount below which consumption risks a clawback.
pub const CLAWBACK_RISK_PERCENT: i64 = 25;

/// What is applied at approval (TR1–TR5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPlan {
    pub amount_usd: i64,
    pub split: bool,
    /// Tranche 1 is released at once; tranche 2 (split) is pending until the mid-window check-in.
    pub tranches: Vec<Tranche>,
    pub window: Window,
    pub rules: Vec<RuleId>,
    pub reasons: Vec<String>,
}

/// TR4: credits are valid 6 months from issuance (12 for `bedrock_poc`).
pub fn validity_months(pool: Programme) -> u32 {
    if pool == Programme::BedrockPoc { 12 } else { 6 }
}

fn add_months(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months)).unwrap_or(at)
}

/// Plans the credits of an approval at `approved_at` for `tier_usd` (TR1–TR5).
pub fn plan(
    body: &ApplicationBody,
    pool: Programme,
    tier_usd: i64,
    service: Option<&CatalogService>,
    approved_at: DateTime<Utc>,
    grace_days: i64,
) -> CreditPlan {
    // P1: a Bedrock POC runs 60 days whatever the body says; a sandbox runs its own window.
    let days = window_days(body, pool);
    let starts_at = approved_at;
    let ends_at = starts_at + Duration::days(days);
    let expires_at = add_months(starts_at, validity_months(pool));
    let grace_ends_at = (ends_at + Duration::days(grace_days)).min(expires_at);
    let mid_window_at = starts_at + Duration::days(days / 2);
    let window = Window {
        starts_at,
        ends_at,
        grace_ends_at,
        expires_at,
        mid_window_at,
    };
    let total = figures(body).total_monthly_usd;
    let prefers_split = service.is_some_and(|s| s.split_preference == SplitPreference::SplitForLargerScope);
    let split =
        pool == Programme::InnovationSandbox && prefers_split && days == 60 && total >= 3_000 && tier_usd >= 20_000;

    let mut rules = vec![RuleId::TR1, RuleId::TR4, RuleId::TR5];
    let mut reasons = vec![format!(
        "The {days}-day window starts at credits-applied and ends on {} (TR1); credits are valid until {} (TR4); the grace period runs to {} (TR5).",
        ends_at.date_naive(),
        expires_at.date_naive(),
        grace_ends_at.date_naive()
    )];
    let tranche = |number, amount_usd, due_at| Tranche {
        number,
        amount_usd,
        status: TrancheStatus::Pending,
        due_at,
        released_at: None,
        balance_usd: 0,
    };
    let tranches = if split {
        rules.push(RuleId::TR3);
        reasons.push(format!(
            "Split: the service prefers split tranches for larger scopes, the window is 60 days, the budget ${total}/month and the tier ${tier_usd}: ${FIRST_TRANCHE_USD} now, ${} at the day-{SPLIT_RELEASE_DAY} check-in unless a blocking concern is recorded by then (TR3).",
            tier_usd - FIRST_TRANCHE_USD
        ));
        vec![
            tranche(1, FIRST_TRANCHE_USD, starts_at),
            tranche(
                2,
                tier_usd - FIRST_TRANCHE_USD,
                starts_at + Duration::days(SPLIT_RELEASE_DAY),
            ),
        ]
    } else {
        rules.push(RuleId::TR2);
        reasons.push(format!(
            "Single tranche: the whole ${tier_usd} at credits-applied (TR2)."
        ));
        vec![tranche(1, tier_usd, starts_at)]
    };
    CreditPlan {
        amount_usd: tier_usd,
        split,
        tranches,
        window,
        rules,
        reasons,
    }
}

/// TR8: at the mid-window check-in, the consumption a healthy engagement would have reached, and
/// whether `consumed` is under a quarter of it. Returns `(pro_rata, at_risk)`.
pub fn clawback_risk(released_usd: i64, consumed_usd: i64, elapsed_days: i64, window_days: i64) -> (i64, bool) {
    if window_days <= 0 {
        return (0, false);
    }
    let pro_rata = released_usd.saturating_mul(elapsed_days.clamp(0, window_days)) / window_days;
    let at_risk = consumed_usd.saturating_mul(100) < pro_rata.saturating_mul(CLAWBACK_RISK_PERCENT);
    (pro_rata, at_risk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{catalog, worked};
    use sandpiper_contracts::model::{BudgetCategory, BudgetLine};

    fn at() -> DateTime<Utc> {
        "2026-03-14T09:00:00Z".parse().unwrap()
    }

    fn ceiling_budget() -> Vec<BudgetLine> {
        let line = |item: &str, category, amount| BudgetLine {
            item: item.into(),
            category,
            monthly_usd: Some(amount),
            monthly_usd_range: None,
            basis: None,
        };
        vec![
            line("Bedrock Agents invocations", BudgetCategory::EmergingService, 1_800),
            line("Claude Sonnet 4", BudgetCategory::ModelInference, 800),
            line("Lambda", BudgetCategory::Supporting, 200),
            line("OpenSearch", BudgetCategory::Supporting, 300),
            line("CloudWatch", BudgetCategory::Supporting, 50),
        ]
    }

    #[test]
    fn rule_tr1_the_window_starts_at_credits_applied() {
        let p = plan(
            &worked(),
            Programme::InnovationSandbox,
            20_000,
            catalog().service("bedrock-agents"),
            at(),
            DEFAULT_GRACE_DAYS,
        );
        assert_eq!(p.window.starts_at, at());
        assert_eq!(
            p.window.ends_at,
            "2026-05-13T09:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            "60 days later"
        );
        assert_eq!(
            p.window.mid_window_at,
            "2026-04-13T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn rule_tr2_single_tranche_by_default() {
        let p = plan(
            &worked(),
            Programme::InnovationSandbox,
            20_000,
            catalog().service("bedrock-agents"),
            at(),
            DEFAULT_GRACE_DAYS,
        );
        assert!(!p.split, "the worked example's budget is $2,540: below TR3's $3,000");
        assert_eq!(p.tranches.len(), 1);
        assert_eq!((p.tranches[0].amount_usd, p.tranches[0].due_at), (20_000, at()));
    }

    #[test]
    fn rule_tr3_split_60_day_25k_bedrock_agents_is_10k_now_15k_at_day_30() {
        let mut body = worked();
        body.budget = ceiling_budget();
        let p = plan(
            &body,
            Programme::InnovationSandbox,
            25_000,
            catalog().service("bedrock-agents"),
            at(),
            DEFAULT_GRACE_DAYS,
        );
        assert!(p.split);
        assert_eq!(p.tranches[0].amount_usd, 10_000);
        assert_eq!(p.tranches[0].due_at, at());
        assert_eq!(p.tranches[1].amount_usd, 15_000);
        assert_eq!(
            p.tranches[1].due_at,
            "2026-04-13T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // Not for a service that prefers single tranches, a 30-day window, or the $10K tier.
        assert!(
            !plan(
                &body,
                Programme::InnovationSandbox,
                25_000,
                catalog().service("bedrock-knowledge-bases-v2"),
                at(),
                90
            )
            .split
        );
        assert!(
            !plan(
                &body,
                Programme::InnovationSandbox,
                10_000,
                catalog().service("bedrock-agents"),
                at(),
                90
            )
            .split
        );
        body.evaluation_window_days = 30;
        assert!(
            !plan(
                &body,
                Programme::InnovationSandbox,
                25_000,
                catalog().service("bedrock-agents"),
                at(),
                90
            )
            .split
        );
    }

    #[test]
    fn rule_tr4_validity_is_six_months_twelve_for_bedrock_poc() {
        let p = plan(&worked(), Programme::InnovationSandbox, 20_000, None, at(), 90);
        assert_eq!(
            p.window.expires_at,
            "2026-09-14T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let poc = plan(&worked(), Programme::BedrockPoc, 25_000, None, at(), 90);
        assert_eq!(
            poc.window.expires_at,
            "2027-03-14T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn rule_p1_a_bedrock_poc_window_is_60_days_whatever_the_body_says() {
        let mut body = worked();
        body.evaluation_window_days = 30;
        let poc = plan(&body, Programme::BedrockPoc, 25_000, None, at(), 90);
        assert_eq!(poc.window.ends_at, at() + Duration::days(60), "P1");
        assert_eq!(poc.window.mid_window_at, at() + Duration::days(30));
        let sandbox = plan(&body, Programme::InnovationSandbox, 20_000, None, at(), 90);
        assert_eq!(sandbox.window.ends_at, at() + Duration::days(30), "TR1: its own window");
    }

    #[test]
    fn rule_tr5_grace_is_90_days_never_past_validity() {
        let p = plan(&worked(), Programme::InnovationSandbox, 20_000, None, at(), 90);
        assert_eq!(
            p.window.grace_ends_at,
            "2026-08-11T09:00:00Z".parse::<DateTime<Utc>>().unwrap(),
            "window end + 90 days"
        );
        let long = plan(&worked(), Programme::InnovationSandbox, 20_000, None, at(), 200);
        assert_eq!(long.window.grace_ends_at, long.window.expires_at);
    }

    #[test]
    fn rule_tr8_under_a_quarter_of_the_pro_rata_share_is_at_risk() {
        // $20K released, half the window gone: pro-rata $10,000; a quarter of it is $2,500.
        assert_eq!(clawback_risk(20_000, 2_499, 30, 60), (10_000, true));
        assert_eq!(clawback_risk(20_000, 2_500, 30, 60), (10_000, false));
        assert_eq!(clawback_risk(0, 0, 30, 60), (0, false));
    }
}
