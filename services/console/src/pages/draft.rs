//! New application and edit draft: the form, the preflight beside it (live as the user types,
//! through `POST /console/preflight`, and drawn on the server with every page), save and submit.

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sandpiper_contracts::answers::{Preflight, PreflightDecision};
use sandpiper_contracts::decision::{ComponentScore, Strength};
use sandpiper_contracts::model::{ApplicationDraft, FieldError};
use sandpiper_contracts::state::State as Lifecycle;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::http::auth::Principal;

use super::Chrome;
use crate::Console;
use crate::api::ApiError;
use crate::display;
use crate::form::{self, RowMap, Section, Values};
use crate::web::{PageError, Posted, SignedIn, page_with};

/// One component's score as the panel shows it.
pub struct ComponentLine {
    pub name: &'static str,
    pub strong: bool,
    pub strength: &'static str,
    pub reasons: String,
    pub rules: String,
}

/// The preflight panel: what the review would decide for the form as it stands.
#[derive(Default)]
pub struct Panel {
    /// `approved`, `rejected`, `redirected`, or `incomplete` (the API listed fields to fix).
    pub decision: String,
    pub headline: String,
    pub tier_usd: String,
    pub components: Vec<ComponentLine>,
    pub reasons: Vec<String>,
    pub rules: String,
    pub next_tier: Vec<String>,
    pub review_period: String,
    pub catalog_version: String,
    /// For an incomplete form: what to fix, as the API said it.
    pub to_fix: Vec<String>,
}

fn component(name: &'static str, score: &ComponentScore) -> ComponentLine {
    let strong = score.strength == Strength::Strong;
    ComponentLine {
        name,
        strong,
        strength: if strong { "strong" } else { "weak" },
        reasons: score.reasons.join(" "),
        rules: rule_list(&score.rules),
    }
}

fn rule_list(rules: &[sandpiper_contracts::rule::RuleId]) -> String {
    rules.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

impl Panel {
    fn of(preflight: &Preflight) -> Panel {
        let pool = display::programme(preflight.pool);
        let (decision, headline) = match (preflight.decision, preflight.tier_usd) {
            (PreflightDecision::Approved, Some(tier)) => (
                "approved",
                format!("Would be approved at {} in {pool}", display::tier(tier)),
            ),
            (PreflightDecision::Approved, None) => ("approved", format!("Would be approved in {pool}")),
            (PreflightDecision::Rejected, _) => ("rejected", format!("Would be rejected in {pool}")),
            (PreflightDecision::Redirected, _) => ("redirected", format!("Would be redirected to {pool}")),
        };
        let components = preflight
            .components
            .as_ref()
            .map(|c| {
                vec![
                    component("Use case", &c.use_case),
                    component("Metrics", &c.metrics),
                    component("Window", &c.window),
                    component("Budget", &c.budget),
                ]
            })
            .unwrap_or_default();
        Panel {
            decision: decision.into(),
            headline,
            tier_usd: preflight.tier_usd.map(|t| t.to_string()).unwrap_or_default(),
            components,
            reasons: preflight.reasons.clone(),
            rules: rule_list(&preflight.rules),
            next_tier: preflight.next_tier.clone(),
            review_period: preflight
                .review_period_days
                .map(|d| format!("The decision would come {d} days after submission (T6)."))
                .unwrap_or_default(),
            catalog_version: preflight.catalog_version.clone(),
            to_fix: Vec::new(),
        }
    }

    fn incomplete(errors: &[FieldError], rows: &RowMap) -> Panel {
        Panel {
            decision: "incomplete".into(),
            headline: format!(
                "Not complete yet: {} {} to fix before it can be scored",
                errors.len(),
                if errors.len() == 1 { "field" } else { "fields" }
            ),
            to_fix: errors.iter().map(|e| describe(e, rows)).collect(),
            ..Panel::default()
        }
    }

    fn empty() -> Panel {
        Panel {
            decision: "empty".into(),
            headline: "Fill in the form to see how it would be reviewed.".into(),
            ..Panel::default()
        }
    }
}

/// An error as the panel lists it: the input's label (its path when the form has no such
/// input), what is wrong, and the rule.
fn describe(error: &FieldError, rows: &RowMap) -> String {
    let rule = error.rule.map(|r| format!(" ({})", r.as_str())).unwrap_or_default();
    if error.field.is_empty() {
        return format!("{}{rule}", error.message);
    }
    let input = rows.input_for(&error.field);
    let name = form::label_of(&input).unwrap_or(error.field.clone());
    format!("{name}: {}{rule}", error.message)
}

/// The preflight for a form, and the errors to show by its inputs.
async fn score(
    console: &Console,
    principal: &Principal,
    draft: &ApplicationDraft,
    rows: &RowMap,
    form_errors: Vec<FieldError>,
) -> Result<(Panel, Vec<(String, String)>), PageError> {
    let by_input = |errors: &[FieldError]| -> Vec<(String, String)> {
        errors
            .iter()
            .map(|e| {
                let rule = e.rule.map(|r| format!(" ({})", r.as_str())).unwrap_or_default();
                (rows.input_for(&e.field), format!("{}{rule}", e.message))
            })
            .collect()
    };
    if !form_errors.is_empty() {
        return Ok((Panel::incomplete(&form_errors, rows), by_input(&form_errors)));
    }
    if *draft == ApplicationDraft::default() {
        return Ok((Panel::empty(), Vec::new()));
    }
    match console
        .api
        .post::<Preflight, _>(principal, "/v1/preflight", draft, None)
        .await
    {
        Ok(preflight) => Ok((Panel::of(&preflight), Vec::new())),
        Err(ApiError::Refused(problem)) if problem.status == 422 => {
            let errors = if problem.errors.is_empty() {
                vec![FieldError {
                    field: String::new(),
                    message: problem.detail.clone(),
                    rule: None,
                }]
            } else {
                problem.errors.clone()
            };
            Ok((Panel::incomplete(&errors, rows), by_input(&errors)))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "draft.html")]
struct DraftPage {
    chrome: Chrome,
    heading: String,
    /// Where the form posts.
    action: String,
    sections: Vec<Section>,
    preflight: Panel,
    revision: String,
    /// An admin's filing partner, as typed (kept when the form is drawn again).
    partner: String,
    notice: String,
    error: String,
}

#[derive(Template)]
#[template(path = "preflight.html")]
struct PreflightFragment {
    preflight: Panel,
}

struct Drawn {
    values: Values,
    errors: Vec<(String, String)>,
    preflight: Panel,
}

async fn draw(
    console: &Console,
    user: &SignedIn,
    view: Option<&ApplicationView>,
    drawn: Drawn,
    notice: String,
    error: String,
    status: StatusCode,
) -> Result<Response, PageError> {
    let services = super::services(console, &user.principal).await?;
    let (heading, action, revision, current) = match view {
        Some(view) => (
            format!("Edit draft: {}", view.body.startup_name().unwrap_or("(unnamed)")),
            format!("/console/applications/{}/edit", view.id),
            view.revision.to_string(),
            "pipeline",
        ),
        None => (
            "New application".to_owned(),
            "/console/applications".to_owned(),
            String::new(),
            "new",
        ),
    };
    page_with(
        status,
        &DraftPage {
            chrome: Chrome::of(user, console, current),
            heading,
            action,
            sections: form::sections(&drawn.values, &drawn.errors, &services),
            partner: drawn.values.get("partner_id").to_owned(),
            preflight: drawn.preflight,
            revision,
            notice,
            error,
        },
    )
}

pub async fn new_form(State(console): State<Console>, user: SignedIn) -> Result<Response, PageError> {
    let drawn = Drawn {
        values: Values::default(),
        errors: Vec::new(),
        preflight: Panel::empty(),
    };
    draw(
        &console,
        &user,
        None,
        drawn,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn draft_view(console: &Console, user: &SignedIn, id: &str) -> Result<ApplicationView, PageError> {
    let id = sandpiper_contracts::ids::ApplicationId::parse(id)
        .map_err(|_| PageError::BadRequest(format!("{id:?} is not an application id")))?;
    Ok(console
        .api
        .get(&user.principal, &format!("/v1/applications/{id}"))
        .await?)
}

pub async fn edit_form(
    State(console): State<Console>,
    user: SignedIn,
    Path(id): Path<String>,
    query: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let view = draft_view(&console, &user, &id).await?;
    if view.state != Lifecycle::Draft {
        return Ok(Redirect::to(&format!("/console/applications/{}", view.id)).into_response());
    }
    let values = form::from_draft(&view.body);
    let (draft, rows, form_errors) = form::to_draft(&values);
    let (preflight, errors) = score(&console, &user.principal, &draft, &rows, form_errors.0).await?;
    let notice = if query.contains_key("saved") {
        "Draft saved.".to_owned()
    } else {
        String::new()
    };
    let drawn = Drawn {
        values,
        errors,
        preflight,
    };
    draw(
        &console,
        &user,
        Some(&view),
        drawn,
        notice,
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The live preflight: the panel's HTML and the errors by input, as JSON for the script.
pub async fn live_preflight(State(console): State<Console>, post: Posted) -> Result<Response, PageError> {
    let (draft, rows, form_errors) = form::to_draft(&post.values);
    let (preflight, errors) = score(&console, &post.user.principal, &draft, &rows, form_errors.0).await?;
    let html = PreflightFragment { preflight }.render()?;
    let errors: serde_json::Map<String, serde_json::Value> = errors
        .into_iter()
        .map(|(input, message)| (input, serde_json::Value::String(message)))
        .collect();
    Ok(Json(serde_json::json!({"html": html, "errors": errors})).into_response())
}

/// The form drawn again after a refusal: the preflight, the errors by their inputs, and why.
struct Refusal<'r> {
    view: Option<&'r ApplicationView>,
    errors: Vec<FieldError>,
    message: String,
    status: StatusCode,
}

async fn refused(console: &Console, post: &Posted, rows: &RowMap, refusal: Refusal<'_>) -> Result<Response, PageError> {
    let (draft, _, _) = form::to_draft(&post.values);
    let (preflight, errors) = score(console, &post.user.principal, &draft, rows, refusal.errors).await?;
    let drawn = Drawn {
        values: post.values.clone(),
        errors,
        preflight,
    };
    draw(
        console,
        &post.user,
        refusal.view,
        drawn,
        String::new(),
        refusal.message,
        refusal.status,
    )
    .await
}

const FIX_FIELDS: &str = "Some fields need fixing; see the messages beside them.";

/// Creates the draft, then saves or submits it (the button pressed).
pub async fn create(State(console): State<Console>, post: Posted) -> Result<Response, PageError> {
    let (draft, rows, form_errors) = form::to_draft(&post.values);
    if !form_errors.0.is_empty() {
        let refusal = Refusal {
            view: None,
            errors: form_errors.0,
            message: FIX_FIELDS.into(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        };
        return refused(&console, &post, &rows, refusal).await;
    }
    // An admin files for a partner it names (E3); a partner files for itself.
    let path = match post.values.get("partner_id").trim() {
        "" => "/v1/applications".to_owned(),
        partner => format!("/v1/applications?partner_id={}", crate::web::encode(partner)),
    };
    let created = console
        .api
        .post::<ApplicationView, _>(&post.user.principal, &path, &draft, None)
        .await;
    match created {
        Ok(view) => finish(&console, &post, view, &rows).await,
        Err(ApiError::Refused(problem)) if matches!(problem.status, 400 | 422) => {
            let refusal = Refusal {
                view: None,
                errors: problem.errors,
                message: problem.detail,
                status: StatusCode::UNPROCESSABLE_ENTITY,
            };
            refused(&console, &post, &rows, refusal).await
        }
        Err(err) => Err(err.into()),
    }
}

/// Saves the form over the draft (a merge patch at the revision the form was drawn from), then
/// submits it if that was the button pressed.
pub async fn save(State(console): State<Console>, Path(id): Path<String>, post: Posted) -> Result<Response, PageError> {
    let view = draft_view(&console, &post.user, &id).await?;
    let (draft, rows, form_errors) = form::to_draft(&post.values);
    if !form_errors.0.is_empty() {
        let refusal = Refusal {
            view: Some(&view),
            errors: form_errors.0,
            message: FIX_FIELDS.into(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        };
        return refused(&console, &post, &rows, refusal).await;
    }
    let revision = post.values.get("revision").parse::<u64>().ok();
    let old = serde_json::to_value(&view.body).map_err(ApiError::Decode)?;
    let new = serde_json::to_value(&draft).map_err(ApiError::Decode)?;
    let patch = form::merge_patch_between(&old, &new);
    let path = format!("/v1/applications/{}", view.id);
    let saved = console
        .api
        .call::<ApplicationView, _>(&post.user.principal, Method::PATCH, &path, Some(&patch), revision)
        .await;
    match saved {
        Ok(saved) => finish(&console, &post, saved, &rows).await,
        Err(ApiError::Refused(problem)) if matches!(problem.status, 409 | 412 | 422) => {
            let refusal = Refusal {
                view: Some(&view),
                status: StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT),
                errors: problem.errors,
                message: problem.detail,
            };
            refused(&console, &post, &rows, refusal).await
        }
        Err(err) => Err(err.into()),
    }
}

/// After a save: to the application page once submitted, back to the form otherwise (with the
/// API's reasons when the submission was refused).
async fn finish(console: &Console, post: &Posted, view: ApplicationView, rows: &RowMap) -> Result<Response, PageError> {
    if post.values.get("action") != "submit" {
        return Ok(Redirect::to(&format!("/console/applications/{}/edit?saved=1", view.id)).into_response());
    }
    let path = format!("/v1/applications/{}/submit", view.id);
    let submitted = console
        .api
        .call::<ApplicationView, ()>(&post.user.principal, Method::POST, &path, None, Some(view.revision))
        .await;
    match submitted {
        Ok(view) => Ok(Redirect::to(&format!("/console/applications/{}?done=submitted", view.id)).into_response()),
        Err(ApiError::Refused(problem)) if matches!(problem.status, 409 | 412 | 422) => {
            let refusal = Refusal {
                view: Some(&view),
                status: StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT),
                message: format!("Saved as a draft, but not submitted: {}", problem.detail),
                errors: problem.errors,
            };
            refused(console, post, rows, refusal).await
        }
        Err(err) => Err(err.into()),
    }
}
