//! Following AWS's review: every poll interval, what changed in Partner Central since the last
//! poll becomes `ace_status_changed` on the application it belongs to.
//!
//! - Opportunities: `ListOpportunities` sorted by `LastModifiedDate`, filtered to after the
//!   cursor. Benefit applications: `ListBenefitApplications` (which has no time filter), keeping
//!   those whose `UpdatedAt` is after theirs. Both cursors are AWS's own times, taken only from its
//!   answers (never this machine's clock), and kept in [`sandpiper_contracts::names::ACE_CURSORS_BUCKET`], so a
//!   restart resumes where the last poll stopped.
//! - A change of an id Sandpiper did not file (the partner's other work) is passed over. A change
//!   of a filing whose `ace_filed` is not stored yet (it is being filed right now) holds the cursor
//!   back, so the next poll reads it again rather than losing it.
//! - Each change is an effect of the filing's `ace_filed` labelled by AWS's time: a change polled
//!   twice (a crash before the cursor was saved) is stored once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sandpiper_contracts::events::AceStatusChanged;
use sandpiper_runtime::effects::Effects;
use sandpiper_runtime::handler::HandlerError;
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::views::ViewStore;
use tokio::sync::watch;

use crate::client::PartnerCentral;
use crate::filings::{Filings, Kind, Owner};

/// The poller.
pub struct Poller {
    pub(crate) partner_central: PartnerCentral,
    pub(crate) views: ViewStore,
    pub(crate) publisher: Publisher,
    pub(crate) filings: Filings,
    pub(crate) catalog: String,
    pub(crate) interval: Duration,
}

/// Whether a change was stored, or must be read again on the next poll.
enum Stored {
    Done,
    NotYetFiled,
}

impl Poller {
    /// Polls until `stop` says so (or its sender is gone).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(err) = self.poll().await {
                tracing::warn!(error = %err.report(), "polling Partner Central failed; trying again next interval");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
            }
        }
    }

    /// One poll of both APIs.
    pub async fn poll(&self) -> Result<(), HandlerError> {
        self.poll_opportunities().await?;
        self.poll_benefit_applications().await
    }

    async fn poll_opportunities(&self) -> Result<(), HandlerError> {
        let cursor_key = format!("{}.opportunities", self.catalog);
        let after = self.filings.cursor(&cursor_key).await?;
        let mut newest = after;
        let mut next = None;
        loop {
            let (changes, token) = self
                .partner_central
                .opportunities_changed(&self.catalog, after, next)
                .await?;
            let mut held = false;
            for change in changes {
                if let Some(owner) = self.filings.owner(Kind::Opportunity, &change.id).await? {
                    let event = AceStatusChanged {
                        review_status: change.review_status,
                        review_comments: change.review_comments,
                        benefit_application_status: None,
                        status_reason: None,
                        changed_at: change.last_modified,
                    };
                    if let Stored::NotYetFiled = self.store(&owner, Kind::Opportunity, event).await? {
                        // Sorted oldest first: this one and everything after wait for the next poll.
                        held = true;
                        break;
                    }
                }
                newest = Some(newest.map_or(change.last_modified, |n| n.max(change.last_modified)));
            }
            // Saved once a page, not once a change: a partner's other opportunities are many.
            if let Some(cursor) = newest.filter(|c| Some(*c) != after) {
                self.filings.set_cursor(&cursor_key, cursor).await?;
            }
            match token {
                Some(token) if !held => next = Some(token),
                _ => return Ok(()),
            }
        }
    }

    async fn poll_benefit_applications(&self) -> Result<(), HandlerError> {
        let cursor_key = format!("{}.benefit-applications", self.catalog);
        let after = self.filings.cursor(&cursor_key).await?;
        let mut newest = after;
        let mut held: Option<DateTime<Utc>> = None;
        let mut next = None;
        loop {
            let (changes, token) = self.partner_central.benefit_applications(&self.catalog, next).await?;
            for change in changes {
                if after.is_some_and(|after| change.updated_at <= after) {
                    continue;
                }
                if let Some(owner) = self.filings.owner(Kind::BenefitApplication, &change.id).await? {
                    let (_, status_reason) = self
                        .partner_central
                        .benefit_application(&self.catalog, &change.id)
                        .await?;
                    let event = AceStatusChanged {
                        review_status: None,
                        review_comments: None,
                        benefit_application_status: change.status,
                        status_reason,
                        changed_at: change.updated_at,
                    };
                    if let Stored::NotYetFiled = self.store(&owner, Kind::BenefitApplication, event).await? {
                        held = Some(held.map_or(change.updated_at, |h| h.min(change.updated_at)));
                        continue;
                    }
                }
                newest = Some(newest.map_or(change.updated_at, |n| n.max(change.updated_at)));
            }
            match token {
                Some(token) => next = Some(token),
                None => break,
            }
        }
        // Not past a change that could not be stored yet: just before the earliest of them.
        let cursor = match (newest, held) {
            (Some(newest), Some(held)) => Some(newest.min(held - chrono::Duration::milliseconds(1))),
            (newest, _) => newest,
        };
        if let Some(cursor) = cursor.filter(|c| Some(*c) != after) {
            self.filings.set_cursor(&cursor_key, cursor).await?;
        }
        Ok(())
    }

    /// Stores `event` on `owner`'s application unless it holds it, or says the filing is not
    /// recorded yet.
    async fn store(&self, owner: &Owner, kind: Kind, event: AceStatusChanged) -> Result<Stored, HandlerError> {
        let Some(stored) = self.views.load_or_rebuild(&owner.partner, &owner.application).await? else {
            return Ok(Stored::NotYetFiled);
        };
        let Some(filing) = stored.record.view.ace.clone() else {
            return Ok(Stored::NotYetFiled);
        };
        let unchanged = match kind {
            Kind::Opportunity => {
                filing.review_status == event.review_status && filing.review_comments == event.review_comments
            }
            Kind::BenefitApplication => {
                filing.benefit_application_status == event.benefit_application_status
                    && filing.status_reason == event.status_reason
            }
        };
        if unchanged {
            return Ok(Stored::Done);
        }
        let label = format!("ace-status.{}.{}", kind.as_str(), event.changed_at.timestamp_millis());
        let mut effects = Effects::new(&self.views, &self.publisher, filing.filed_event, stored);
        effects.publish(&label, &event).await?;
        effects.finish().await?;
        tracing::info!(
            application = %owner.application,
            review_status = ?event.review_status,
            benefit_application_status = ?event.benefit_application_status,
            "Partner Central changed"
        );
        Ok(Stored::Done)
    }
}
