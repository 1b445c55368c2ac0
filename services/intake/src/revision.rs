//! Revisions (CONTRACT §2): optimistic locking as Partner Central's `Revision` and
//! `LastModifiedDate` do it, in HTTP's words. Every view has a `revision`; an answer that carries
//! a view sends it as a strong `ETag` (`"42"`); `PATCH` and every command honour `If-Match`, and
//! a revision other than the application's is a 412 naming the current one. Without `If-Match`
//! the last writer wins, as before.
//!
//! The check is made twice: against the view the route read (the common case, answered at once),
//! and by the stream itself, since every write is guarded by the application's last sequence. A
//! write that lost that race to another is a 412 too when the client named a revision, so of two
//! editors racing with the same `If-Match` exactly one wins.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::http::problem::Problem;

/// The `If-Match` of a write: the revisions the client accepts, or `None` for any (no header, or
/// `*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfMatch(Option<Vec<u64>>);

impl IfMatch {
    /// No precondition: the last writer wins.
    pub const ANY: IfMatch = IfMatch(None);

    /// Parses the header's value: `*`, or a comma-separated list of entity tags (RFC 9110
    /// §8.8.3). The strong tags this API sends (`"42"`) name revisions; any other well-formed tag
    /// (weak, `W/"42"`, which never matches a strong comparison, §13.1.1, or one this API never
    /// sent, `"abc"`) names none, so the precondition fails (412) as the RFC says, rather than
    /// being ignored. Text that is not an entity tag at all (`42`) is a 400.
    pub fn parse(value: &str) -> Result<IfMatch, Problem> {
        let value = value.trim();
        if value == "*" {
            return Ok(IfMatch::ANY);
        }
        let bad = |tag: &str| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-if-match",
                format!(
                    "If-Match: {tag:?} is not an entity tag; send the ETag of GET /v1/applications/{{id}} (e.g. \"42\") or *"
                ),
            )
        };
        let mut revisions = Vec::new();
        // A list of `[W/]"etagc*"` separated by commas and optional white space; a comma may sit
        // inside a tag's quotes (etagc is every visible character but the double quote), so the
        // list is read tag by tag, not split on commas.
        let mut rest = value;
        loop {
            let element = rest;
            let (weak, after) = match rest.strip_prefix("W/") {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let opaque = after.strip_prefix('"').ok_or_else(|| bad(element))?;
            let end = opaque.find('"').ok_or_else(|| bad(element))?;
            let text = &opaque[..end];
            // etagc: visible ASCII but the double quote (obs-text is refused: headers here are
            // ASCII).
            if !text.bytes().all(|b| b == 0x21 || (0x23..=0x7E).contains(&b)) {
                return Err(bad(element));
            }
            if !weak && let Ok(revision) = text.parse::<u64>() {
                revisions.push(revision);
            }
            rest = opaque[end + 1..].trim_start_matches([' ', '\t']);
            if rest.is_empty() {
                break;
            }
            rest = rest
                .strip_prefix(',')
                .ok_or_else(|| bad(element))?
                .trim_start_matches([' ', '\t']);
        }
        Ok(IfMatch(Some(revisions)))
    }

    /// Whether the client named a revision (so a lost race is its 412, not a 409).
    pub fn is_conditional(&self) -> bool {
        self.0.is_some()
    }

    /// Refuses a view at another revision than the client's with a 412 naming the current one.
    pub fn check(&self, view: &ApplicationView) -> Result<(), Problem> {
        match &self.0 {
            Some(revisions) if !revisions.contains(&view.revision) => Err(stale(view)),
            _ => Ok(()),
        }
    }
}

/// The 412 for a client whose revision is not the application's.
pub fn stale(view: &ApplicationView) -> Problem {
    Problem::precondition_failed(
        format!(
            "application {} is at revision {}, not the one in If-Match: it changed since it was read; fetch it, redo the change and retry",
            view.id, view.revision
        ),
        view.revision,
    )
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values: Vec<&HeaderValue> = parts.headers.get_all(header::IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(IfMatch::ANY);
        }
        let mut all = Vec::new();
        for value in values {
            let text = value.to_str().map_err(|_| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "bad-if-match",
                    "If-Match must be visible ASCII",
                )
            })?;
            match IfMatch::parse(text)?.0 {
                None => return Ok(IfMatch::ANY),
                Some(revisions) => all.extend(revisions),
            }
        }
        Ok(IfMatch(Some(all)))
    }
}

/// The `If-Match` header as the OpenAPI document lists it on every write.
#[derive(utoipa::IntoParams)]
#[into_params(names("If-Match"), parameter_in = Header)]
#[allow(dead_code)] // documents the header the `IfMatch` extractor reads
pub struct IfMatchHeader(
    /// The `ETag` last read (`"42"`), or `*`: the write is refused with 412 if the application has
    /// changed since. Without it, the last writer wins.
    #[param(pattern = r#"^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$"#)]
    Option<String>,
);

/// A view as an answer, with its revision as the `ETag`.
pub struct Tagged {
    pub status: StatusCode,
    pub view: ApplicationView,
}

impl Tagged {
    pub fn ok(view: ApplicationView) -> Tagged {
        Tagged {
            status: StatusCode::OK,
            view,
        }
    }

    pub fn with_status(status: StatusCode, view: ApplicationView) -> Tagged {
        Tagged { status, view }
    }
}

/// The strong entity tag of a view.
pub fn etag(view: &ApplicationView) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{}\"", view.revision)).ok()
}

impl IntoResponse for Tagged {
    fn into_response(self) -> Response {
        let tag = etag(&self.view);
        let mut response = (self.status, Json(self.view)).into_response();
        if let Some(tag) = tag {
            response.headers_mut().insert(header::ETAG, tag);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_entity_tags_and_star() {
        assert_eq!(IfMatch::parse("*").unwrap(), IfMatch::ANY);
        assert_eq!(IfMatch::parse("\"42\"").unwrap(), IfMatch(Some(vec![42])));
        assert_eq!(IfMatch::parse(" \"1\", \"7\" ").unwrap(), IfMatch(Some(vec![1, 7])));
        // Well-formed tags that name no revision of ours: the precondition can only fail.
        for none in ["W/\"42\"", "\"x\"", "\"\"", "\"-1\"", "\"99999999999999999999999\""] {
            assert_eq!(IfMatch::parse(none).unwrap(), IfMatch(Some(vec![])), "{none:?}");
        }
        assert_eq!(IfMatch::parse("W/\"1\", \"2\"").unwrap(), IfMatch(Some(vec![2])));
        // A comma inside a tag's quotes is the tag's, not the list's.
        assert_eq!(
            IfMatch::parse("\"8,3\" ,\t\"5\",W/\"a,\"").unwrap(),
            IfMatch(Some(vec![5]))
        );
        for bad in [
            "42",
            "",
            "\"4\"2\"",
            "\"a b\"",
            "\"1\",",
            "W/42",
            "\"1\" \"2\"",
            "\"open",
            ",\"1\"",
        ] {
            let problem = IfMatch::parse(bad).unwrap_err();
            assert_eq!(
                (problem.status, problem.problem_type.as_str()),
                (400, "urn:sandpiper:problem:bad-if-match"),
                "{bad:?}"
            );
        }
        assert!(!IfMatch::ANY.is_conditional());
        assert!(IfMatch::parse("\"3\"").unwrap().is_conditional());
    }
}
