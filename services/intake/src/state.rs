//! What every handler shares.

use std::sync::Arc;

use sandpiper_contracts::events::{Envelope, EventPayload};
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::publish::{Outgoing, PublishError, Published, Publisher};
use sandpiper_runtime::views::Stored;

use crate::errors::IntakeError;
use crate::idempotency::IdempotencyStore;
use crate::projection::Projection;
use crate::revision::IfMatch;
use sandpiper_runtime::errors::error_chain;
use sandpiper_runtime::http::auth::{HasTokens, Principal, Tokens};
use sandpiper_runtime::http::problem::Problem;

#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

pub struct Shared {
    pub tokens: Tokens,
    pub bus: Bus,
    pub clock: Clock,
    pub publisher: Publisher,
    pub projection: Arc<Projection>,
    pub idempotency: IdempotencyStore,
    /// The catalog versions (K4): validation and preflight use the one in force now.
    pub catalogs: CatalogStore,
    /// The ACE export's catalog and benefit identifiers (`SANDPIPER_ACE_*`).
    pub ace: crate::ace::AceSettings,
    /// Calendar feeds (issue #15).
    pub feeds: crate::feeds::FeedStore,
    /// `SANDPIPER_PUBLIC_URL`: the base of the links handed out (feed URLs); the request's Host
    /// when unset.
    pub public_url: Option<String>,
}

impl HasTokens for AppState {
    fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    /// The record of an application `caller` may see; 404 for one it may not, as for a missing
    /// one.
    pub async fn visible_record(
        &self,
        caller: &Principal,
        id: &sandpiper_contracts::ids::ApplicationId,
    ) -> Result<Stored, Problem> {
        let not_found = || Problem::not_found(format!("no application {id}"));
        let partner = match caller.partner() {
            Some(own) => own.clone(),
            None => self.projection.partner_of(id).ok_or_else(not_found)?,
        };
        let stored = self
            .projection
            .get(&partner, id)
            .await
            .map_err(|source| IntakeError::Read {
                application: *id,
                source,
            })?;
        stored
            .filter(|stored| caller.can_see(stored.record.partner()))
            .ok_or_else(not_found)
    }

    /// The view of an application `caller` may see; 404 for one it may not, as for a missing one.
    pub async fn visible(
        &self,
        caller: &Principal,
        id: &sandpiper_contracts::ids::ApplicationId,
    ) -> Result<ApplicationView, Problem> {
        self.visible_record(caller, id).await.map(|stored| stored.record.view)
    }

    /// The view of an application `caller` may change, if it is at a revision `if_match`
    /// accepts (412 otherwise); 404 as [`Shared::visible`].
    pub async fn writable(
        &self,
        caller: &Principal,
        id: &sandpiper_contracts::ids::ApplicationId,
        if_match: &IfMatch,
    ) -> Result<ApplicationView, Problem> {
        let view = self.visible(caller, id).await?;
        if_match.check(&view)?;
        Ok(view)
    }

    /// A command's event on the application as the caller read it: a new event guarded by that
    /// view's version (so a write that came in between fails it), answered with the view
    /// including it; see [`Shared::publish_then_view`] for a lost race.
    pub async fn command<P: EventPayload>(
        &self,
        view: &ApplicationView,
        payload: &P,
        if_match: &IfMatch,
    ) -> Result<ApplicationView, Problem> {
        self.publish_then_view(
            Outgoing {
                id: sandpiper_contracts::ids::EventId::generate(),
                partner: &view.partner_id,
                application: view.id,
                payload,
                expected_version: Some(view.version),
                time: None,
            },
            if_match,
        )
        .await
    }

    /// Publishes an event and answers with the view including it: the event is folded into the
    /// read model before the answer, so the client reads its own write. The event's
    /// `expected_version` guards it; when another write came first, the answer is a 412 naming
    /// the current revision if the client sent `If-Match`, a 409 otherwise.
    pub async fn publish_then_view<P: EventPayload>(
        &self,
        event: Outgoing<'_, P>,
        if_match: &IfMatch,
    ) -> Result<ApplicationView, Problem> {
        let id = event.application;
        let event_id = event.id;
        let partner = event.partner.clone();
        let published = match self.publisher.publish(event).await {
            Ok(published) => published,
            Err(err @ (PublishError::Conflict(_) | PublishError::Unconfirmed { .. })) => {
                // The caller's view was stale, the read model is behind the stream, or the outcome
                // is unknown: bring the record up to date from the stream. If it holds this very
                // event, the write was stored (an earlier attempt's ack was lost): answer it.
                let mut current = None;
                if let Ok(Some(stored)) = self.projection.get(&partner, &id).await {
                    match self.projection.views().catch_up(stored).await {
                        Ok(stored) => {
                            self.projection.note(&stored.record);
                            current = Some(stored.record)
                        }
                        Err(failed) => {
                            tracing::warn!(error = %error_chain(&failed), application_id = %id, "catching the record up failed");
                        }
                    }
                }
                return Err(match current {
                    Some(record) if record.holds(&event_id) => {
                        tracing::info!(%event_id, "the write was stored though its answer was lost");
                        return Ok(record.view);
                    }
                    Some(record) if if_match.is_conditional() && matches!(err, PublishError::Conflict(_)) => {
                        crate::revision::stale(&record.view)
                    }
                    _ => err.into(),
                });
            }
            Err(err) => return Err(err.into()),
        };
        Ok(self.fold_published(&published).await?)
    }

    /// The application's whole event history, oldest first, with stream sequences.
    pub async fn history(&self, stored: &Stored) -> Result<Vec<(u64, Envelope)>, IntakeError> {
        self.projection
            .views()
            .history(&stored.record)
            .await
            .map_err(|source| IntakeError::History {
                application: stored.record.id(),
                source,
            })
    }

    /// Folds an event this replica stored into the read model and its index; the view after it.
    pub async fn fold_published(&self, published: &Published) -> Result<ApplicationView, IntakeError> {
        let id = published.envelope.subject;
        match self
            .projection
            .views()
            .fold(&published.envelope, published.sequence)
            .await
        {
            Ok(Some(stored)) => {
                self.projection.note(&stored.record);
                Ok(stored.record.view)
            }
            Ok(None) => Err(IntakeError::NotYetVisible(id)),
            Err(source) => Err(IntakeError::Fold {
                application: id,
                source,
            }),
        }
    }
}
