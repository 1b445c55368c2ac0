//! Slack's request signing (api.slack.com/authentication/verifying-requests-from-slack):
//! `X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp +
//! ":" + raw body))`. The same scheme the notifier signs its own deliveries with, so one
//! implementation ([`crate::signing`]) does both.

use axum::http::{HeaderMap, StatusCode};
use sandpiper_runtime::http::problem::Problem;

pub const SLACK_TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SLACK_SIGNATURE_HEADER: &str = "x-slack-signature";

/// Why a request is not Slack's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackAuthError {
    #[error("the Slack app is not configured here (no signing secret)")]
    NotConfigured,
    #[error("the request carries no {0} header")]
    Missing(&'static str),
    #[error("X-Slack-Request-Timestamp is not a Unix time")]
    BadTimestamp,
    #[error("the request is older than 5 minutes (or from the future): a replay is refused")]
    Stale,
    #[error("the signature does not match the signing secret")]
    BadSignature,
}

impl From<SlackAuthError> for Problem {
    fn from(err: SlackAuthError) -> Problem {
        let problem = match err {
            SlackAuthError::NotConfigured => Problem::not_found(err.to_string()),
            _ => Problem::new(StatusCode::UNAUTHORIZED, "bad-slack-signature", err.to_string()),
        };
        problem.logged(&err)
    }
}

/// Checks a request's timestamp and signature over its raw body, at `now` (Unix seconds).
pub fn verify(secret: Option<&str>, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), SlackAuthError> {
    let secret = secret.ok_or(SlackAuthError::NotConfigured)?;
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(SlackAuthError::Missing(name))
    };
    let timestamp: i64 = header(SLACK_TIMESTAMP_HEADER)?
        .trim()
        .parse()
        .map_err(|_| SlackAuthError::BadTimestamp)?;
    let signature = header(SLACK_SIGNATURE_HEADER)?;
    if (now - timestamp).abs() > crate::signing::TOLERANCE_SECONDS {
        return Err(SlackAuthError::Stale);
    }
    if crate::signing::verify(secret, timestamp, body, signature, now) {
        Ok(())
    } else {
        Err(SlackAuthError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SLACK_TIMESTAMP_HEADER, timestamp.parse().unwrap());
        h.insert(SLACK_SIGNATURE_HEADER, signature.parse().unwrap());
        h
    }

    #[test]
    fn slacks_published_example_verifies() {
        // The worked example of Slack's "Verifying requests from Slack" page.
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let h = headers(
            "1531420618",
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        );
        assert_eq!(verify(Some(secret), &h, body, 1_531_420_618 + 60), Ok(()));
        // One byte changed, an old request, another secret, no secret: all refused.
        let mut tampered = body.to_vec();
        tampered[6] = b'X';
        assert_eq!(
            verify(Some(secret), &h, &tampered, 1_531_420_618),
            Err(SlackAuthError::BadSignature)
        );
        assert_eq!(
            verify(Some(secret), &h, body, 1_531_420_618 + 301),
            Err(SlackAuthError::Stale)
        );
        assert_eq!(
            verify(Some("another"), &h, body, 1_531_420_618),
            Err(SlackAuthError::BadSignature)
        );
        assert_eq!(
            verify(None, &h, body, 1_531_420_618),
            Err(SlackAuthError::NotConfigured)
        );
        assert_eq!(
            verify(Some(secret), &HeaderMap::new(), body, 1_531_420_618),
            Err(SlackAuthError::Missing(SLACK_TIMESTAMP_HEADER))
        );
    }
}
