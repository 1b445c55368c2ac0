//! `POST /slack/interactions`: the **Graduate** and **Retire** buttons of the `window_closed` and
//! `decision_reminder` messages. A press records the team's decision (G1–G3) exactly as the
//! intake's `POST /v1/applications/{id}/decision` does (`sandpiper_runtime::team_decision`, then a
//! publish guarded by the version of the view the press was decided on), with the Slack user in
//! the notes, and the message is replaced through the payload's `response_url` to say who decided
//! what.
//!
//! Deciding twice is impossible by construction, not by bookkeeping here: a decision is owed only
//! in `window_closed` (G1), so a second press, Slack's retry of the first (`X-Slack-Retry-Num`) or
//! a press after the decision was taken elsewhere finds it taken and says so; two presses racing
//! read the same version and the stream's sequence guard stores only one of them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use sandpiper_contracts::engagement::TeamDecision;
use sandpiper_contracts::events::Payload as EventPayload;
use sandpiper_contracts::ids::{ApplicationId, EventId};
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::errors::error_chain;
use sandpiper_runtime::http::problem::{ApiResult, Problem};
use sandpiper_runtime::publish::{Outgoing, PublishError, Published};
use sandpiper_runtime::team_decision::{self, DecisionError, DecisionEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::render::escape;
use crate::slack::SlackState;
use crate::slack::command::section;

/// The buttons' `action_id`s.
pub const GRADUATE_ACTION: &str = "sandpiper_graduate";
pub const RETIRE_ACTION: &str = "sandpiper_retire";

/// What a button carries in its `value`: which application, which decision. The partner is not
/// in it: it is the pressing workspace's, so a button cannot act for another partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonValue {
    pub application_id: ApplicationId,
    pub decision: TeamDecision,
}

/// The `actions` block of a message that asks for the team's decision.
pub fn decision_buttons(application: ApplicationId) -> Value {
    let button = |text: &str, action: &str, decision: TeamDecision, style: &str| {
        let value = serde_json::to_string(&ButtonValue {
            application_id: application,
            decision,
        })
        .unwrap_or_default();
        json!({"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action, "value": value, "style": style})
    };
    json!({"type": "actions", "block_id": "sandpiper_decision", "elements": [
        button("Graduate", GRADUATE_ACTION, TeamDecision::Graduate, "primary"),
        button("Retire", RETIRE_ACTION, TeamDecision::Retire, "danger"),
    ]})
}

/// The form Slack posts: one field, the payload as JSON.
#[derive(Debug, Deserialize)]
struct Form {
    payload: String,
}

/// The fields of a `block_actions` payload read here.
#[derive(Debug, Deserialize)]
struct Interaction {
    team: Team,
    user: User,
    #[serde(default)]
    channel: Option<Channel>,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    response_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Team {
    id: String,
}

#[derive(Debug, Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl User {
    fn display(&self) -> &str {
        self.username.as_deref().or(self.name.as_deref()).unwrap_or(&self.id)
    }
}

#[derive(Debug, Deserialize)]
struct Channel {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Action {
    #[serde(default)]
    value: String,
}

fn bad_request(what: String) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad-slack-request", what)
}

/// What a press answers through `response_url`.
enum Reply {
    /// Replaces the message: the decision as it stands (no buttons left to press).
    Replace(String),
    /// Only the presser sees it; the message stays.
    Ephemeral(String),
}

/// `POST /slack/interactions`.
pub async fn interact(State(state): State<SlackState>, headers: HeaderMap, body: Bytes) -> ApiResult<StatusCode> {
    let form: Form = state.verified_form(&headers, &body, "interaction")?;
    let payload: Interaction = serde_json::from_str(&form.payload)
        .map_err(|e| bad_request(format!("not a Slack interaction payload: {e}")))?;
    let reply = decide(&state, &payload).await?;
    // The decision is stored by now; the message update goes on its own, so a slow
    // `response_url` cannot push the answer past Slack's 3 seconds (and draw a retry).
    if let Some(url) = payload.response_url {
        tokio::spawn(async move { respond(&state, &url, reply).await });
    }
    Ok(StatusCode::OK)
}

async fn decide(state: &SlackState, payload: &Interaction) -> ApiResult<Reply> {
    let Some(workspace) = state.0.workspaces.get(&payload.team.id).await? else {
        return Ok(Reply::Ephemeral(format!(
            "This Slack workspace (`{}`) is not connected to a Sandpiper partner, so it decides nothing. Ask your Sandpiper admin to connect it.",
            escape(&payload.team.id)
        )));
    };
    let channel = payload.channel.as_ref().map(|c| c.id.as_str()).unwrap_or_default();
    if !workspace.allows(channel) {
        return Ok(Reply::Ephemeral(
            "Sandpiper acts in the channels your admin connected, not in this one.".into(),
        ));
    }
    let Some(button) = payload
        .actions
        .first()
        .and_then(|a| serde_json::from_str::<ButtonValue>(&a.value).ok())
    else {
        return Err(bad_request("the interaction carries no Sandpiper button".into()));
    };
    let partner = &workspace.partner_id;
    let Some(stored) = state.0.views.load(partner, &button.application_id).await? else {
        return Ok(Reply::Ephemeral(format!(
            "No application `{}` for this workspace: nothing was decided.",
            button.application_id
        )));
    };
    let view = stored.record.view;
    if view.team_decision.is_some() {
        return Ok(Reply::Replace(already(&view)));
    }
    let who = payload.user.display();
    let notes = Some(format!("Decided in Slack by {who} ({})", payload.user.id));
    let prepared = match team_decision::prepare(&state.0.publisher, &state.0.catalogs, &view, button.decision, notes)
        .await
    {
        Ok(prepared) => prepared,
        Err(DecisionError::NotOwed(why)) => return Ok(Reply::Ephemeral(escape(&why))),
        Err(err @ DecisionError::LinkedDraft { .. }) => {
            tracing::warn!(error = %error_chain(&err), "a Slack decision could not draft its linked application");
            return Ok(Reply::Ephemeral(
                "Sandpiper could not record the decision just now; nothing was decided. Press again shortly.".into(),
            ));
        }
    };
    if let Some(published) = &prepared.linked_draft
        && let Err(err) = state.0.views.fold(&published.envelope, published.sequence).await
    {
        tracing::warn!(error = %error_chain(&err), "the linked draft is stored but not yet readable");
    }
    let event_id = EventId::generate();
    let published = match &prepared.event {
        DecisionEvent::Graduated(e) => guarded(state, &view, event_id, e).await,
        DecisionEvent::Retired(e) => guarded(state, &view, event_id, e).await,
    };
    match published {
        Ok(published) => {
            let view = match state.0.views.fold(&published.envelope, published.sequence).await {
                Ok(Some(stored)) => stored.record.view,
                Ok(None) | Err(_) => view,
            };
            Ok(Reply::Replace(decided(&view, button.decision, who)))
        }
        Err(err @ (PublishError::Conflict(_) | PublishError::Unconfirmed { .. })) => {
            // Something was stored since the view was read (another press, the API), or the
            // outcome is unknown: the record, caught up, says what stands.
            let current = match state.0.views.load(partner, &view.id).await? {
                Some(stored) => state.0.views.catch_up(stored).await.ok(),
                None => None,
            };
            match current {
                Some(stored) if stored.record.holds(&event_id) => {
                    Ok(Reply::Replace(decided(&stored.record.view, button.decision, who)))
                }
                Some(stored) if stored.record.view.team_decision.is_some() => {
                    Ok(Reply::Replace(already(&stored.record.view)))
                }
                _ => {
                    tracing::warn!(error = %error_chain(&err), application_id = %view.id, "a Slack decision lost a race");
                    Ok(Reply::Ephemeral(
                        "The application changed meanwhile; nothing was decided. Press again.".into(),
                    ))
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %error_chain(&err), application_id = %view.id, "a Slack decision was not stored");
            Ok(Reply::Ephemeral(
                "Sandpiper could not record the decision just now; nothing was decided. Press again shortly.".into(),
            ))
        }
    }
}

/// The decision's event, stored only if the application is still at the version the press was
/// decided on (the intake's guard for commands).
async fn guarded<P: EventPayload>(
    state: &SlackState,
    view: &ApplicationView,
    id: EventId,
    payload: &P,
) -> Result<Published, PublishError> {
    state
        .0
        .publisher
        .publish(Outgoing {
            id,
            partner: &view.partner_id,
            application: view.id,
            payload,
            expected_version: Some(view.version),
            time: None,
        })
        .await
}

fn startup(view: &ApplicationView) -> String {
    escape(view.body.startup_name().unwrap_or("an application"))
}

fn verb(decision: TeamDecision) -> &'static str {
    match decision {
        TeamDecision::Graduate => "graduated",
        TeamDecision::Retire => "retired",
    }
}

/// This press decided.
fn decided(view: &ApplicationView, decision: TeamDecision, who: &str) -> String {
    let target = view
        .team_decision
        .as_ref()
        .and_then(|o| o.target)
        .map(|t| format!(" to {}", t.as_str()))
        .unwrap_or_default();
    format!(
        "*{}* `{}` was *{}*{target} by *{}* in Slack (G1).",
        startup(view),
        view.id,
        verb(decision),
        escape(who)
    )
}

/// The decision was taken before this press: what stands, and that the press changed nothing.
fn already(view: &ApplicationView) -> String {
    match &view.team_decision {
        Some(outcome) => format!(
            "*{}* `{}` was already *{}* on {}{}; this press changed nothing (G1: a decision is taken once).",
            startup(view),
            view.id,
            verb(outcome.decision),
            outcome.decided_at.format("%Y-%m-%d %H:%M UTC"),
            outcome
                .notes
                .as_deref()
                .map(|n| format!(" ({})", escape(n)))
                .unwrap_or_default()
        ),
        None => format!("*{}* `{}` has no decision owed.", startup(view), view.id),
    }
}

/// Posts the answer to Slack's `response_url`; a failure is logged (the decision stands).
async fn respond(state: &SlackState, url: &str, reply: Reply) {
    let message = match &reply {
        Reply::Replace(text) => json!({"replace_original": true, "text": text, "blocks": [section(text)]}),
        Reply::Ephemeral(text) => {
            json!({"replace_original": false, "response_type": "ephemeral", "text": text, "blocks": [section(text)]})
        }
    };
    super::post_to_response_url(state, url, &message).await;
}
