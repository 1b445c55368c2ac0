//! RFC 9457 problem details: the one shape of every error the API returns, with a human-readable
//! `detail` and, for validation failures, an `errors` array naming each failing field.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sandpiper_contracts::model::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An `application/problem+json` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` for plain HTTP errors).
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// Every failing field, for validation errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem of a kind Sandpiper names (`urn:sandpiper:problem:{slug}`).
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("urn:sandpiper:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A plain HTTP error (`about:blank`).
    pub fn http(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: "about:blank".into(),
            ..Problem::new(status, "", detail)
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = errors;
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Problem {
        let detail = match errors.as_slice() {
            [one] if one.field.is_empty() => one.message.clone(),
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields failed validation; see errors", many.len()),
        };
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail).with_errors(errors)
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// Something on Sandpiper's side (NATS down, a timeout): never the client's input.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_string(&self)
            .unwrap_or_else(|_| format!("{{\"type\":\"about:blank\",\"status\":{}}}", self.status));
        let mut response = (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The error type of every handler.
pub type ApiResult<T> = Result<T, Problem>;
