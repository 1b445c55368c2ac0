//! The one way a service stores what a cause (an event or a timer) makes it do, at most once,
//! however often and however late the cause is redelivered or the timer fires.
//!
//! An effect's event id derives from its cause and a label. [`Effects::publish`] publishes it
//! only if the application's record does not hold that id already, and guards the publish with
//! the record's last sequence (JetStream's expected last subject sequence): so the record is
//! exactly current when the effect is stored, and the effect is folded into it at once (in
//! memory; [`Effects::finish`] writes the record back once for all of a cause's effects). When the
//! guard fails, something was stored since the record was read (another service, or this cause's
//! own earlier run that crashed before its fold): the record catches up with those events and,
//! unless the effect is among them, the caller decides again from the fresh record (a transient
//! error, retried in place). An effect the application's current state does not allow (a recall
//! withdrew the filing it decides on) is not published at all. No task-local, no reading of the history, no reliance on the
//! stream's duplicate window.

use sandpiper_contracts::events::{Envelope, EventType, Payload};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::record::{ApplicationRecord, Folded, Summary};

use crate::handler::HandlerError;
use crate::publish::{Outgoing, PublishError, Publisher};
use crate::views::{Stored, ViewStore};

/// The effects of one cause on one application.
pub struct Effects<'a> {
    views: &'a ViewStore,
    publisher: &'a Publisher,
    cause: EventId,
    stored: Stored,
    /// The record's summary as stored, and the events published since, not yet written back.
    unwritten: Option<(Summary, Vec<(u64, Envelope)>)>,
}

impl<'a> Effects<'a> {
    pub fn new(views: &'a ViewStore, publisher: &'a Publisher, cause: EventId, stored: Stored) -> Effects<'a> {
        Effects {
            views,
            publisher,
            cause,
            stored,
            unwritten: None,
        }
    }

    /// The effects `cause` may store on an application, from its record in the read model
    /// (rebuilt if missing). An application with no events is a permanent failure: nothing will
    /// ever be stored for it here.
    pub async fn open(
        views: &'a ViewStore,
        publisher: &'a Publisher,
        cause: EventId,
        partner: &PartnerId,
        application: &ApplicationId,
    ) -> Result<Effects<'a>, HandlerError> {
        let stored = views
            .load_or_rebuild(partner, application)
            .await?
            .ok_or_else(|| HandlerError::permanent(format!("application {application} has no events")))?;
        Ok(Effects::new(views, publisher, cause, stored))
    }

    /// Writes the record back with every effect published so far. Call it once the cause's
    /// effects are published, before the cause is acknowledged (or its timer removed); a cause
    /// that fails before it leaves its effects unwritten, and the next reader catches up.
    pub async fn finish(&mut self) -> Result<(), HandlerError> {
        let Some((before, published)) = self.unwritten.take() else {
            return Ok(());
        };
        self.views
            .write_published(&mut self.stored, &before, &published)
            .await
            .map_err(HandlerError::from)
    }

    /// The application as it stands, including the effects published so far.
    pub fn record(&self) -> &ApplicationRecord {
        &self.stored.record
    }

    /// Whether the effect `label` of this cause is stored (by this run or an earlier one).
    pub fn holds(&self, label: &str) -> bool {
        self.stored.record.holds(&EventId::derived(&self.cause, label))
    }

    /// Whether the application's state allows an event of `kind`, asked of a current record: a
    /// record that refuses it is caught up with the stream first, so a stale one never drops an
    /// effect a newer state allows.
    async fn allows(&mut self, kind: EventType) -> Result<bool, HandlerError> {
        if self.stored.record.view.state.apply(kind).is_ok() {
            return Ok(true);
        }
        self.finish().await?;
        self.stored = self.views.catch_up(self.stored.clone()).await?;
        Ok(self.stored.record.view.state.apply(kind).is_ok())
    }

    /// Publishes the effect `label` unless it is stored; see the module doc.
    pub async fn publish<P: Payload + ?Sized>(&mut self, label: &str, payload: &P) -> Result<(), HandlerError> {
        let id = EventId::derived(&self.cause, label);
        if self.stored.record.holds(&id) {
            tracing::info!(%label, event_id = %id, "already stored by an earlier run; not published again");
            return Ok(());
        }
        if !self.allows(payload.event_type()).await? {
            // The application moved on (a recall withdrew the filing this cause decides on, a
            // decision came first): the state machine would refuse the effect, so it is not
            // stored at all rather than stored as refused.
            tracing::info!(
                %label,
                state = self.stored.record.view.state.as_str(),
                event = payload.event_type().as_str(),
                "the application's state does not allow this effect now; not published"
            );
            return Ok(());
        }
        let partner = self.stored.record.partner().clone();
        let outgoing = Outgoing {
            id,
            partner: &partner,
            application: self.stored.record.id(),
            payload,
            expected_version: Some(self.stored.record.last_sequence()),
            time: None,
        };
        match self.publisher.publish(outgoing).await {
            Ok(published) if !published.duplicate => {
                let before = Summary::of(&self.stored.record.view);
                if let Folded::Refused(err) = self.stored.record.fold(&published.envelope, published.sequence) {
                    tracing::error!(event_id = %id, error = %err, "a published effect is refused by the state machine");
                }
                let (_, unwritten) = self.unwritten.get_or_insert_with(|| (before, Vec::new()));
                unwritten.push((published.sequence, published.envelope));
                Ok(())
            }
            Ok(_) | Err(PublishError::Conflict(_)) => {
                // What this run folded must be in the store before the store catches up past it.
                self.finish().await?;
                self.stored = self.views.catch_up(self.stored.clone()).await?;
                if self.stored.record.holds(&id) {
                    tracing::info!(%label, event_id = %id, "stored by an earlier run; not published again");
                    Ok(())
                } else {
                    Err(HandlerError::transient(format!(
                        "application {} changed since it was read; deciding again",
                        self.stored.record.id()
                    )))
                }
            }
            Err(other) => Err(other.into()),
        }
    }
}
