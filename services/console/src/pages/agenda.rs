//! The agenda: what falls due across the signed-in partner's applications in the coming weeks.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Duration;
use sandpiper_contracts::answers::AgendaPage;
use serde::Deserialize;

use super::Chrome;
use crate::Console;
use crate::display;
use crate::web::{PageError, SignedIn, encode, page};

pub struct Line {
    pub when: String,
    pub application_id: String,
    pub startup: String,
    pub kind: String,
    pub title: String,
    pub amount: String,
    pub rules: String,
}

#[derive(Template)]
#[template(path = "agenda.html")]
struct Agenda {
    chrome: Chrome,
    weeks: i64,
    lines: Vec<Line>,
    next_link: String,
}

#[derive(Debug, Deserialize)]
pub struct Range {
    weeks: Option<i64>,
    cursor: Option<String>,
}

pub async fn show(
    State(console): State<Console>,
    user: SignedIn,
    Query(range): Query<Range>,
) -> Result<Response, PageError> {
    let weeks = range.weeks.unwrap_or(4).clamp(1, 52);
    let from = console.clock.now();
    let to = from + Duration::weeks(weeks);
    let mut path = format!(
        "/v1/agenda?from={}&to={}&limit=100",
        encode(&from.to_rfc3339()),
        encode(&to.to_rfc3339())
    );
    if let Some(cursor) = &range.cursor {
        path.push_str(&format!("&cursor={}", encode(cursor)));
    }
    let agenda: AgendaPage = console.api.get(&user.principal, &path).await?;
    let lines = agenda
        .items
        .iter()
        .map(|i| Line {
            when: display::moment(&i.at),
            application_id: i.application_id.to_string(),
            startup: i.startup_name.clone(),
            kind: i.kind.as_str().replace('_', " "),
            title: i.title.clone(),
            amount: i.amount_usd.map(display::usd).unwrap_or_default(),
            rules: i.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let next_link = agenda
        .next_cursor
        .map(|c| format!("/console/agenda?weeks={weeks}&cursor={}", encode(&c)))
        .unwrap_or_default();
    page(&Agenda {
        chrome: Chrome::of(&user, &console, "agenda"),
        weeks,
        lines,
        next_link,
    })
}
