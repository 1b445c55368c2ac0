//! Request extractors that turn every client mistake into a problem+json answer: a body that is not
//! JSON (400), JSON of the wrong shape (422 naming every failing field), the wrong content type
//! (415), a body over the limit (413), an id that is not a ULID (404), a bad path segment or query
//! parameter (400 naming it).

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::{FieldError, JsonError, array_for_object, parse_json};
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

impl<S: Send + Sync, T: DeserializeOwned + serde::Serialize> FromRequest<S> for JsonBody<T> {
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
            JsonError::Shape(first) => Problem::validation(shape_errors::<T>(&raw, first)),
        })?;
        // Serde reads a struct from an array too (`[null, null]` as a draft's first two fields):
        // every body of this API is an object, and so is every member that reads as one.
        if !raw.trim_ascii_start().starts_with(b"{") {
            return Err(Problem::validation(vec![FieldError {
                field: String::new(),
                message: "the body must be a JSON object".into(),
                rule: None,
            }]));
        }
        if let Some(field) = array_for_object(&raw, &value) {
            return Err(Problem::validation(vec![FieldError {
                field,
                message: "must be a JSON object, not an array".into(),
                rule: None,
            }]));
        }
        Ok(JsonBody { value, raw })
    }
}

/// Every failing field of a JSON body that did not fit `T`, given the first one serde stopped at.
/// Serde stops at the first error, so each top-level field is also read alone: a body with three
/// fields of the wrong type gets three errors, not one at a time over three round trips.
pub fn shape_errors<T: DeserializeOwned>(raw: &[u8], first: FieldError) -> Vec<FieldError> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return vec![first];
    };
    if fields.len() < 2 {
        return vec![first];
    }
    let mut errors: Vec<FieldError> = Vec::new();
    for (name, value) in fields {
        let alone = serde_json::Value::Object(serde_json::Map::from_iter([(name, value)]));
        let Ok(bytes) = serde_json::to_vec(&alone) else {
            continue;
        };
        // A field read alone misses the others: "missing field" is the whole body's error (field
        // ""), reported by the first pass if at all.
        if let Err(JsonError::Shape(mut err)) = parse_json::<T>(&bytes)
            && !err.field.is_empty()
            && !errors.iter().any(|e| e.field == err.field)
        {
            // Positions in the field-alone document would point at the wrong place of the body.
            if let Some(at) = err.message.find(" at line ") {
                err.message.truncate(at);
            }
            errors.push(err);
        }
    }
    if !errors.iter().any(|e| e.field == first.field) {
        errors.insert(0, first);
    }
    errors
}

/// Path parameters parsed into `T` (as axum's `Path`), with problem+json rejections: a segment
/// that is not UTF-8 once percent-decoded, or not of the expected type, is a 400 naming it.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                // The names, to say which segment failed when axum reports only its position.
                let names: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|params| params.iter().map(|(name, _)| name.to_owned()).collect())
                    .unwrap_or_default();
                Err(path_problem(rejection, &names))
            }
        }
    }
}

fn path_problem(rejection: PathRejection, names: &[String]) -> Problem {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(err) = rejection else {
        return match rejection {
            PathRejection::MissingPathParams(_) => internal_path_problem(&rejection.body_text()),
            other => Problem::http(other.status(), other.body_text()),
        };
    };
    if err.status().is_server_error() {
        return internal_path_problem(&err.body_text());
    }
    let name = |index: usize| names.get(index).cloned().unwrap_or_else(|| "path".into());
    let friendly = |expected: &str| {
        expected
            .replace("i64", "a whole number")
            .replace("u64", "a whole number")
    };
    let (field, message) = match err.kind() {
        ErrorKind::InvalidUtf8InPathParam { key } => {
            (key.clone(), "is not valid UTF-8 once percent-decoded".to_owned())
        }
        ErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => (key.clone(), format!("{value:?} is not {}", friendly(expected_type))),
        ErrorKind::ParseErrorAtIndex {
            index,
            value,
            expected_type,
        } => (name(*index), format!("{value:?} is not {}", friendly(expected_type))),
        ErrorKind::ParseError { value, expected_type } => {
            (name(0), format!("{value:?} is not {}", friendly(expected_type)))
        }
        ErrorKind::DeserializeError { key, value, message } => (key.clone(), format!("{value:?}: {message}")),
        other => (name(0), other.to_string()),
    };
    Problem::new(
        StatusCode::BAD_REQUEST,
        "bad-path",
        format!("path segment {field}: {message}"),
    )
    .with_errors(vec![FieldError {
        field,
        message,
        rule: None,
    }])
}

/// A route whose declared parameters do not fit its extractor: Sandpiper's bug, not the client's.
fn internal_path_problem(reason: &str) -> Problem {
    tracing::error!(%reason, "a route's path parameters do not fit its extractor");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred; it has been logged",
    )
}

/// The `{id}` path segment as an application id. A malformed id cannot name an application, so it
/// is answered like any unknown one: 404.
pub struct AppId(pub ApplicationId);

impl<S: Send + Sync> FromRequestParts<S> for AppId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(params) = ApiPath::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
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

/// Query parameters parsed into `T`; a bad one is a 400 whose `errors` name it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string into `T`, naming the failing parameter (axum's `Query` does not).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Problem> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let reason = err.into_inner().to_string();
        let value = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value.into_owned());
        let message = match value {
            Some(value) => format!("{value:?} is not valid here: {reason}"),
            None => reason,
        };
        let detail = if field.is_empty() {
            format!("bad query string: {message}")
        } else {
            format!("query parameter {field}: {message}")
        };
        Problem::new(StatusCode::BAD_REQUEST, "bad-query", detail).with_errors(vec![FieldError {
            field,
            message,
            rule: None,
        }])
    })
}
