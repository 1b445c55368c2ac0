//! The intake's HTTP error policy: how each of its own errors becomes a problem+json answer.
//!
//! The runtime's errors map in [`sandpiper_runtime::http::problem`] (an event that cannot be
//! published, the read model, the catalog store, a draft's validation); the intake's own map here,
//! in one place, so routes use `?`. Each mapping logs the error with its chain of sources once,
//! through [`Problem::logged`], and tells a client a fixed text unless the error is the client's
//! to fix.

use axum::http::StatusCode;
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::dead_letters::DeadLetterError;
use sandpiper_runtime::http::problem::Problem;
use sandpiper_runtime::publish::PublishError;
use sandpiper_runtime::views::ViewStoreError;

use crate::ace::AceError;
use crate::advance::Stalled;
use crate::feeds::FeedStoreError;
use crate::idempotency::IdempotencyError;

/// What a route of the intake meets that the runtime's errors do not say by themselves: which
/// application a read-model failure was about, and what it means for the request.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The read model could not be read for one application.
    #[error("reading application {application} from the read model failed")]
    Read {
        application: ApplicationId,
        #[source]
        source: ViewStoreError,
    },
    /// An application's event history could not be read back.
    #[error("reading the history of application {application} failed")]
    History {
        application: ApplicationId,
        #[source]
        source: ViewStoreError,
    },
    /// An event is stored, but folding it into the read model failed: the answer cannot show it.
    #[error("folding the stored event of application {application} into the read model failed")]
    Fold {
        application: ApplicationId,
        #[source]
        source: ViewStoreError,
    },
    /// An event is stored, but the read model does not hold it yet.
    #[error("application {0} is stored but not yet visible")]
    NotYetVisible(ApplicationId),
    /// The linked draft a graduation opens could not be published: nothing was decided.
    #[error("drafting the linked application of {application} failed")]
    LinkedDraft {
        application: ApplicationId,
        #[source]
        source: PublishError,
    },
    /// An application's history could not be folded into its calendar.
    #[error("the calendar of application {application} could not be derived from its history")]
    Calendar {
        application: ApplicationId,
        #[source]
        source: sandpiper_contracts::view::FoldError,
    },
    /// A view could not be encoded for the answer.
    #[error("a view could not be encoded")]
    EncodeView(#[source] serde_json::Error),
    /// A draft could not be turned into JSON to merge a patch into.
    #[error("a draft could not be read for a merge patch")]
    ReadDraft(#[source] serde_json::Error),
    /// A patched draft could not be turned back into bytes.
    #[error("a patched draft could not be written")]
    WriteDraft(#[source] serde_json::Error),
}

impl From<IntakeError> for Problem {
    fn from(err: IntakeError) -> Problem {
        let problem = match &err {
            IntakeError::Read { .. } => Problem::unavailable("the application store is unavailable; retry shortly"),
            IntakeError::History { .. } => Problem::unavailable("the event history is unavailable; retry shortly"),
            IntakeError::Fold { application, .. } => Problem::unavailable(format!(
                "the change to {application} is stored but not yet visible; read it again shortly"
            )),
            IntakeError::NotYetVisible(application) => Problem::unavailable(format!(
                "application {application} is stored but not yet visible; read it again shortly"
            )),
            IntakeError::LinkedDraft { .. } => {
                Problem::unavailable("the event store is unavailable; nothing was decided, retry shortly")
            }
            IntakeError::Calendar { .. } => Problem::internal("the calendar could not be derived"),
            IntakeError::EncodeView(_) => Problem::internal("the application could not be encoded"),
            IntakeError::ReadDraft(_) => Problem::unavailable("the draft could not be read"),
            IntakeError::WriteDraft(_) => Problem::unavailable("the draft could not be written"),
        };
        problem.logged(&err)
    }
}

impl From<IdempotencyError> for Problem {
    fn from(err: IdempotencyError) -> Problem {
        let problem = match &err {
            // A fixed text, the client's to fix.
            IdempotencyError::InvalidKey => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-idempotency-key", err.to_string())
            }
            IdempotencyError::Store(_) => {
                Problem::unavailable("the idempotency store is unavailable; nothing was created, retry shortly")
            }
        };
        problem.logged(&err)
    }
}

/// An ACE export that cannot be made (the mapping's error lives in `sandpiper-partner-central`,
/// so this is a function rather than a `From`).
pub fn ace_problem(err: AceError) -> Problem {
    let problem = match &err {
        // The client's to fix: every field, and the AWS field it fills.
        AceError::Incomplete(errors) => {
            let detail = match errors.as_slice() {
                [one] => format!("the ACE export needs {}: {}", one.field, one.message),
                many => format!(
                    "the ACE export needs {} more fields of this draft; see errors",
                    many.len()
                ),
            };
            // The request is fine; the application is not ready for it (a GET has no body to
            // be invalid): the state's conflict, 409, naming what the draft still lacks.
            Problem::new(StatusCode::CONFLICT, "ace-incomplete", detail).with_errors(errors.clone())
        }
    };
    problem.logged(&err)
}

impl From<Stalled> for Problem {
    fn from(err: Stalled) -> Problem {
        // Only an admin moves the simulated clock: the detail says how far it got and why not
        // further (which consumer or timer owner is behind, or what failed).
        Problem::unavailable(err.to_string()).logged(&err)
    }
}

impl From<FeedStoreError> for Problem {
    fn from(err: FeedStoreError) -> Problem {
        let problem = match &err {
            FeedStoreError::Store(_) => Problem::unavailable("the calendar feed store is unavailable; retry shortly"),
            FeedStoreError::Decode(_) => Problem::internal("a calendar feed could not be read"),
        };
        problem.logged(&err)
    }
}

/// Why a dead-letter route (`routes::dead_letters`) failed on Sandpiper's side.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterRouteError {
    /// The dead-letter stream could not be opened or read.
    #[error("reading the dead letters failed")]
    Read(#[source] DeadLetterError),
    /// A letter names no service this version knows: nobody can redrive it.
    #[error("the dead letter names {0:?}, which is no service")]
    NoService(String),
    #[error("a redrive request could not be encoded")]
    Encode(#[source] serde_json::Error),
    /// The refusing service did not answer (not running: no responders; or too slow).
    #[error("the {service} did not answer the redrive")]
    Unanswered {
        service: ServiceName,
        #[source]
        source: async_nats::RequestError,
    },
    #[error("the {service}'s answer to the redrive is unreadable")]
    BadAnswer {
        service: ServiceName,
        #[source]
        source: serde_json::Error,
    },
    /// The service tried and failed for a reason worth retrying; the letter stays.
    #[error("the {service} could not redrive the event: {reason}")]
    Failed { service: ServiceName, reason: String },
    /// The service handled the event, and the letter could not be removed: it stays, and a
    /// second redrive handles the event again, harmlessly (handlers are idempotent).
    #[error("the {service} handled the event, and its dead letter could not be removed")]
    NotRemoved {
        service: ServiceName,
        #[source]
        source: DeadLetterError,
    },
}

impl From<DeadLetterRouteError> for Problem {
    fn from(err: DeadLetterRouteError) -> Problem {
        let problem = match &err {
            DeadLetterRouteError::Read(_) => Problem::unavailable("the dead letters are unavailable; retry shortly"),
            DeadLetterRouteError::NoService(_) => Problem::internal("the dead letter names no service"),
            DeadLetterRouteError::Encode(_) => Problem::internal("the redrive request could not be encoded"),
            DeadLetterRouteError::Unanswered { service, source } => {
                let why = if source.kind() == async_nats::RequestErrorKind::NoResponders {
                    "is not running"
                } else {
                    "did not answer in time"
                };
                Problem::unavailable(format!(
                    "the {service} {why}; the dead letter stays, redrive it again once the {service} is up"
                ))
            }
            DeadLetterRouteError::BadAnswer { .. } => Problem::unavailable("the refusing service answered unreadably"),
            // Only an admin redrives: the reason is theirs to read (a transient failure's chain).
            DeadLetterRouteError::Failed { service, reason } => Problem::unavailable(format!(
                "the {service} could not redrive the event, the dead letter stays: {reason}"
            )),
            DeadLetterRouteError::NotRemoved { service, .. } => Problem::unavailable(format!(
                "the {service} handled the event, but its dead letter could not be removed; a redrive again is harmless"
            )),
        };
        problem.logged(&err)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sandpiper_runtime::clock::ClockError;
    use sandpiper_runtime::errors::error_chain;

    use super::*;
    use crate::advance::AdvanceError;

    #[test]
    fn a_stalled_advance_says_how_far_and_why() {
        let reached = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let stalled = Stalled {
            reached,
            cause: AdvanceError::Clock(ClockError::Store("kv down".into())),
        };
        let expected = format!(
            "the clock moved no further than {reached}: the clock store failed: the simulated clock store failed: kv down"
        );
        assert_eq!(error_chain(&stalled), expected);
        let problem = Problem::from(stalled);
        assert_eq!((problem.status, problem.detail), (503, expected));
    }

    #[test]
    fn a_redrive_nobody_answers_is_a_503_that_keeps_the_letter() {
        let failed = Problem::from(DeadLetterRouteError::Failed {
            service: ServiceName::Classifier,
            reason: "transient: the view store failed".into(),
        });
        assert_eq!(failed.status, 503);
        assert!(failed.detail.contains("the dead letter stays"), "{}", failed.detail);
        assert!(failed.detail.contains("the view store failed"), "{}", failed.detail);
    }

    #[test]
    fn idempotency_errors_answer_as_before() {
        let invalid = Problem::from(IdempotencyError::InvalidKey);
        assert_eq!(invalid.status, 400);
        assert_eq!(invalid.problem_type, "urn:sandpiper:problem:bad-idempotency-key");
        assert_eq!(
            invalid.detail,
            "Idempotency-Key must be 1 to 255 visible ASCII characters"
        );
        let store = Problem::from(IdempotencyError::Store("bucket gone".into()));
        assert_eq!(store.status, 503);
        assert_eq!(
            store.detail,
            "the idempotency store is unavailable; nothing was created, retry shortly"
        );
    }
}
