//! Signing in with an API token (or through a trusted proxy) and signing out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::Console;
use crate::session::{self, new_secret};
use crate::web::{self, PageError, Posted, SignInPost, page_with, safe_next, set_cookie};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    csrf: String,
    next: String,
    error: String,
}

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The sign-in form, with a fresh double-submit token; behind a trusted proxy that vouches for
/// the user, a session at once.
pub async fn form(
    State(console): State<Console>,
    Query(query): Query<Next>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/console"));
    if let Some(trusted) = &console.settings.trusted_header
        && let Some(principal) = headers
            .get(trusted.name.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| trusted.principal_for(v))
    {
        return signed_in(&console, &headers, &principal, &next).await;
    }
    sign_in_page(&console, &headers, next, String::new(), StatusCode::OK)
}

fn sign_in_page(
    console: &Console,
    headers: &HeaderMap,
    next: String,
    error: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let csrf = new_secret();
    let mut response = page_with(
        status,
        &SignInPage {
            csrf: csrf.clone(),
            next,
            error,
        },
    )?;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(session::SIGN_IN_COOKIE, &csrf, 600, web::secure(console, headers)),
    );
    Ok(response)
}

async fn signed_in(
    console: &Console,
    headers: &HeaderMap,
    principal: &sandpiper_runtime::http::auth::Principal,
    next: &str,
) -> Result<Response, PageError> {
    let (cookie, _) = console.sessions.open(principal, chrono::Utc::now()).await?;
    let secure = web::secure(console, headers);
    let mut response = Redirect::to(next).into_response();
    let lifetime = console.sessions.lifetime().num_seconds();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(session::COOKIE, &cookie, lifetime, secure),
    );
    cookies.append(header::SET_COOKIE, set_cookie(session::SIGN_IN_COOKIE, "", 0, secure));
    Ok(response)
}

/// Checks the token; a session holds only the principal it names, never the token.
pub async fn submit(State(console): State<Console>, post: SignInPost) -> Result<Response, PageError> {
    let next = safe_next(post.values.get("next"));
    let token = post.values.get("token").trim().to_owned();
    match console.tokens.authenticate(Some(&format!("Bearer {token}"))) {
        Ok(principal) => {
            tracing::info!(principal = ?principal, "console: signed in");
            signed_in(&console, &post.headers, &principal, &next).await
        }
        Err(_) => {
            tracing::warn!("console: a sign-in with an unknown token was refused");
            sign_in_page(
                &console,
                &post.headers,
                next,
                "That token is not known. Paste the whole API token you were given.".into(),
                StatusCode::UNAUTHORIZED,
            )
        }
    }
}

/// Ends the session and clears its cookie.
pub async fn sign_out(State(console): State<Console>, headers: HeaderMap, post: Posted) -> Result<Response, PageError> {
    console.sessions.close(&post.user.cookie).await?;
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(session::COOKIE, "", 0, web::secure(&console, &headers)),
    );
    Ok(response)
}
