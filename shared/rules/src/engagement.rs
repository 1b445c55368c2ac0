//! The engagement as it runs (DOMAIN §6–§8): what an approval starts, what each checkpoint decides
//! when it falls due, what a blocking concern and a retirement bring.
//!
//! Each function takes the application as it stands and returns its [`Effect`]s in order: the
//! events to store and the checkpoints to set. The scheduler stores them; it decides nothing.
//!
//! A function asked again about the same cause returns the same effects, so a cause handled twice
//! (a crash, a redelivery, a timer fired again) is finished rather than started over: what is
//! still owed is derived from the state, never from "is this the first run". Effects already
//! stored are skipped by their [`Effect::Store::key`].

use chrono::{DateTime, Duration, Utc};
use sandpiper_contracts::catalog::CatalogService;
use sandpiper_contracts::engagement::{Checkpoint, Concern, SessionKind, TrancheStatus};
use sandpiper_contracts::events::{
    Approved, ClawbackWarning, ClawedBack, CreditsApplied, CreditsExpired, CreditsForfeited, DecisionReminder, Event,
    OfficeHoursScheduled, TrancheReleased, TrancheWithheld, WindowClosed,
};
use sandpiper_contracts::model::{ApplicationBody, Programme};
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;

use crate::{credits, office_hours};

/// G1: how often an owed decision is asked for again.
pub const REMINDER_EVERY_DAYS: i64 = 7;

/// One thing a decision makes happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Store an event. `key` names it among the effects of its cause (and checkpoint), so it is
    /// stored once however often the cause is decided.
    Store { key: String, event: Box<Event> },
    /// Set a checkpoint, due at `at`. Setting one again replaces it.
    Set { checkpoint: Checkpoint, at: DateTime<Utc> },
}

fn store(key: impl Into<String>, event: impl Into<Event>) -> Effect {
    Effect::Store {
        key: key.into(),
        event: Box::new(event.into()),
    }
}

/// The catalog version the application was approved under (K4), carried by every later decision.
pub fn catalog_version(view: &ApplicationView) -> String {
    view.decision
        .as_ref()
        .map(|d| d.catalog_version.clone())
        .unwrap_or_default()
}

/// Approval (TR1–TR5, OH1, OH2, OH5): the credits and the first tranche, the office hours of an
/// Innovation Sandbox, and the checkpoints: mid-window (a sandbox's), the window's close, expiry.
/// `body` is the application as submitted, `service` its catalog entry under the approval's
/// version, `at` the approval's time.
pub fn on_approval(
    body: &ApplicationBody,
    approved: &Approved,
    service: Option<&CatalogService>,
    at: DateTime<Utc>,
    grace_days: i64,
) -> Vec<Effect> {
    let pool = approved.review.pool;
    let version = &approved.catalog_version;
    let plan = credits::plan(body, pool, approved.tier_usd, service, at, grace_days);
    let window = plan.window;
    let first = plan.tranches.first().map(|t| (t.number, t.amount_usd));
    let split = plan.split;
    let mut effects = vec![store(
        "credits",
        CreditsApplied {
            amount_usd: plan.amount_usd,
            split: plan.split,
            tranches: plan.tranches,
            window,
            rules: plan.rules,
            reasons: plan.reasons,
            catalog_version: version.clone(),
        },
    )];
    if let Some((number, amount_usd)) = first {
        // TR3 sets tranche 1 of a split ($10K at credits-applied); TR2 the single tranche.
        let (rule, what) = if split {
            (RuleId::TR3, "tranche 1 of a split")
        } else {
            (RuleId::TR2, "the single tranche")
        };
        effects.push(store(
            "tranche.1",
            TrancheReleased {
                number,
                amount_usd,
                rules: vec![rule],
                reasons: vec![format!(
                    "Tranche {number}, {what}: ${amount_usd} at credits-applied ({rule})."
                )],
                catalog_version: version.clone(),
            },
        ));
    }
    if pool == Programme::InnovationSandbox {
        let participants = service
            .map(|s| s.office_hours_participants.as_slice())
            .unwrap_or_default();
        for session in office_hours::standard_sessions(&window, body.evaluation_window_days, participants) {
            let key = format!("office-hours.{}", session.id);
            let reasons = vec![format!(
                "{} with the service team on {} (OH1, OH2).",
                session.kind.as_str().replace('_', "-"),
                session.starts_at.date_naive()
            )];
            effects.push(store(
                key,
                OfficeHoursScheduled {
                    session,
                    rules: vec![RuleId::OH1, RuleId::OH2],
                    reasons,
                    catalog_version: version.clone(),
                },
            ));
        }
        effects.push(Effect::Set {
            checkpoint: Checkpoint::MidWindow,
            at: window.mid_window_at,
        });
    }
    effects.push(Effect::Set {
        checkpoint: Checkpoint::WindowClose,
        at: window.ends_at,
    });
    effects.push(Effect::Set {
        checkpoint: Checkpoint::Expiry,
        at: window.expires_at,
    });
    effects
}

/// OH3 (and OH5): a blocking concern recorded while a sandbox is active asks for an ad-hoc session
/// two business days later. When that falls past the window, the closing session (the last inside
/// it) is restated with the concern it takes up: CONTRACT §3 has no event type for a declined
/// request. `participants` are the service's (OH2).
pub fn on_concern(view: &ApplicationView, concern: &Concern, participants: &[String]) -> Vec<Effect> {
    let key = "office-hours.ad-hoc";
    let (Some(window), Some(decision)) = (view.window, view.decision.as_ref()) else {
        return Vec::new();
    };
    if !concern.blocking || decision.pool != Programme::InnovationSandbox || view.state != State::Active {
        return Vec::new();
    }
    let number = view.office_hours.iter().filter(|s| s.id.starts_with("ad-hoc-")).count() + 1;
    if let Some(session) = office_hours::ad_hoc_session(number, concern.recorded_at, &window, participants) {
        let reasons = vec![format!(
            "Requested by blocking concern {}; two business days later (OH3).",
            concern.id
        )];
        return vec![store(
            key,
            OfficeHoursScheduled {
                session,
                rules: vec![RuleId::OH3],
                reasons,
                catalog_version: decision.catalog_version.clone(),
            },
        )];
    }
    let Some(closing) = view
        .office_hours
        .iter()
        .find(|s| s.kind == SessionKind::Closing && s.starts_at >= concern.recorded_at)
    else {
        return Vec::new();
    };
    vec![store(
        key,
        OfficeHoursScheduled {
            session: closing.clone(),
            rules: vec![RuleId::OH3, RuleId::OH1],
            reasons: vec![format!(
                "Blocking concern {} asked for an ad-hoc session, but two business days after {} is past the window's end on {}: it is taken up at the closing session on {} (OH3).",
                concern.id,
                concern.recorded_at.date_naive(),
                window.ends_at.date_naive(),
                closing.starts_at.date_naive()
            )],
            catalog_version: decision.catalog_version.clone(),
        },
    )]
}

/// G3: a retirement forfeits the balance.
pub fn on_retirement(view: &ApplicationView) -> Vec<Effect> {
    let balance = view.credits.as_ref().map(|c| c.balance_usd).unwrap_or(0);
    vec![store(
        "forfeited",
        CreditsForfeited {
            amount_usd: balance,
            rules: vec![RuleId::G3],
            catalog_version: catalog_version(view),
        },
    )]
}

/// What `checkpoint`, due at `due_at`, decides for the application as it stands.
/// `reminders_sent` is how many decision reminders (G1) the application has had.
///
/// A checkpoint that finds the engagement moved on (decided, clawed back, closed by an earlier run
/// of it) decides only what that earlier run left owed.
pub fn at_checkpoint(
    view: &ApplicationView,
    checkpoint: Checkpoint,
    due_at: DateTime<Utc>,
    reminders_sent: u32,
) -> Vec<Effect> {
    let (Some(_), Some(_)) = (&view.credits, view.window) else {
        return Vec::new();
    };
    match checkpoint {
        Checkpoint::MidWindow if view.state == State::Active => mid_window(view),
        Checkpoint::WindowClose if view.state == State::Active => window_close(view, due_at),
        // Closed by an earlier run that stopped before it set the first reminder (G1).
        Checkpoint::WindowClose if view.state == State::WindowClosed && reminders_sent == 0 => {
            vec![next_reminder(1, due_at)]
        }
        Checkpoint::Reminder { number } if view.state == State::WindowClosed => {
            reminder(view, number, due_at, reminders_sent)
        }
        Checkpoint::Expiry
            if matches!(
                view.state,
                State::WindowClosed | State::Graduated | State::Retired | State::ClawedBack
            ) =>
        {
            vec![store(
                "expired",
                CreditsExpired {
                    amount_usd: view.credits.as_ref().map_or(0, |c| c.balance_usd),
                    rules: vec![RuleId::TR4],
                    catalog_version: catalog_version(view),
                },
            )]
        }
        // The engagement moved on: nothing is due any more.
        _ => Vec::new(),
    }
}

/// TR8, then TR3 for each pending tranche.
fn mid_window(view: &ApplicationView) -> Vec<Effect> {
    let (Some(credits), Some(window)) = (&view.credits, view.window) else {
        return Vec::new();
    };
    let version = catalog_version(view);
    // The credit window as applied (60 days for a bedrock_poc whatever was filed, P1).
    let days = (window.ends_at - window.starts_at).num_days();
    let released: i64 = credits
        .tranches
        .iter()
        .filter(|t| t.status == TrancheStatus::Released)
        .map(|t| t.amount_usd)
        .sum();
    let mut effects = Vec::new();
    let (pro_rata, at_risk) = credits::clawback_risk(released, credits.consumed_in_window_usd, days / 2, days);
    if at_risk {
        effects.push(store(
            "warning",
            ClawbackWarning {
                consumed_usd: credits.consumed_in_window_usd,
                pro_rata_usd: pro_rata,
                released_usd: released,
                rules: vec![RuleId::TR8, RuleId::TR6],
                reasons: vec![format!(
                    "At the mid-window check-in ${} is consumed, under a quarter of the pro-rata ${pro_rata}: with no consumption by the window's close the balance is clawed back (TR8, TR6).",
                    credits.consumed_in_window_usd
                )],
                catalog_version: version.clone(),
            },
        ));
    }
    for tranche in credits.tranches.iter().filter(|t| t.status == TrancheStatus::Pending) {
        // TR3 decides at day 30 (the tranche's due time), concerns recorded by then counting;
        // OH1 may move the mid-window *session* off a weekend, but not this.
        let blocking = view
            .concerns
            .iter()
            .find(|c| c.blocking && c.recorded_at <= tranche.due_at);
        // Released or withheld, the tranche's decision is one event: one key for both.
        let key = format!("tranche.{}", tranche.number);
        let event: Event = match blocking {
            None => TrancheReleased {
                number: tranche.number,
                amount_usd: tranche.amount_usd,
                rules: vec![RuleId::TR3],
                reasons: vec![format!(
                    "No blocking concern by the day-30 check-in ({}): tranche {} (${}) released (TR3).",
                    tranche.due_at.date_naive(),
                    tranche.number,
                    tranche.amount_usd
                )],
                catalog_version: version.clone(),
            }
            .into(),
            Some(concern) => TrancheWithheld {
                number: tranche.number,
                amount_usd: tranche.amount_usd,
                rules: vec![RuleId::TR3],
                reasons: vec![format!(
                    "A blocking concern was recorded on {} ({}): tranche {} (${}) is withheld (TR3).",
                    concern.recorded_at.date_naive(),
                    concern.note,
                    tranche.number,
                    tranche.amount_usd
                )],
                catalog_version: version.clone(),
            }
            .into(),
        };
        effects.push(store(key, event));
    }
    effects
}

/// TR6 when nothing was consumed in the window; otherwise TR5 and G1, with the first reminder set.
fn window_close(view: &ApplicationView, due_at: DateTime<Utc>) -> Vec<Effect> {
    let (Some(credits), Some(window)) = (&view.credits, view.window) else {
        return Vec::new();
    };
    let version = catalog_version(view);
    if credits.consumed_in_window_usd == 0 {
        return vec![store(
            "clawback",
            ClawedBack {
                amount_usd: credits.balance_usd,
                rules: vec![RuleId::TR6],
                reasons: vec![format!(
                    "No consumption was recorded in the window: the ${} balance is clawed back, with no grace period (TR6).",
                    credits.balance_usd
                )],
                catalog_version: version,
            },
        )];
    }
    vec![
        store(
            "closed",
            WindowClosed {
                balance_usd: credits.balance_usd,
                grace_ends_at: window.grace_ends_at,
                rules: vec![RuleId::G1, RuleId::TR5],
                reasons: vec![format!(
                    "The window closed; the ${} balance serves consumption until {} (TR5). The team's decision, graduate or retire, is owed (G1).",
                    credits.balance_usd,
                    window.grace_ends_at.date_naive()
                )],
                catalog_version: version,
            },
        ),
        next_reminder(1, due_at),
    ]
}

/// Reminder `number` is due a week after the checkpoint before it (G1).
fn next_reminder(number: u32, after: DateTime<Utc>) -> Effect {
    Effect::Set {
        checkpoint: Checkpoint::Reminder { number },
        at: after + Duration::days(REMINDER_EVERY_DAYS),
    }
}

/// G1: the decision is still owed; the next reminder follows a week later, inside validity.
fn reminder(view: &ApplicationView, number: u32, due_at: DateTime<Utc>, reminders_sent: u32) -> Vec<Effect> {
    let Some(window) = view.window else {
        return Vec::new();
    };
    let mut effects = vec![store(
        "reminder",
        DecisionReminder {
            number,
            rules: vec![RuleId::G1],
            reasons: vec![format!(
                "The decision to graduate or retire is owed since {} (G1).",
                window.ends_at.date_naive()
            )],
            catalog_version: catalog_version(view),
        },
    )];
    let next = next_reminder(number + 1, due_at);
    // Fired again after the next reminder went out: that one is not set anew.
    if matches!(next, Effect::Set { at, .. } if at < window.expires_at) && reminders_sent <= number {
        effects.push(next);
    }
    effects
}
