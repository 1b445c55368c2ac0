//! `sandpiper-notifier`: the notifier as its own process. Configured by `SANDPIPER_*` variables.

use anyhow::Context;
use sandpiper_notifier::Notifier;
use sandpiper_notifier::config::NotifierConfig;
use sandpiper_runtime::config::Environment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = sandpiper_runtime::telemetry::init("sandpiper-notifier");
    let config = NotifierConfig::load(&Environment).context("invalid configuration")?;
    let notifier = Notifier::build(config)
        .await
        .context("sandpiper-notifier could not start")?;
    tracing::info!(http = %notifier.local_addr(), "sandpiper-notifier started");
    notifier
        .run_until_stopped(sandpiper_runtime::shutdown::signal())
        .await
        .context("sandpiper-notifier failed")
}
