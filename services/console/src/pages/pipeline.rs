//! The pipeline: every application with its state, pool, tier, balance and what is due next,
//! filtered, searched and paged by the API (a page is drawn from one page of the listing, never
//! from every application), with the counts per state.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use sandpiper_contracts::answers::ApplicationPage;
use sandpiper_contracts::state::State as Lifecycle;
use sandpiper_contracts::view::ApplicationView;
use serde::Deserialize;

use super::Chrome;
use crate::Console;
use crate::display;
use crate::web::{PageError, SignedIn, encode, page};

/// Applications per page.
pub const PAGE_SIZE: usize = 25;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    state: String,
    #[serde(default)]
    pool: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

impl Filters {
    /// The filters as a query string (without the cursor).
    fn query(&self) -> String {
        [
            ("state", &self.state),
            ("pool", &self.pool),
            ("service", &self.service),
            ("q", &self.q),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

pub struct Row {
    pub id: String,
    pub startup: String,
    pub service: String,
    pub state: String,
    pub pool: String,
    pub tier: String,
    pub balance: String,
    pub next_due: String,
}

pub struct Count {
    pub value: String,
    pub label: String,
    pub count: usize,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "pipeline.html")]
struct PipelinePage {
    chrome: Chrome,
    rows: Vec<Row>,
    counts: Vec<Count>,
    total: usize,
    filters: Filters,
    services: Vec<(String, String)>,
    pools: Vec<(String, String)>,
    next_link: String,
    first_link: String,
}

/// What is due next for an application, in a few words.
pub fn next_due(view: &ApplicationView, now: DateTime<Utc>) -> String {
    let mut items: Vec<_> = sandpiper_rules::agenda::items(view, now)
        .into_iter()
        .filter(|i| i.status == sandpiper_contracts::agenda::ItemStatus::Scheduled)
        .filter(|i| i.at >= now || i.kind == sandpiper_contracts::agenda::AgendaKind::DecisionOwed)
        .collect();
    sandpiper_rules::agenda::sort(&mut items);
    if let Some(item) = items.first() {
        return format!("{} · {}", item.title, display::day(&item.at));
    }
    match view.state {
        Lifecycle::Draft => "Complete and submit the draft".into(),
        Lifecycle::Submitted | Lifecycle::InReview => "Review decision pending".into(),
        _ => "Nothing due".into(),
    }
}

pub fn row(view: &ApplicationView, now: DateTime<Utc>) -> Row {
    let pool = view
        .decision
        .as_ref()
        .map(|d| d.pool)
        .or(view.body.programme)
        .unwrap_or(sandpiper_contracts::model::Programme::InnovationSandbox);
    Row {
        id: view.id.to_string(),
        startup: view.body.startup_name().unwrap_or("(unnamed)").to_owned(),
        service: view.body.service.clone().unwrap_or_default(),
        state: display::state(view.state),
        pool: display::programme(pool).to_owned(),
        tier: view
            .decision
            .as_ref()
            .and_then(|d| d.tier_usd)
            .map(display::tier)
            .unwrap_or_else(|| "–".into()),
        balance: view
            .credits
            .as_ref()
            .map(|c| display::usd(c.balance_usd))
            .unwrap_or_else(|| "–".into()),
        next_due: next_due(view, now),
    }
}

pub async fn show(
    State(console): State<Console>,
    user: SignedIn,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    let mut query = format!("/v1/applications?order=newest&limit={PAGE_SIZE}");
    let filter_query = filters.query();
    if !filter_query.is_empty() {
        query.push('&');
        query.push_str(&filter_query);
    }
    if !filters.cursor.is_empty() {
        query.push_str(&format!("&cursor={}", encode(&filters.cursor)));
    }
    let listing: ApplicationPage = console.api.get(&user.principal, &query).await?;
    let now = console.clock.now();
    let rows = listing.items.iter().map(|v| row(v, now)).collect();
    let counts = listing
        .counts
        .iter()
        .map(|(state, count)| Count {
            value: state.as_str().to_owned(),
            label: display::state(*state),
            count: *count,
            selected: filters.state == state.as_str(),
        })
        .collect();
    let total = listing.counts.values().sum();
    let base = if filter_query.is_empty() {
        "/console?".to_owned()
    } else {
        format!("/console?{filter_query}&")
    };
    let next_link = listing
        .next_cursor
        .map(|c| format!("{base}cursor={}", encode(&c)))
        .unwrap_or_default();
    let first_link = if filters.cursor.is_empty() {
        String::new()
    } else {
        base.trim_end_matches(['&', '?']).to_owned()
    };
    let services = super::services(&console, &user.principal).await?;
    let pools = [
        sandpiper_contracts::model::Programme::InnovationSandbox,
        sandpiper_contracts::model::Programme::BedrockPoc,
    ]
    .iter()
    .map(|p| (p.as_str().to_owned(), display::programme(*p).to_owned()))
    .collect();
    page(&PipelinePage {
        chrome: Chrome::of(&user, &console, "pipeline"),
        rows,
        counts,
        total,
        filters,
        services,
        pools,
        next_link,
        first_link,
    })
}
