//! An application's read model: its view and the stream sequence and id of every one of its
//! events, so whoever holds it knows exactly how far it has folded (one comparison against the
//! stream tells whether it is current), which effects are already stored (idempotency), and where
//! each event of the history sits in the stream (served by direct gets, never by a scan).
//!
//! [`ApplicationRecord::fold`] is the one fold every read model uses: the services' shared
//! view store, the intake's answers and the simulation report.

use serde::{Deserialize, Serialize};

use crate::events::Envelope;
use crate::ids::{ApplicationId, EventId, PartnerId};
use crate::model::ApplicationBody;
use crate::view::{ApplicationView, FoldError};

/// One event of the application as the record knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    pub sequence: u64,
    pub id: EventId,
    /// The state machine refused it: it is in the history but changed nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refused: bool,
}

/// The view and every event it accounts for, in stream order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub view: ApplicationView,
    pub events: Vec<EventRef>,
}

/// What folding one event did.
#[derive(Debug)]
pub enum Folded {
    /// The event changed the view.
    Applied,
    /// The record already held the event (a redelivery): nothing changed.
    Already,
    /// The state machine refused it: recorded in the history, the view unchanged.
    Refused(FoldError),
    /// The event sits before the record's last event but is not in it: some event was folded
    /// out of stream order, so the record must be rebuilt from the stream.
    OutOfOrder,
}

impl ApplicationRecord {
    /// The record an application's first event starts.
    pub fn create(event: &Envelope, sequence: u64) -> Result<ApplicationRecord, FoldError> {
        Ok(ApplicationRecord {
            view: ApplicationView::create(event, sequence)?,
            events: vec![EventRef {
                sequence,
                id: event.id,
                refused: false,
            }],
        })
    }

    /// Folds a stream of events (oldest first) into a record, or `None` when the first cannot
    /// start one. Later events the state machine refuses are recorded as refused.
    pub fn from_events<'a>(events: impl IntoIterator<Item = (u64, &'a Envelope)>) -> Option<ApplicationRecord> {
        let mut record: Option<ApplicationRecord> = None;
        for (sequence, envelope) in events {
            match &mut record {
                None => record = ApplicationRecord::create(envelope, sequence).ok(),
                Some(record) => {
                    record.fold(envelope, sequence);
                }
            }
        }
        record
    }

    pub fn id(&self) -> ApplicationId {
        self.view.id
    }

    pub fn partner(&self) -> &PartnerId {
        &self.view.partner_id
    }

    /// The stream sequence of the application's last event: what a guarded publish expects.
    pub fn last_sequence(&self) -> u64 {
        self.events.last().map_or(self.view.version, |e| e.sequence)
    }

    /// The body as submitted, once submitted (the view holds it in the draft shape), which the
    /// review and the engagement decide from.
    pub fn submitted(&self) -> Option<ApplicationBody> {
        self.view.submitted_at?;
        self.view.body.as_submitted()
    }

    /// Whether the event with this id is stored for the application.
    pub fn holds(&self, id: &EventId) -> bool {
        self.events.iter().any(|e| e.id == *id)
    }

    /// Folds one event stored at `sequence`. Idempotent; refuses another application's event.
    pub fn fold(&mut self, event: &Envelope, sequence: u64) -> Folded {
        if self.events.iter().any(|e| e.sequence == sequence) {
            return Folded::Already;
        }
        if sequence < self.last_sequence() {
            return Folded::OutOfOrder;
        }
        if event.subject != self.view.id || event.partnerid != self.view.partner_id {
            let err = FoldError::OtherApplication {
                event: event.id.to_string(),
                event_application: event.subject,
                application: self.view.id,
            };
            // Not this application's: it is not recorded in this history either.
            return Folded::Refused(err);
        }
        // Fold into a copy so a refused event leaves the view untouched.
        let mut next = self.view.clone();
        let outcome = next.apply(event, sequence);
        let refused = outcome.is_err();
        self.events.push(EventRef {
            sequence,
            id: event.id,
            refused,
        });
        match outcome {
            Ok(_) => {
                self.view = next;
                Folded::Applied
            }
            Err(err) => Folded::Refused(err),
        }
    }
}

/// What a listing filters on, small enough to hold for every application in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub partner_id: PartnerId,
    pub state: crate::state::State,
    /// The decided pool, or the filed programme until classification.
    pub pool: crate::model::Programme,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_name: Option<String>,
    /// Has the review simulation's forecast (`review = ace`): what the calibration report reads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forecast: bool,
}

impl Summary {
    pub fn of(view: &ApplicationView) -> Summary {
        Summary {
            partner_id: view.partner_id.clone(),
            state: view.state,
            pool: view
                .decision
                .as_ref()
                .map(|d| d.pool)
                .or(view.body.programme)
                .unwrap_or(crate::model::Programme::InnovationSandbox),
            service: view.body.service.clone(),
            aws_account_id: view.body.startup.as_ref().and_then(|s| s.aws_account_id.clone()),
            startup_name: view.body.startup.as_ref().and_then(|s| s.name.clone()),
            forecast: view.forecast.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::events::{DraftUpdated, Drafted};
    use crate::model::ApplicationDraft;
    use crate::names::ServiceName;
    use crate::state::State;

    fn event<P: crate::events::EventPayload>(partner: &str, app: ApplicationId, payload: &P) -> Envelope {
        Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            PartnerId::parse(partner).unwrap(),
            app,
            Utc::now(),
            payload,
        )
        .unwrap()
    }

    fn drafted() -> Drafted {
        Drafted {
            draft: ApplicationDraft::default(),
            originated_from: None,
        }
    }

    fn updated() -> DraftUpdated {
        DraftUpdated {
            draft: ApplicationDraft::default(),
        }
    }

    #[test]
    fn a_record_knows_its_events_and_folds_each_once() {
        let app = ApplicationId::generate();
        let first = event("acme", app, &drafted());
        let mut record = ApplicationRecord::create(&first, 3).unwrap();
        let update = event("acme", app, &updated());
        assert!(matches!(record.fold(&update, 7), Folded::Applied));
        assert!(matches!(record.fold(&update, 7), Folded::Already));
        assert_eq!(record.last_sequence(), 7);
        assert!(record.holds(&update.id) && record.holds(&first.id));
        assert_eq!((record.view.version, record.view.event_count), (7, 2));
    }

    #[test]
    fn a_refused_event_is_in_the_history_and_leaves_the_view() {
        let app = ApplicationId::generate();
        let mut record = ApplicationRecord::create(&event("acme", app, &drafted()), 1).unwrap();
        let again = event("acme", app, &drafted());
        assert!(matches!(record.fold(&again, 4), Folded::Refused(_)));
        assert_eq!(record.view.version, 1, "the view is unchanged");
        assert_eq!(
            record.last_sequence(),
            4,
            "but a guarded publish expects the refused event"
        );
        assert_eq!(record.view.state, State::Draft);
    }

    #[test]
    fn an_event_before_the_last_one_that_is_not_held_is_out_of_order() {
        let app = ApplicationId::generate();
        let mut record = ApplicationRecord::create(&event("acme", app, &drafted()), 1).unwrap();
        record.fold(&event("acme", app, &updated()), 9);
        assert!(matches!(
            record.fold(&event("acme", app, &updated()), 5),
            Folded::OutOfOrder
        ));
    }

    #[test]
    fn another_partners_or_applications_event_is_refused_and_not_recorded() {
        let app = ApplicationId::generate();
        let mut record = ApplicationRecord::create(&event("acme", app, &drafted()), 1).unwrap();
        assert!(matches!(
            record.fold(&event("globex", app, &updated()), 2),
            Folded::Refused(_)
        ));
        let other = ApplicationId::generate();
        assert!(matches!(
            record.fold(&event("acme", other, &updated()), 3),
            Folded::Refused(_)
        ));
        assert_eq!(record.events.len(), 1);
    }
}
