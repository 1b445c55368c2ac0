//! `sandpiper up`: the whole stack on this machine, in the foreground (CONTRACT §6).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use rand::Rng;
use sandpiper_runtime::config::ClockMode;

use super::{DEFAULT_DATA_DIR, StackFile};
use crate::local_nats::LocalNats;
use crate::stack::{Stack, StackConfig};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ClockArg {
    Wall,
    Simulated,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The clock every service reads: the wall clock, or a simulated one moved by POST /v1/clock/advance
    #[arg(long, value_enum, default_value = "wall")]
    clock: ClockArg,
    /// Where a simulated clock starts (RFC 3339) [default: now]; a data dir that ran before keeps its time
    #[arg(long)]
    clock_start: Option<String>,
    /// The API's port
    #[arg(long, default_value_t = 8080)]
    http_port: u16,
    /// The notifier's port
    #[arg(long, default_value_t = 8081)]
    notifier_port: u16,
    /// Use this NATS server instead of starting one: a URL, or a comma-separated list of a
    /// cluster's servers
    #[arg(long)]
    nats_url: Option<String>,
    /// The port of the NATS server `up` starts (0: any free port)
    #[arg(long, default_value_t = 4222)]
    nats_port: u16,
    /// Where NATS stores the event log and `up` its state
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Internal address ranges (CIDRs) webhook deliveries may reach, e.g. 127.0.0.0/8 for a local
    /// Slack mock; everything internal is refused otherwise
    #[arg(long, value_delimiter = ',')]
    webhook_allow: Vec<ipnet::IpNet>,
    /// The address the API and notifier listen on
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
}

/// `SANDPIPER_MAX_BODY_BYTES`, read the way the intake reads it on its own.
fn max_body_bytes() -> anyhow::Result<usize> {
    Ok(sandpiper_intake::config::max_body_bytes(
        &sandpiper_runtime::config::Environment,
    )?)
}

fn new_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("{prefix}-{}", hex::encode(bytes))
}

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    // Watched from the start: Ctrl-C or SIGTERM while nats-server and the services are still
    // starting stops what has started instead of leaving nats-server behind.
    let stop = sandpiper_runtime::shutdown::signal();
    tokio::pin!(stop);
    // Biased, the signal branch first: its first poll installs the handlers, and it must come
    // before `start`'s first poll spawns nats-server, or a Ctrl-C in between kills `up` outright
    // (the default action) and leaves nats-server behind.
    let started = tokio::select! {
        biased;
        () = &mut stop => {
            println!("stopped before the stack was ready");
            return Ok(());
        }
        started = start(&args) => started?,
    };
    let Started { nats, stack } = started;
    stop.await;
    stack.stop().await;
    if let Some(nats) = nats {
        nats.stop().await;
    }
    println!("stopped");
    Ok(())
}

/// What `up` started and stops on a signal.
struct Started {
    nats: Option<LocalNats>,
    stack: Stack,
}

/// Starts nats-server (unless `--nats-url`) and the five services, and prints the ready line.
/// Dropped half-way (a signal), everything started so far goes with it: nats-server is killed
/// on drop.
async fn start(args: &UpArgs) -> anyhow::Result<Started> {
    let clock = match args.clock {
        ClockArg::Wall => {
            if args.clock_start.is_some() {
                bail!("--clock-start needs --clock simulated");
            }
            ClockMode::Wall
        }
        ClockArg::Simulated => {
            let start = match &args.clock_start {
                None => Utc::now(),
                Some(text) => DateTime::parse_from_rfc3339(text)
                    .with_context(|| {
                        format!("--clock-start {text:?} is not an RFC 3339 time such as 2026-03-01T09:00:00Z")
                    })?
                    .with_timezone(&Utc),
            };
            ClockMode::Simulated { start }
        }
    };
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("cannot create {}", args.data_dir.display()))?;

    let (nats, nats_url) = match &args.nats_url {
        Some(url) => {
            if let Err(reason) = sandpiper_runtime::config::nats_servers(url) {
                bail!("--nats-url {url:?} is invalid: {reason}");
            }
            (None, url.clone())
        }
        None => {
            if args.nats_port != 0 && std::net::TcpListener::bind(("127.0.0.1", args.nats_port)).is_err() {
                bail!(
                    "port {} is in use: pass --nats-port 0 for any free port, or --nats-url to use a running NATS",
                    args.nats_port
                );
            }
            let nats = LocalNats::start(&args.data_dir.join("nats"), args.nats_port)
                .await
                .context("cannot start nats-server")?;
            let url = nats.url();
            (Some(nats), url)
        }
    };

    // Tokens: SANDPIPER_API_TOKENS, else dev tokens kept in the data dir across runs.
    let previous = StackFile::read(&args.data_dir);
    let (api_tokens, demo_token, admin_token) =
        match std::env::var("SANDPIPER_API_TOKENS").ok().filter(|v| !v.is_empty()) {
            Some(list) => (list, None, None),
            None => {
                let demo = previous
                    .as_ref()
                    .and_then(|p| p.demo_token.clone())
                    .unwrap_or_else(|| new_token("demo"));
                let admin = previous
                    .as_ref()
                    .and_then(|p| p.admin_token.clone())
                    .unwrap_or_else(|| new_token("admin"));
                (format!("demo:{demo},admin:{admin}"), Some(demo), Some(admin))
            }
        };

    let config = StackConfig {
        nats_url: nats_url.clone(),
        clock,
        api_tokens,
        api_addr: SocketAddr::new(args.bind, args.http_port),
        notifier_addr: SocketAddr::new(args.bind, args.notifier_port),
        max_body_bytes: max_body_bytes()?,
        ace: sandpiper_intake::config::ace_settings(&sandpiper_runtime::config::Environment)?,
        webhook_allow: args.webhook_allow.clone(),
        delivery: Default::default(),
        slack_signing_secret: std::env::var("SANDPIPER_SLACK_SIGNING_SECRET")
            .ok()
            .filter(|s| !s.trim().is_empty()),
        slack_answer_within: sandpiper_notifier::config::slack_answer_within(&sandpiper_runtime::config::Environment)?,
        // `up` runs one nats-server, or joins the one `--nats-url` names with its own settings.
        stream_replicas: 1,
        nats_users: Default::default(),
        // `up`'s own nats-server has no users; provisioning is still its own first step.
        provisioner: None,
        console: sandpiper_console::settings::ConsoleSettings::from_config(
            &sandpiper_runtime::config::Environment,
            false,
        )?,
        review: sandpiper_runtime::config::review_mode(&sandpiper_runtime::config::Environment)?,
        // The connector files for real with the AWS catalog: it runs only when asked for.
        ace_connector: match std::env::var("SANDPIPER_ACE_CONNECTOR").as_deref() {
            Ok("on") => Some(sandpiper_ace::ConnectorSettings::load(
                &sandpiper_runtime::config::Environment,
            )?),
            Ok("off") | Err(_) => None,
            Ok(other) => anyhow::bail!("SANDPIPER_ACE_CONNECTOR={other:?} is invalid: expected on or off"),
        },
    };
    let stack = match Stack::start(config).await {
        Ok(stack) => stack,
        Err(err) => {
            if let Some(nats) = nats {
                nats.stop().await;
            }
            return Err(err).context("the stack could not start");
        }
    };
    if let Err(err) = stack.wait_ready(Duration::from_secs(30)).await {
        stack.stop().await;
        if let Some(nats) = nats {
            nats.stop().await;
        }
        return Err(err).context("the stack did not become ready");
    }

    let file = StackFile {
        api: stack.api_url(),
        notifier: stack.notifier_url(),
        nats_url: nats_url.clone(),
        demo_token,
        admin_token,
    };
    write_stack_file(&args.data_dir, &file)?;
    if let (Some(demo), Some(admin)) = (&file.demo_token, &file.admin_token) {
        println!(
            "SANDPIPER_API_TOKENS is unset; dev tokens (kept in {}):",
            StackFile::path(&args.data_dir).display()
        );
        println!("  demo partner: {demo}");
        println!("  admin:        {admin}");
    }
    println!("nats={nats_url} data-dir={}", args.data_dir.display());
    let who = if file.demo_token.is_some() {
        "the demo partner token above"
    } else {
        "a partner token of SANDPIPER_API_TOKENS"
    };
    println!(
        "console={}/console (open it in a browser; sign in with {who})",
        file.api
    );
    println!("ready api={} notifier={}", file.api, file.notifier);
    Ok(Started { nats, stack })
}

fn write_stack_file(data_dir: &std::path::Path, file: &StackFile) -> anyhow::Result<()> {
    let path = StackFile::path(data_dir);
    let text = serde_json::to_vec_pretty(file)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // It holds tokens.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
