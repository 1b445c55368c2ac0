//! Signed-in sessions, kept in a key-value bucket ([`names::CONSOLE_SESSIONS_BUCKET`]) shared by
//! every intake replica, so a browser's next request may reach any of them.
//!
//! The cookie holds 32 random bytes; the bucket keys the session by their SHA-256, so what is
//! stored cannot be replayed as a cookie. A session holds the principal (never the API token),
//! its CSRF token and its expiry; the bucket's max age removes abandoned ones, and the expiry is
//! checked on every read, so a session ends on time even if the bucket keeps it longer.

use async_nats::jetstream::kv;
use chrono::{DateTime, Duration, Utc};
use sandpiper_contracts::ids::PartnerId;
use sandpiper_contracts::names;
use sandpiper_runtime::http::auth::Principal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "sandpiper_console";
/// The sign-in form's double-submit cookie (there is no session yet to hold a CSRF token).
pub const SIGN_IN_COOKIE: &str = "sandpiper_console_sign_in";

/// Who a session is for, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holder {
    Partner { partner_id: PartnerId },
    Admin,
}

impl Holder {
    pub fn of(principal: &Principal) -> Holder {
        match principal {
            Principal::Partner(partner_id) => Holder::Partner {
                partner_id: partner_id.clone(),
            },
            Principal::Admin => Holder::Admin,
        }
    }

    pub fn principal(&self) -> Principal {
        match self {
            Holder::Partner { partner_id } => Principal::Partner(partner_id.clone()),
            Holder::Admin => Principal::Admin,
        }
    }
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub holder: Holder,
    /// Every form of the session carries it; a POST without it is refused.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    pub fn principal(&self) -> Principal {
        self.holder.principal()
    }

    /// Whether `sent` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, sent: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), sent.as_bytes())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the console's session store failed")]
    Store(#[source] sandpiper_runtime::errors::BoxError),
    #[error("a stored session is unreadable")]
    Decode(#[source] serde_json::Error),
}

/// A new secret: 32 random bytes, hex (a cookie value, a CSRF token).
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn key_of(cookie: &str) -> String {
    names::console_session_key(&hex::encode(Sha256::digest(cookie.as_bytes())))
}

/// Whether a cookie value could be one of ours: anything else is not looked up.
fn plausible(cookie: &str) -> bool {
    cookie.len() == 64 && cookie.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares two byte strings without an early exit, so timing reveals nothing of a secret.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Clone)]
pub struct SessionStore {
    store: kv::Store,
    lifetime: Duration,
}

impl SessionStore {
    pub fn new(store: kv::Store, lifetime: std::time::Duration) -> SessionStore {
        SessionStore {
            store,
            lifetime: Duration::from_std(lifetime).unwrap_or(Duration::hours(8)),
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Opens a session for `principal`; returns the cookie value and the session.
    pub async fn open(&self, principal: &Principal, now: DateTime<Utc>) -> Result<(String, Session), SessionError> {
        let cookie = new_secret();
        let session = Session {
            holder: Holder::of(principal),
            csrf: new_secret(),
            expires_at: now + self.lifetime,
        };
        let bytes = serde_json::to_vec(&session).map_err(SessionError::Decode)?;
        self.store
            .put(key_of(&cookie), bytes.into())
            .await
            .map_err(|e| SessionError::Store(Box::new(e)))?;
        Ok((cookie, session))
    }

    /// The live session a cookie names, if any: an unknown, forged or expired cookie gives none.
    pub async fn find(&self, cookie: &str, now: DateTime<Utc>) -> Result<Option<Session>, SessionError> {
        if !plausible(cookie) {
            return Ok(None);
        }
        let Some(bytes) = self
            .store
            .get(key_of(cookie))
            .await
            .map_err(|e| SessionError::Store(Box::new(e)))?
        else {
            return Ok(None);
        };
        let session: Session = serde_json::from_slice(&bytes).map_err(SessionError::Decode)?;
        Ok((session.expires_at > now).then_some(session))
    }

    /// Ends a session (sign out); ending one that is gone is not an error.
    pub async fn close(&self, cookie: &str) -> Result<(), SessionError> {
        if !plausible(cookie) {
            return Ok(());
        }
        self.store
            .delete(key_of(cookie))
            .await
            .map_err(|e| SessionError::Store(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_to_principals() {
        let acme = Principal::Partner(PartnerId::parse("acme").unwrap());
        assert_eq!(Holder::of(&acme).principal(), acme);
        assert_eq!(Holder::of(&Principal::Admin).principal(), Principal::Admin);
    }

    #[test]
    fn only_well_formed_cookies_are_looked_up() {
        assert!(plausible(&new_secret()));
        for bad in ["", "x", &"g".repeat(64), &"a".repeat(63), "../../etc"] {
            assert!(!plausible(bad), "{bad}");
        }
    }

    #[test]
    fn the_stored_key_is_not_the_cookie() {
        let cookie = new_secret();
        assert!(!key_of(&cookie).contains(&cookie));
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let session = Session {
            holder: Holder::Admin,
            csrf: "abc".into(),
            expires_at: Utc::now(),
        };
        assert!(session.csrf_matches("abc"));
        assert!(!session.csrf_matches("abd"));
        assert!(!session.csrf_matches("ab"));
        assert!(!session.csrf_matches(""));
    }
}
