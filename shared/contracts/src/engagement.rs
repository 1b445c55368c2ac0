//! The shapes of an approved engagement (DOMAIN §6–§9): credits and tranches, the window, office
//! hours, concerns, the team's decision, and the credit position.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::ApplicationId;
use crate::model::Programme;

/// Where a tranche stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrancheStatus {
    Pending,
    Released,
    Withheld,
}

/// One tranche of the credits (TR2, TR3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tranche {
    pub number: u32,
    pub amount_usd: i64,
    pub status: TrancheStatus,
    pub due_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    /// What is left of this tranche (consumption draws the oldest released tranche first, TR7).
    pub balance_usd: i64,
}

/// The evaluation window and the credits' life (TR1, TR4, TR5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Window {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Until then the remaining balance serves consumption after the window (TR5, G4).
    pub grace_ends_at: DateTime<Utc>,
    /// Any balance left then expires (TR4).
    pub expires_at: DateTime<Utc>,
    /// The mid-window check-in (tranche 2, TR3; the clawback-risk check, TR8).
    pub mid_window_at: DateTime<Utc>,
}

/// The credits as they stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Credits {
    /// The approved tier.
    pub amount_usd: i64,
    /// Released and not yet consumed, clawed back, forfeited or expired.
    pub balance_usd: i64,
    /// Consumption the credits paid for.
    pub consumed_usd: i64,
    /// Consumption above the balance, billed directly (TR7).
    pub overage_usd: i64,
    /// Consumption dated inside the evaluation window (TR6, TR8).
    pub consumed_in_window_usd: i64,
    pub clawed_back_usd: i64,
    pub forfeited_usd: i64,
    pub expired_usd: i64,
    pub split: bool,
    pub tranches: Vec<Tranche>,
}

impl Credits {
    /// The balance is what the released tranches hold.
    pub fn rebalance(&mut self) {
        self.balance_usd = self
            .tranches
            .iter()
            .filter(|t| t.status == TrancheStatus::Released)
            .map(|t| t.balance_usd)
            .sum();
    }

    /// TR7: consumption draws the oldest released tranche first; what the balance cannot cover
    /// (or what falls after the grace period, TR5) is overage, billed directly. Never negative.
    pub fn draw(&mut self, consumption: &Consumption, window: &Window) {
        let amount = consumption.amount_usd.max(0);
        let date = consumption.date;
        if date >= window.starts_at.date_naive() && date <= window.ends_at.date_naive() {
            self.consumed_in_window_usd = self.consumed_in_window_usd.saturating_add(amount);
        }
        let servable = date >= window.starts_at.date_naive() && date <= window.grace_ends_at.date_naive();
        let mut remaining = amount;
        if servable {
            for tranche in self.tranches.iter_mut().filter(|t| t.status == TrancheStatus::Released) {
                let take = tranche.balance_usd.min(remaining);
                tranche.balance_usd -= take;
                remaining -= take;
            }
        }
        self.consumed_usd = self.consumed_usd.saturating_add(amount - remaining);
        self.overage_usd = self.overage_usd.saturating_add(remaining);
        self.rebalance();
    }

    /// The balance is gone (clawed back, forfeited or expired); pending tranches will not come.
    pub fn empty(&mut self) {
        for tranche in &mut self.tranches {
            tranche.balance_usd = 0;
            if tranche.status == TrancheStatus::Pending {
                tranche.status = TrancheStatus::Withheld;
            }
        }
        self.rebalance();
    }
}

/// A dated checkpoint of an engagement, set at approval (or by the one before it) and decided when
/// it falls due: the scheduler's timer kinds. Serialized as `{"kind": "mid_window"}`, `{"kind":
/// "reminder", "number": 2}`, … (the timers' stored payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Checkpoint {
    /// Tranche 2 released or withheld (TR3); the clawback-risk check (TR8).
    MidWindow,
    /// The window closes: clawback (TR6) or the decision owed (G1, TR5).
    WindowClose,
    /// The team's decision is still owed (G1); the first comes a week after the close.
    Reminder { number: u32 },
    /// Validity ends: the balance left expires (TR4).
    Expiry,
}

/// The kind of an office-hours session (OH1, OH3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Kickoff,
    MidWindow,
    Closing,
    AdHoc,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Kickoff => "kickoff",
            SessionKind::MidWindow => "mid_window",
            SessionKind::Closing => "closing",
            SessionKind::AdHoc => "ad_hoc",
        }
    }
}

/// Feedback notes recorded against a session (OH6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Feedback {
    pub note: String,
    pub recorded_at: DateTime<Utc>,
}

/// One office-hours session with the service team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Stable: `{kind}` for the standard sessions, `ad-hoc-{n}` for the others (also the ICS UID's stem).
    pub id: String,
    pub kind: SessionKind,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub participants: Vec<String>,
    #[serde(default)]
    pub feedback: Vec<Feedback>,
}

/// A concern the team raised (OH3, TR3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Concern {
    pub id: String,
    pub blocking: bool,
    pub note: String,
    pub recorded_at: DateTime<Utc>,
}

/// The team's decision at window close (G1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TeamDecision {
    Graduate,
    Retire,
}

/// What the team decided, when, and where it led.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    pub decision: TeamDecision,
    pub notes: Option<String>,
    pub decided_at: DateTime<Utc>,
    /// Where a graduation went (G2).
    pub target: Option<Programme>,
}

/// A consumption report (TR7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Consumption {
    pub date: NaiveDate,
    pub amount_usd: i64,
    pub note: Option<String>,
}

/// One part of a startup's credit position (CP1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PositionPart {
    pub programme: Programme,
    pub amount_usd: i64,
    /// Where the figure comes from: `stack` (declared in an application) or an application id.
    pub source: String,
    pub application_id: Option<ApplicationId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        Window {
            starts_at: at("2026-03-14T09:00:00Z"),
            ends_at: at("2026-05-13T09:00:00Z"),
            grace_ends_at: at("2026-08-11T09:00:00Z"),
            expires_at: at("2026-09-14T09:00:00Z"),
            mid_window_at: at("2026-04-13T09:00:00Z"),
        }
    }

    fn credits() -> Credits {
        let tranche = |number, amount, status| Tranche {
            number,
            amount_usd: amount,
            status,
            due_at: window().starts_at,
            released_at: None,
            balance_usd: if status == TrancheStatus::Released { amount } else { 0 },
        };
        let mut c = Credits {
            amount_usd: 25_000,
            split: true,
            tranches: vec![
                tranche(1, 10_000, TrancheStatus::Released),
                tranche(2, 15_000, TrancheStatus::Released),
            ],
            ..Credits::default()
        };
        c.rebalance();
        c
    }

    fn spend(date: &str, amount: i64) -> Consumption {
        Consumption {
            date: date.parse().unwrap(),
            amount_usd: amount,
            note: None,
        }
    }

    #[test]
    fn rule_tr7_oldest_tranche_first_and_overage_never_negative() {
        let mut c = credits();
        c.draw(&spend("2026-04-01", 12_000), &window());
        assert_eq!(
            (c.tranches[0].balance_usd, c.tranches[1].balance_usd, c.balance_usd),
            (0, 13_000, 13_000)
        );
        c.draw(&spend("2026-05-01", 20_000), &window());
        assert_eq!((c.balance_usd, c.consumed_usd, c.overage_usd), (0, 25_000, 7_000));
        assert!(c.tranches.iter().all(|t| t.balance_usd >= 0));
        assert_eq!(c.consumed_in_window_usd, 32_000);
    }

    #[test]
    fn rule_tr5_grace_serves_consumption_after_the_window_until_it_ends() {
        let mut c = credits();
        c.draw(&spend("2026-07-01", 1_000), &window());
        assert_eq!(
            (c.balance_usd, c.consumed_in_window_usd),
            (24_000, 0),
            "inside the grace period"
        );
        c.draw(&spend("2026-08-20", 1_000), &window());
        assert_eq!(
            (c.balance_usd, c.overage_usd),
            (24_000, 1_000),
            "after the grace period: overage"
        );
    }

    #[test]
    fn emptied_credits_keep_nothing_pending() {
        let mut c = credits();
        c.tranches[1].status = TrancheStatus::Pending;
        c.tranches[1].balance_usd = 0;
        c.empty();
        assert_eq!(c.balance_usd, 0);
        assert_eq!(c.tranches[1].status, TrancheStatus::Withheld);
    }
}
