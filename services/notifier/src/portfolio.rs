//! A partner's portfolio as the read model holds it: its applications' summaries (the view
//! index), its engaged applications' views, and the agenda over them. The Slack commands and the
//! weekly digest both read it, so `/sandpiper agenda` and a digest of the same days agree.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sandpiper_contracts::agenda::{AgendaItem, AgendaKind};
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::record::Summary;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::agenda;
use sandpiper_runtime::errors::BoxError;
use sandpiper_runtime::handler::HandlerError;
use sandpiper_runtime::http::problem::Problem;
use sandpiper_runtime::views::{ViewStore, ViewStoreError};

/// How long the index watch may stay quiet before the listing counts as complete (a partner
/// with no applications gets no entry at all, not even a last one).
const QUIET: Duration = Duration::from_millis(300);

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

/// Every summary of the partner's applications in the view index.
pub async fn summaries(
    views: &ViewStore,
    partner: &PartnerId,
) -> Result<Vec<(ApplicationId, Summary)>, PortfolioError> {
    let mut watch = views
        .index()
        .watch_with_history(format!("{partner}.*"))
        .await
        .map_err(|e| PortfolioError::Index(e.into()))?;
    let mut found = Vec::new();
    // The watch delivers every current summary, then waits for changes: stop at the last one
    // (`delta` 0), or when nothing comes (a partner with no applications).
    while let Ok(Some(entry)) = tokio::time::timeout(QUIET, watch.next()).await {
        let entry = entry.map_err(|e| PortfolioError::Index(e.into()))?;
        let last = entry.delta == 0;
        if let (Some(id), Ok(summary)) = (
            entry.key.rsplit('.').next().and_then(|k| ApplicationId::parse(k).ok()),
            serde_json::from_slice::<Summary>(&entry.value),
        ) {
            found.push((id, summary));
        }
        if last {
            break;
        }
    }
    Ok(found)
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
