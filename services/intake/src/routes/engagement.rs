//! The engagement after approval (DOMAIN §6–§9): consumption, concerns, session feedback, the
//! office-hours calendar, the team's decision, and a startup's credit position.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use sandpiper_contracts::answers::CreditPosition;
use sandpiper_contracts::engagement::{Concern, Consumption, TeamDecision};
use sandpiper_contracts::events::{ConcernRecorded, ConsumptionRecorded, EventPayload, FeedbackRecorded};
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::{FieldError, TextKind, control_message};
use sandpiper_contracts::rule::RuleId;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_rules::position::{self, Position};
use sandpiper_runtime::team_decision::{self, DecisionError, DecisionEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::errors::IntakeError;
use crate::revision::{IfMatch, IfMatchHeader, Tagged};
use crate::state::AppState;
use sandpiper_runtime::errors::error_chain;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::{ApiPath, AppId, JsonBody};
use sandpiper_runtime::http::problem::{ApiResult, Problem};

pub(crate) const MAX_NOTE_CHARS: usize = 5_000;

fn field(name: &str, message: impl Into<String>) -> Problem {
    Problem::validation(vec![FieldError {
        field: name.into(),
        message: message.into(),
        rule: None,
    }])
}

/// A partner's free text (a note, a reason): not blank, at most [`MAX_NOTE_CHARS`] characters,
/// multi-line (tabs and line breaks pass) but free of other control characters.
pub(crate) fn note_ok(name: &str, note: &str) -> ApiResult<()> {
    if note.trim().is_empty() {
        return Err(field(name, "must not be blank"));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(field(name, format!("at most {MAX_NOTE_CHARS} characters")));
    }
    if let Some(message) = control_message(note, TextKind::MultiLine) {
        return Err(field(name, message));
    }
    Ok(())
}

/// Refuses an event the application's state does not allow, naming the state (409).
fn allowed<P: EventPayload>(view: &ApplicationView, what: &str) -> ApiResult<()> {
    view.state.apply(P::TYPE).map(|_| ()).map_err(|_| {
        Problem::conflict(format!(
            "application {} is {}: {what} is not possible now",
            view.id,
            view.state.as_str()
        ))
    })
}

async fn record<P: EventPayload>(
    app: &AppState,
    view: &ApplicationView,
    payload: &P,
    if_match: &IfMatch,
) -> ApiResult<Tagged> {
    let view = app.command(view, payload, if_match).await?;
    Ok(Tagged::with_status(StatusCode::CREATED, view))
}

/// A consumption report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumptionReport {
    /// The day the consumption happened.
    pub date: NaiveDate,
    pub amount_usd: i64,
    pub note: Option<String>,
}

/// Reports consumption; it draws the balance down oldest tranche first, the excess is overage (TR7).
#[utoipa::path(
    post, path = "/v1/applications/{id}/consumption", tag = "engagement",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    request_body = ConsumptionReport,
    responses(
        (status = 201, description = "Recorded; the application with its balance", body = ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 412, description = "If-Match names another revision than the application\'s", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No credits to draw on in this state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad amount, date or note", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable (nothing was recorded), or the report is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn consumption(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<ConsumptionReport>,
) -> ApiResult<Tagged> {
    // What the body alone decides comes first: a request whose body is wrong is that whatever
    // state or revision the application is at.
    let report = body.value;
    if !(1..=100_000_000).contains(&report.amount_usd) {
        return Err(field(
            "amount_usd",
            "a positive whole number of dollars, at most 100000000",
        ));
    }
    if let Some(note) = &report.note {
        note_ok("note", note)?;
    }
    let view = app.writable(&caller, &id, &if_match).await?;
    allowed::<ConsumptionRecorded>(&view, "recording consumption")?;
    let today = app.clock.now().date_naive();
    if report.date > today {
        return Err(field(
            "date",
            format!("{} is in the future (today is {today})", report.date),
        ));
    }
    if let Some(window) = &view.window
        && report.date < window.starts_at.date_naive()
    {
        return Err(field(
            "date",
            format!(
                "{} is before the credits were applied ({})",
                report.date,
                window.starts_at.date_naive()
            ),
        ));
    }
    let event = ConsumptionRecorded {
        consumption: Consumption {
            date: report.date,
            amount_usd: report.amount_usd,
            note: report.note,
        },
    };
    record(&app, &view, &event, &if_match).await
}

/// A concern the team raises.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcernReport {
    /// A blocking concern requests an ad-hoc session (OH3) and, before the mid-window check-in,
    /// withholds tranche 2 (TR3).
    pub blocking: bool,
    pub note: String,
}

/// Records a concern.
#[utoipa::path(
    post, path = "/v1/applications/{id}/concerns", tag = "engagement",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    request_body = ConcernReport,
    responses(
        (status = 201, description = "Recorded", body = ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 412, description = "If-Match names another revision than the application\'s", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No engagement in this state", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad note", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable (nothing was recorded), or the concern is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn concern(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<ConcernReport>,
) -> ApiResult<Tagged> {
    note_ok("note", &body.value.note)?;
    let view = app.writable(&caller, &id, &if_match).await?;
    allowed::<ConcernRecorded>(&view, "recording a concern")?;
    let concern = Concern {
        id: format!("concern-{}", view.concerns.len() + 1),
        blocking: body.value.blocking,
        note: body.value.note,
        recorded_at: app.clock.now(),
    };
    record(&app, &view, &ConcernRecorded { concern }, &if_match).await
}

/// Feedback notes for a session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackNote {
    pub note: String,
}

/// Records feedback notes against an office-hours session (OH6).
#[utoipa::path(
    post, path = "/v1/applications/{id}/office-hours/{session}/feedback", tag = "engagement",
    params(("id" = ApplicationId, Path, description = "The application id"), ("session" = String, Path, description = "The session id: kickoff, mid_window, closing or ad-hoc-N"), IfMatchHeader),
    request_body = FeedbackNote,
    responses(
        (status = 201, description = "Recorded", body = ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 412, description = "If-Match names another revision than the application\'s", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or session", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad note", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable (nothing was recorded), or the feedback is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn feedback(
    State(app): State<AppState>,
    caller: Principal,
    ApiPath((_, session)): ApiPath<(String, String)>,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<FeedbackNote>,
) -> ApiResult<Tagged> {
    note_ok("note", &body.value.note)?;
    let view = app.writable(&caller, &id, &if_match).await?;
    if !view.office_hours.iter().any(|s| s.id == session) {
        return Err(Problem::not_found(format!(
            "application {id} has no office-hours session {session:?}"
        )));
    }
    allowed::<FeedbackRecorded>(&view, "recording feedback")?;
    let event = FeedbackRecorded {
        session_id: session,
        note: body.value.note,
    };
    record(&app, &view, &event, &if_match).await
}

/// The team's decision at window close.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: TeamDecision,
    pub notes: Option<String>,
}

/// Records the team's decision after the window closed (G1): graduate (G2) or retire (G3).
#[utoipa::path(
    post, path = "/v1/applications/{id}/decision", tag = "engagement",
    params(("id" = ApplicationId, Path, description = "The application id"), IfMatchHeader),
    request_body = DecisionRequest,
    responses(
        (status = 201, description = "Recorded", body = ApplicationView, headers(("ETag" = String, description = "The new revision"))),
        (status = 412, description = "If-Match names another revision than the application\'s", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application for this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Before the window closed, or already decided", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The event store is unavailable (nothing was recorded), or the decision is stored but not yet visible; read again shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn decision(
    State(app): State<AppState>,
    caller: Principal,
    AppId(id): AppId,
    if_match: IfMatch,
    body: JsonBody<DecisionRequest>,
) -> ApiResult<Tagged> {
    let DecisionRequest { decision, notes } = body.value;
    if let Some(n) = &notes {
        note_ok("notes", n)?;
    }
    let view = app.writable(&caller, &id, &if_match).await?;
    let prepared = team_decision::prepare(&app.publisher, &app.catalogs, &view, decision, notes)
        .await
        .map_err(|err| match err {
            DecisionError::NotOwed(why) => Problem::conflict(why),
            DecisionError::LinkedDraft { application, source } => {
                IntakeError::LinkedDraft { application, source }.into()
            }
        })?;
    if let Some(published) = &prepared.linked_draft {
        // Folded at once, so the linked draft is readable when the graduation answers.
        if let Err(err) = app.fold_published(published).await {
            tracing::warn!(error = %error_chain(&err), "the linked draft is stored but not yet readable");
        }
    }
    match prepared.event {
        DecisionEvent::Retired(event) => record(&app, &view, &event, &if_match).await,
        DecisionEvent::Graduated(event) => record(&app, &view, &event, &if_match).await,
    }
}

/// The startup's credit stack and total across its applications (CP1).
#[utoipa::path(
    get, path = "/v1/accounts/{aws_account_id}/credit-position", tag = "engagement",
    params(("aws_account_id" = String, Path, description = "The startup's 12-digit AWS account id")),
    responses(
        (status = 200, description = "The position", body = CreditPosition),
        (status = 404, description = "No application of this caller names that account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn credit_position(
    State(app): State<AppState>,
    caller: Principal,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<Json<CreditPosition>> {
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Problem::not_found(format!(
            "{account:?} is not an AWS account id (12 digits)"
        )));
    }
    let views = app.projection.for_account(caller.partner(), &account).await?;
    if views.is_empty() {
        return Err(Problem::not_found(format!("no application names account {account}")));
    }
    let Position { parts, total_usd } = position::credit_position(&views);
    Ok(Json(CreditPosition {
        aws_account_id: account,
        parts,
        total_usd,
        standard_stack_ceiling_usd: position::STANDARD_STACK_CEILING_USD,
        typical_with_sandbox_usd: position::TYPICAL_WITH_SANDBOX_USD,
        rules: vec![RuleId::CP1],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str, note: &str) -> Option<Vec<FieldError>> {
        note_ok(name, note).err().map(|p| p.errors)
    }

    #[test]
    fn a_note_with_a_control_character_is_refused_naming_the_field() {
        for bad in ["Evil\u{0}Corp", "bell\u{7}", "esc\u{1b}[2J", "del\u{7f}", "c1\u{9b}"] {
            let errors = refused("reason", bad).unwrap_or_else(|| panic!("{bad:?} was accepted"));
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "reason");
            assert!(errors[0].message.contains("control character"), "{errors:?}");
        }
    }

    #[test]
    fn a_note_may_span_lines() {
        assert_eq!(refused("note", "first line\r\n\tsecond line\n"), None);
        assert_eq!(
            refused("note", " \n\t ").map(|e| e[0].message.clone()).as_deref(),
            Some("must not be blank")
        );
    }
}
