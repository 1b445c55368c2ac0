//! A startup account's credit position (CP1): every programme in its stack, with the total.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use sandpiper_contracts::answers::CreditPosition;
use serde::Deserialize;

use super::Chrome;
use crate::Console;
use crate::api::ApiError;
use crate::display;
use crate::web::{PageError, SignedIn, page};

pub struct Part {
    pub programme: String,
    pub amount: String,
    pub source: String,
    pub application_id: String,
}

#[derive(Template)]
#[template(path = "position.html")]
struct Position {
    chrome: Chrome,
    account: String,
    error: String,
    parts: Vec<Part>,
    total: String,
    ceiling: String,
    typical: String,
    rules: String,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    #[serde(default)]
    account: String,
}

pub async fn show(
    State(console): State<Console>,
    user: SignedIn,
    Query(query): Query<Account>,
) -> Result<Response, PageError> {
    let account = query.account.trim().to_owned();
    let mut shown = Position {
        chrome: Chrome::of(&user, &console, "position"),
        account: account.clone(),
        error: String::new(),
        parts: Vec::new(),
        total: String::new(),
        ceiling: String::new(),
        typical: String::new(),
        rules: String::new(),
    };
    if account.is_empty() {
        return page(&shown);
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        shown.error = format!("{account:?} is not an AWS account id: it has exactly 12 digits (E1).");
        return page(&shown);
    }
    let answer = console
        .api
        .get::<CreditPosition>(&user.principal, &format!("/v1/accounts/{account}/credit-position"))
        .await;
    match answer {
        Ok(position) => {
            shown.parts = position
                .parts
                .iter()
                .map(|p| Part {
                    programme: display::programme(p.programme).to_owned(),
                    amount: display::usd(p.amount_usd),
                    source: p.source.clone(),
                    application_id: p.application_id.map(|id| id.to_string()).unwrap_or_default(),
                })
                .collect();
            shown.total = display::usd(position.total_usd);
            shown.ceiling = display::usd(position.standard_stack_ceiling_usd);
            let [low, high] = position.typical_with_sandbox_usd;
            shown.typical = format!("{} to {}", display::usd(low), display::usd(high));
            shown.rules = position.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        }
        Err(ApiError::Refused(problem)) if problem.status < 500 => shown.error = problem.detail,
        Err(err) => return Err(err.into()),
    }
    page(&shown)
}
