//! Every NATS subject Sandpiper uses, built here and nowhere else (CONTRACT §3).
//!
//! Events: `sandpiper.v1.events.{partner_id}.{application_id}.{type}`. The ids are validated types
//! ([`PartnerId`], [`ApplicationId`]) and the type is an enum, so every token is a safe subject token.
//! Filters for consumers and bots are built from the same pieces.

use crate::events::EventType;
use crate::ids::{ApplicationId, PartnerId};

/// The versioned root of every event subject.
const EVENTS_ROOT: &str = "sandpiper.v1.events";

/// The subject of one event.
pub fn event(partner: &PartnerId, application: &ApplicationId, event_type: EventType) -> String {
    format!("{EVENTS_ROOT}.{partner}.{application}.{}", event_type.as_str())
}

/// Every event: what the stream stores.
pub fn all_events() -> String {
    format!("{EVENTS_ROOT}.>")
}

/// Every event of one type, any partner, any application (a service's consumer filter).
pub fn events_of_type(event_type: EventType) -> String {
    format!("{EVENTS_ROOT}.*.*.{}", event_type.as_str())
}

/// Every event of one application, oldest first when read from the stream.
pub fn events_of_application(partner: &PartnerId, application: &ApplicationId) -> String {
    format!("{EVENTS_ROOT}.{partner}.{application}.*")
}

/// Every event of one partner (what a partner's bot subscribes to).
pub fn events_of_partner(partner: &PartnerId) -> String {
    format!("{EVENTS_ROOT}.{partner}.>")
}

/// The versioned root of the notifier's delivery subjects.
const DELIVERIES_ROOT: &str = "sandpiper.v1.deliveries";
/// The versioned root of dead letters.
const DEAD_LETTERS_ROOT: &str = "sandpiper.v1.deadletters";

/// The queue of deliveries for one subscription (its consumer takes them one at a time, in order).
pub fn deliveries(subscription: &str) -> String {
    format!("{DELIVERIES_ROOT}.{subscription}")
}

/// Every delivery subject (what the deliveries stream stores).
pub fn all_deliveries() -> String {
    format!("{DELIVERIES_ROOT}.*")
}

/// The dead letters of one subscription.
pub fn dead_letters(subscription: &str) -> String {
    format!("{DEAD_LETTERS_ROOT}.{subscription}")
}

/// Every dead-letter subject.
pub fn all_dead_letters() -> String {
    format!("{DEAD_LETTERS_ROOT}.*")
}

/// The pieces of an event subject, parsed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSubject {
    pub partner: PartnerId,
    pub application: ApplicationId,
    pub event_type: EventType,
}

/// Parses an event subject; `None` if it is not one.
pub fn parse_event(subject: &str) -> Option<EventSubject> {
    let rest = subject.strip_prefix(EVENTS_ROOT)?.strip_prefix('.')?;
    let mut tokens = rest.split('.');
    let (partner, application, event_type) = (tokens.next()?, tokens.next()?, tokens.next()?);
    if tokens.next().is_some() {
        return None;
    }
    Some(EventSubject {
        partner: PartnerId::parse(partner).ok()?,
        application: ApplicationId::parse(application).ok()?,
        event_type: EventType::parse(event_type)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_subjects_follow_the_contract_and_round_trip() {
        let partner = PartnerId::parse("acme").unwrap();
        let app = ApplicationId::generate();
        let subject = event(&partner, &app, EventType::Approved);
        assert_eq!(subject, format!("sandpiper.v1.events.acme.{app}.approved"));
        assert_eq!(
            parse_event(&subject),
            Some(EventSubject {
                partner: partner.clone(),
                application: app,
                event_type: EventType::Approved
            })
        );
    }

    #[test]
    fn filters_match_what_bots_and_consumers_expect() {
        let partner = PartnerId::parse("acme").unwrap();
        let app = ApplicationId::generate();
        assert_eq!(all_events(), "sandpiper.v1.events.>");
        assert_eq!(
            events_of_type(EventType::Submitted),
            "sandpiper.v1.events.*.*.submitted"
        );
        assert_eq!(
            events_of_application(&partner, &app),
            format!("sandpiper.v1.events.acme.{app}.*")
        );
        assert_eq!(events_of_partner(&partner), "sandpiper.v1.events.acme.>");
    }

    #[test]
    fn non_event_subjects_do_not_parse() {
        let app = ApplicationId::generate();
        for bad in [
            "sandpiper.v1.events.acme".to_owned(),
            format!("sandpiper.v1.events.acme.{app}.approved.extra"),
            format!("sandpiper.v1.events.acme.{app}.nonsense"),
            format!("sandpiper.v2.events.acme.{app}.approved"),
            "sandpiper.v1.events.Acme.x.approved".to_owned(),
        ] {
            assert_eq!(parse_event(&bad), None, "{bad}");
        }
    }
}
