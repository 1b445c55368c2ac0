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
//! Each timer decides from the application as its events fold (read from the stream), so a timer
//! that finds the engagement moved on does nothing; every event id derives from the timer, and a
//! timer fired again (even after the stream's duplicate window) publishes nothing whose id is
//! already in the application's history. Every decision carries its catalog version (K4).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::Duration;
use sandpiper_contracts::catalog::CatalogService;
use sandpiper_contracts::engagement::{Concern, SessionKind, TrancheStatus};
use sandpiper_contracts::events::{
    Approved, ClawbackWarning, ClawedBack, ConcernRecorded, CreditsApplied, CreditsExpired, CreditsForfeited,
    DecisionReminder, EventPayload, EventType, OfficeHoursScheduled, TrancheReleased, TrancheWithheld, WindowClosed,
};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::{credits, office_hours};
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::consume::{Delivery, Handler, HandlerError};
use sandpiper_runtime::history;
use sandpiper_runtime::publish::{Outgoing, Publisher};
use sandpiper_runtime::timers::{Timer, TimerHandler, Timers};
use sandpiper_runtime::worker::{Worker, WorkerError, payload, publish_caused, publish_failure};
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

/// An application as read from its history: the view its events fold into, and the ids of those
/// events (what an earlier run of a handler or timer already stored).
#[derive(Clone)]
struct Read {
    view: ApplicationView,
    stored: HashSet<EventId>,
    /// How many of the application's events the above folds.
    count: u64,
}

impl Read {
    /// The catalog version of the approval behind every later decision (K4).
    fn catalog_version(&self) -> String {
        self.view
            .decision
            .as_ref()
            .map(|d| d.catalog_version.clone())
            .unwrap_or_default()
    }

    fn has(&self, cause: &EventId, label: &str) -> bool {
        self.stored.contains(&EventId::derived(cause, label))
    }
}

/// Shared by the event handler and the timer handler.
#[derive(Clone)]
struct Core {
    bus: Bus,
    publisher: Publisher,
    catalogs: CatalogStore,
    timers: Timers,
    /// The applications read lately, kept up to date with what the timers publish. One is used
    /// only while the stream holds exactly as many events of it as it folds (one stream-info
    /// request instead of a consumer reading the whole history): anything another service stored
    /// meanwhile makes it miss, so it is never staler than a history read.
    cache: Arc<Mutex<HashMap<ApplicationId, Read>>>,
}

impl Core {
    async fn publish<P: EventPayload>(
        &self,
        cause: &EventId,
        label: &str,
        partner: &PartnerId,
        application: ApplicationId,
        payload: &P,
    ) -> Result<(), HandlerError> {
        publish_caused(&self.publisher, cause, label, partner, application, payload).await
    }

    /// Publishes unless `read` shows an earlier run stored it already: the stream drops a repeated
    /// id only within its duplicate window, and a timer can fire again much later (a crash between
    /// publishing and deleting it, then a long outage).
    async fn publish_once<P: EventPayload>(
        &self,
        read: &Read,
        cause: &EventId,
        label: &str,
        partner: &PartnerId,
        application: ApplicationId,
        payload: &P,
    ) -> Result<(), HandlerError> {
        if read.has(cause, label) {
            tracing::info!(%label, "already stored by an earlier firing; not published again");
            return Ok(());
        }
        let published = self
            .publisher
            .publish(Outgoing {
                id: EventId::derived(cause, label),
                partner,
                application,
                payload,
                expected_version: None,
                time: None,
            })
            .await
            .map_err(publish_failure)?;
        if !published.duplicate {
            self.remember_published(&published.envelope, published.sequence);
        }
        Ok(())
    }

    /// Folds an event the scheduler just stored into the cached application, if cached.
    fn remember_published(&self, envelope: &sandpiper_contracts::events::Envelope, sequence: u64) {
        let Ok(mut cache) = self.cache.lock() else { return };
        if let Some(read) = cache.get_mut(&envelope.subject) {
            if read.view.apply(envelope, sequence).is_ok() {
                read.stored.insert(envelope.id);
                read.count += 1;
            } else {
                cache.remove(&envelope.subject);
            }
        }
    }

    /// How many events of the application the stream holds (its subjects' message counts).
    async fn stored_count(&self, partner: &PartnerId, application: &ApplicationId) -> Option<u64> {
        let stream = self
            .bus
            .jetstream
            .get_stream_no_info(sandpiper_contracts::names::EVENTS_STREAM)
            .await
            .ok()?;
        let subjects = stream
            .info_with_subjects(sandpiper_contracts::subjects::events_of_application(
                partner,
                application,
            ))
            .await
            .ok()?;
        // Per subject (event type) counts; no subjects at all: the application has no events.
        let counts: Vec<(String, usize)> = futures::TryStreamExt::try_collect(subjects).await.ok()?;
        Some(counts.iter().map(|(_, n)| *n as u64).sum())
    }

    /// The application from the cache when the stream holds nothing newer, else from its history.
    async fn read_cached(&self, partner: &PartnerId, application: &ApplicationId) -> Result<Read, HandlerError> {
        let cached = self.cache.lock().ok().and_then(|c| c.get(application).cloned());
        if let Some(cached) = cached
            && self.stored_count(partner, application).await == Some(cached.count)
        {
            return Ok(cached);
        }
        let read = self.read(partner, application).await?;
        if let Ok(mut cache) = self.cache.lock() {
            // A closed engagement has no timers left: nothing to keep it for.
            if read.view.state == State::Closed {
                cache.remove(application);
            } else {
                cache.insert(*application, read.clone());
            }
        }
        Ok(read)
    }

    /// Reads the application's history and folds it.
    async fn read(&self, partner: &PartnerId, application: &ApplicationId) -> Result<Read, HandlerError> {
        let events = history::events(&self.bus, partner, application)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        let mut stored = HashSet::with_capacity(events.len());
        let mut view: Option<ApplicationView> = None;
        for (sequence, envelope) in events {
            stored.insert(envelope.id);
            match &mut view {
                None => {
                    view = Some(
                        ApplicationView::create(&envelope, sequence)
                            .map_err(|e| HandlerError::Permanent(e.to_string()))?,
                    );
                }
                Some(current) => {
                    if let Err(err) = current.apply(&envelope, sequence) {
                        tracing::error!(%application, sequence, error = %err, "an event in the log does not fold; skipped");
                    }
                }
            }
        }
        let view = view.ok_or_else(|| HandlerError::Permanent(format!("application {application} has no events")))?;
        let count = u64::try_from(stored.len()).unwrap_or(u64::MAX);
        Ok(Read { view, stored, count })
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
    async fn approved(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let approved: Approved = payload(delivery)?;
        let (cause, partner, application) = (
            delivery.envelope.id,
            &delivery.envelope.partnerid,
            delivery.envelope.subject,
        );
        let body = history::submitted_body(&self.bus, partner, &application)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
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
        self.publish(&cause, "credits", partner, application, &applied).await?;
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
            self.publish(&cause, "tranche.1", partner, application, &released)
                .await?;
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
                self.publish(&cause, &label, partner, application, &event).await?;
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
    async fn concern(&self, delivery: &Delivery) -> Result<(), HandlerError> {
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
        let (cause, partner, application) = (
            &delivery.envelope.id,
            &delivery.envelope.partnerid,
            delivery.envelope.subject,
        );
        let read = self.read(partner, &application).await?;
        let view = &read.view;
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
                self.publish(cause, "office-hours.ad-hoc", partner, application, &event)
                    .await
            }
            None => self.concern_past_the_window(&read, cause, &id, recorded_at).await,
        }
    }

    /// OH3: two business days after the request falls past the window, so no ad-hoc session fits
    /// inside it. The partner learns it from the closing session (the last inside the window),
    /// restated with the concern it takes up: CONTRACT §3 has no event type for a declined request.
    async fn concern_past_the_window(
        &self,
        read: &Read,
        cause: &EventId,
        concern: &str,
        recorded_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        let view = &read.view;
        let label = "office-hours.ad-hoc";
        let closing = view
            .office_hours
            .iter()
            .find(|s| s.kind == SessionKind::Closing && s.starts_at >= recorded_at);
        let (Some(closing), Some(window)) = (closing, view.window) else {
            tracing::info!(%concern, "no ad-hoc session past the window and no closing session left (OH3)");
            return Ok(());
        };
        if read.has(cause, label) {
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
            catalog_version: read.catalog_version(),
        };
        // The restated session replaces the stored one in the view: published only if nothing (a
        // feedback note on it) was stored since it was read; a conflict retries with a fresh read.
        self.publisher
            .publish(Outgoing {
                id: EventId::derived(cause, label),
                partner: &view.partner_id,
                application: view.id,
                payload: &event,
                expected_version: Some(view.version),
                time: None,
            })
            .await
            .map(|_| ())
            .map_err(publish_failure)
    }

    /// G3: a retirement forfeits the balance.
    async fn retired(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let (partner, application) = (&delivery.envelope.partnerid, delivery.envelope.subject);
        let read = self.read(partner, &application).await?;
        let balance = read.view.credits.as_ref().map(|c| c.balance_usd).unwrap_or(0);
        let event = CreditsForfeited {
            amount_usd: balance,
            rules: vec!["G3".into()],
            catalog_version: read.catalog_version(),
        };
        self.publish(&delivery.envelope.id, "forfeited", partner, application, &event)
            .await
    }
}

/// The scheduler's event handler.
pub struct Scheduler(Core);

impl Handler for Scheduler {
    fn event_types(&self) -> Vec<EventType> {
        vec![EventType::Approved, EventType::ConcernRecorded, EventType::Retired]
    }

    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        match delivery.event_type {
            EventType::Approved => self.0.approved(&delivery).await,
            EventType::ConcernRecorded => self.0.concern(&delivery).await,
            EventType::Retired => self.0.retired(&delivery).await,
            other => Err(HandlerError::Permanent(format!(
                "the scheduler does not handle {}",
                other.as_str()
            ))),
        }
    }
}

/// The scheduler's timers.
pub struct EngagementClock(Core);

impl TimerHandler for EngagementClock {
    async fn fire(&self, timer: Timer) -> Result<(), HandlerError> {
        let due: Due =
            serde_json::from_value(timer.payload.clone()).map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let core = &self.0;
        let (partner, application) = (&timer.partner, timer.application);
        let read = core.read_cached(partner, &application).await?;
        let view = &read.view;
        let catalog_version = read.catalog_version();
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
                    core.publish_once(&read, &timer.cause, &label("warning"), partner, application, &warning)
                        .await?;
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
                        core.publish_once(&read, &timer.cause, &tranche_label, partner, application, &event)
                            .await?;
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
                        core.publish_once(&read, &timer.cause, &tranche_label, partner, application, &event)
                            .await?;
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
                    core.publish_once(&read, &timer.cause, &label("clawback"), partner, application, &event)
                        .await
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
                    core.publish_once(&read, &timer.cause, &label("closed"), partner, application, &event)
                        .await?;
                    // Fired again after reminder 1 went out: the chain is already under way.
                    if read.has(&timer.cause, &format!("remind.{application}.1.reminder")) {
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
                core.publish_once(&read, &timer.cause, &label("reminder"), partner, application, &event)
                    .await?;
                let next = number + 1;
                let at = timer.due_at + Duration::days(REMINDER_EVERY_DAYS);
                // Fired again after the next reminder went out: it is not scheduled anew.
                let next_sent = read.has(&timer.cause, &format!("remind.{application}.{next}.reminder"));
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
                core.publish_once(&read, &timer.cause, &label("expired"), partner, application, &event)
                    .await
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
            bus: ctx.bus,
            publisher: ctx.publisher,
            catalogs: ctx.catalogs,
            timers: ctx.timers,
            cache: Arc::default(),
        };
        (Scheduler(core.clone()), Some(EngagementClock(core)))
    })
    .await
}
