//! The ACE export (issue #16): the mapping lives in `sandpiper-partner-central`, shared with the ACE
//! connector; the intake serves it (`routes::ace`) and configures it (`config`).

pub use sandpiper_partner_central::export::*;
