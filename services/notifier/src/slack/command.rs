//! `/sandpiper`: the slash command (`status <application id or startup name>`, `agenda [days]`,
//! `help`), and the admin's routes that map a Slack workspace to a partner.
//!
//! Slack posts the command form-encoded and waits 3 seconds. An answer is one read of the read
//! model (a status by id) or one pass over the partner's summaries (by name, an agenda), inside
//! that as a rule; one that is not ready in time (a slow store) is answered "working on it" at
//! once and goes through the request's `response_url` when it is. The answer is ephemeral: only
//! the person who asked sees it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::record::Summary;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{ApiPath, JsonBody};
use sandpiper_runtime::http::problem::{ApiResult, Problem};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::render::escape;
use crate::slack::workspaces::{Workspace, WorkspaceError, is_team_id};
use crate::slack::{SlackState, agenda};

impl From<WorkspaceError> for Problem {
    fn from(err: WorkspaceError) -> Problem {
        Problem::unavailable("the Slack workspace store is unavailable; retry shortly").logged(&err)
    }
}

/// The fields of Slack's slash-command request this command reads.
#[derive(Debug, Deserialize)]
struct SlashRequest {
    team_id: String,
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    text: String,
    /// Where a late answer goes (for 30 minutes, up to 5 times): Slack gives up on the request
    /// itself after 3 seconds.
    #[serde(default)]
    response_url: Option<String>,
}

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    /// An application id, or (part of) a startup's name.
    Status(String),
    /// The coming days' agenda; the days as typed (checked by [`agenda::days`]).
    Agenda(Option<String>),
}

impl Command {
    /// Parses the text after `/sandpiper`; anything unknown is help.
    pub fn parse(text: &str) -> Command {
        let text = text.trim();
        let (verb, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        match (verb.to_ascii_lowercase().as_str(), rest.trim()) {
            ("status", query) if !query.is_empty() => Command::Status(query.to_owned()),
            ("agenda", "") => Command::Agenda(None),
            ("agenda", days) => Command::Agenda(Some(days.to_owned())),
            _ => Command::Help,
        }
    }
}

/// An ephemeral Block Kit answer.
fn ephemeral(text: &str, blocks: Vec<Value>) -> Value {
    json!({"response_type": "ephemeral", "text": text, "blocks": blocks})
}

pub(crate) fn section(markdown: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": markdown}})
}

fn help() -> Value {
    let text = "*`/sandpiper status <application id or startup name>`*: where an application stands, what was decided, what is due next.\n*`/sandpiper agenda [days]`*: what falls due across your applications in the coming days (7 unless named, at most 60).\n*`/sandpiper help`*: this.";
    ephemeral("Sandpiper: how to ask", vec![section(text)])
}

/// `POST /slack/commands`: answered within [`SlackShared::answer_within`] (under Slack's 3
/// seconds), or else at once with "working on it" and, when the answer is ready, through the
/// request's `response_url`.
///
/// [`SlackShared::answer_within`]: crate::slack::SlackShared::answer_within
pub async fn slash(State(state): State<SlackState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let request: SlashRequest = state.verified_form(&headers, &body, "slash command")?;
    let response_url = request.response_url.clone();
    // Its own task, so it goes on when this request is answered without it.
    let mut answering = tokio::spawn(answer(state.clone(), request));
    // 0 sends every answer the slow way (a task done in the moment before the first poll would
    // otherwise race it).
    let within = state.0.answer_within;
    let in_time = if within.is_zero() {
        None
    } else {
        tokio::time::timeout(within, &mut answering).await.ok()
    };
    let Some(joined) = in_time else {
        let Some(url) = response_url else {
            // Nowhere to send it later: Slack will show its own timeout, but the answer still
            // goes out on this request if Slack is still listening.
            return Ok(Json(finished(answering.await)).into_response());
        };
        tokio::spawn(async move {
            let message = finished(answering.await);
            super::post_to_response_url(&state, &url, &message).await;
        });
        return Ok(Json(ephemeral(
            "Working on it…",
            vec![section("Working on it: the answer follows in a moment.")],
        ))
        .into_response());
    };
    Ok(Json(finished(joined)).into_response())
}

/// The answer's message, or one saying why there is none (a panic or a store failure).
fn finished(joined: Result<ApiResult<Value>, tokio::task::JoinError>) -> Value {
    let problem = match joined {
        Ok(Ok(message)) => return message,
        Ok(Err(problem)) => problem.detail,
        Err(err) => {
            tracing::error!(error = %err, "a slash command's answer failed");
            "the answer failed".to_owned()
        }
    };
    ephemeral(
        "Sandpiper could not answer.",
        vec![section(&format!("Sandpiper could not answer: {}", escape(&problem)))],
    )
}

/// What `/sandpiper …` answers.
async fn answer(state: SlackState, request: SlashRequest) -> ApiResult<Value> {
    let Some(workspace) = state.0.workspaces.get(&request.team_id).await? else {
        return Ok(ephemeral(
            "This Slack workspace is not connected to Sandpiper.",
            vec![section(&format!(
                "This Slack workspace (`{}`) is not connected to a Sandpiper partner, so it sees no applications. Ask your Sandpiper admin to connect it.",
                escape(&request.team_id)
            ))],
        ));
    };
    if !workspace.allows(&request.channel_id) {
        return Ok(ephemeral(
            "Sandpiper is not used in this channel.",
            vec![section(
                "Sandpiper answers in the channels your admin connected, not in this one.",
            )],
        ));
    }
    match Command::parse(&request.text) {
        Command::Help => Ok(help()),
        Command::Status(query) => status(&state, &workspace.partner_id, &query).await,
        Command::Agenda(days) => match agenda::days(days.as_deref()) {
            Ok(days) => {
                let (text, blocks) = agenda::answer(&state, &workspace.partner_id, days).await?;
                Ok(ephemeral(&text, blocks))
            }
            Err(why) => Ok(ephemeral("Not a number of days.", vec![section(&why)])),
        },
    }
}

async fn status(state: &SlackState, partner: &PartnerId, query: &str) -> ApiResult<Value> {
    if let Ok(id) = ApplicationId::parse(query) {
        let stored = state.0.views.load(partner, &id).await?;
        return Ok(match stored {
            Some(stored) => ephemeral(&summary_line(&stored.record.view), status_blocks(&stored.record.view)),
            None => ephemeral(
                "No such application.",
                vec![section(&format!(
                    "No application `{}` for this workspace.",
                    escape(query)
                ))],
            ),
        });
    }
    let matches = by_name(state, partner, query).await?;
    match matches.as_slice() {
        [] => Ok(ephemeral(
            "No such application.",
            vec![section(&format!(
                "No application of a startup named like “{}”.",
                escape(query)
            ))],
        )),
        [(id, _)] => match state.0.views.load(partner, id).await? {
            Some(stored) => Ok(ephemeral(
                &summary_line(&stored.record.view),
                status_blocks(&stored.record.view),
            )),
            None => Ok(ephemeral("No such application.", vec![])),
        },
        many => {
            let lines: Vec<String> = many
                .iter()
                .take(10)
                .map(|(id, s)| {
                    format!(
                        "• {} `{id}` ({})",
                        escape(s.startup_name.as_deref().unwrap_or("-")),
                        s.state.as_str()
                    )
                })
                .collect();
            Ok(ephemeral(
                "Several applications match.",
                vec![section(&format!(
                    "{} applications match; ask with an id:\n{}",
                    many.len(),
                    lines.join("\n")
                ))],
            ))
        }
    }
}

/// The partner's applications whose startup name contains `query` (case-insensitive), an exact
/// name alone when there is one.
async fn by_name(state: &SlackState, partner: &PartnerId, query: &str) -> ApiResult<Vec<(ApplicationId, Summary)>> {
    let needle = query.to_lowercase();
    let mut found: Vec<(ApplicationId, Summary)> = crate::portfolio::summaries(&state.0.views, partner)
        .await?
        .into_iter()
        .filter(|(_, s)| {
            s.startup_name
                .as_ref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
        })
        .collect();
    if let Some(exact) = found
        .iter()
        .position(|(_, s)| s.startup_name.as_deref().is_some_and(|n| n.to_lowercase() == needle))
    {
        let one = found.swap_remove(exact);
        return Ok(vec![one]);
    }
    Ok(found)
}

fn summary_line(view: &ApplicationView) -> String {
    let name = view
        .body
        .startup
        .as_ref()
        .and_then(|s| s.name.as_deref())
        .unwrap_or("-");
    format!("{name}: {}", view.state.as_str())
}

fn usd(n: i64) -> String {
    crate::render::usd(n)
}

/// Where it stands, what was decided and why, the credits, the window, what is next.
pub fn status_blocks(view: &ApplicationView) -> Vec<Value> {
    let name = escape(
        view.body
            .startup
            .as_ref()
            .and_then(|s| s.name.as_deref())
            .unwrap_or("-"),
    );
    let service = escape(view.body.service.as_deref().unwrap_or("-"));
    let mut lines = vec![format!(
        "*{name}* · `{}` · *{}*",
        view.id,
        view.state.as_str().replace('_', " ")
    )];
    lines.push(format!("*Service:* {service}"));
    if let Some(decision) = &view.decision {
        let tier = decision.tier_usd.map(usd).unwrap_or_else(|| "not yet reviewed".into());
        let rules: Vec<String> = decision.rules.iter().map(|r| r.to_string()).collect();
        lines.push(format!(
            "*Pool:* {} · *Tier:* {tier} · *Rules:* {}",
            decision.pool.as_str(),
            rules.join(", ")
        ));
        if let Some(reason) = decision.reasons.first() {
            lines.push(format!("> {}", escape(reason)));
        }
    }
    if let Some(credits) = &view.credits {
        lines.push(format!(
            "*Balance:* {} of {} · *consumed* {}",
            usd(credits.balance_usd),
            usd(credits.amount_usd),
            usd(credits.consumed_usd)
        ));
    }
    if let Some(window) = &view.window {
        lines.push(format!(
            "*Window:* {} → {} · *valid until* {}",
            window.starts_at.format("%Y-%m-%d"),
            window.ends_at.format("%Y-%m-%d"),
            window.expires_at.format("%Y-%m-%d")
        ));
    }
    if let Some(w) = &view.recalled
        && view.state == sandpiper_contracts::state::State::Draft
    {
        lines.push(format!("*Recalled:* {}", escape(&w.reason)));
    }
    if let Some(w) = &view.canceled {
        lines.push(format!("*Canceled:* {}", escape(&w.reason)));
    }
    if view.state == sandpiper_contracts::state::State::WindowClosed && view.team_decision.is_none() {
        lines.push("*Next:* a decision is owed: graduate or retire (G1).".into());
    }
    vec![section(&lines.join("\n"))]
}

// ---- The admin's mapping ---------------------------------------------------------------------

fn team(team: &str) -> ApiResult<&str> {
    if is_team_id(team) {
        Ok(team)
    } else {
        Err(Problem::not_found(format!(
            "{team:?} is not a Slack team id (T followed by capitals and digits)"
        )))
    }
}

/// `PUT /v1/slack/workspaces/{team_id}` (admin): connects a workspace to a partner.
pub async fn put_workspace(
    State(state): State<SlackState>,
    caller: Principal,
    ApiPath(team_id): ApiPath<String>,
    body: JsonBody<Workspace>,
) -> ApiResult<Json<Value>> {
    caller.require_admin("map Slack workspaces")?;
    let team_id = team(&team_id)?;
    state.0.workspaces.put(team_id, &body.value).await?;
    tracing::info!(team = team_id, partner = %body.value.partner_id, "Slack workspace mapped");
    Ok(Json(json!({"team_id": team_id, "workspace": body.value})))
}

/// `GET /v1/slack/workspaces` (admin).
pub async fn list_workspaces(State(state): State<SlackState>, caller: Principal) -> ApiResult<Json<Value>> {
    caller.require_admin("map Slack workspaces")?;
    let all = state.0.workspaces.list().await?;
    Ok(Json(Value::Array(
        all.into_iter()
            .map(|(team_id, workspace)| json!({"team_id": team_id, "workspace": workspace}))
            .collect(),
    )))
}

/// `DELETE /v1/slack/workspaces/{team_id}` (admin): the workspace sees nothing from then on.
pub async fn delete_workspace(
    State(state): State<SlackState>,
    caller: Principal,
    ApiPath(team_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    caller.require_admin("map Slack workspaces")?;
    let team_id = team(&team_id)?;
    state.0.workspaces.delete(team_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_anything_else_is_help() {
        assert_eq!(
            Command::parse("status 01J0000000000000000000000A"),
            Command::Status("01J0000000000000000000000A".into())
        );
        assert_eq!(
            Command::parse("  STATUS   Helpdesk Autopilot "),
            Command::Status("Helpdesk Autopilot".into())
        );
        assert_eq!(Command::parse("agenda"), Command::Agenda(None));
        assert_eq!(Command::parse("Agenda 14"), Command::Agenda(Some("14".into())));
        for other in ["", "help", "status", "status   ", "graduate everything"] {
            assert_eq!(Command::parse(other), Command::Help, "{other:?}");
        }
    }
}
