//! A partner's portfolio as the read model holds it: its applications' summaries (the view
//! index), its engaged applications' views, and the agenda over them. The Slack commands and the
//! weekly digest both read it, so `/sandpiper agenda` and a digest of the same days agree.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sandpiper_contracts::agenda::{AgendaItem, AgendaKind};
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::record::Summary;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::agenda;
use sandpiper_runtime::errors::BoxError;
use sandpiper_runtime::handler::HandlerError;
use sandpiper_runtime::http::problem::Problem;
use sandpiper_runtime::views::{ViewStore, ViewStoreError};

#[derive(Debug, thiserror::Error)]
pub enum PortfolioError {
    #[error("reading the view index failed")]
    Index(#[source] BoxError),
    #[error("reading an application's view failed")]
    View(#[source] ViewStoreError),
}

impl From<PortfolioError> for Problem {
    fn from(err: PortfolioError) -> Problem {
        Problem::unavailable("the application index is unavailable; retry shortly").logged(&err)
    }
}

impl From<PortfolioError> for HandlerError {
    fn from(err: PortfolioError) -> HandlerError {
        HandlerError::transient(err)
    }
}

/// Every summary of the partner's applications in the view index
/// ([`ViewStore::partner_summaries`]).
pub async fn summaries(
    views: &ViewStore,
    partner: &PartnerId,
) -> Result<Vec<(ApplicationId, Summary)>, PortfolioError> {
    views
        .partner_summaries(partner)
        .await
        .map_err(|e| PortfolioError::Index(e.into()))
}

/// The views of the partner's applications that have an agenda ([`agenda::engaged`]).
pub async fn engaged_views(views: &ViewStore, partner: &PartnerId) -> Result<Vec<ApplicationView>, PortfolioError> {
    let ids: Vec<_> = summaries(views, partner)
        .await?
        .into_iter()
        .filter(|(_, s)| agenda::engaged(s.state))
        .map(|(id, _)| id)
        .collect();
    let loads = ids.iter().map(|id| views.load(partner, id));
    let loaded = futures::future::try_join_all(loads)
        .await
        .map_err(PortfolioError::View)?;
    Ok(loaded.into_iter().flatten().map(|s| s.record.view).collect())
}

/// Everything of every kind that falls due in `[from, to)` across the partner's applications,
/// in time order, as the rules see it at `now`.
pub async fn agenda_between(
    views: &ViewStore,
    partner: &PartnerId,
    now: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<AgendaItem>, PortfolioError> {
    let views = engaged_views(views, partner).await?;
    let kinds: BTreeSet<AgendaKind> = AgendaKind::ALL.iter().copied().collect();
    Ok(agenda::between(&views, now, from, to, &kinds))
}
