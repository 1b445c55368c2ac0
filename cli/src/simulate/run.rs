//! The driver: files a generated cohort through the public API, moves the simulated clock a week
//! at a time until every application has finished, acts for the teams each week (consumption,
//! blocking concerns, decisions), and collects every application's event history for the report.
//!
//! Every team acts only on its own application, from its own profile and the simulated date, and
//! the clock answers only once the system has settled; so the outcome does not depend on the
//! order in which concurrent requests happen to be served, and the same seed gives the same
//! figures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::engagement::TeamDecision;
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::state::State;
use sandpiper_contracts::view::ApplicationView;
use serde::Deserialize;
use serde_json::json;

use super::generator::{self, Behaviour, Profile};
use crate::client::{ApiClient, ClientError};

/// Bedrock POC validity (12 months) after a 14-day review, and a little more: every application
/// has finished by then.
pub const MAX_WEEKS: i64 = 58;

/// How a simulation runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub cohort: usize,
    pub seed: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
}

/// One submitted application at the end: which generated profile it follows and its history.
#[derive(Debug, Clone)]
pub struct Record {
    /// The generated profile (for a linked application, its origin's).
    pub profile: usize,
    /// Filed by the cohort (false: created by the system, e.g. a linked Bedrock POC, C3).
    pub filed: bool,
    pub events: Vec<Envelope>,
}

/// What a run produced: the generated cohort, every submitted application's history, and counts
/// of the run itself.
#[derive(Debug)]
pub struct Run {
    pub profiles: Vec<Profile>,
    pub records: Vec<Record>,
    pub catalog: Catalog,
    pub start: DateTime<Utc>,
    pub weeks: i64,
    /// Drafts the system created that nobody submitted (graduation targets, G2).
    pub graduation_drafts: usize,
    /// Requests the teams made during the run (consumption, concerns, decisions).
    pub actions: usize,
    /// Team actions the API refused (a 409 or 422): expected to be zero.
    pub refused: Vec<String>,
    pub elapsed: Duration,
}

/// What a team does this week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Consume { amount_usd: i64 },
    Concern,
    Decide(TeamDecision),
}

/// The team's actions for `view` on `today` (the simulation's `week`): pure, so the tests can
/// check it without a stack.
pub fn actions(view: &ApplicationView, behaviour: &Behaviour, today: NaiveDate, week: i64) -> Vec<Action> {
    let (Some(credits), Some(window)) = (&view.credits, &view.window) else {
        return Vec::new();
    };
    let window_days = (window.ends_at - window.starts_at).num_days();
    let mut out = Vec::new();
    match view.state {
        State::Active if today >= window.starts_at.date_naive() => {
            let spend = behaviour.weekly_spend(credits.amount_usd, window_days, week);
            if spend > 0 {
                out.push(Action::Consume { amount_usd: spend });
            }
            if let Some(day) = behaviour.concern_on_day
                && (today - window.starts_at.date_naive()).num_days() >= day
                && view.concerns.is_empty()
            {
                out.push(Action::Concern);
            }
        }
        State::WindowClosed => {
            if let Some(decision) = behaviour.decision
                && (today - window.ends_at.date_naive()).num_days() >= behaviour.decision_delay_weeks * 7
            {
                out.push(Action::Decide(decision));
            }
        }
        State::Graduated if today <= window.grace_ends_at.date_naive() && credits.balance_usd > 0 => {
            let spend = behaviour
                .grace_spend(credits.amount_usd, window_days, week)
                .min(credits.balance_usd);
            if spend > 0 {
                out.push(Action::Consume { amount_usd: spend });
            }
        }
        _ => {}
    }
    out
}

/// Still moving: not yet closed, rejected, redirected or canceled (a draft nobody submitted is
/// done too).
fn live(state: State) -> bool {
    !matches!(
        state,
        State::Closed | State::Rejected | State::Redirected | State::Canceled | State::Draft
    )
}

#[derive(Deserialize)]
struct Page {
    items: Vec<ApplicationView>,
    next_cursor: Option<String>,
}

/// Every application of the partner, oldest first.
async fn list_all(partner: &ApiClient) -> anyhow::Result<Vec<ApplicationView>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/applications?limit=200&cursor={c}"),
            None => "/v1/applications?limit=200".to_owned(),
        };
        let page: Page = serde_json::from_value(partner.get(&path).await?).context("a page of applications")?;
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

/// A request that may meet a write in flight on the same application (409 "changed while") or
/// a projection a moment behind (503): retried a few times.
async fn post_retrying(client: &ApiClient, path: &str, body: &serde_json::Value) -> Result<(), ClientError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Body(e.to_string()))?;
    let mut attempt = 0;
    loop {
        match client.post_json(path, bytes.clone()).await {
            Ok(_) => return Ok(()),
            Err(ClientError::Problem { status, detail, .. })
                if attempt < 4 && (status == 503 || (status == 409 && detail.contains("changed while"))) =>
            {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

fn bar(progress: bool, len: u64, prefix: &'static str) -> ProgressBar {
    let bar = if progress {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{prefix:>10} [{bar:32}] {pos}/{len} {msg} ({elapsed})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar
}

/// Runs a cohort against a running stack on a simulated clock (admin token for the clock and the
/// catalog); the stack should hold no other applications of this partner.
pub async fn against(api: &str, partner_token: &str, admin_token: &str, options: &Options) -> anyhow::Result<Run> {
    let started = Instant::now();
    let partner = ApiClient::new(api, partner_token)?;
    let admin = ApiClient::new(api, admin_token)?;
    let clock = partner.get("/v1/clock").await?;
    if clock["mode"] != "simulated" {
        bail!("the simulation needs a simulated clock (sandpiper up --clock simulated)");
    }
    let start: DateTime<Utc> = clock["now"]
        .as_str()
        .context("the clock has no time")?
        .parse()
        .context("the clock's time")?;

    // The simulation's catalog version: the built-in one plus two matured services (K1, K4).
    let catalog = generator::simulation_catalog(start.date_naive())?;
    match admin.post_json("/v1/catalog", serde_json::to_vec(&catalog)?).await {
        Ok(_) | Err(ClientError::Problem { status: 409, .. }) => {}
        Err(err) => return Err(err).context("publishing the simulation's catalog version"),
    }
    let profiles = generator::cohort(options.seed, options.cohort, &catalog);
    let concurrency = options.concurrency.max(1);

    // File and submit the whole cohort at the start.
    let submitting = bar(options.progress, profiles.len() as u64, "submit");
    let filed: Vec<(String, usize)> = stream::iter(profiles.iter())
        .map(|profile| {
            let partner = &partner;
            let submitting = &submitting;
            async move {
                let draft = partner
                    .create_application(serde_json::to_vec(&profile.body)?)
                    .await
                    .with_context(|| format!("creating application {}", profile.index))?;
                let id = draft["id"].as_str().context("no id")?.to_owned();
                partner
                    .post_json(&format!("/v1/applications/{id}/submit"), Vec::new())
                    .await
                    .with_context(|| format!("submitting application {}", profile.index))?;
                submitting.inc(1);
                anyhow::Ok((id, profile.index))
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    submitting.finish();
    let mut origin: HashMap<String, usize> = filed.iter().cloned().collect();

    // Week by week until everything has finished.
    let weeks_bar = bar(options.progress, MAX_WEEKS as u64, "weeks");
    let mut week = 0;
    let mut actions_done = 0;
    let mut refused = Vec::new();
    let mut views;
    loop {
        admin
            .post_json("/v1/clock/advance", serde_json::to_vec(&json!({"days": 7}))?)
            .await
            .context("advancing the clock")?;
        week += 1;
        let today = (start + chrono::Duration::days(7 * week)).date_naive();
        views = list_all(&partner).await?;
        // Linked applications follow the profile of the one they came from.
        for view in &views {
            if !origin.contains_key(&view.id.to_string())
                && let Some(from) = view.links.originated_from
                && let Some(index) = origin.get(&from.to_string()).copied()
            {
                origin.insert(view.id.to_string(), index);
            }
        }
        let live_count = views.iter().filter(|v| live(v.state)).count();
        weeks_bar.set_position(week as u64);
        weeks_bar.set_message(format!("{today} · {live_count} live · {actions_done} team actions"));
        if live_count == 0 || week >= MAX_WEEKS {
            break;
        }
        let due: Vec<(String, Vec<Action>)> = views
            .iter()
            .filter_map(|view| {
                let index = *origin.get(&view.id.to_string())?;
                let acts = actions(view, &profiles.get(index)?.behaviour, today, week);
                (!acts.is_empty()).then(|| (view.id.to_string(), acts))
            })
            .collect();
        let results: Vec<(usize, Vec<String>)> = stream::iter(due)
            .map(|(id, acts)| {
                let partner = &partner;
                async move {
                    let mut done = 0;
                    let mut failed = Vec::new();
                    for act in acts {
                        let (path, body) = match act {
                            Action::Consume { amount_usd } => (
                                format!("/v1/applications/{id}/consumption"),
                                json!({"date": today, "amount_usd": amount_usd, "note": "weekly usage"}),
                            ),
                            Action::Concern => (
                                format!("/v1/applications/{id}/concerns"),
                                json!({"blocking": true, "note": "a blocking issue with the service surfaced"}),
                            ),
                            Action::Decide(decision) => (
                                format!("/v1/applications/{id}/decision"),
                                json!({"decision": decision, "notes": "the team's decision at window close"}),
                            ),
                        };
                        match post_retrying(partner, &path, &body).await {
                            Ok(()) => done += 1,
                            // A refusal is the system's answer, recorded for the report; an
                            // unreachable API ends the run.
                            Err(ClientError::Problem { status, detail, .. }) => {
                                failed.push(format!("{path}: {status} {detail}"));
                                break;
                            }
                            Err(err) => return Err(anyhow::Error::from(err)),
                        }
                    }
                    anyhow::Ok((done, failed))
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        for (done, failed) in results {
            actions_done += done;
            refused.extend(failed);
        }
    }
    weeks_bar.finish();

    // Every submitted application's history.
    let graduation_drafts = views
        .iter()
        .filter(|v| v.state == State::Draft && v.links.originated_from.is_some())
        .count();
    let submitted: Vec<(String, usize, bool)> = views
        .iter()
        .filter(|v| v.submitted_at.is_some())
        .filter_map(|v| {
            let id = v.id.to_string();
            let index = *origin.get(&id)?;
            let filed = v.links.originated_from.is_none();
            Some((id, index, filed))
        })
        .collect();
    let collecting = bar(options.progress, submitted.len() as u64, "collect");
    let mut records: Vec<(String, Record)> = stream::iter(submitted)
        .map(|(id, profile, filed)| {
            let partner = &partner;
            let collecting = &collecting;
            async move {
                let events: Vec<Envelope> =
                    serde_json::from_value(partner.get(&format!("/v1/applications/{id}/events")).await?)
                        .with_context(|| format!("the events of {id}"))?;
                collecting.inc(1);
                anyhow::Ok((id, Record { profile, filed, events }))
            }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    collecting.finish_and_clear();
    // A stable order: by profile, the filed application before the ones linked to it, then by
    // when each was created.
    records.sort_by_key(|(_, r)| (r.profile, !r.filed, r.events.first().map(|e| e.time)));
    Ok(Run {
        profiles,
        records: records.into_iter().map(|(_, r)| r).collect(),
        catalog,
        start,
        weeks: week,
        graduation_drafts,
        actions: actions_done,
        refused,
        elapsed: started.elapsed(),
    })
}
