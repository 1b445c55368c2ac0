//! The Slack app's side of the notifier: Slack calls it, not the other way round (#15).
//!
//! - [`verify`]: every request from Slack is checked against the app's signing secret (`v0`
//!   HMAC-SHA256 of `v0:{timestamp}:{raw body}`, compared in constant time, timestamps more than
//!   5 minutes off refused) before anything is read from it.
//! - [`workspaces`]: which partner a Slack workspace (team id) acts for, and in which channels:
//!   an explicit mapping an admin sets (`PUT /v1/slack/workspaces/{team_id}`). An unmapped
//!   workspace gets a clear message and no data.
//! - [`command`]: the `/sandpiper` slash command (`status <id or startup name>`, `agenda [days]`,
//!   `help`), answered at once in Block Kit, ephemeral. It only reads, so Slack's retries
//!   (`X-Slack-Retry-Num`) are answered alike.
//! - [`agenda`]: the agenda answer, the API's agenda rules over the same read model and clock.

pub mod agenda;
pub mod command;
pub mod verify;
pub mod workspaces;

use std::sync::Arc;

use sandpiper_runtime::clock::Clock;
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
    pub tokens: sandpiper_runtime::http::auth::Tokens,
}

impl sandpiper_runtime::http::auth::HasTokens for SlackState {
    fn tokens(&self) -> &sandpiper_runtime::http::auth::Tokens {
        &self.0.tokens
    }
}
