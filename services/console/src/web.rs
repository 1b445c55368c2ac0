//! What every console page shares: who is signed in ([`SignedIn`]), a checked form post
//! ([`Posted`]), cookies, the security headers, and turning a template or a failure into a page.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sandpiper_runtime::http::auth::Principal;

use crate::Console;
use crate::api::ApiError;
use crate::form::Values;
use crate::session::{self, Session, SessionError};

/// The largest form the console accepts (a full draft is a few kilobytes; a catalog upload more).
const MAX_FORM_BYTES: usize = 512 * 1024;

/// The security headers of every console answer. The policy allows no inline script or style and
/// nothing from elsewhere: the one script and style sheet are the console's own files.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Whether cookies set in answer to this request must be `Secure`.
pub fn secure(console: &Console, headers: &HeaderMap) -> bool {
    console.settings.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value scoped to the console: `HttpOnly`, `SameSite=Strict`, `Secure` over
/// TLS; `max_age` 0 removes it.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The signed-in user of a page. Without a live session the page answers with a redirect to
/// sign-in (a stale, forged or expired cookie included).
pub struct SignedIn {
    pub session: Session,
    pub principal: Principal,
    /// The session cookie's value (signing out closes it).
    pub cookie: String,
}

impl SignedIn {
    pub fn is_admin(&self) -> bool {
        self.principal == Principal::Admin
    }

    /// Who the page shows as signed in.
    pub fn who(&self) -> String {
        match &self.principal {
            Principal::Admin => "admin".into(),
            Principal::Partner(partner) => partner.to_string(),
        }
    }
}

/// Why a page could not be served.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("sign in first")]
    SignIn { next: String },
    #[error("this form is stale or was not sent by the console; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the page could not be drawn")]
    Render(#[from] askama::Error),
    #[error("the form could not be read")]
    Body(#[source] axum::Error),
    #[error("only an admin can open this page")]
    AdminOnly,
    #[error("{0}")]
    BadRequest(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            PageError::SignIn { next } => {
                let target = format!("/console/sign-in?next={}", encode(next));
                return Redirect::to(&target).into_response();
            }
            PageError::Csrf => (StatusCode::FORBIDDEN, self.to_string()),
            PageError::AdminOnly => (StatusCode::FORBIDDEN, self.to_string()),
            PageError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()),
            PageError::Api(err) => (
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                match err {
                    ApiError::Refused(problem) => problem.detail.clone(),
                    other => {
                        tracing::error!(error = %sandpiper_runtime::errors::error_chain(other), "console: API call failed");
                        "an internal error occurred; it has been logged".into()
                    }
                },
            ),
            other => {
                tracing::error!(error = %sandpiper_runtime::errors::error_chain(other), "console page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred; it has been logged".into(),
                )
            }
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, page.detail).into_response(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Renders a template as the page.
pub fn page<T: Template>(template: &T) -> Result<Response, PageError> {
    Ok(Html(template.render()?).into_response())
}

/// Renders a template with a status other than 200 (a refused form, drawn again with why).
pub fn page_with<T: Template>(status: StatusCode, template: &T) -> Result<Response, PageError> {
    Ok((status, Html(template.render()?)).into_response())
}

fn path_and_query(uri: &Uri) -> String {
    uri.path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/console".into())
}

impl FromRequestParts<Console> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Self::Rejection> {
        let back = || PageError::SignIn {
            next: path_and_query(&parts.uri),
        };
        let Some(cookie) = cookie(&parts.headers, session::COOKIE) else {
            return Err(back());
        };
        let Some(session) = console.sessions.find(cookie, chrono::Utc::now()).await? else {
            return Err(back());
        };
        // Behind the trusted proxy, a session holds only while the proxy, when it names a user,
        // names one mapped to the session's principal (a token sign-in, with no header, stands).
        if let Some(trusted) = &console.settings.trusted_header
            && let Some(value) = parts.headers.get(trusted.name.as_str())
        {
            let vouched = value.to_str().ok().and_then(|v| trusted.principal_for(v));
            if vouched != Some(session.principal()) {
                return Err(back());
            }
        }
        Ok(SignedIn {
            principal: session.principal(),
            session,
            cookie: cookie.to_owned(),
        })
    }
}

/// A posted form's fields (a body over [`MAX_FORM_BYTES`] is refused).
async fn read_form(body: axum::body::Body) -> Result<Values, PageError> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(PageError::Body)?;
    Ok(Values::parse(&bytes))
}

/// A form post from a signed-in page, its CSRF token checked.
pub struct Posted {
    pub user: SignedIn,
    pub values: Values,
}

impl FromRequest<Console> for Posted {
    type Rejection = PageError;

    async fn from_request(request: Request, console: &Console) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let user = SignedIn::from_request_parts(&mut parts, console).await?;
        let values = read_form(body).await?;
        if !user.session.csrf_matches(values.get("csrf")) {
            return Err(PageError::Csrf);
        }
        Ok(Posted { user, values })
    }
}

/// A form post before sign-in: the double-submit cookie must match the form's token.
pub struct SignInPost {
    pub values: Values,
    pub headers: HeaderMap,
}

impl FromRequest<Console> for SignInPost {
    type Rejection = PageError;

    async fn from_request(request: Request, _console: &Console) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let values = read_form(body).await?;
        let sent = values.get("csrf");
        let expected = cookie(&parts.headers, session::SIGN_IN_COOKIE).unwrap_or("");
        if sent.is_empty() || !session::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(PageError::Csrf);
        }
        Ok(SignInPost {
            values,
            headers: parts.headers,
        })
    }
}

/// Only a path inside the console may be a sign-in's `next` (no open redirect).
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with("/console") && !next.starts_with("//") && !next.contains("\\") && !next.contains("://");
    if ok { next.to_owned() } else { "/console".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; sandpiper_console=abc"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, "sandpiper_console"), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn set_cookies_are_strict_and_http_only() {
        let value = set_cookie("sandpiper_console", "abc", 60, true);
        let text = value.to_str().unwrap();
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age=60", "Path=/console"] {
            assert!(text.contains(part), "{text}");
        }
        assert!(!set_cookie("x", "y", 0, false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn next_stays_inside_the_console() {
        assert_eq!(safe_next("/console/agenda?days=7"), "/console/agenda?days=7");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/v1/applications",
            "/console\\@evil",
        ] {
            assert_eq!(safe_next(bad), "/console", "{bad}");
        }
    }
}
