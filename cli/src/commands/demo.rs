//! `sandpiper demo`: six months of Innovation Sandbox in under a minute. Starts its own stack on
//! a simulated clock (or drives a running one), files the example applications, advances time a
//! week at a time recording the teams' consumption, concerns and decisions, and prints each
//! application's timeline and a summary table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use sandpiper_contracts::events::{Envelope, EventType};
use sandpiper_contracts::view::ApplicationView;
use serde_json::{Value, json};

use crate::client::ApiClient;
use crate::private_stack::PrivateStack;

/// A Monday: the demo's simulated start, so its output is the same every run.
const START: &str = "2026-03-02T09:00:00Z";
/// Six months and a little: every validity has ended.
const DAYS: i64 = 12 + 184 + 7;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the shared example applications are
    #[arg(long, default_value = "../shared/examples")]
    examples: PathBuf,
    /// Drive a running stack (simulated clock) instead of starting one
    #[arg(long, requires_all = ["token", "admin_token"])]
    api: Option<String>,
    /// A partner token of the running stack
    #[arg(long)]
    token: Option<String>,
    /// An admin token of the running stack
    #[arg(long)]
    admin_token: Option<String>,
}

/// One application of the story: its file, how its team spends, and what it decides.
struct Character {
    label: &'static str,
    body: Value,
    weekly_spend_usd: i64,
    blocking_concern_on_day: Option<i64>,
    decision: &'static str,
    id: Option<String>,
}

fn load(dir: &std::path::Path, name: &str) -> anyhow::Result<Value> {
    let path = dir.join(format!("{name}.json"));
    let text = std::fs::read(&path).with_context(|| format!("cannot read {} (pass --examples DIR)", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn cast(dir: &std::path::Path) -> anyhow::Result<Vec<Character>> {
    let support = load(dir, "bedrock-agents-support")?;
    // The seed's $3,150/month budget: a $25K candidate, split into two tranches (T4, TR3).
    let mut scaled = support.clone();
    scaled["startup"]["name"] = "Helpdesk Autopilot (scaled)".into();
    scaled["startup"]["aws_account_id"] = "111122224444".into();
    scaled["stack"] = json!([]);
    scaled["budget"] = json!([
        {"item": "Bedrock Agents invocations", "category": "emerging_service", "monthly_usd": 1800},
        {"item": "Claude Sonnet 4 for agent reasoning", "category": "model_inference", "monthly_usd": 800},
        {"item": "Lambda orchestration", "category": "supporting", "monthly_usd": 200},
        {"item": "OpenSearch Serverless", "category": "supporting", "monthly_usd": 300},
        {"item": "CloudWatch logging", "category": "supporting", "monthly_usd": 50}
    ]);
    Ok(vec![
        Character {
            label: "worked example",
            body: support,
            weekly_spend_usd: 1_900,
            blocking_concern_on_day: None,
            decision: "graduate",
            id: None,
        },
        Character {
            label: "split tranches",
            body: scaled,
            weekly_spend_usd: 1_000,
            blocking_concern_on_day: Some(20),
            decision: "retire",
            id: None,
        },
        Character {
            label: "30-day Q Business",
            body: load(dir, "amazon-q-business-docs")?,
            weekly_spend_usd: 0,
            blocking_concern_on_day: None,
            decision: "retire",
            id: None,
        },
        Character {
            label: "vague",
            body: load(dir, "exploring-agents")?,
            weekly_spend_usd: 0,
            blocking_concern_on_day: None,
            decision: "retire",
            id: None,
        },
    ])
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut characters = cast(&args.examples)?;
    let (partner, admin, own) = match &args.api {
        Some(api) => {
            let token = args.token.clone().unwrap_or_default();
            let admin = args.admin_token.clone().unwrap_or_default();
            (ApiClient::new(api, &token)?, ApiClient::new(api, &admin)?, None)
        }
        None => {
            let stack = PrivateStack::start("demo", START).await?;
            (stack.partner()?, stack.admin()?, Some(stack))
        }
    };
    let result = story(&partner, &admin, &mut characters).await;
    if let Some(stack) = own {
        stack.stop().await;
    }
    result?;
    println!("\n(six simulated months in {:.1} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs the story against a running stack (simulated clock) and returns each application's final
/// view with its label; what `demo --api` does, and what the tests drive.
pub async fn against(
    api: &str,
    partner_token: &str,
    admin_token: &str,
    examples: &std::path::Path,
) -> anyhow::Result<Vec<(&'static str, ApplicationView)>> {
    let mut characters = cast(examples)?;
    story(
        &ApiClient::new(api, partner_token)?,
        &ApiClient::new(api, admin_token)?,
        &mut characters,
    )
    .await
}

async fn story(
    partner: &ApiClient,
    admin: &ApiClient,
    characters: &mut [Character],
) -> anyhow::Result<Vec<(&'static str, ApplicationView)>> {
    let clock = partner.get("/v1/clock").await?;
    if clock["mode"] != "simulated" {
        bail!("the demo needs a simulated clock (sandpiper up --clock simulated)");
    }
    let start = clock["now"].as_str().unwrap_or(START).to_owned();
    println!("Sandpiper demo: four applications from {start}, six months on a simulated clock.\n");
    for c in characters.iter_mut() {
        let draft = partner.create_application(serde_json::to_vec(&c.body)?).await?;
        let id = draft["id"].as_str().context("no id")?.to_owned();
        partner
            .post_json(&format!("/v1/applications/{id}/submit"), Vec::new())
            .await?;
        c.id = Some(id);
    }
    let mut elapsed = 0;
    while elapsed < DAYS {
        let step = 7.min(DAYS - elapsed);
        admin
            .post_json("/v1/clock/advance", serde_json::to_vec(&json!({"days": step}))?)
            .await?;
        elapsed += step;
        let today = admin.get("/v1/clock").await?["now"]
            .as_str()
            .unwrap_or_default()
            .get(..10)
            .unwrap_or_default()
            .to_owned();
        for c in characters.iter() {
            let Some(id) = &c.id else { continue };
            let view = partner.get(&format!("/v1/applications/{id}")).await?;
            let state = view["state"].as_str().unwrap_or_default();
            let window_open = state == "active";
            if window_open && c.weekly_spend_usd > 0 {
                let report = json!({"date": today, "amount_usd": c.weekly_spend_usd, "note": "weekly usage"});
                partner
                    .post_json(
                        &format!("/v1/applications/{id}/consumption"),
                        serde_json::to_vec(&report)?,
                    )
                    .await?;
            }
            if window_open && let Some(concern_day) = c.blocking_concern_on_day {
                let started = view["window"]["starts_at"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
                let today_date = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").ok();
                if let (Some(started), Some(today_date)) = (started, today_date) {
                    let elapsed = (today_date - started.date_naive()).num_days();
                    if elapsed >= concern_day && view["concerns"].as_array().is_none_or(Vec::is_empty) {
                        let concern = json!({"blocking": true, "note": "the agent loops on tool errors"});
                        partner
                            .post_json(
                                &format!("/v1/applications/{id}/concerns"),
                                serde_json::to_vec(&concern)?,
                            )
                            .await?;
                    }
                }
            }
            if state == "window_closed" {
                let decision = json!({"decision": c.decision, "notes": format!("the team decided to {}", c.decision)});
                partner
                    .post_json(
                        &format!("/v1/applications/{id}/decision"),
                        serde_json::to_vec(&decision)?,
                    )
                    .await?;
            }
        }
    }
    let mut rows = Vec::new();
    for c in characters.iter() {
        let Some(id) = &c.id else { continue };
        let events: Vec<Envelope> =
            serde_json::from_value(partner.get(&format!("/v1/applications/{id}/events")).await?)?;
        let view = timeline(c.label, &events)?;
        rows.push((c.label, view));
    }
    summary(&rows);
    Ok(rows)
}

/// Prints one application's story: date, event, amount, balance; returns its final view.
fn timeline(label: &str, events: &[Envelope]) -> anyhow::Result<ApplicationView> {
    let first = events.first().context("an application without events")?;
    let mut view = ApplicationView::create(first, 1)?;
    let name = view.body.startup_name().unwrap_or_default().to_owned();
    let service = view.body.service.clone().unwrap_or_default();
    println!("── {name} · {service} ({label}) · {}", view.id);
    println!(
        "   {:<10}  {:<24} {:>9}  {:>9}  note",
        "date", "event", "amount", "balance"
    );
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            view.apply(event, index as u64 + 1)?;
        }
        let kind = event.kind()?;
        let d = &event.data;
        let amount = match kind {
            EventType::Approved => d["tier_usd"].as_i64(),
            EventType::CreditsApplied
            | EventType::TrancheReleased
            | EventType::TrancheWithheld
            | EventType::ClawedBack
            | EventType::CreditsForfeited
            | EventType::CreditsExpired => d["amount_usd"].as_i64(),
            EventType::ConsumptionRecorded => d["consumption"]["amount_usd"].as_i64(),
            _ => None,
        };
        let note = match kind {
            EventType::Classified | EventType::Redirected => d["reasons"][0].as_str().unwrap_or_default().to_owned(),
            EventType::Approved | EventType::Rejected => {
                d["review"]["reasons"][0].as_str().unwrap_or_default().to_owned()
            }
            EventType::OfficeHoursScheduled => format!(
                "{} on {}",
                d["session"]["id"].as_str().unwrap_or_default(),
                d["session"]["starts_at"]
                    .as_str()
                    .unwrap_or_default()
                    .get(..10)
                    .unwrap_or_default()
            ),
            EventType::ConcernRecorded => d["concern"]["note"].as_str().unwrap_or_default().to_owned(),
            _ => d["reasons"][0].as_str().unwrap_or_default().to_owned(),
        };
        let note: String = note.chars().take(90).collect();
        let money = |v: Option<i64>| v.map(|x| format!("${x}")).unwrap_or_default();
        let balance = view.credits.as_ref().map(|c| c.balance_usd);
        println!(
            "   {}  {:<24} {:>9}  {:>9}  {note}",
            event.time.date_naive(),
            kind.as_str(),
            money(amount),
            money(balance)
        );
    }
    println!();
    Ok(view)
}

fn summary(rows: &[(&'static str, ApplicationView)]) {
    println!("Summary");
    println!(
        "{:<44} {:<20} {:>5} {:>9} {:>8} {:>9} {:>8} {:>8}",
        "application", "final state", "tier", "consumed", "overage", "clawback", "forfeit", "expired"
    );
    for (label, view) in rows {
        let name = view.body.startup_name().unwrap_or_default().to_owned();
        let tier = view
            .decision
            .as_ref()
            .and_then(|d| d.tier_usd)
            .map(|t| format!("${}K", t / 1000))
            .unwrap_or_else(|| "-".into());
        let c = view.credits.clone().unwrap_or_default();
        let outcome = match &view.team_decision {
            Some(d) => format!("{} ({:?})", view.state.as_str(), d.decision).to_lowercase(),
            None if c.clawed_back_usd > 0 => format!("{} (clawed back)", view.state.as_str()),
            None => view.state.as_str().to_owned(),
        };
        println!(
            "{:<44} {:<20} {:>5} {:>9} {:>8} {:>9} {:>8} {:>8}",
            format!("{name} ({label})"),
            outcome,
            tier,
            format!("${}", c.consumed_usd),
            format!("${}", c.overage_usd),
            format!("${}", c.clawed_back_usd),
            format!("${}", c.forfeited_usd),
            format!("${}", c.expired_usd)
        );
    }
}
