//! The console's one way to read and change anything: the intake's own API router, called in
//! process as the signed-in principal ([`ActingAs`]).
//!
//! Going through the API rather than around it means the console cannot drift from it: the same
//! tenancy (another partner's application is 404), the same validation and state checks (a
//! refusal is the API's problem+json, shown as it is), the same events, and a read after a write
//! that includes the write, as every API client gets.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sandpiper_runtime::http::auth::{ActingAs, Principal};
use sandpiper_runtime::http::problem::Problem;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

/// The largest answer the console reads (a page of 200 views is well under it).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Why a call did not give what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API refused, and why: shown to the user as it is.
    #[error("{}: {}", .0.title, .0.detail)]
    Refused(Problem),
    #[error("the API's answer could not be read")]
    Read(#[source] axum::Error),
    #[error("the API's answer is not what the console expects")]
    Decode(#[source] serde_json::Error),
    #[error("the request could not be built")]
    Build(#[source] axum::http::Error),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Refused(problem) => problem.status,
            _ => 500,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == 404
    }
}

/// The API, to be called as one principal.
#[derive(Clone)]
pub struct Api {
    router: Router,
}

/// A raw answer: its status, content type and bytes.
pub struct Raw {
    pub status: StatusCode,
    pub content_type: String,
    pub body: bytes::Bytes,
}

impl Api {
    pub fn new(router: Router) -> Api {
        Api { router }
    }

    /// Calls `method path` with an optional JSON body and returns the answer whole. With
    /// `revision`, the call carries `If-Match` on it: an action taken from a page refuses to apply
    /// to an application that changed since the page was drawn (412, with the API's reason).
    pub async fn raw<B: Serialize>(
        &self,
        principal: &Principal,
        method: Method,
        path: &str,
        body: Option<&B>,
        revision: Option<u64>,
    ) -> Result<Raw, ApiError> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(revision) = revision {
            request = request.header(header::IF_MATCH, format!("\"{revision}\""));
        }
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(body).map_err(ApiError::Decode)?)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).map_err(ApiError::Build)?;
        request.extensions_mut().insert(ActingAs(principal.clone()));
        // A Router's service is infallible: the error type is `Infallible`.
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(ApiError::Read)?;
        Ok(Raw {
            status,
            content_type,
            body,
        })
    }

    /// Calls the API and decodes a success as `T`, a failure as the API's problem.
    pub async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        principal: &Principal,
        method: Method,
        path: &str,
        body: Option<&B>,
        revision: Option<u64>,
    ) -> Result<T, ApiError> {
        let raw = self.raw(principal, method, path, body, revision).await?;
        if !raw.status.is_success() {
            return Err(ApiError::Refused(problem_of(&raw)));
        }
        serde_json::from_slice(&raw.body).map_err(ApiError::Decode)
    }

    pub async fn get<T: DeserializeOwned>(&self, principal: &Principal, path: &str) -> Result<T, ApiError> {
        self.call(principal, Method::GET, path, None::<&()>, None).await
    }

    pub async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        principal: &Principal,
        path: &str,
        body: &B,
        revision: Option<u64>,
    ) -> Result<T, ApiError> {
        self.call(principal, Method::POST, path, Some(body), revision).await
    }
}

/// The problem+json of a failed answer, or one made from its status when it has none.
fn problem_of(raw: &Raw) -> Problem {
    serde_json::from_slice::<Problem>(&raw.body).unwrap_or_else(|_| {
        Problem::http(
            raw.status,
            format!("the API answered {} without a problem description", raw.status.as_u16()),
        )
    })
}
