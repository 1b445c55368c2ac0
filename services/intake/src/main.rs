//! `sandpiper-intake`: the HTTP API as its own process. Configured by `SANDPIPER_*` variables.

use anyhow::Context;
use sandpiper_intake::Application;
use sandpiper_intake::config::IntakeConfig;
use sandpiper_runtime::config::Environment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = sandpiper_runtime::telemetry::init("sandpiper-intake");
    let config = IntakeConfig::load(&Environment).context("invalid configuration")?;
    let app = Application::build(config)
        .await
        .context("sandpiper-intake could not start")?;
    tracing::info!(http = %app.local_addr(), "sandpiper-intake started");
    app.run_until_stopped(sandpiper_runtime::shutdown::signal())
        .await
        .context("sandpiper-intake failed")
}
