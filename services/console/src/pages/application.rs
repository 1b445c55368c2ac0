//! One application: where it stands and why, its credits with the burn-down chart, its office
//! hours, what is due next, its links and its whole history; and the actions its state allows
//! (each one the API's command, refused with the API's reason when it does not apply).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sandpiper_contracts::agenda::ItemStatus;
use sandpiper_contracts::events::{Envelope, EventType};
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::view::ApplicationView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Chrome;
use crate::Console;
use crate::api::ApiError;
use crate::chart;
use crate::display;
use crate::form::Values;
use crate::web::{PageError, Posted, SignedIn, page_with};

pub struct Fact {
    pub label: String,
    pub value: String,
}

pub struct TrancheLine {
    pub number: u32,
    pub amount: String,
    pub status: String,
    pub due: String,
    pub released: String,
    pub balance: String,
}

pub struct SessionLine {
    pub id: String,
    pub kind: String,
    pub when: String,
    pub participants: String,
    pub feedback: Vec<String>,
}

pub struct DueLine {
    pub when: String,
    pub title: String,
    pub rules: String,
    pub amount: String,
}

pub struct HistoryLine {
    pub time: String,
    pub event_type: String,
    pub detail: String,
}

pub struct Link {
    pub label: &'static str,
    pub id: String,
}

/// Which actions the application's state allows now.
pub struct Actions {
    pub edit: bool,
    pub cancel: bool,
    pub recall: bool,
    pub consumption: bool,
    pub concern: bool,
    pub feedback: bool,
    pub decide: bool,
}

#[derive(Template)]
#[template(path = "application.html")]
struct ApplicationPage {
    chrome: Chrome,
    id: String,
    startup: String,
    state: String,
    state_value: String,
    revision: u64,
    notice: String,
    error: String,
    standing: Vec<Fact>,
    components: Vec<Fact>,
    reasons: Vec<String>,
    rules: String,
    next_tier: Vec<String>,
    /// The filing in Partner Central, AWS's statuses, and the forecast beside AWS's decision.
    partner_central: Vec<Fact>,
    credits: Vec<Fact>,
    tranches: Vec<TrancheLine>,
    chart: String,
    window: Vec<Fact>,
    sessions: Vec<SessionLine>,
    due: Vec<DueLine>,
    links: Vec<Link>,
    history: Vec<HistoryLine>,
    actions: Actions,
    account: String,
    today: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    #[serde(default)]
    done: String,
}

fn parse_id(id: &str) -> Result<ApplicationId, PageError> {
    ApplicationId::parse(id).map_err(|_| PageError::BadRequest(format!("{id:?} is not an application id")))
}

fn allows(view: &ApplicationView, event: EventType) -> bool {
    view.state.apply(event).is_ok()
}

fn fact(label: &str, value: impl Into<String>) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

/// A decision's outcome in a phrase.
fn outcome_phrase(decision: &sandpiper_contracts::view::Decision) -> String {
    match (&decision.outcome, decision.tier_usd) {
        (Some(_), Some(tier)) => format!("Approved at {}", display::tier(tier)),
        (Some(_), None) => "Rejected".to_owned(),
        (None, _) => "Classified; the review decides next".to_owned(),
    }
}

/// The application in Partner Central (issue #17): the ids the ACE connector filed, what AWS last
/// showed, and the review simulation's forecast beside AWS's decision.
fn partner_central_facts(view: &ApplicationView) -> Vec<Fact> {
    let wire = |value: serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    let mut facts = Vec::new();
    if let Some(ace) = &view.ace {
        facts.push(fact("Catalog", ace.catalog.clone()));
        facts.push(fact("Opportunity", ace.opportunity_id.clone()));
        facts.push(fact("Benefit application", ace.benefit_application_id.clone()));
        facts.push(fact("Filed", display::moment(&ace.filed_at)));
        if let Some(status) = ace.review_status {
            facts.push(fact("Opportunity review (AWS)", wire(serde_json::json!(status))));
        }
        if let Some(status) = ace.benefit_application_status {
            facts.push(fact("Benefit application (AWS)", wire(serde_json::json!(status))));
        }
        if let Some(comments) = ace.status_reason.as_ref().or(ace.review_comments.as_ref()) {
            facts.push(fact("AWS's comments", comments.clone()));
        }
        if let Some(at) = &ace.changed_at {
            facts.push(fact("Last changed in AWS", display::moment(at)));
        }
    }
    if let Some(forecast) = &view.forecast {
        facts.push(fact("Forecast (review simulation)", outcome_phrase(forecast)));
        let actual = view
            .decision
            .as_ref()
            .filter(|d| d.outcome.is_some())
            .map_or_else(|| "Waiting for AWS".to_owned(), outcome_phrase);
        facts.push(fact("Decision (AWS)", actual));
    }
    facts
}

/// What a history entry says, in a line (the payload's own words, shortened).
fn history_detail(event: &Envelope) -> String {
    let text = match &event.data {
        Value::Object(map) if map.is_empty() => String::new(),
        other => other.to_string(),
    };
    let mut short: String = text.chars().take(240).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

fn notice_for(done: &str) -> &'static str {
    match done {
        "submitted" => "Submitted. The review decides after its review period.",
        "consumption" => "Consumption recorded.",
        "concern" => "Concern recorded.",
        "feedback" => "Feedback recorded.",
        "decision" => "Decision recorded.",
        "recall" => "Recalled: the application is a draft again.",
        "cancel" => "Canceled.",
        _ => "",
    }
}

async fn draw(
    console: &Console,
    user: &SignedIn,
    id: &ApplicationId,
    notice: String,
    error: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let view: ApplicationView = console
        .api
        .get(&user.principal, &format!("/v1/applications/{id}"))
        .await?;
    let history: Vec<Envelope> = console
        .api
        .get(&user.principal, &format!("/v1/applications/{id}/events"))
        .await?;
    let now = console.clock.now();

    let mut standing = vec![
        fact("State", display::state(view.state)),
        fact("Service", view.body.service.clone().unwrap_or_default()),
        fact("Created", display::moment(&view.created_at)),
    ];
    if let Some(at) = &view.submitted_at {
        standing.push(fact("Submitted", display::moment(at)));
    }
    let (mut components, mut reasons, mut rules, mut next_tier) = (Vec::new(), Vec::new(), String::new(), Vec::new());
    if let Some(decision) = &view.decision {
        standing.push(fact("Pool", display::programme(decision.pool)));
        standing.push(fact("Decision", outcome_phrase(decision)));
        standing.push(fact("Decided", display::moment(&decision.decided_at)));
        standing.push(fact("Catalog version", decision.catalog_version.clone()));
        if let Some(c) = &decision.components {
            for (name, score) in [
                ("Use case", &c.use_case),
                ("Metrics", &c.metrics),
                ("Window", &c.window),
                ("Budget", &c.budget),
            ] {
                let rules = score.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
                let strength = match score.strength {
                    sandpiper_contracts::decision::Strength::Strong => "strong",
                    sandpiper_contracts::decision::Strength::Weak => "weak",
                };
                components.push(fact(name, format!("{strength}: {} ({rules})", score.reasons.join(" "))));
            }
        }
        reasons = decision.reasons.clone();
        rules = decision.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        next_tier = decision.next_tier.clone();
    }
    let partner_central = partner_central_facts(&view);
    if let Some(recalled) = &view.recalled {
        standing.push(fact(
            "Last recalled",
            format!("{}: {}", display::moment(&recalled.at), recalled.reason),
        ));
    }
    if let Some(canceled) = &view.canceled {
        standing.push(fact(
            "Canceled",
            format!("{}: {}", display::moment(&canceled.at), canceled.reason),
        ));
    }
    if let Some(team) = &view.team_decision {
        let notes = team.notes.clone().unwrap_or_default();
        standing.push(fact(
            "Team decision",
            format!("{:?} on {} {notes}", team.decision, display::day(&team.decided_at)).to_lowercase(),
        ));
    }

    let mut credits = Vec::new();
    let mut tranches = Vec::new();
    if let Some(c) = &view.credits {
        credits = vec![
            fact("Granted", display::usd(c.amount_usd)),
            fact("Balance", display::usd(c.balance_usd)),
            fact("Consumed", display::usd(c.consumed_usd)),
            fact("Overage", display::usd(c.overage_usd)),
            fact("Clawed back", display::usd(c.clawed_back_usd)),
            fact("Forfeited", display::usd(c.forfeited_usd)),
            fact("Expired", display::usd(c.expired_usd)),
            fact("Tranches", if c.split { "two (split)" } else { "one" }),
        ];
        tranches = c
            .tranches
            .iter()
            .map(|t| TrancheLine {
                number: t.number,
                amount: display::usd(t.amount_usd),
                status: format!("{:?}", t.status).to_lowercase(),
                due: display::day(&t.due_at),
                released: t.released_at.as_ref().map(display::day).unwrap_or_else(|| "–".into()),
                balance: display::usd(t.balance_usd),
            })
            .collect();
    }
    let mut window = Vec::new();
    let mut svg = String::new();
    if let Some(w) = &view.window {
        window = vec![
            fact("Window opens", display::day(&w.starts_at)),
            fact("Mid-window check-in", display::day(&w.mid_window_at)),
            fact("Window closes", display::day(&w.ends_at)),
            fact("Grace period ends", display::day(&w.grace_ends_at)),
            fact("Credits valid until", display::day(&w.expires_at)),
        ];
        let granted = view.credits.as_ref().map_or(0, |c| c.amount_usd);
        svg = chart::burn_down(&chart::balance_points(&history), w, granted, now).unwrap_or_default();
    }
    let sessions = view
        .office_hours
        .iter()
        .map(|s| SessionLine {
            id: s.id.clone(),
            kind: s.kind.as_str().replace('_', " "),
            when: format!("{} to {}", display::moment(&s.starts_at), s.ends_at.format("%H:%M UTC")),
            participants: s.participants.join(", "),
            feedback: s
                .feedback
                .iter()
                .map(|f| format!("{}: {}", display::day(&f.recorded_at), f.note))
                .collect(),
        })
        .collect();
    let mut items: Vec<_> = sandpiper_rules::agenda::items(&view, now)
        .into_iter()
        .filter(|i| i.status == ItemStatus::Scheduled && (i.at >= now || i.ends_at.is_some_and(|e| e >= now)))
        .collect();
    sandpiper_rules::agenda::sort(&mut items);
    let due = items
        .iter()
        .map(|i| DueLine {
            when: display::moment(&i.at),
            title: i.title.clone(),
            rules: i.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
            amount: i.amount_usd.map(display::usd).unwrap_or_default(),
        })
        .collect();
    let mut links = Vec::new();
    for (label, link) in [
        ("Redirected to", view.links.redirected_to),
        ("Graduated to", view.links.graduated_to),
        ("Originated from", view.links.originated_from),
    ] {
        if let Some(id) = link {
            links.push(Link {
                label,
                id: id.to_string(),
            });
        }
    }
    let history = history
        .iter()
        .map(|e| HistoryLine {
            time: display::moment(&e.time),
            event_type: e.event_type.clone(),
            detail: history_detail(e),
        })
        .collect();
    let actions = Actions {
        edit: view.state == sandpiper_contracts::state::State::Draft,
        cancel: allows(&view, EventType::Canceled),
        recall: allows(&view, EventType::Recalled),
        consumption: view.credits.is_some() && allows(&view, EventType::ConsumptionRecorded),
        concern: view.credits.is_some() && allows(&view, EventType::ConcernRecorded),
        feedback: !view.office_hours.is_empty() && allows(&view, EventType::FeedbackRecorded),
        decide: view.team_decision.is_none() && allows(&view, EventType::Graduated),
    };
    let account = view
        .body
        .startup
        .as_ref()
        .and_then(|s| s.aws_account_id.clone())
        .unwrap_or_default();
    page_with(
        status,
        &ApplicationPage {
            chrome: Chrome::of(user, console, "pipeline"),
            id: view.id.to_string(),
            startup: view.body.startup_name().unwrap_or("(unnamed)").to_owned(),
            state: display::state(view.state),
            state_value: view.state.as_str().to_owned(),
            revision: view.revision,
            notice,
            error,
            standing,
            components,
            reasons,
            rules,
            next_tier,
            partner_central,
            credits,
            tranches,
            chart: svg,
            window,
            sessions,
            due,
            links,
            history,
            actions,
            account,
            today: now.date_naive().to_string(),
        },
    )
}

pub async fn show(
    State(console): State<Console>,
    user: SignedIn,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    draw(
        &console,
        &user,
        &id,
        notice_for(&shown.done).into(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

fn text(values: &Values, name: &str) -> Option<String> {
    Some(values.get(name).trim().to_owned()).filter(|v| !v.is_empty())
}

/// The API command an action form stands for: its path under the application and its body.
fn command(action: &str, values: &Values) -> Result<(&'static str, Value), String> {
    match action {
        "consumption" => {
            let amount = values.get("amount_usd").trim().replace([',', '$'], "");
            let amount: i64 = amount
                .parse()
                .map_err(|_| format!("The amount {amount:?} is not a whole number of dollars."))?;
            Ok((
                "consumption",
                json!({"date": values.get("date").trim(), "amount_usd": amount, "note": text(values, "note")}),
            ))
        }
        "concern" => Ok((
            "concerns",
            json!({"blocking": values.get("blocking") == "on", "note": values.get("note")}),
        )),
        "decision" => Ok((
            "decision",
            json!({"decision": values.get("decision"), "notes": text(values, "notes")}),
        )),
        "recall" => Ok(("recall", json!({"reason": values.get("reason")}))),
        "cancel" => Ok(("cancel", json!({"reason": values.get("reason")}))),
        other => Err(format!("There is no action {other:?}.")),
    }
}

/// Runs an action form as the API's command, at the revision the page showed.
pub async fn act(
    State(console): State<Console>,
    Path((id, action)): Path<(String, String)>,
    post: Posted,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let (path, body) = match command(&action, &post.values) {
        Ok(command) => command,
        Err(message) => {
            return draw(
                &console,
                &post.user,
                &id,
                String::new(),
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let path = format!("/v1/applications/{id}/{path}");
    run(&console, &post, &id, &path, &body, &action).await
}

/// Records feedback notes against a session.
pub async fn feedback(
    State(console): State<Console>,
    Path((id, session)): Path<(String, String)>,
    post: Posted,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    if !session
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PageError::BadRequest(format!("{session:?} is not a session id")));
    }
    let path = format!("/v1/applications/{id}/office-hours/{session}/feedback");
    let body = json!({"note": post.values.get("note")});
    run(&console, &post, &id, &path, &body, "feedback").await
}

async fn run(
    console: &Console,
    post: &Posted,
    id: &ApplicationId,
    path: &str,
    body: &Value,
    done: &str,
) -> Result<Response, PageError> {
    let revision = post.values.get("revision").parse::<u64>().ok();
    let answer = console
        .api
        .call::<Value, _>(&post.user.principal, Method::POST, path, Some(body), revision)
        .await;
    match answer {
        Ok(_) => Ok(Redirect::to(&format!("/console/applications/{id}?done={done}")).into_response()),
        Err(ApiError::Refused(problem)) if problem.status != 404 && problem.status < 500 => {
            let mut message = problem.detail.clone();
            for error in &problem.errors {
                message.push_str(&format!(" {}: {}.", error.field, error.message));
            }
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT);
            draw(console, &post.user, id, String::new(), message, status).await
        }
        Err(err) => Err(err.into()),
    }
}

/// The application's office hours as an `.ics` file (the API's), for the signed-in user.
pub async fn ics(
    State(console): State<Console>,
    user: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let raw = console
        .api
        .raw::<()>(
            &user.principal,
            Method::GET,
            &format!("/v1/applications/{id}/office-hours.ics"),
            None,
            None,
        )
        .await?;
    if !raw.status.is_success() {
        let problem = serde_json::from_slice(&raw.body).unwrap_or_else(|_| {
            sandpiper_runtime::http::problem::Problem::http(raw.status, "the calendar is not available")
        });
        return Err(ApiError::Refused(problem).into());
    }
    Ok((
        [
            (header::CONTENT_TYPE, raw.content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"office-hours-{id}.ics\""),
            ),
        ],
        raw.body,
    )
        .into_response())
}
