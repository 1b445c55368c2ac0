//! Bearer-token authentication and partner tenancy (CONTRACT §2).
//!
//! Tokens come from `SANDPIPER_API_TOKENS` (`principal:token,…`, the principal a partner id or
//! `admin`). Only SHA-256 digests of the tokens are kept, and look-ups go by digest, so neither the
//! tokens nor the time a comparison takes reveal anything.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sandpiper_contracts::ids::{IdError, PartnerId};
use sha2::{Digest, Sha256};

use crate::http::problem::Problem;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Sees and changes only its own applications.
    Partner(PartnerId),
    /// Sees every partner's applications; runs administrative operations.
    Admin,
}

impl Principal {
    /// Whether this caller may see an application of `owner`. Another partner's application
    /// answers 404, exactly like one that does not exist.
    pub fn can_see(&self, owner: &PartnerId) -> bool {
        match self {
            Principal::Admin => true,
            Principal::Partner(partner) => partner == owner,
        }
    }

    /// `Ok` for an admin; otherwise 403 saying that only an admin token can `what` (an
    /// administrative operation: the dead letters, the Slack workspace mapping).
    pub fn require_admin(&self, what: &str) -> Result<(), Problem> {
        match self {
            Principal::Admin => Ok(()),
            Principal::Partner(_) => Err(Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("only an admin token can {what}"),
            )),
        }
    }

    pub fn partner(&self) -> Option<&PartnerId> {
        match self {
            Principal::Partner(partner) => Some(partner),
            Principal::Admin => None,
        }
    }
}

/// A token list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokensError {
    #[error("entry {index} is not principal:token")]
    Shape { index: usize },
    #[error("entry {index}: {source}")]
    Principal { index: usize, source: IdError },
    #[error("entry {index}: the token is empty")]
    EmptyToken { index: usize },
    #[error("entry {index}: the same token is given twice")]
    Duplicate { index: usize },
}

/// The known tokens, by digest.
#[derive(Clone, Default)]
pub struct Tokens {
    by_digest: HashMap<[u8; 32], Principal>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} tokens)", self.by_digest.len())
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Parses `principal:token,principal:token`.
    pub fn parse(list: &str) -> Result<Tokens, TokensError> {
        let mut tokens = Tokens::default();
        for (index, entry) in list.split(',').map(str::trim).filter(|e| !e.is_empty()).enumerate() {
            let (principal, token) = entry.split_once(':').ok_or(TokensError::Shape { index })?;
            let principal = match principal.trim() {
                "admin" => Principal::Admin,
                partner => Principal::Partner(
                    PartnerId::parse(partner).map_err(|source| TokensError::Principal { index, source })?,
                ),
            };
            let token = token.trim();
            if token.is_empty() {
                return Err(TokensError::EmptyToken { index });
            }
            if tokens.by_digest.insert(digest(token), principal).is_some() {
                return Err(TokensError::Duplicate { index });
            }
        }
        Ok(tokens)
    }

    /// The tokens of `SANDPIPER_API_TOKENS` (required, and must list at least one).
    pub fn from_config(source: &dyn crate::config::Source) -> Result<Tokens, crate::config::ConfigError> {
        let error = |value: &str, reason: String| crate::config::ConfigError {
            variable: "SANDPIPER_API_TOKENS",
            value: value.into(),
            reason,
        };
        let list = source.get("SANDPIPER_API_TOKENS").ok_or_else(|| {
            error(
                "",
                "is required: a comma-separated list of principal:token (principal = a partner id or admin)".into(),
            )
        })?;
        let tokens = Tokens::parse(&list).map_err(|e| error("(not shown: it holds secrets)", e.to_string()))?;
        if tokens.is_empty() {
            return Err(error("", "lists no token".into()));
        }
        Ok(tokens)
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    /// The principal of an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Problem> {
        let header = authorization.ok_or_else(|| unauthorized("send Authorization: Bearer <token>"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer <token>"))?;
        self.by_digest
            .get(&digest(token))
            .cloned()
            .ok_or_else(|| unauthorized("unknown token"))
    }
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

/// Anything that holds the token list can authenticate requests.
pub trait HasTokens {
    fn tokens(&self) -> &Tokens;
}

/// A principal established by code in the same process (the web console, which authenticated
/// its own session) and carried as a request extension. Only in-process callers can set
/// extensions: nothing a client sends over the network becomes one, so this is no way around
/// the token check, only a way for the console to call the API as its signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingAs(pub Principal);

impl<S: HasTokens + Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ActingAs(principal)) = parts.extensions.get::<ActingAs>() {
            return Ok(principal.clone());
        }
        let header = parts.headers.get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
        state.tokens().authenticate(header)
    }
}

/// An admin's request, refused with 403 before anything else of it is read: put it before a body
/// extractor, so a partner posting a bad body to an admin route hears 403, not 422.
#[derive(Debug, Clone, Copy)]
pub struct AdminOnly;

impl<S: HasTokens + Send + Sync> FromRequestParts<S> for AdminOnly {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Principal::from_request_parts(parts, state)
            .await?
            .require_admin(&format!("call {} {}", parts.method, parts.uri.path()))
            .map(|()| AdminOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_their_principals() {
        let tokens = Tokens::parse("acme:t-acme, admin:t-admin,globex:t-globex").unwrap();
        assert_eq!(
            tokens.authenticate(Some("Bearer t-acme")),
            Ok(Principal::Partner(PartnerId::parse("acme").unwrap()))
        );
        assert_eq!(tokens.authenticate(Some("Bearer t-admin")), Ok(Principal::Admin));
        for bad in [
            None,
            Some("t-acme"),
            Some("Bearer "),
            Some("Basic t-acme"),
            Some("Bearer nope"),
        ] {
            assert_eq!(tokens.authenticate(bad).unwrap_err().status, 401, "{bad:?}");
        }
    }

    #[test]
    fn malformed_lists_are_refused() {
        assert!(matches!(Tokens::parse("acme"), Err(TokensError::Shape { index: 0 })));
        assert!(matches!(Tokens::parse("Acme:x"), Err(TokensError::Principal { .. })));
        assert!(matches!(Tokens::parse("acme:"), Err(TokensError::EmptyToken { .. })));
        assert!(matches!(
            Tokens::parse("acme:x,globex:x"),
            Err(TokensError::Duplicate { index: 1 })
        ));
    }

    #[test]
    fn tenancy() {
        let acme = PartnerId::parse("acme").unwrap();
        let globex = PartnerId::parse("globex").unwrap();
        assert!(Principal::Partner(acme.clone()).can_see(&acme));
        assert!(!Principal::Partner(acme.clone()).can_see(&globex));
        assert!(Principal::Admin.can_see(&globex));
    }
}
