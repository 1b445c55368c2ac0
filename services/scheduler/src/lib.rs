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
//! The decisions are the pure functions of [`sandpiper_rules::engagement`]; this crate reads the
//! application's record from the read model ([`sandpiper_runtime::views`]), asks the rules, and
//! stores the effects they return in order through [`Effects`]: an event's id derives from its
//! cause and its key, so a cause handled again (even long after the stream's duplicate window)
//! publishes nothing the record already holds, and a checkpoint set again replaces itself. Every
//! decision carries its catalog version (K4).

use sandpiper_contracts::catalog::CatalogService;
use sandpiper_contracts::engagement::Checkpoint;
use sandpiper_contracts::events::{Approved, ConcernRecorded, EventType};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::names::ServiceName;
use sandpiper_rules::credits;
use sandpiper_rules::engagement::{self, Effect};
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::config::CommonConfig;
use sandpiper_runtime::effects::Effects;
use sandpiper_runtime::handler::{Delivery, Handler, HandlerError, Timer, TimerHandler, TimerKind};
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::timers::Timers;
use sandpiper_runtime::views::ViewStore;
use sandpiper_runtime::worker::{Worker, WorkerError};
use serde::{Deserialize, Serialize};

/// The scheduler's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8084;

/// The scheduler's timer kind: an engagement's checkpoint, stored as its payload, with its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Due(Checkpoint);

impl TimerKind for Due {
    fn timer_id(&self, application: &ApplicationId) -> String {
        match self.0 {
            Checkpoint::MidWindow => format!("mid.{application}"),
            Checkpoint::WindowClose => format!("close.{application}"),
            Checkpoint::Reminder { number } => format!("remind.{application}.{number}"),
            Checkpoint::Expiry => format!("expire.{application}"),
        }
    }
}

/// How an effect's key becomes its event's label among its cause's effects.
#[derive(Clone, Copy)]
enum Keys<'a> {
    /// An event's effects: the key as it is.
    OfEvent,
    /// A timer's: the key under the timer's id (two checkpoints of one cause stay apart).
    OfTimer(&'a str),
}

impl Keys<'_> {
    fn label(self, key: &str) -> String {
        match self {
            Keys::OfEvent => key.to_owned(),
            Keys::OfTimer(timer) => format!("{timer}.{key}"),
        }
    }
}

/// Shared by the event handler and the timer handler.
#[derive(Clone)]
struct Core {
    views: ViewStore,
    publisher: Publisher,
    catalogs: CatalogStore,
    timers: Timers,
}

impl Core {
    /// The application's record from the read model, with the effects `cause` may store.
    async fn effects(
        &self,
        cause: EventId,
        partner: &PartnerId,
        application: &ApplicationId,
    ) -> Result<Effects<'_>, HandlerError> {
        Effects::open(&self.views, &self.publisher, cause, partner, application).await
    }

    async fn service(&self, version: &str, service: &str) -> Option<CatalogService> {
        if self.catalogs.version(version).is_none() {
            let _ = self.catalogs.sync().await;
        }
        self.catalogs.version(version).and_then(|c| c.service(service).cloned())
    }

    /// Stores what the rules decided, in order: events (each once) and checkpoints.
    async fn store(
        &self,
        cause: EventId,
        keys: Keys<'_>,
        effects: &mut Effects<'_>,
        decided: Vec<Effect>,
    ) -> Result<(), HandlerError> {
        for effect in decided {
            match effect {
                Effect::Store { key, event } => effects.publish(&keys.label(&key), event.as_ref()).await?,
                Effect::Set { checkpoint, at } => {
                    let record = effects.record();
                    let timer = Timer::of(&Due(checkpoint), at, record.partner(), record.id(), cause)?;
                    self.timers.schedule(&timer).await?;
                }
            }
        }
        Ok(())
    }

    /// Approval: credits, tranche 1, office hours, and the engagement's checkpoints.
    async fn approved(&self, delivery: &Delivery, effects: &mut Effects<'_>) -> Result<(), HandlerError> {
        let approved: Approved = delivery.payload()?;
        let application = delivery.envelope.subject;
        let body = effects
            .record()
            .submitted()
            .ok_or_else(|| HandlerError::permanent(format!("application {application} was approved unsubmitted")))?;
        let service = self.service(&approved.catalog_version, &body.service).await;
        let decided = engagement::on_approval(
            &body,
            &approved,
            service.as_ref(),
            // AWS's decision (issue #17) starts the engagement when AWS made it, not when the
            // connector read it.
            approved
                .aws
                .as_ref()
                .map_or(delivery.envelope.time, |aws| aws.decided_at),
            credits::DEFAULT_GRACE_DAYS,
        );
        self.store(delivery.envelope.id, Keys::OfEvent, effects, decided)
            .await?;
        tracing::info!(tier = approved.tier_usd, "credits applied");
        Ok(())
    }

    /// OH3: a blocking concern asks for an ad-hoc session.
    async fn concern(&self, delivery: &Delivery, effects: &mut Effects<'_>) -> Result<(), HandlerError> {
        let recorded: ConcernRecorded = delivery.payload()?;
        let view = &effects.record().view;
        let participants = match view.decision.as_ref() {
            Some(decision) if recorded.concern.blocking => self
                .service(&decision.catalog_version, view.body.service.as_deref().unwrap_or(""))
                .await
                .map(|s| s.office_hours_participants)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let decided = engagement::on_concern(&effects.record().view, &recorded.concern, &participants);
        if decided.is_empty() && recorded.concern.blocking {
            tracing::info!(concern = %recorded.concern.id, "no ad-hoc session: not an active sandbox, or no session left in the window (OH3, OH5)");
        }
        self.store(delivery.envelope.id, Keys::OfEvent, effects, decided).await
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
        let core = &self.0;
        let envelope = &delivery.envelope;
        let mut effects = core
            .effects(envelope.id, &envelope.partnerid, &envelope.subject)
            .await?;
        let outcome = match delivery.event_type {
            EventType::Approved => core.approved(&delivery, &mut effects).await,
            EventType::ConcernRecorded => core.concern(&delivery, &mut effects).await,
            EventType::Retired => {
                let decided = engagement::on_retirement(&effects.record().view);
                core.store(envelope.id, Keys::OfEvent, &mut effects, decided).await
            }
            other => Err(HandlerError::permanent(format!(
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
    type Kind = Due;

    async fn fire(&self, timer: Timer, Due(checkpoint): Due) -> Result<(), HandlerError> {
        let core = &self.0;
        let application = timer.on_application()?;
        let mut effects = core.effects(timer.cause, &timer.partner, &application).await?;
        let sent = reminders_sent(&effects, &application);
        let decided = engagement::at_checkpoint(&effects.record().view, checkpoint, timer.due_at, sent);
        let outcome = core
            .store(timer.cause, Keys::OfTimer(&timer.id), &mut effects, decided)
            .await;
        // What was published is written back even when a later step failed.
        effects.finish().await?;
        outcome
    }
}

/// How many decision reminders (G1) the application's record holds: the rules derive what is
/// still owed from it.
fn reminders_sent(effects: &Effects<'_>, application: &ApplicationId) -> u32 {
    let sent = |number: u32| {
        let timer = Due(Checkpoint::Reminder { number }).timer_id(application);
        effects.holds(&Keys::OfTimer(&timer).label("reminder"))
    };
    (1..).take_while(|n| sent(*n)).last().unwrap_or(0)
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
