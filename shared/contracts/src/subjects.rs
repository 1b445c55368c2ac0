//! Every NATS subject Sandpiper uses, built here and nowhere else (CONTRACT §3).
//!
//! Events: `sandpiper.v1.events.{partner_id}.{application_id}.{type}`. The ids are validated types
//! ([`PartnerId`], [`ApplicationId`]) and the type is an enum, so every token is a safe subject token.
//! Filters for consumers and bots are built from the same pieces.

use crate::events::EventType;
use crate::ids::{ApplicationId, PartnerId};
use crate::names::ServiceName;

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

/// Every delivery dead-letter subject (one token per subscription; the event dead letters below
/// sit one level deeper, so this filter never matches them).
pub fn all_dead_letters() -> String {
    format!("{DEAD_LETTERS_ROOT}.*")
}

/// The dead letters of the events one service's consumer refused (issue #13): in the same stream
/// as the delivery dead letters, under their own prefix. A subscription id is a ULID, never
/// `events`, so the two never share a subject.
pub fn event_dead_letters(service: ServiceName) -> String {
    format!("{DEAD_LETTERS_ROOT}.events.{}", service.as_str())
}

/// Every event dead letter, any service.
pub fn all_event_dead_letters() -> String {
    format!("{DEAD_LETTERS_ROOT}.events.*")
}

/// The service an event dead letter's subject names; `None` if it is not one.
pub fn parse_event_dead_letter(subject: &str) -> Option<ServiceName> {
    let service = subject.strip_prefix(DEAD_LETTERS_ROOT)?.strip_prefix(".events.")?;
    ServiceName::ALL.into_iter().find(|s| s.as_str() == service)
}

/// The versioned root of redrive requests.
const REDRIVE_ROOT: &str = "sandpiper.v1.redrive";

/// Where one service takes requests (core NATS request/reply, one replica answers) to handle the
/// event of one of its dead letters again.
pub fn redrive(service: ServiceName) -> String {
    format!("{REDRIVE_ROOT}.{}", service.as_str())
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
    fn event_dead_letters_sit_apart_from_delivery_dead_letters() {
        let classifier = event_dead_letters(ServiceName::Classifier);
        assert_eq!(classifier, "sandpiper.v1.deadletters.events.classifier");
        assert_eq!(all_event_dead_letters(), "sandpiper.v1.deadletters.events.*");
        assert_eq!(parse_event_dead_letter(&classifier), Some(ServiceName::Classifier));
        assert_eq!(
            parse_event_dead_letter(&dead_letters("01J0000000000000000000000A")),
            None
        );
        assert_eq!(parse_event_dead_letter("sandpiper.v1.deadletters.events.nobody"), None);
        // The delivery filter has one token after the root: it never matches an event letter.
        assert_eq!(
            all_dead_letters().matches('.').count() + 1,
            classifier.matches('.').count()
        );
        assert_eq!(redrive(ServiceName::Scheduler), "sandpiper.v1.redrive.scheduler");
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
