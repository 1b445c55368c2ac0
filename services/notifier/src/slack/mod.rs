//! The Slack app's side of the notifier: Slack calls it, not the other way round (#15).
//!
//! - [`verify`]: every request from Slack is checked against the app's signing secret (`v0`
//!   HMAC-SHA256 of `v0:{timestamp}:{raw body}`, compared in constant time, timestamps more than
//!   5 minutes off refused) before anything is read from it.
//! - [`workspaces`]: which partner a Slack workspace (team id) acts for, and in which channels:
//!   an explicit mapping an admin sets (`PUT /v1/slack/workspaces/{team_id}`). An unmapped
//!   workspace gets a clear message and no data.
//! - [`command`]: the `/sandpiper` slash command (`status <id or startup name>`, `agenda [days]`,
//!   `help`), answered in Block Kit, ephemeral, within Slack's 3 seconds, or else "working on
//!   it" at once and the answer through `response_url`. It only reads, so Slack's retries
//!   (`X-Slack-Retry-Num`) are answered alike.
//! - [`agenda`]: the agenda answer, the API's agenda rules over the same read model and clock.
//! - [`interactions`]: the **Graduate** / **Retire** buttons of `window_closed` and
//!   `decision_reminder` messages: the team's decision recorded as the intake records it, the
//!   message updated through `response_url`; a second press, a retry or a press after the
//!   decision was taken elsewhere says so and decides nothing.

pub mod agenda;
pub mod command;
pub mod interactions;
pub mod verify;
pub mod workspaces;

use std::sync::Arc;

use sandpiper_runtime::catalog_store::CatalogStore;
use sandpiper_runtime::clock::Clock;
use sandpiper_runtime::http::problem::Problem;
use sandpiper_runtime::publish::Publisher;
use sandpiper_runtime::views::ViewStore;

use crate::slack::workspaces::WorkspaceStore;

/// What the Slack routes share.
#[derive(Clone)]
pub struct SlackState(pub Arc<SlackShared>);

pub struct SlackShared {
    /// `SANDPIPER_SLACK_SIGNING_SECRET`; without it the Slack routes answer 404 (the app is off).
    pub signing_secret: Option<String>,
    pub workspaces: WorkspaceStore,
    pub views: ViewStore,
    /// The system's clock (simulated in tests and demos): an agenda's "now".
    pub clock: Clock,
    /// Publishes the decisions pressed in Slack, as the notifier.
    pub publisher: Publisher,
    pub catalogs: CatalogStore,
    /// The deliveries' client (its resolver refuses internal addresses): posts to `response_url`.
    pub http: reqwest::Client,
    /// Where the notifier may post (the deliveries' policy).
    pub policy: Arc<crate::safety::Policy>,
    pub tokens: sandpiper_runtime::http::auth::Tokens,
    /// `SANDPIPER_SLACK_ANSWER_WITHIN_MS`: how long a slash command is answered on its own
    /// request before the answer goes through `response_url` instead (Slack waits 3 s).
    pub answer_within: std::time::Duration,
}

/// Posts `message` to a `response_url` from a verified Slack request; a failure is logged (what
/// it answers stands).
pub async fn post_to_response_url(state: &SlackState, url: &str, message: &serde_json::Value) {
    // Signed by Slack, but still a URL from a request: it gets the subscriptions' checks (no
    // internal addresses, http(s) only), and the client's resolver repeats them.
    let url = match state.0.policy.check_url(url).await {
        Ok(url) => url,
        Err(err) => {
            tracing::warn!(error = %err, "a Slack response_url the destination policy refuses was ignored");
            return;
        }
    };
    match state.0.http.post(url).json(message).send().await {
        Ok(answer) if answer.status().is_success() => {}
        Ok(answer) => tracing::warn!(status = %answer.status(), "Slack's response_url refused the message"),
        Err(err) => tracing::warn!(
            error = %sandpiper_runtime::errors::error_chain(&err),
            "posting to Slack's response_url failed"
        ),
    }
}

impl SlackState {
    /// A request from Slack, read only once its signature is verified ([`verify::verify`]): its
    /// form-encoded body decoded (`what` names it in a 400).
    pub fn verified_form<T: serde::de::DeserializeOwned>(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        what: &str,
    ) -> Result<T, Problem> {
        verify::verify(
            self.0.signing_secret.as_deref(),
            headers,
            body,
            chrono::Utc::now().timestamp(),
        )?;
        serde_urlencoded::from_bytes(body).map_err(|e| {
            Problem::new(
                axum::http::StatusCode::BAD_REQUEST,
                "bad-slack-request",
                format!("not a Slack {what}: {e}"),
            )
        })
    }
}

impl sandpiper_runtime::http::auth::HasTokens for SlackState {
    fn tokens(&self) -> &sandpiper_runtime::http::auth::Tokens {
        &self.0.tokens
    }
}
