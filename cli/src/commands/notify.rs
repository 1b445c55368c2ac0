//! `sandpiper subscribe`, `sandpiper subscriptions`, `sandpiper deliveries dead|redrive`: the
//! notifier's API from the command line.

use anyhow::Context;
use serde_json::json;

use super::{ApiArgs, StackFile};

#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// Where deliveries go (http or https; a Slack incoming webhook for --format slack)
    url: String,
    /// Event type patterns, comma-separated (`approved,office_hours_*`, `*` for all)
    #[arg(long, value_delimiter = ',', default_value = "*")]
    events: Vec<String>,
    /// `slack` (Block Kit) or `cloudevents` (the envelope as is)
    #[arg(long, default_value = "slack")]
    format: String,
    /// Also post the coming week's agenda every week (`weekly`); `--events ''` for the digest alone
    #[arg(long, value_parser = ["weekly"])]
    digest: Option<String>,
    /// The digest's day (`monday` … `sunday`)
    #[arg(long, requires = "digest", default_value = "monday")]
    weekday: String,
    /// The digest's local hour (0–23)
    #[arg(long, requires = "digest", default_value_t = 9)]
    hour: u8,
    /// The digest's IANA timezone (`Europe/Berlin`)
    #[arg(long, requires = "digest", default_value = "UTC")]
    timezone: String,
    /// The notifier's base URL [default: the running `sandpiper up`'s]
    #[arg(long, env = "SANDPIPER_NOTIFIER_URL")]
    notifier: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long, env = "SANDPIPER_NOTIFIER_URL")]
    notifier: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum DeliveriesCommand {
    /// Deliveries that ran out of retries (admin token)
    Dead(ListArgs),
    /// Queue a dead letter for delivery again (admin token)
    Redrive {
        /// The dead letter's sequence, as `deliveries dead` lists it
        sequence: u64,
        #[command(flatten)]
        list: ListArgs,
    },
}

fn notifier_url(explicit: &Option<String>, api: &ApiArgs) -> String {
    explicit
        .clone()
        .or_else(|| StackFile::read(&api.data_dir).map(|s| s.notifier))
        .unwrap_or_else(|| "http://127.0.0.1:8081".into())
}

pub async fn subscribe(args: SubscribeArgs) -> anyhow::Result<()> {
    let base = notifier_url(&args.notifier, &args.api);
    let client = args.api.client_at(&base)?;
    // `--events ''` is no patterns at all (a digest alone), not one empty pattern.
    let events: Vec<&String> = args.events.iter().filter(|e| !e.is_empty()).collect();
    let mut body = json!({"url": args.url, "events": events, "format": args.format});
    if let Some(cadence) = &args.digest {
        body["digest"] =
            json!({"cadence": cadence, "weekday": args.weekday, "hour": args.hour, "timezone": args.timezone});
    }
    let created = client
        .post_json("/v1/subscriptions", serde_json::to_vec(&body)?)
        .await
        .context("the subscription was refused")?;
    println!("subscription {}", created["id"].as_str().unwrap_or("?"));
    if let Some(next) = created["next_digest_at"].as_str() {
        println!("first digest {next}");
    }
    println!(
        "secret {}  (shown once: verify X-Sandpiper-Signature with it)",
        created["secret"].as_str().unwrap_or("?")
    );
    Ok(())
}

pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let base = notifier_url(&args.notifier, &args.api);
    let subscriptions = args.api.client_at(&base)?.get("/v1/subscriptions").await?;
    for s in subscriptions.as_array().into_iter().flatten() {
        let events: Vec<&str> = s["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str())
            .collect();
        println!(
            "{}  {:<12} {:<30} {}",
            s["id"].as_str().unwrap_or("?"),
            s["format"].as_str().unwrap_or("?"),
            events.join(","),
            s["url"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

pub async fn deliveries(command: DeliveriesCommand) -> anyhow::Result<()> {
    match command {
        DeliveriesCommand::Dead(args) => {
            let base = notifier_url(&args.notifier, &args.api);
            let dead = args.api.admin_client_at(&base)?.get("/v1/deliveries/dead").await?;
            for d in dead.as_array().into_iter().flatten() {
                println!(
                    "{:>6}  {}  {:<28} attempts {}  {}",
                    d["sequence"],
                    d["failed_at"].as_str().unwrap_or("?"),
                    d["event_type"].as_str().unwrap_or("?"),
                    d["attempts"],
                    d["last_error"].as_str().unwrap_or("?")
                );
            }
        }
        DeliveriesCommand::Redrive { sequence, list } => {
            let base = notifier_url(&list.notifier, &list.api);
            list.api
                .admin_client_at(&base)?
                .post_json(&format!("/v1/deliveries/dead/{sequence}/redrive"), Vec::new())
                .await?;
            println!("dead letter {sequence} queued for delivery again");
        }
    }
    Ok(())
}
