//! The report: what happened to the cohort, from the applications' event histories alone, side
//! by side with DOMAIN §10's reference rates. It holds no ids and no wall-clock times, so two runs
//! of the same seed give equal reports.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use sandpiper_contracts::catalog::ServiceFamily;
use sandpiper_contracts::engagement::{TeamDecision, TrancheStatus};
use sandpiper_contracts::events::{Envelope, EventType};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::record::{ApplicationRecord, Folded};
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::{ApplicationView, FoldError};
use serde::Serialize;

use super::run::Run;

/// Why a history could not be read into a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("an application without events")]
    Empty,
    #[error("an event history does not fold: {0}")]
    Fold(#[from] FoldError),
    #[error("event {index} of an application's history is out of stream order")]
    OutOfOrder { index: usize },
}

/// The outcome categories, in the order the report lists them.
pub const OUTCOMES: [&str; 12] = [
    "graduated (G1, G2)",
    "retired (G3)",
    "clawed back (TR6)",
    "no decision: balance expired (TR4)",
    "redirected: new linked Bedrock POC (C3)",
    "redirected: onto the Bedrock POC in the stack (C4a)",
    "redirected: Activate Portfolio (K1)",
    "rejected: ineligible (T1)",
    "rejected: overlaps Build for Startups (C4b)",
    "rejected: vague and weak (T2)",
    "canceled by the partner",
    "still open",
];

/// A labelled count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub label: String,
    pub count: usize,
}

/// A share: `numerator` of `denominator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub numerator: usize,
    pub denominator: usize,
}

impl Rate {
    pub fn percent(self) -> f64 {
        if self.denominator == 0 {
            0.0
        } else {
            100.0 * self.numerator as f64 / self.denominator as f64
        }
    }
}

/// A simulated figure beside its reference range (percent), if DOMAIN §10 gives one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateRow {
    pub figure: String,
    pub simulated: Rate,
    pub reference: Option<(f64, f64)>,
}

impl RateRow {
    /// `None` when there is no reference to compare with.
    pub fn within(&self) -> Option<bool> {
        let (low, high) = self.reference?;
        let p = self.simulated.percent();
        Some(p >= low - 1e-9 && p <= high + 1e-9)
    }
}

/// Applications by the pool they were decided in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolRow {
    pub pool: String,
    pub applications: usize,
    pub approved: usize,
    pub rejected: usize,
    /// Moved on to another pool or application (C3, C4a, K1).
    pub redirected: usize,
    /// Credits applied.
    pub engagements: usize,
    pub split: usize,
}

/// Approvals at one tier, by pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierRow {
    pub tier_usd: i64,
    pub innovation_sandbox: usize,
    pub bedrock_poc: usize,
}

/// Days from submission to approval in one pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRow {
    pub pool: String,
    pub approvals: usize,
    pub median_days: f64,
    pub p90_days: f64,
    pub max_days: f64,
}

/// Money over the whole cohort, in dollars.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Money {
    /// Approved tiers of every engagement.
    pub approved: i64,
    /// Released tranches.
    pub issued: i64,
    pub withheld: i64,
    pub consumed: i64,
    pub overage: i64,
    pub clawed_back: i64,
    pub forfeited: i64,
    pub expired: i64,
    /// Balance still held at the end.
    pub held: i64,
}

impl Money {
    fn add(&mut self, view: &ApplicationView) {
        let Some(c) = &view.credits else { return };
        self.approved += c.amount_usd;
        for t in &c.tranches {
            match t.status {
                TrancheStatus::Released => self.issued += t.amount_usd,
                TrancheStatus::Withheld => self.withheld += t.amount_usd,
                TrancheStatus::Pending => {}
            }
        }
        self.consumed += c.consumed_usd;
        self.overage += c.overage_usd;
        self.clawed_back += c.clawed_back_usd;
        self.forfeited += c.forfeited_usd;
        self.expired += c.expired_usd;
        self.held += c.balance_usd;
    }
}

/// The cohort's credits on one day of the simulation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Point {
    pub day: i64,
    pub money: Money,
}

/// Everything the simulation reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub cohort: usize,
    pub seed: u64,
    pub start: NaiveDate,
    pub simulated_days: i64,
    /// Applications the cohort filed.
    pub filed: usize,
    /// Applications the system created and submitted (linked Bedrock POCs, C3).
    pub linked: usize,
    /// Drafts created at graduation for the next step (G2), not submitted.
    pub graduation_drafts: usize,
    pub team_actions: usize,
    pub refused_actions: usize,
    pub events: usize,
    pub outcomes: Vec<Count>,
    pub states: Vec<Count>,
    pub pools: Vec<PoolRow>,
    pub tiers: Vec<TierRow>,
    pub approval: Vec<ApprovalRow>,
    pub rates: Vec<RateRow>,
    pub credits: Money,
    pub burn_down: Vec<Point>,
}

/// One application's history read: its final view, and the facts the report needs.
struct History {
    view: ApplicationView,
    filed: bool,
    clawed_back: bool,
    approval_days: Option<f64>,
    /// The credits at each report day.
    points: Vec<Money>,
}

/// Folds one application's history with the read model's fold ([`ApplicationRecord::fold`]), the
/// one every service uses, sampling the credits at each report day on the way.
fn fold(events: &[Envelope], filed: bool, days: &[DateTime<Utc>]) -> Result<History, ReportError> {
    let first = events.first().ok_or(ReportError::Empty)?;
    let mut record = ApplicationRecord::create(first, 1)?;
    let mut points = Vec::with_capacity(days.len());
    let mut next_day = 0;
    let mut record_until = |view: &ApplicationView, until: Option<DateTime<Utc>>, points: &mut Vec<Money>| {
        while next_day < days.len() && until.is_none_or(|t| days[next_day] < t) {
            let mut m = Money::default();
            m.add(view);
            points.push(m);
            next_day += 1;
        }
    };
    let (mut submitted, mut approved, mut clawed_back) = (None, None, false);
    for (index, event) in events.iter().enumerate() {
        record_until(&record.view, Some(event.time), &mut points);
        if index > 0 {
            match record.fold(event, index as u64 + 1) {
                Folded::Applied | Folded::Already => {}
                Folded::Refused(err) => return Err(err.into()),
                Folded::OutOfOrder => return Err(ReportError::OutOfOrder { index }),
            }
        }
        match event.kind() {
            Ok(EventType::Submitted) => submitted = submitted.or(Some(event.time)),
            Ok(EventType::Approved) => approved = Some(event.time),
            Ok(EventType::ClawedBack) => clawed_back = true,
            _ => {}
        }
    }
    record_until(&record.view, None, &mut points);
    let approval_days = match (submitted, approved) {
        (Some(s), Some(a)) => Some(((a - s).num_minutes() as f64 / (24.0 * 60.0) * 10.0).round() / 10.0),
        _ => None,
    };
    Ok(History {
        view: record.view,
        filed,
        clawed_back,
        approval_days,
        points,
    })
}

fn outcome(f: &History) -> &'static str {
    let v = &f.view;
    let has = |rule: RuleId| v.decision.as_ref().is_some_and(|d| d.rules.contains(&rule));
    match v.state {
        State::Rejected if has(RuleId::T2) => OUTCOMES[9],
        State::Rejected if has(RuleId::C4b) => OUTCOMES[8],
        State::Rejected => OUTCOMES[7],
        State::Redirected if v.links.redirected_to.is_some() => OUTCOMES[4],
        State::Redirected
            if v.decision
                .as_ref()
                .is_some_and(|d| d.pool == Programme::ActivatePortfolio) =>
        {
            OUTCOMES[6]
        }
        State::Redirected => OUTCOMES[5],
        State::Canceled => OUTCOMES[10],
        _ if f.clawed_back => OUTCOMES[2],
        _ => match (&v.team_decision, v.state) {
            (Some(d), _) if d.decision == TeamDecision::Graduate => OUTCOMES[0],
            (Some(_), _) => OUTCOMES[1],
            (None, State::Closed) => OUTCOMES[3],
            _ => OUTCOMES[11],
        },
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn pool_of(view: &ApplicationView) -> Programme {
    view.decision
        .as_ref()
        .map(|d| d.pool)
        .or(view.body.programme)
        .unwrap_or(Programme::InnovationSandbox)
}

impl Report {
    /// Reads a run's histories into the report.
    pub fn build(run: &Run, seed: u64) -> Result<Report, ReportError> {
        let simulated_days = run.weeks * 7;
        let days: Vec<DateTime<Utc>> = (0..=run.weeks)
            .map(|w| run.start + chrono::Duration::days(7 * w))
            .collect();
        let folded = run
            .records
            .iter()
            .map(|r| fold(&r.events, r.filed, &days))
            .collect::<Result<Vec<_>, _>>()?;
        let family = |view: &ApplicationView| {
            view.body
                .service
                .as_deref()
                .and_then(|s| run.catalog.service(s))
                .map(|s| s.family)
        };

        let mut outcomes: Vec<Count> = OUTCOMES
            .iter()
            .map(|l| Count {
                label: (*l).to_owned(),
                count: 0,
            })
            .collect();
        let mut states: Vec<Count> = Vec::new();
        let pools_order = [
            Programme::InnovationSandbox,
            Programme::BedrockPoc,
            Programme::ActivatePortfolio,
        ];
        let mut pools: Vec<PoolRow> = pools_order
            .iter()
            .map(|p| PoolRow {
                pool: p.as_str().to_owned(),
                applications: 0,
                approved: 0,
                rejected: 0,
                redirected: 0,
                engagements: 0,
                split: 0,
            })
            .collect();
        let mut tiers: Vec<TierRow> = [10_000, 20_000, 25_000]
            .iter()
            .map(|t| TierRow {
                tier_usd: *t,
                innovation_sandbox: 0,
                bedrock_poc: 0,
            })
            .collect();
        let mut approval_days: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut credits = Money::default();
        let (mut sandbox_engagements, mut split) = (0, 0);
        let (mut bedrock_engagements, mut bedrock_graduated) = (0, 0);
        let (mut engagements, mut graduated, mut retired, mut clawed) = (0, 0, 0, 0);
        let mut events = 0;

        for f in &folded {
            let v = &f.view;
            events += v.event_count as usize;
            let label = outcome(f);
            if let Some(c) = outcomes.iter_mut().find(|c| c.label == label) {
                c.count += 1;
            }
            match states.iter_mut().find(|c| c.label == v.state.as_str()) {
                Some(c) => c.count += 1,
                None => states.push(Count {
                    label: v.state.as_str().to_owned(),
                    count: 1,
                }),
            }
            let pool = pool_of(v);
            let approved_tier = v.decision.as_ref().and_then(|d| d.tier_usd);
            if let Some(row) = pools.iter_mut().find(|r| r.pool == pool.as_str()) {
                row.applications += 1;
                row.approved += usize::from(approved_tier.is_some());
                row.rejected += usize::from(v.state == State::Rejected);
                row.redirected += usize::from(v.state == State::Redirected);
                row.engagements += usize::from(v.credits.is_some());
                row.split += usize::from(v.credits.as_ref().is_some_and(|c| c.split));
            }
            if let Some(tier) = approved_tier
                && let Some(row) = tiers.iter_mut().find(|r| r.tier_usd == tier)
            {
                match pool {
                    Programme::BedrockPoc => row.bedrock_poc += 1,
                    _ => row.innovation_sandbox += 1,
                }
            }
            if let Some(days) = f.approval_days {
                approval_days[usize::from(pool == Programme::BedrockPoc)].push(days);
            }
            credits.add(v);
            if let Some(c) = &v.credits {
                engagements += 1;
                let grad = v
                    .team_decision
                    .as_ref()
                    .is_some_and(|d| d.decision == TeamDecision::Graduate);
                graduated += usize::from(grad);
                retired += usize::from(
                    v.team_decision
                        .as_ref()
                        .is_some_and(|d| d.decision == TeamDecision::Retire),
                );
                clawed += usize::from(f.clawed_back);
                if pool == Programme::InnovationSandbox {
                    sandbox_engagements += 1;
                    split += usize::from(c.split);
                }
                if family(v) == Some(ServiceFamily::Bedrock) {
                    bedrock_engagements += 1;
                    bedrock_graduated += usize::from(grad);
                }
            }
        }
        states.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));

        let approval: Vec<ApprovalRow> = approval_days
            .iter_mut()
            .zip(["innovation_sandbox", "bedrock_poc"])
            .map(|(days, pool)| {
                days.sort_by(f64::total_cmp);
                ApprovalRow {
                    pool: pool.to_owned(),
                    approvals: days.len(),
                    median_days: percentile(days, 50.0),
                    p90_days: percentile(days, 90.0),
                    max_days: days.last().copied().unwrap_or(0.0),
                }
            })
            .collect();
        let sandbox_within = approval_days[0].iter().filter(|d| **d <= 12.0).count();
        let filed = folded.iter().filter(|f| f.filed).count();
        let rate = |numerator, denominator| Rate { numerator, denominator };
        let count_of = |i: usize| outcomes[i].count;
        let rates = vec![
            RateRow {
                figure: "split tranches, of approved sandbox engagements".into(),
                simulated: rate(split, sandbox_engagements),
                reference: Some((20.0, 25.0)),
            },
            RateRow {
                figure: "graduation, of Bedrock-family engagements".into(),
                simulated: rate(bedrock_graduated, bedrock_engagements),
                reference: Some((40.0, 50.0)),
            },
            RateRow {
                figure: "retirement, of engagements".into(),
                simulated: rate(retired, engagements),
                reference: Some((15.0, 20.0)),
            },
            RateRow {
                figure: "sandbox approvals within 12 days".into(),
                simulated: rate(sandbox_within, approval_days[0].len()),
                reference: Some((100.0, 100.0)),
            },
            RateRow {
                figure: "graduation, of all engagements".into(),
                simulated: rate(graduated, engagements),
                reference: None,
            },
            RateRow {
                figure: "clawed back, of engagements".into(),
                simulated: rate(clawed, engagements),
                reference: None,
            },
            RateRow {
                figure: "rejected, of submitted applications".into(),
                simulated: rate(count_of(7) + count_of(8) + count_of(9), folded.len()),
                reference: None,
            },
            RateRow {
                figure: "redirected, of filed applications".into(),
                simulated: rate(count_of(4) + count_of(5) + count_of(6), filed),
                reference: None,
            },
        ];

        let burn_down = (0..days.len())
            .map(|i| {
                let mut money = Money::default();
                for f in &folded {
                    if let Some(m) = f.points.get(i) {
                        money.approved += m.approved;
                        money.issued += m.issued;
                        money.withheld += m.withheld;
                        money.consumed += m.consumed;
                        money.overage += m.overage;
                        money.clawed_back += m.clawed_back;
                        money.forfeited += m.forfeited;
                        money.expired += m.expired;
                        money.held += m.held;
                    }
                }
                Point {
                    day: 7 * i as i64,
                    money,
                }
            })
            .collect();

        Ok(Report {
            cohort: run.profiles.len(),
            seed,
            start: run.start.date_naive(),
            simulated_days,
            filed,
            linked: folded.len() - filed,
            graduation_drafts: run.graduation_drafts,
            team_actions: run.actions,
            refused_actions: run.refused.len(),
            events,
            outcomes,
            states,
            pools,
            tiers,
            approval,
            rates,
            credits,
            burn_down,
        })
    }

    /// The outcome categories' counts add up to the submitted applications, and the money adds
    /// up: what was issued is consumed, clawed back, forfeited, expired or still held. Returns what
    /// does not add up.
    pub fn inconsistencies(&self) -> Vec<String> {
        let mut out = Vec::new();
        let submitted = self.filed + self.linked;
        let outcomes: usize = self.outcomes.iter().map(|c| c.count).sum();
        if outcomes != submitted {
            out.push(format!("outcomes add up to {outcomes}, not {submitted}"));
        }
        let states: usize = self.states.iter().map(|c| c.count).sum();
        if states != submitted {
            out.push(format!("states add up to {states}, not {submitted}"));
        }
        let pools: usize = self.pools.iter().map(|p| p.applications).sum();
        if pools != submitted {
            out.push(format!("pools add up to {pools}, not {submitted}"));
        }
        let approved: usize = self.pools.iter().map(|p| p.approved).sum();
        let tiers: usize = self.tiers.iter().map(|t| t.innovation_sandbox + t.bedrock_poc).sum();
        if tiers != approved {
            out.push(format!("tiers add up to {tiers}, not the {approved} approved"));
        }
        let c = &self.credits;
        let spent = c.consumed + c.clawed_back + c.forfeited + c.expired + c.held;
        if c.issued != spent {
            out.push(format!(
                "issued ${} but consumed + clawed back + forfeited + expired + held = ${spent}",
                c.issued
            ));
        }
        if c.approved != c.issued + c.withheld {
            out.push(format!(
                "approved ${} but issued + withheld = ${}",
                c.approved,
                c.issued + c.withheld
            ));
        }
        out
    }

    /// The report as text tables.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Sandpiper cohort simulation · seed {} · {} applications filed from {} · {} simulated days",
            self.seed, self.filed, self.start, self.simulated_days
        );
        let _ = writeln!(
            s,
            "{} linked Bedrock POC applications created by redirection (C3) · {} graduation drafts (G2) · {} team actions ({} refused) · {} events\n",
            self.linked, self.graduation_drafts, self.team_actions, self.refused_actions, self.events
        );

        let _ = writeln!(s, "Against DOMAIN §10");
        let _ = writeln!(s, "  {:<50} {:>16} {:>12}  ", "figure", "simulated", "reference");
        for r in &self.rates {
            let reference = match r.reference {
                Some((low, high)) if (low - high).abs() < f64::EPSILON => format!("{low:.0}%"),
                Some((low, high)) => format!("{low:.0}–{high:.0}%"),
                None => "-".into(),
            };
            let mark = match r.within() {
                Some(true) => "within",
                Some(false) => "OUTSIDE",
                None => "",
            };
            let _ = writeln!(
                s,
                "  {:<50} {:>6.1}% {:>9} {:>12}  {mark}",
                r.figure,
                r.simulated.percent(),
                format!("{}/{}", r.simulated.numerator, r.simulated.denominator),
                reference
            );
        }

        let submitted = (self.filed + self.linked).max(1);
        let _ = writeln!(s, "\nOutcomes (of {} submitted applications)", self.filed + self.linked);
        for c in &self.outcomes {
            let _ = writeln!(
                s,
                "  {:<52} {:>6} {:>6.1}%",
                c.label,
                c.count,
                100.0 * c.count as f64 / submitted as f64
            );
        }
        let _ = writeln!(s, "\nFinal states");
        for c in &self.states {
            let _ = writeln!(s, "  {:<52} {:>6}", c.label, c.count);
        }

        let _ = writeln!(s, "\nBy pool (where each was decided)");
        let _ = writeln!(
            s,
            "  {:<20} {:>12} {:>9} {:>9} {:>11} {:>12} {:>6}",
            "pool", "applications", "approved", "rejected", "redirected", "engagements", "split"
        );
        for p in &self.pools {
            let _ = writeln!(
                s,
                "  {:<20} {:>12} {:>9} {:>9} {:>11} {:>12} {:>6}",
                p.pool, p.applications, p.approved, p.rejected, p.redirected, p.engagements, p.split
            );
        }

        let _ = writeln!(s, "\nBy tier (approvals)");
        let _ = writeln!(s, "  {:<8} {:>19} {:>12}", "tier", "innovation_sandbox", "bedrock_poc");
        for t in &self.tiers {
            let _ = writeln!(
                s,
                "  {:<8} {:>19} {:>12}",
                format!("${}K", t.tier_usd / 1000),
                t.innovation_sandbox,
                t.bedrock_poc
            );
        }

        let _ = writeln!(s, "\nTime to approval (simulated days from submission)");
        let _ = writeln!(
            s,
            "  {:<20} {:>9} {:>7} {:>7} {:>7}",
            "pool", "approvals", "median", "p90", "max"
        );
        for a in &self.approval {
            let _ = writeln!(
                s,
                "  {:<20} {:>9} {:>7.1} {:>7.1} {:>7.1}",
                a.pool, a.approvals, a.median_days, a.p90_days, a.max_days
            );
        }

        let c = &self.credits;
        let _ = writeln!(s, "\nCredits");
        for (label, amount) in [
            ("approved (tiers of every engagement)", c.approved),
            ("issued (released tranches)", c.issued),
            ("withheld (tranche 2 after a blocking concern, TR3)", c.withheld),
            ("consumed", c.consumed),
            ("overage, billed directly (TR7)", c.overage),
            ("clawed back (TR6)", c.clawed_back),
            ("forfeited at retirement (G3)", c.forfeited),
            ("expired (TR4)", c.expired),
            ("still held", c.held),
        ] {
            let _ = writeln!(s, "  {label:<52} {:>12}", usd(amount));
        }
        s
    }
}

/// Dollars with thousands separators.
pub fn usd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}${out}", if amount < 0 { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(percentile(&[12.0], 90.0), 12.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn dollars_have_separators() {
        assert_eq!(usd(0), "$0");
        assert_eq!(usd(1_234_567), "$1,234,567");
        assert_eq!(usd(-25_000), "-$25,000");
    }

    #[test]
    fn rates_compare_with_their_reference() {
        let row = |n, d| RateRow {
            figure: String::new(),
            simulated: Rate {
                numerator: n,
                denominator: d,
            },
            reference: Some((20.0, 25.0)),
        };
        assert_eq!(row(22, 100).within(), Some(true));
        assert_eq!(row(26, 100).within(), Some(false));
        assert_eq!(row(0, 0).simulated.percent(), 0.0);
    }
}
