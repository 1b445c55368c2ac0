//! The Sandpiper state as AWS Partner Central shows an application: the Selling API's
//! `LifeCycle.ReviewStatus` and the Benefits API's `BenefitApplicationStatus` (both read-only on
//! AWS's side). The view carries it (`partner_central`), and the ACE export serves it beside the
//! request bodies.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::State;

/// `LifeCycle.ReviewStatus` (Selling API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ReviewStatus {
    #[serde(rename = "Pending Submission")]
    PendingSubmission,
    Submitted,
    #[serde(rename = "In review")]
    InReview,
    Approved,
    Rejected,
    #[serde(rename = "Action Required")]
    ActionRequired,
}

/// `BenefitApplicationStatus` (Benefits API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BenefitApplicationStatus {
    PendingSubmission,
    InReview,
    ActionRequired,
    Approved,
    Rejected,
    Canceled,
}

/// The Sandpiper state as Partner Central would show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AceStatus {
    pub review_status: ReviewStatus,
    pub benefit_application_status: BenefitApplicationStatus,
}

/// The Sandpiper state as Partner Central's statuses. Exhaustive on purpose: a new state does not
/// compile until it is mapped here.
pub fn status(state: State) -> AceStatus {
    use BenefitApplicationStatus as B;
    use ReviewStatus as R;
    let (review_status, benefit_application_status) = match state {
        State::Draft => (R::PendingSubmission, B::PendingSubmission),
        // The Benefits API has no "submitted": its review starts at submission.
        State::Submitted => (R::Submitted, B::InReview),
        State::InReview => (R::InReview, B::InReview),
        // Approved, and everything that follows an approval: the review's outcome stands while
        // the credits run, after the window, and once validity is over (or the credits were
        // clawed back: that is the allocation's status, not the application's).
        State::Approved
        | State::Active
        | State::WindowClosed
        | State::Graduated
        | State::Retired
        | State::Closed
        | State::ClawedBack => (R::Approved, B::Approved),
        State::Rejected => (R::Rejected, B::Rejected),
        // Filed in the wrong pool (C3, C4a, K1): not refused on its merits, but this filing is
        // not what AWS should act on; the partner follows the linked application.
        State::Redirected => (R::ActionRequired, B::ActionRequired),
        // Withdrawn from draft (a recalled filing is a draft again first): the opportunity was
        // never (or is no longer) submitted, and the benefit application is canceled.
        State::Canceled => (R::PendingSubmission, B::Canceled),
    };
    AceStatus {
        review_status,
        benefit_application_status,
    }
}
