//! The HTTP routes, each documented for the OpenAPI document with `#[utoipa::path]`.

pub mod ace;
pub mod agenda;
pub mod applications;
pub mod calendar;
pub mod dead_letters;
pub mod engagement;
pub mod preflight;
pub mod system;
pub mod withdrawal;

use axum::http::StatusCode;
use sandpiper_contracts::ids::PartnerId;
use sandpiper_contracts::model::FieldError;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// A 400 naming the query parameter that is wrong.
pub(crate) fn bad_query(field: &str, message: String) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "bad-query",
        format!("query parameter {field}: {message}"),
    )
    .with_errors(vec![FieldError {
        field: field.into(),
        message,
        rule: None,
    }])
}

/// The partner whose applications a listing, an agenda, a feed or an export covers: the caller's
/// own, or for an admin the one `?partner_id=` names (every partner's when none is). A partner
/// token naming another partner is refused (403) rather than quietly given its own partner's
/// data, which its caller would take for the other's.
pub(crate) fn whose(caller: &Principal, partner_id: Option<String>) -> ApiResult<Option<PartnerId>> {
    match (caller, partner_id) {
        (Principal::Partner(own), None) => Ok(Some(own.clone())),
        (Principal::Partner(own), Some(named)) if named == own.as_str() => Ok(Some(own.clone())),
        (Principal::Partner(_), Some(_)) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a partner token reads only its own partner's applications; partner_id is for admin tokens",
        )),
        (Principal::Admin, Some(id)) => PartnerId::parse(&id)
            .map(Some)
            .map_err(|e| bad_query("partner_id", e.to_string())),
        (Principal::Admin, None) => Ok(None),
    }
}
