//! The four components of DOMAIN §5 (U, M, W, B): each scored strong or weak, with the reasons, the
//! rule ids behind a weak score, and what would make it strong (for `next_tier`).

use sandpiper_contracts::catalog::CatalogService;
use sandpiper_contracts::decision::{ComponentScore, Strength};
use sandpiper_contracts::model::{ApplicationBody, BudgetCategory, Programme};
use sandpiper_contracts::rule::RuleId;

use crate::text;

/// U3's minimum length of a use case, in whitespace-separated words.
pub const MIN_USE_CASE_WORDS: usize = 30;
/// M's minimum number of metrics.
pub const MIN_METRICS: usize = 3;
/// W's two standard windows (decided: other values inside 30–60 are weak).
pub const STANDARD_WINDOWS: [i64; 2] = [30, 60];
/// P1: a Bedrock POC's evaluation window (DOMAIN §1 table: 60 days, not a range).
pub const BEDROCK_POC_WINDOW_DAYS: i64 = 60;

/// The window an application in `pool` runs, in days. P1 fixes a `bedrock_poc` window at 60 days
/// the way it fixes its 14-day review and 12-month validity: a programme fact, not the filer's
/// choice. DOMAIN describes `bedrock_poc` applications only as redirected (C3, K1) or graduated
/// (G2) ones, which are opened with 60 days; for a body filed as `bedrock_poc` with another window
/// (DOMAIN is silent) we read P1 the same way (decided): it runs 60 days, and W, M's checkpoints
/// and the credits judge those 60 days.
pub fn window_days(body: &ApplicationBody, pool: Programme) -> i64 {
    match pool {
        Programme::BedrockPoc => BEDROCK_POC_WINDOW_DAYS,
        Programme::InnovationSandbox | Programme::ActivatePortfolio | Programme::BuildForStartups => {
            body.evaluation_window_days
        }
    }
}

/// One component being scored.
#[derive(Debug, Clone)]
pub(crate) struct Scoring {
    /// The component's id (U, M, W, B) and its name in reasons.
    pub id: RuleId,
    pub name: &'static str,
    pub weak: bool,
    pub reasons: Vec<String>,
    pub rules: Vec<RuleId>,
    /// What would make the component strong.
    pub fixes: Vec<String>,
}

impl Scoring {
    fn new(id: RuleId, name: &'static str) -> Scoring {
        Scoring {
            id,
            name,
            weak: false,
            reasons: Vec::new(),
            rules: vec![id],
            fixes: Vec::new(),
        }
    }

    fn pass(&mut self, reason: String) {
        self.reasons.push(reason);
    }

    fn fail(&mut self, rule: RuleId, reason: String, fix: String) {
        self.weak = true;
        self.reasons.push(reason);
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
        self.fixes.push(fix);
    }

    pub fn score(&self) -> ComponentScore {
        ComponentScore {
            strength: if self.weak { Strength::Weak } else { Strength::Strong },
            reasons: self.reasons.clone(),
            rules: self.rules.clone(),
        }
    }
}

/// U (U1–U4). Also returns whether the use case is vague (U4), which T2 needs.
pub(crate) fn use_case(body: &ApplicationBody, service: Option<&CatalogService>) -> (Scoring, bool) {
    let mut s = Scoring::new(RuleId::U, "use case");
    let text_ = &body.use_case;

    // U1: the display name, any alias (K3) or the id, as a case-insensitive substring. The display
    // name and aliases come first, so the reason quotes what a person wrote.
    let mut names = Vec::new();
    if let Some(service) = service {
        names.push(service.display_name.clone());
        names.extend(service.aliases.iter().cloned());
    }
    names.push(body.service.clone());
    let display = service.map_or(body.service.as_str(), |s| s.display_name.as_str());
    match names.iter().find(|n| text::mentions(text_, n)) {
        Some(name) => s.pass(format!("Names the service ({name:?}) (U1).")),
        None => s.fail(
            RuleId::U1,
            format!("Does not name {display} (U1)."),
            format!("Name {display} (or one of its aliases) in the use case (U1)."),
        ),
    }

    // U2: a number with a unit in the text, or a listed target with a number.
    let target = text::quantitative_target(text_).or_else(|| {
        body.target_metrics
            .iter()
            .find(|t| t.target.chars().any(|c| c.is_ascii_digit()))
            .map(|t| format!("{}: {}", t.name, t.target))
    });
    match &target {
        Some(target) => s.pass(format!("States a quantitative target ({target}) (U2).")),
        None => s.fail(
            RuleId::U2,
            "States no quantitative target (a number with %, ms, s, x, days or hours, or a listed target metric with a number) (U2).".into(),
            "State at least one quantitative target, e.g. \"30% auto-resolution\" or \"p95 under 800 ms\" (U2).".into(),
        ),
    }

    // U3: long enough to describe a workflow.
    let words = text_.split_whitespace().count();
    if words >= MIN_USE_CASE_WORDS {
        s.pass(format!("{words} words (U3)."));
    } else {
        s.fail(
            RuleId::U3,
            format!("{words} words; at least {MIN_USE_CASE_WORDS} are expected (U3)."),
            format!(
                "Describe the use case in at least {MIN_USE_CASE_WORDS} words: the workflow, its integration points and its targets (U3)."
            ),
        );
    }

    // U4: exploratory phrasing only counts as vague when no target anchors it.
    let phrase = text::exploratory_phrase(text_);
    let vague = phrase.is_some() && target.is_none();
    if let Some(phrase) = phrase.filter(|_| vague) {
        s.fail(
            RuleId::U4,
            format!("Exploratory (\"{phrase}\") with no quantitative target: vague (U4)."),
            "Replace the exploratory wording with the specific evaluation, and state a quantitative target (U4)."
                .into(),
        );
    }
    (s, vague)
}

/// M: enough metrics, one the service team cares about (K3), and a share-back checkpoint inside
/// the window `pool` runs ([`window_days`]).
pub(crate) fn metrics(body: &ApplicationBody, service: Option<&CatalogService>, pool: Programme) -> Scoring {
    let mut s = Scoring::new(RuleId::M, "metrics");
    let count = body.metrics.len();
    if count >= MIN_METRICS {
        s.pass(format!("{count} metrics (M)."));
    } else {
        s.fail(
            RuleId::M,
            format!("{count} metric(s); at least {MIN_METRICS} are expected (M)."),
            format!("List at least {MIN_METRICS} metrics the evaluation will capture (M)."),
        );
    }

    // Word overlap is enough (DOMAIN §5 M): one significant word shared with a typical metric.
    let typical: &[String] = service.map_or(&[], |s| s.typical_metrics.as_slice());
    let matched = body.metrics.iter().find_map(|metric| {
        let words = text::significant_words(metric);
        typical
            .iter()
            .find(|t| text::significant_words(t).iter().any(|w| words.contains(w)))
            .map(|t| (metric, t))
    });
    match matched {
        Some((metric, typical)) => s.pass(format!(
            "{metric:?} covers the service team's typical metric {typical:?} (M, K3)."
        )),
        None if typical.is_empty() => s.fail(
            RuleId::M,
            format!("No typical metrics are known for {:?} (M, K3).", body.service),
            "Name a catalog service, so the metrics can be matched with its typical ones (M, K3).".into(),
        ),
        None => s.fail(
            RuleId::M,
            "No metric matches the service's typical metrics (M, K3).".into(),
            format!(
                "Capture at least one of the service team's typical metrics: {} (M).",
                typical.join(", ")
            ),
        ),
    }

    let window = window_days(body, pool);
    let inside: Vec<i64> = body
        .feedback_checkpoints_days
        .iter()
        .copied()
        .filter(|d| (1..=window).contains(d))
        .collect();
    if inside.is_empty() {
        s.fail(
            RuleId::M,
            format!("No share-back checkpoint inside the {window}-day window (M)."),
            format!(
                "Commit to sharing feedback at a checkpoint inside the window, e.g. day {} and day {window} (M).",
                window / 2
            ),
        );
    } else {
        s.pass(format!("Shares feedback on day(s) {inside:?} of the window (M)."));
    }
    s
}

/// W: one of the two standard windows; for `bedrock_poc`, the 60 days of P1 ([`window_days`]).
pub(crate) fn window(body: &ApplicationBody, pool: Programme) -> Scoring {
    let mut s = Scoring::new(RuleId::W, "window");
    let filed = body.evaluation_window_days;
    let days = window_days(body, pool);
    if pool == Programme::BedrockPoc {
        s.rules.push(RuleId::P1);
        let note = if filed == days {
            String::new()
        } else {
            format!("; the {filed} days filed do not apply")
        };
        s.pass(format!("A Bedrock POC runs a {days}-day window{note} (W, P1)."));
    } else if STANDARD_WINDOWS.contains(&days) {
        s.pass(format!("A standard {days}-day window (W)."));
    } else {
        s.fail(
            RuleId::W,
            format!("{days} days: reviewers expect one of the two standard shapes, 30 or 60 days (W)."),
            "Use a 30-day window for a narrow scope or 60 days for a broader one (W).".into(),
        );
    }
    s
}

/// B: exact amounts, the emerging service's own line, nothing the pool does not fund.
pub(crate) fn budget(body: &ApplicationBody) -> Scoring {
    let mut s = Scoring::new(RuleId::B, "budget");
    let items = |keep: &dyn Fn(&sandpiper_contracts::model::BudgetLine) -> bool| -> Vec<String> {
        body.budget
            .iter()
            .filter(|l| keep(l))
            .map(|l| format!("{:?}", l.item))
            .collect()
    };
    let ranges = items(&|l| l.monthly_usd.is_none());
    if ranges.is_empty() {
        s.pass("Every line has an exact monthly amount (B).".into());
    } else {
        s.fail(
            RuleId::B,
            format!("Range estimates are downgraded: {} (B).", ranges.join(", ")),
            "Give an exact monthly amount for every budget line (B).".into(),
        );
    }
    if body
        .budget
        .iter()
        .any(|l| l.category == BudgetCategory::EmergingService)
    {
        s.pass("Includes the emerging service's own consumption (B).".into());
    } else {
        s.fail(
            RuleId::B,
            "No emerging_service line: the budget does not pay for the service under evaluation (B).".into(),
            "Add the emerging service's monthly consumption as an emerging_service line (B).".into(),
        );
    }
    let other = items(&|l| l.category == BudgetCategory::Other);
    if !other.is_empty() {
        s.fail(
            RuleId::B,
            format!(
                "Consumption the pool does not fund (category other): {} (B).",
                other.join(", ")
            ),
            "Remove the lines of category other: the pool does not fund them (B).".into(),
        );
    }
    s
}
