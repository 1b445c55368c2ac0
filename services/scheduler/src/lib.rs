//! The scheduler owns time for approved engagements (DOMAIN §6–§9).
//!
//! - On `approved`: credits applied and tranche 1 released (TR1–TR5), the office hours scheduled
//!   (OH1, OH2; none for `bedrock_poc`, OH5), and durable timers set for the mid-window check-in,
//!   the window's close and the credits' expiry.
//! - Mid-window: tranche 2 released or withheld (TR3), the clawback-risk warning (TR8).
//! - Window close: `window_closed` and weekly `decision_reminder`s until the team decides (G1), or
//!   `clawed_back` when nothing was consumed in the window (TR6).
//! - On a blocking `concern_recorded`: an ad-hoc session two business days later (OH3).
//! - On `retired`: the balance is forfeited (G3). At validity's end: `credits_expired` (TR4).
//!
//! Each handler and timer decides from the application's record in the read model
//! ([`sandpiper_runtime::views`]), so a timer that finds the engagement moved on does nothing, and
//! stores what it decides through [`Effects`]: an effect's id derives from its cause, and a cause
//! handled again (even long after the stream's duplicate window) publishes nothing the record
//! already holds. Every decision carries its catalog version (K4).

use chrono::Duration;
use sandpiper_contracts::catalog::CatalogService;
use sandpiper_contracts::engagement::{Concern, SessionKind, TrancheStatus};
use sandpiper_contracts::events::{
    Approved, ClawbackWarning, ClawedBack, ConcernRecorded, CreditsApplied, CreditsExpired, CreditsForfeited,
    DecisionReminder, EventType, OfficeHoursScheduled, TrancheReleased, TrancheWithheld, WindowClosed,
};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::record::ApplicationRecord;
use sandpiper_contracts::state::State;
use sandpiper_rules::{credits, office_hours};
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::effects::Effects;
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::timers::{Timer, TimerHandler, Timers};
use sandpiper_runtime::views::ViewStore;
use sandpiper_runtime::worker::{Worker, WorkerError, payload};
use serde::{Deserialize, Serialize};

/// The scheduler's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8084;
/// G1: how often an owed decision is asked for again.
pub const REMINDER_EVERY_DAYS: i64 = 7;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
enum Due {
    MidWindow,
    WindowClose,
    Reminder { number: u32 },
    Expiry,
}

/// Shared by the event handler and the timer handler.
#[derive(Clone)]
struct Core {
    views: ViewStore,
    publisher: Publisher,
    catalogs: CatalogStore,
    timers: Timers,
}

/// The catalog version of the approval behind every later decision (K4).
fn catalog_version(record: &ApplicationRecord) -> String {
    record
        .view
        .decision
        .as_ref()
        .map(|d| d.catalog_version.clone())
        .unwrap_or_default()
}

impl Core {
    /// The application's record from the read model, with the effects `cause` may store.
    async fn effects(
        &self,
        cause: EventId,
        partner: &PartnerId,
        application: &ApplicationId,
    ) -> Result<Effects<'_>, HandlerError> {
        let stored = self
            .views
            .load_or_rebuild(partner, application)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?
            .ok_or_else(|| HandlerError::Permanent(format!("application {application} has no events")))?;
        Ok(Effects::new(&self.views, &self.publisher, cause, stored))
    }

    async fn service(&self, version: &str, service: &str) -> Option<CatalogService> {
        if self.catalogs.version(version).is_none() {
            let _ = self.catalogs.sync().await;
        }
        self.catalogs.version(version).and_then(|c| c.service(service).cloned())
    }

    async fn schedule(
        &self,
        cause: EventId,
        partner: &PartnerId,
        application: ApplicationId,
        id: String,
        due_at: chrono::DateTime<chrono::Utc>,
        due: Due,
    ) -> Result<(), HandlerError> {
        let timer = Timer {
            id,
            due_at,
            partner: partner.clone(),
            application,
            cause,
            payload: serde_json::to_value(due).map_err(|e| HandlerError::Permanent(e.to_string()))?,
            traceparent: None,
        };
        self.timers
            .schedule(&timer)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))
    }

    /// Approval: credits, tranche 1, office hours, and the engagement's timers.
    async fn approved(&self, delivery: &Delivery, effects: &mut Effects<'_>) -> Result<(), HandlerError> {
        let approved: Approved = payload(delivery)?;
        let (cause, partner, application) = (
            delivery.envelope.id,
            &delivery.envelope.partnerid,
            delivery.envelope.subject,
        );
        let body = effects
            .record()
            .submitted()
            .ok_or_else(|| HandlerError::Permanent(format!("application {application} was approved unsubmitted")))?;
        let pool = approved.review.pool;
        let service = self.service(&approved.catalog_version, &body.service).await;
        let plan = credits::plan(
            &body,
            pool,
            approved.tier_usd,
            service.as_ref(),
            delivery.envelope.time,
            credits::DEFAULT_GRACE_DAYS,
        );
        let window = plan.window;
        let first = plan.tranches.first().map(|t| (t.number, t.amount_usd));
        let applied = CreditsApplied {
            amount_usd: plan.amount_usd,
            split: plan.split,
            tranches: plan.tranches,
            window,
            rules: plan.rules,
            reasons: plan.reasons,
            catalog_version: approved.catalog_version.clone(),
        };
        effects.publish("credits", &applied).await?;
        if let Some((number, amount_usd)) = first {
            // TR3 sets tranche 1 of a split ($10K at credits-applied); TR2 the single tranche.
            let (rule, what) = if applied.split {
                ("TR3", "tranche 1 of a split")
            } else {
                ("TR2", "the single tranche")
            };
            let released = TrancheReleased {
                number,
                amount_usd,
                rules: vec![rule.into()],
                reasons: vec![format!(
                    "Tranche {number}, {what}: ${amount_usd} at credits-applied ({rule})."
                )],
                catalog_version: approved.catalog_version.clone(),
            };
            effects.publish("tranche.1", &released).await?;
        }
        if pool == Programme::InnovationSandbox {
            let participants = service
                .as_ref()
                .map(|s| s.office_hours_participants.clone())
                .unwrap_or_default();
            for session in office_hours::standard_sessions(&window, body.evaluation_window_days, &participants) {
                let label = format!("office-hours.{}", session.id);
                let reasons = vec![format!(
                    "{} with the service team on {} (OH1, OH2).",
                    session.kind.as_str().replace('_', "-"),
                    session.starts_at.date_naive()
                )];
                let event = OfficeHoursScheduled {
                    session,
                    rules: vec!["OH1".into(), "OH2".into()],
                    reasons,
                    catalog_version: approved.catalog_version.clone(),
                };
                effects.publish(&label, &event).await?;
            }
            self.schedule(
                cause,
                partner,
                application,
                format!("mid.{application}"),
                window.mid_window_at,
                Due::MidWindow,
            )
            .await?;
        }
        self.schedule(
            cause,
            partner,
            application,
            format!("close.{application}"),
            window.ends_at,
            Due::WindowClose,
        )
        .await?;
        self.schedule(
            cause,
            partner,
            application,
            format!("expire.{application}"),
            window.expires_at,
            Due::Expiry,
        )
        .await?;
        tracing::info!(tier = approved.tier_usd, split = applied.split, ends_at = %window.ends_at, "credits applied");
        Ok(())
    }

    /// OH3: a blocking concern asks for an ad-hoc session (not for `bedrock_poc`, OH5).
    async fn concern(&self, delivery: &Delivery, effects: &mut Effects<'_>) -> Result<(), HandlerError> {
        let recorded: ConcernRecorded = payload(delivery)?;
        let Concern {
            blocking,
            id,
            recorded_at,
            ..
        } = recorded.concern;
        if !blocking {
            return Ok(());
        }
        let view = effects.record().view.clone();
        let (Some(window), Some(decision)) = (view.window, view.decision.as_ref()) else {
            return Ok(());
        };
        if decision.pool != Programme::InnovationSandbox || view.state != State::Active {
            return Ok(());
        }
        let service = self
            .service(&decision.catalog_version, view.body.service.as_deref().unwrap_or(""))
            .await;
        let participants = service.map(|s| s.office_hours_participants).unwrap_or_default();
        let number = view.office_hours.iter().filter(|s| s.id.starts_with("ad-hoc-")).count() + 1;
        match office_hours::ad_hoc_session(number, recorded_at, &window, &participants) {
            Some(session) => {
                let reasons = vec![format!(
                    "Requested by blocking concern {id}; two business days later (OH3)."
                )];
                let event = OfficeHoursScheduled {
                    session,
                    rules: vec!["OH3".into()],
                    reasons,
                    catalog_version: decision.catalog_version.clone(),
                };
                effects.publish("office-hours.ad-hoc", &event).await
            }
            None => self.concern_past_the_window(effects, &id, recorded_at).await,
        }
    }

    /// OH3: two business days after the request falls past the window, so no ad-hoc session fits
    /// inside it. The partner learns it from the closing session (the last inside the window),
    /// restated with the concern it takes up: CONTRACT §3 has no event type for a declined request.
    async fn concern_past_the_window(
        &self,
        effects: &mut Effects<'_>,
        concern: &str,
        recorded_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let view = effects.record().view.clone();
        let label = "office-hours.ad-hoc";
        let closing = view
            .office_hours
            .iter()
            .find(|s| s.kind == SessionKind::Closing && s.starts_at >= recorded_at);
        let (Some(closing), Some(window)) = (closing, view.window) else {
            tracing::info!(%concern, "no ad-hoc session past the window and no closing session left (OH3)");
            return Ok(());
        };
        if effects.holds(label) {
            return Ok(());
        }
        let event = OfficeHoursScheduled {
            session: closing.clone(),
            rules: vec!["OH3".into(), "OH1".into()],
            reasons: vec![format!(
                "Blocking concern {concern} asked for an ad-hoc session, but two business days after {} is past the window's end on {}: it is taken up at the closing session on {} (OH3).",
                recorded_at.date_naive(),
                window.ends_at.date_naive(),
                closing.starts_at.date_naive()
            )],
            catalog_version: catalog_version(effects.record()),
        };
        // The restated session replaces the stored one in the view: the guarded publish stores it
        // only if nothing (a feedback note on it) was stored since the record was read; otherwise
        // the handler decides again from the caught-up record.
        effects.publish(label, &event).await
    }

    /// G3: a retirement forfeits the balance.
    async fn retired(&self, effects: &mut Effects<'_>) -> Result<(), HandlerError> {
        let balance = effects
            .record()
            .view
            .credits
            .as_ref()
            .map(|c| c.balance_usd)
            .unwrap_or(0);
        let event = CreditsForfeited {
            amount_usd: balance,
            rules: vec!["G3".into()],
            catalog_version: catalog_version(effects.record()),
        };
        effects.publish("forfeited", &event).await
    }
}

/// The scheduler's event handler.
pub struct Scheduler(Core);

impl Handler for Scheduler {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Approved, EventType::ConcernRecorded, EventType::Retired]
    }

    const KEEPS_VIEWS: bool = true;

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let envelope = &delivery.envelope;
        let mut effects = self
            .0
            .effects(envelope.id, &envelope.partnerid, &envelope.subject)
            .await?;
        let outcome = match delivery.event_type {
            EventType::Approved => self.0.approved(&delivery, &mut effects).await,
            EventType::ConcernRecorded => self.0.concern(&delivery, &mut effects).await,
            EventType::Retired => self.0.retired(&mut effects).await,
            other => Err(HandlerError::Permanent(format!(
                "the scheduler does not handle {}",
                other.as_str()
            ))),
        };
        // What was published is written back even when a later step failed.
        effects.finish().await?;
        outcome
    }
}

/// The scheduler's timers.
pub struct EngagementClock(Core);

impl TimerHandler for EngagementClock {
    async fn fire(&self, timer: Timer) -> Result<(), HandlerError> {
        let due: Due =
            serde_json::from_value(timer.payload.clone()).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let mut effects = self.0.effects(timer.cause, &timer.partner, &timer.application).await?;
        let outcome = self.fire_due(due, &timer, &mut effects).await;
        // What was published is written back even when a later step failed.
        effects.finish().await?;
        outcome
    }
}

impl EngagementClock {
    async fn fire_due(&self, due: Due, timer: &Timer, effects: &mut Effects<'_>) -> Result<(), HandlerError> {
        let core = &self.0;
        let (partner, application) = (&timer.partner, timer.application);
        let view = effects.record().view.clone();
        let catalog_version = catalog_version(effects.record());
        let label = |what: &str| format!("{}.{what}", timer.id);
        let (Some(credits), Some(window)) = (view.credits.clone(), view.window) else {
            return Ok(());
        };
        // The credit window as applied (60 days for a bedrock_poc whatever was filed, P1).
        let days = (window.ends_at - window.starts_at).num_days();
        match due {
            Due::MidWindow if view.state == State::Active => {
                let released: i64 = credits
                    .tranches
                    .iter()
                    .filter(|t| t.status == TrancheStatus::Released)
                    .map(|t| t.amount_usd)
                    .sum();
                let (pro_rata, at_risk) =
                    credits::clawback_risk(released, credits.consumed_in_window_usd, days / 2, days);
                if at_risk {
                    let warning = ClawbackWarning {
                        consumed_usd: credits.consumed_in_window_usd,
                        pro_rata_usd: pro_rata,
                        released_usd: released,
                        rules: vec!["TR8".into(), "TR6".into()],
                        reasons: vec![format!(
                            "At the mid-window check-in ${} is consumed, under a quarter of the pro-rata ${pro_rata}: with no consumption by the window's close the balance is clawed back (TR8, TR6).",
                            credits.consumed_in_window_usd
                        )],
                        catalog_version: catalog_version.clone(),
                    };
                    effects.publish(&label("warning"), &warning).await?;
                }
                for tranche in credits.tranches.iter().filter(|t| t.status == TrancheStatus::Pending) {
                    // TR3 decides at day 30 (the tranche's due time), concerns recorded by then
                    // counting; OH1 may move the mid-window *session* off a weekend, but not this.
                    let blocking: Vec<&Concern> = view
                        .concerns
                        .iter()
                        .filter(|c| c.blocking && c.recorded_at <= tranche.due_at)
                        .collect();
                    // Released or withheld, the tranche's decision is one event: one id for both.
                    let tranche_label = label(&format!("tranche.{}", tranche.number));
                    if blocking.is_empty() {
                        let event = TrancheReleased {
                            number: tranche.number,
                            amount_usd: tranche.amount_usd,
                            rules: vec!["TR3".into()],
                            reasons: vec![format!(
                                "No blocking concern by the day-30 check-in ({}): tranche {} (${}) released (TR3).",
                                tranche.due_at.date_naive(),
                                tranche.number,
                                tranche.amount_usd
                            )],
                            catalog_version: catalog_version.clone(),
                        };
                        effects.publish(&tranche_label, &event).await?;
                    } else {
                        let event = TrancheWithheld {
                            number: tranche.number,
                            amount_usd: tranche.amount_usd,
                            rules: vec!["TR3".into()],
                            reasons: vec![format!(
                                "A blocking concern was recorded on {} ({}): tranche {} (${}) is withheld (TR3).",
                                blocking[0].recorded_at.date_naive(),
                                blocking[0].note,
                                tranche.number,
                                tranche.amount_usd
                            )],
                            catalog_version: catalog_version.clone(),
                        };
                        effects.publish(&tranche_label, &event).await?;
                    }
                }
                Ok(())
            }
            Due::WindowClose if view.state == State::Active => {
                if credits.consumed_in_window_usd == 0 {
                    let event = ClawedBack {
                        amount_usd: credits.balance_usd,
                        rules: vec!["TR6".into()],
                        reasons: vec![format!(
                            "No consumption was recorded in the window: the ${} balance is clawed back, with no grace period (TR6).",
                            credits.balance_usd
                        )],
                        catalog_version,
                    };
                    effects.publish(&label("clawback"), &event).await
                } else {
                    let event = WindowClosed {
                        balance_usd: credits.balance_usd,
                        grace_ends_at: window.grace_ends_at,
                        rules: vec!["G1".into(), "TR5".into()],
                        reasons: vec![format!(
                            "The window closed; the ${} balance serves consumption until {} (TR5). The team's decision, graduate or retire, is owed (G1).",
                            credits.balance_usd,
                            window.grace_ends_at.date_naive()
                        )],
                        catalog_version,
                    };
                    effects.publish(&label("closed"), &event).await?;
                    // Fired again after reminder 1 went out: the chain is already under way.
                    if effects.holds(&format!("remind.{application}.1.reminder")) {
                        return Ok(());
                    }
                    let at = timer.due_at + Duration::days(REMINDER_EVERY_DAYS);
                    core.schedule(
                        timer.cause,
                        partner,
                        application,
                        format!("remind.{application}.1"),
                        at,
                        Due::Reminder { number: 1 },
                    )
                    .await
                }
            }
            Due::Reminder { number } if view.state == State::WindowClosed => {
                let event = DecisionReminder {
                    number,
                    rules: vec!["G1".into()],
                    reasons: vec![format!(
                        "The decision to graduate or retire is owed since {} (G1).",
                        window.ends_at.date_naive()
                    )],
                    catalog_version,
                };
                effects.publish(&label("reminder"), &event).await?;
                let next = number + 1;
                let at = timer.due_at + Duration::days(REMINDER_EVERY_DAYS);
                // Fired again after the next reminder went out: it is not scheduled anew.
                let next_sent = effects.holds(&format!("remind.{application}.{next}.reminder"));
                if at < window.expires_at && !next_sent {
                    core.schedule(
                        timer.cause,
                        partner,
                        application,
                        format!("remind.{application}.{next}"),
                        at,
                        Due::Reminder { number: next },
                    )
                    .await?;
                }
                Ok(())
            }
            Due::Expiry
                if matches!(
                    view.state,
                    State::WindowClosed | State::Graduated | State::Retired | State::ClawedBack
                ) =>
            {
                let event = CreditsExpired {
                    amount_usd: credits.balance_usd,
                    rules: vec!["TR4".into()],
                    catalog_version,
                };
                effects.publish(&label("expired"), &event).await
            }
            // The engagement moved on (decided, clawed back, closed): nothing is due any more.
            _ => Ok(()),
        }
    }
}

/// Builds the scheduler service.
pub async fn build(config: &CommonConfig) -> Result<Worker<Scheduler, EngagementClock>, WorkerError> {
    Worker::build_with_timers(ServiceName::Scheduler, config, |ctx| {
        let core = Core {
            views: ctx.views,
            publisher: ctx.publisher,
            catalogs: ctx.catalogs,
            timers: ctx.timers,
        };
        (Scheduler(core.clone()), Some(EngagementClock(core)))
    })
    .await
}
