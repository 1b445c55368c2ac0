//! RFC 9457 problem details: the one shape of every error the API returns, with a human-readable
//! `detail` and, for validation failures, an `errors` array naming each failing field.
//!
//! # Error policy
//!
//! An error a route meets keeps its source until it becomes a [`Problem`], which happens once, in
//! a `From` impl: routes use `?`. The impls here are the policy for the runtime's own errors
//! ([`PublishError`], [`ViewStoreError`], [`CatalogStoreError`]) and for a draft's
//! [`ValidationErrors`]; a service maps its own errors the same way, in one module of its own
//! (the intake's `errors`, the notifier's `api`).
//!
//! Each mapping logs the error with its whole chain of sources ([`crate::errors::error_chain`]) through
//! [`Problem::logged`]: at error level for a 5xx, which is Sandpiper's fault, at debug level for
//! a 4xx, which is the client's. What a 5xx tells the client is a fixed text, never the error's:
//! the chain may name internals (hosts, buckets, keys).
//!
//! The one error no route or layer sees, a request hyper cannot parse, is answered by hyper
//! itself; [`crate::http::listener`] rewrites that empty answer to a problem too.

use std::error::Error as StdError;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sandpiper_contracts::model::{FieldError, ValidationErrors};
use sandpiper_contracts::rule::RuleId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog_store::CatalogStoreError;
use crate::publish::PublishError;
use crate::views::ViewStoreError;

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
    /// For a failed `If-Match` (412): the application's revision now, also sent as the `ETag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
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
            current_revision: None,
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

    /// The client's `If-Match` names another revision than the application's (412): it read a
    /// version someone has changed since. Fetch, redo the change on the current one, retry.
    pub fn precondition_failed(detail: impl Into<String>, current_revision: u64) -> Problem {
        Problem {
            current_revision: Some(current_revision),
            ..Problem::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", detail)
        }
    }

    /// Something on Sandpiper's side (NATS down, a timeout): never the client's input.
    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// A failure on Sandpiper's side that is no outage (a value that cannot be encoded).
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// This problem, after logging `cause` with its chain of sources as its reason: at error level
    /// for a 5xx, at debug level otherwise. Every mapping of the error policy ends here, so an
    /// error is logged once, where it becomes an answer.
    pub fn logged(self, cause: &(dyn StdError + 'static)) -> Problem {
        let chain = crate::errors::error_chain(cause);
        if self.status >= 500 {
            tracing::error!(status = self.status, error = %chain, "{}", self.detail);
        } else {
            tracing::debug!(status = self.status, error = %chain, "{}", self.detail);
        }
        self
    }
}

impl From<ValidationErrors> for Problem {
    fn from(errors: ValidationErrors) -> Problem {
        Problem::validation(errors.0)
    }
}

impl From<PublishError> for Problem {
    fn from(err: PublishError) -> Problem {
        let problem = match &err {
            PublishError::Conflict(id) => Problem::conflict(format!(
                "application {id} changed while this request was handled; fetch it and retry"
            )),
            PublishError::Nats(_) => {
                Problem::unavailable("the event store is unavailable; nothing was changed, retry shortly")
            }
            // Said as unknown: the change may be stored, so a blind retry could be refused (409)
            // or, for a create without Idempotency-Key, file a second draft.
            PublishError::Unconfirmed { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "outcome-unknown",
                "the event store did not confirm the change, which may or may not be stored; read the application before retrying (a create retried with the same Idempotency-Key is safe)",
            ),
            PublishError::Envelope(_) => Problem::internal("the event could not be encoded"),
        };
        problem.logged(&err)
    }
}

impl From<ViewStoreError> for Problem {
    fn from(err: ViewStoreError) -> Problem {
        Problem::unavailable("the application store is unavailable; retry shortly").logged(&err)
    }
}

impl From<CatalogStoreError> for Problem {
    fn from(err: CatalogStoreError) -> Problem {
        let problem = match &err {
            CatalogStoreError::Exists(_) => Problem::conflict(err.to_string()),
            CatalogStoreError::BadVersion(_) => Problem::validation(vec![FieldError {
                field: "version".into(),
                message: err.to_string(),
                rule: Some(RuleId::K4),
            }]),
            CatalogStoreError::Bus(_) | CatalogStoreError::Store(_) => {
                Problem::unavailable("the catalog store is unavailable; retry shortly")
            }
        };
        problem.logged(&err)
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
        if let Some(revision) = self.current_revision
            && let Ok(etag) = header::HeaderValue::from_str(&format!("\"{revision}\""))
        {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}

/// The error type of every handler.
pub type ApiResult<T> = Result<T, Problem>;

#[cfg(test)]
mod tests {
    use sandpiper_contracts::ids::ApplicationId;

    use super::*;

    #[test]
    fn runtime_errors_answer_as_the_policy_says() {
        let id = ApplicationId::generate();
        let conflict = Problem::from(PublishError::Conflict(id));
        assert_eq!(
            (conflict.status, conflict.problem_type.as_str()),
            (409, "urn:sandpiper:problem:conflict")
        );
        assert_eq!(
            conflict.detail,
            format!("application {id} changed while this request was handled; fetch it and retry")
        );

        let views = Problem::from(ViewStoreError::Contended { key: "k".into() });
        assert_eq!(views.status, 503);
        assert_eq!(views.title, "Service Unavailable");
        assert_eq!(views.detail, "the application store is unavailable; retry shortly");

        let store = Problem::from(CatalogStoreError::Store("the bucket is gone".into()));
        assert_eq!(
            (store.status, store.detail.as_str()),
            (503, "the catalog store is unavailable; retry shortly")
        );
        let exists = Problem::from(CatalogStoreError::Exists("v1".into()));
        assert_eq!(exists.status, 409);
        assert_eq!(
            exists.detail,
            "catalog version \"v1\" already exists; versions cannot change once published"
        );
        let bad = Problem::from(CatalogStoreError::BadVersion("a b".into()));
        assert_eq!((bad.status, bad.errors[0].field.as_str()), (422, "version"));
        assert_eq!(bad.errors[0].rule, Some(RuleId::K4));
    }
}
