//! `sandpiper-scheduler`: the scheduler service as its own process (containers, Kubernetes).
//! Configured by `SANDPIPER_*` environment variables; stops cleanly on SIGINT/SIGTERM.

use anyhow::Context;
use sandpiper_runtime::config::{CommonConfig, Environment};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = sandpiper_runtime::telemetry::init("sandpiper-scheduler");
    let config =
        CommonConfig::load(&Environment, sandpiper_scheduler::DEFAULT_PORT).context("invalid configuration")?;
    let service = sandpiper_scheduler::build(&config)
        .await
        .context("sandpiper-scheduler could not start")?;
    tracing::info!(http = %service.local_addr(), "sandpiper-scheduler started");
    service
        .run_until_stopped(sandpiper_runtime::shutdown::signal())
        .await
        .context("sandpiper-scheduler failed")
}
