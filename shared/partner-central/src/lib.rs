//! AWS Partner Central (ACE) as Sandpiper maps to it: pure functions and types, no SDK, no I/O.
//!
//! # Layout
//!
//! - [`export`]: the `CreateOpportunity` and `CreateBenefitApplication` request bodies an
//!   application files as (issue #16), their settings (catalog, benefit identifiers) and the
//!   `ClientToken`s that make a retried filing the same filing. The intake serves them
//!   (`GET /v1/applications/{id}/ace`); the ACE connector (`services/ace`) sends them.

pub mod export;
