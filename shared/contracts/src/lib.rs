//! Sandpiper's shared contracts: everything two services (or a service and a client) must agree on.
//!
//! Nothing here does I/O; the NATS plumbing that uses these types lives in `sandpiper-runtime`.
//!
//! # Layout
//!
//! - [`ids`]: partner, application and event ids, validated so they are always safe NATS tokens.
//! - [`subjects`]: the one module that spells NATS subjects (CONTRACT §3).
//! - [`names`]: stream, consumer and key-value bucket names.
//! - [`events`]: event types, their payloads and the CloudEvents 1.0 envelope.
//! - [`state`]: the application state machine of CONTRACT §4, refusing illegal transitions.
//! - [`model`]: the application body (draft and submitted forms) and its validation.
//! - [`rule`]: the rule ids of DOMAIN.md as a type ([`rule::RuleId`]), serialized as their strings.
//! - [`decision`]: the shapes of classification and review decisions, with their rule ids.
//! - [`engagement`]: credits, tranches, the window, office hours, concerns, the team's decision.
//! - [`catalog`]: the emerging-service catalog (DOMAIN §2) shipped as data.
//! - [`agenda`]: the agenda's items (what falls due, with what it will decide) and their kinds.
//! - [`view`]: the application view served by the API, folded from the event log.
//! - [`answers`]: the bodies of the API's answers that the console and the CLI read too.
//! - [`record`]: the read model: a view with the stream sequence and id of each of its events,
//!   and the one fold every read model uses.

pub mod agenda;
pub mod answers;
pub mod catalog;
pub mod decision;
pub mod engagement;
pub mod events;
pub mod ids;
pub mod model;
pub mod names;
pub mod partner_central;
pub mod record;
pub mod rule;
pub mod state;
pub mod subjects;
pub mod view;
