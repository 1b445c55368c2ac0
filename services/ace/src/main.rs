//! `sandpiper-ace`: the ACE connector as its own process (containers, Kubernetes). Configured by
//! `SANDPIPER_*` environment variables; AWS credentials come from the SDK's standard chain (IRSA
//! or EKS Pod Identity on Kubernetes); stops cleanly on SIGINT/SIGTERM.

use anyhow::Context;
use sandpiper_runtime::config::Environment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = sandpiper_runtime::telemetry::init("sandpiper-ace");
    let config = sandpiper_ace::AceConfig::load(&Environment).context("invalid configuration")?;
    let service = sandpiper_ace::AceService::build(&config)
        .await
        .context("sandpiper-ace could not start")?;
    tracing::info!(http = %service.local_addr(), catalog = config.connector.ace.catalog.as_str(), "sandpiper-ace started");
    service
        .run_until_stopped(sandpiper_runtime::shutdown::signal())
        .await
        .context("sandpiper-ace failed")
}
