//! The application state machine of CONTRACT §4: one type, one transition function, and every
//! (state, event) pair it does not list is refused.
//!
//! ```text
//! draft → submitted → in_review → approved → active → window_closed → graduated | retired → closed
//! side exits: rejected, redirected, clawed_back (→ closed)
//! before a decision: submitted | in_review → draft (recalled); draft → canceled (terminal)
//! ```

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::events::EventType;

/// Ordered as the lifecycle runs (the order of the variants), so listings of states read in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    Submitted,
    InReview,
    Approved,
    Active,
    WindowClosed,
    Graduated,
    Retired,
    Closed,
    Rejected,
    Redirected,
    ClawedBack,
    /// Withdrawn by the partner before any decision (terminal).
    Canceled,
}

/// An event that the application's current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {event} event is not allowed while the application is {from}")]
pub struct IllegalTransition {
    pub from: &'static str,
    pub event: &'static str,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::InReview => "in_review",
            State::Approved => "approved",
            State::Active => "active",
            State::WindowClosed => "window_closed",
            State::Graduated => "graduated",
            State::Retired => "retired",
            State::Closed => "closed",
            State::Rejected => "rejected",
            State::Redirected => "redirected",
            State::ClawedBack => "clawed_back",
            State::Canceled => "canceled",
        }
    }

    pub fn parse(value: &str) -> Option<State> {
        [
            State::Draft,
            State::Submitted,
            State::InReview,
            State::Approved,
            State::Active,
            State::WindowClosed,
            State::Graduated,
            State::Retired,
            State::Closed,
            State::Rejected,
            State::Redirected,
            State::ClawedBack,
            State::Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }

    /// The state an application is in once it is created.
    pub fn initial(event: EventType) -> Result<State, IllegalTransition> {
        match event {
            EventType::Drafted => Ok(State::Draft),
            other => Err(IllegalTransition {
                from: "nonexistent",
                event: other.as_str(),
            }),
        }
    }

    /// Credits are live: consumption, concerns, feedback and tranche events are recorded.
    fn has_credits(self) -> bool {
        matches!(
            self,
            State::Active | State::WindowClosed | State::Graduated | State::Retired
        )
    }

    /// The state after `event`, or why the event is not allowed now.
    pub fn apply(self, event: EventType) -> Result<State, IllegalTransition> {
        use EventType as E;
        use State as S;
        let next = match (self, event) {
            (S::Draft, E::DraftUpdated) => S::Draft,
            (S::Draft, E::Submitted) => S::Submitted,
            (S::Submitted, E::Classified) => S::InReview,
            // A recall takes a filing with no decision yet back to an editable draft; its pending
            // review is cancelled, and a new submission starts a new review period (T6).
            (S::Submitted | S::InReview, E::Recalled) => S::Draft,
            (S::Draft, E::Canceled) => S::Canceled,
            // Partner Central (issue #17): the filing and what AWS shows of it are history; they
            // move nothing. A forecast is the simulation's outcome while AWS reviews.
            // Filed or changed in AWS's hands at any time, even after a recall or a decision, until
            // the application is canceled (terminal: nothing is owed to AWS after that).
            (s, E::AceFiled | E::AceStatusChanged) if s != S::Canceled => s,
            (S::InReview, E::ReviewForecast) => S::InReview,
            // Redirection (C3, C4a, K1) happens at classification; the linked application carries on.
            (S::Submitted, E::Redirected) => S::Redirected,
            // Ineligible applications (T1) may be rejected straight from classification.
            (S::Submitted | S::InReview, E::Rejected) => S::Rejected,
            (S::InReview, E::Approved) => S::Approved,
            (S::Approved, E::CreditsApplied) => S::Active,
            (S::Active, E::OfficeHoursScheduled | E::ClawbackWarning) => S::Active,
            (
                s,
                E::TrancheReleased
                | E::TrancheWithheld
                | E::ConcernRecorded
                | E::FeedbackRecorded
                | E::ConsumptionRecorded,
            ) if s.has_credits() => s,
            // OH6, G3: the feedback summary is owed even when the engagement ended without a
            // decision (clawed back) or its validity is over; it is kept.
            (S::ClawedBack | S::Closed, E::FeedbackRecorded) => self,
            (S::Active, E::WindowClosed) => S::WindowClosed,
            // TR6: no consumption in the window → the balance is clawed back at window close.
            (S::Active | S::WindowClosed, E::ClawedBack) => S::ClawedBack,
            (S::WindowClosed, E::DecisionReminder) => S::WindowClosed,
            (S::WindowClosed, E::Graduated) => S::Graduated,
            (S::WindowClosed, E::Retired) => S::Retired,
            (S::Retired, E::CreditsForfeited) => S::Retired,
            // TR4: validity ends; whatever is left expires and the engagement is closed.
            (S::WindowClosed | S::Graduated | S::Retired | S::ClawedBack, E::CreditsExpired) => S::Closed,
            (from, event) => {
                return Err(IllegalTransition {
                    from: from.as_str(),
                    event: event.as_str(),
                });
            }
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType as E;

    fn run(events: &[EventType]) -> Result<State, IllegalTransition> {
        let (first, rest) = events.split_first().ok_or(IllegalTransition {
            from: "nonexistent",
            event: "none",
        })?;
        rest.iter().try_fold(State::initial(*first)?, |s, e| s.apply(*e))
    }

    #[test]
    fn the_happy_path_reaches_closed() {
        let path = [
            E::Drafted,
            E::DraftUpdated,
            E::Submitted,
            E::Classified,
            E::Approved,
            E::CreditsApplied,
            E::TrancheReleased,
            E::OfficeHoursScheduled,
            E::ConsumptionRecorded,
            E::ConcernRecorded,
            E::TrancheReleased,
            E::ClawbackWarning,
            E::FeedbackRecorded,
            E::WindowClosed,
            E::DecisionReminder,
            E::Graduated,
            E::ConsumptionRecorded,
            E::CreditsExpired,
        ];
        assert_eq!(run(&path), Ok(State::Closed));
    }

    #[test]
    fn side_exits() {
        assert_eq!(run(&[E::Drafted, E::Submitted, E::Redirected]), Ok(State::Redirected));
        assert_eq!(run(&[E::Drafted, E::Submitted, E::Rejected]), Ok(State::Rejected));
        assert_eq!(
            run(&[E::Drafted, E::Submitted, E::Classified, E::Rejected]),
            Ok(State::Rejected)
        );
        let clawback = [
            E::Drafted,
            E::Submitted,
            E::Classified,
            E::Approved,
            E::CreditsApplied,
            E::WindowClosed,
            E::ClawedBack,
            E::CreditsExpired,
        ];
        assert_eq!(run(&clawback), Ok(State::Closed));
        let retire = [
            E::Drafted,
            E::Submitted,
            E::Classified,
            E::Approved,
            E::CreditsApplied,
            E::WindowClosed,
            E::Retired,
            E::CreditsForfeited,
            E::CreditsExpired,
        ];
        assert_eq!(run(&retire), Ok(State::Closed));
    }

    #[test]
    fn recall_and_cancel_before_a_decision() {
        assert_eq!(run(&[E::Drafted, E::Submitted, E::Recalled]), Ok(State::Draft));
        let recalled_in_review = [E::Drafted, E::Submitted, E::Classified, E::Recalled, E::DraftUpdated];
        assert_eq!(run(&recalled_in_review), Ok(State::Draft));
        let resubmitted = [
            E::Drafted,
            E::Submitted,
            E::Recalled,
            E::Submitted,
            E::Classified,
            E::Approved,
        ];
        assert_eq!(run(&resubmitted), Ok(State::Approved));
        assert_eq!(
            run(&[E::Drafted, E::Submitted, E::Recalled, E::Canceled]),
            Ok(State::Canceled)
        );
        assert_eq!(run(&[E::Drafted, E::Canceled]), Ok(State::Canceled));
        // After a decision, and once canceled, neither is possible.
        for state in [State::Approved, State::Rejected, State::Redirected, State::Active] {
            assert!(state.apply(E::Recalled).is_err(), "{state:?}");
        }
        for event in EventType::ALL {
            assert!(
                State::Canceled.apply(*event).is_err(),
                "canceled is terminal: {event:?}"
            );
        }
        assert!(State::Submitted.apply(E::Canceled).is_err(), "recall first");
    }

    #[test]
    fn partner_central_history_moves_no_state() {
        // Issue #17: the filing and AWS's statuses are recorded in any live state; a forecast
        // only while the review is AWS's; the decision is still `approved` / `rejected`.
        for state in [
            State::Submitted,
            State::InReview,
            State::Draft,
            State::Active,
            State::Rejected,
        ] {
            assert_eq!(state.apply(E::AceFiled), Ok(state));
            assert_eq!(state.apply(E::AceStatusChanged), Ok(state));
        }
        assert_eq!(State::InReview.apply(E::ReviewForecast), Ok(State::InReview));
        assert!(State::Approved.apply(E::ReviewForecast).is_err());
        let ace_review = [
            E::Drafted,
            E::Submitted,
            E::AceFiled,
            E::Classified,
            E::ReviewForecast,
            E::AceStatusChanged,
            E::Approved,
            E::CreditsApplied,
        ];
        assert_eq!(run(&ace_review), Ok(State::Active));
    }

    #[test]
    fn feedback_is_owed_after_the_engagement_ends() {
        // OH6, G3: the closing session's feedback summary is still recorded after a clawback
        // (no decision is taken then) and after validity ends.
        for state in [State::ClawedBack, State::Closed, State::Retired, State::Graduated] {
            assert_eq!(state.apply(E::FeedbackRecorded), Ok(state));
        }
        assert!(State::ClawedBack.apply(E::ConcernRecorded).is_err());
        assert!(State::Closed.apply(E::ConsumptionRecorded).is_err());
    }

    #[test]
    fn illegal_transitions_are_refused() {
        assert_eq!(
            State::initial(E::Submitted),
            Err(IllegalTransition {
                from: "nonexistent",
                event: "submitted"
            })
        );
        for (from, event) in [
            (State::Draft, E::Approved),
            (State::Draft, E::Drafted),
            (State::Submitted, E::DraftUpdated),
            (State::Submitted, E::Submitted),
            (State::InReview, E::CreditsApplied),
            (State::Approved, E::ConsumptionRecorded),
            (State::Active, E::Graduated),
            (State::Rejected, E::Approved),
            (State::Redirected, E::Classified),
            (State::Closed, E::ConsumptionRecorded),
            (State::Graduated, E::Retired),
        ] {
            assert_eq!(
                from.apply(event),
                Err(IllegalTransition {
                    from: from.as_str(),
                    event: event.as_str()
                })
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for s in [
            State::Draft,
            State::InReview,
            State::WindowClosed,
            State::ClawedBack,
            State::Canceled,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
    }
}
