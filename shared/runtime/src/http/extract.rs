//! Request extractors that turn every client mistake into a problem+json answer: a body that is not
//! JSON (400), JSON of the wrong shape (422 naming the field), the wrong content type (415), a body
//! over the limit (413), an id that is not a ULID (404), a bad query parameter (400).

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::{JsonError, parse_json};
use serde::de::DeserializeOwned;

use crate::http::problem::Problem;

/// A JSON request body parsed into `T`.
pub struct JsonBody<T> {
    pub value: T,
    /// The body as sent, for idempotency fingerprints.
    pub raw: Bytes,
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_json(content_type) {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "send the body as JSON (Content-Type: application/json), not {:?}",
                    content_type
                ),
            ));
        }
        let raw = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    Problem::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too-large",
                        "the request body is over the size limit",
                    )
                }
                other => Problem::http(other.status(), other.body_text()),
            })?;
        let value = parse_json(&raw).map_err(|err| match err {
            JsonError::Syntax(detail) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("the body is not valid JSON: {detail}"),
            ),
            JsonError::Shape(field) => Problem::validation(vec![field]),
        })?;
        Ok(JsonBody { value, raw })
    }
}

/// The `{id}` path segment as an application id. A malformed id cannot name an application, so it
/// is answered like any unknown one: 404.
pub struct AppId(pub ApplicationId);

impl<S: Send + Sync> FromRequestParts<S> for AppId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(params) =
            axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| Problem::http(StatusCode::BAD_REQUEST, e.body_text()))?;
        let raw = params
            .iter()
            .find(|(name, _)| name == "id")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        ApplicationId::parse(raw).map(AppId).map_err(|_| {
            Problem::not_found(format!(
                "no application {raw:?}: application ids are 26-character ULIDs"
            ))
        })
    }
}

/// Query parameters parsed into `T`; a bad one is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "bad-query", e.body_text()))
    }
}
