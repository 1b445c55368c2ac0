//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use sandpiper_contracts::events::EventPayload;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::publish::{Outgoing, PublishError, Publisher};

use crate::idempotency::IdempotencyStore;
use crate::projection::Projection;
use sandpiper_runtime::http::auth::{HasTokens, Principal, Tokens};
use sandpiper_runtime::http::problem::Problem;

/// How long a command waits for its own event to reach the view before answering 503.
const READ_YOUR_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The view of an application `caller` may see; 404 for one it may not, as for a missing one.
    pub fn visible(
        &self,
        caller: &Principal,
        id: &sandpiper_contracts::ids::ApplicationId,
    ) -> Result<ApplicationView, Problem> {
        self.projection
            .get(id)
            .filter(|view| caller.can_see(&view.partner_id))
            .ok_or_else(|| Problem::not_found(format!("no application {id}")))
    }

    /// Publishes an event and answers with the view once it includes it.
    pub async fn publish_then_view<P: EventPayload>(&self, event: Outgoing<'_, P>) -> Result<ApplicationView, Problem> {
        let id = event.application;
        let published = self.publisher.publish(event).await.map_err(|err| match err {
            PublishError::Conflict(_) => Problem::conflict(format!(
                "application {id} changed while this request was handled; fetch it and retry"
            )),
            PublishError::Nats(err) => {
                tracing::error!(error = %err, "publishing failed");
                Problem::unavailable("the event store is unavailable; nothing was changed, retry shortly")
            }
            PublishError::Envelope(err) => {
                tracing::error!(error = %err, "an event could not be encoded");
                Problem::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the event could not be encoded",
                )
            }
        })?;
        if !self
            .projection
            .wait_for(published.sequence, READ_YOUR_WRITE_TIMEOUT)
            .await
        {
            return Err(Problem::unavailable(format!(
                "the change to {id} is stored but not yet visible; read it again shortly"
            )));
        }
        self.projection
            .get(&id)
            .ok_or_else(|| Problem::unavailable(format!("application {id} is stored but not yet visible")))
    }
}
