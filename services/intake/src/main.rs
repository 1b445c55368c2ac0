//! `sandpiper-intake`: the HTTP API as its own process. Configured by `SANDPIPER_*` variables.
//!
//! `sandpiper-intake provision [SERVICE…]` instead creates (or finds) every stream and bucket
//! Sandpiper uses and the durable consumers of the services named (the five core ones when none
//! is: add `ace` where the ACE connector runs), seeds the clock and the catalog, and exits: the
//! separate step that lets each service's NATS user do without the right to create or delete
//! them ([`sandpiper_runtime::provision`]). Run it with the provisioning user's credentials.

use anyhow::Context;
use sandpiper_contracts::names::ServiceName;
use sandpiper_intake::Application;
use sandpiper_intake::config::IntakeConfig;
use sandpiper_runtime::config::{CommonConfig, Environment};
use sandpiper_runtime::provision::{Provisioning, provision};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = sandpiper_runtime::telemetry::init("sandpiper-intake");
    match std::env::args().nth(1).as_deref() {
        None => serve().await,
        Some("provision") => provision_and_exit(std::env::args().skip(2).collect()).await,
        Some(other) => anyhow::bail!("unknown command {other:?}: expected none (serve) or `provision [SERVICE…]`"),
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = IntakeConfig::load(&Environment).context("invalid configuration")?;
    let app = Application::build(config)
        .await
        .context("sandpiper-intake could not start")?;
    tracing::info!(http = %app.local_addr(), "sandpiper-intake started");
    app.run_until_stopped(sandpiper_runtime::shutdown::signal())
        .await
        .context("sandpiper-intake failed")
}

async fn provision_and_exit(named: Vec<String>) -> anyhow::Result<()> {
    let services = if named.is_empty() {
        ServiceName::CORE.to_vec()
    } else {
        named
            .iter()
            .map(|name| {
                ServiceName::ALL
                    .into_iter()
                    .find(|s| s.as_str() == name)
                    .with_context(|| format!("unknown service {name:?}: expected one of {:?}", ServiceName::ALL))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let common =
        CommonConfig::load(&Environment, sandpiper_intake::config::DEFAULT_PORT).context("invalid configuration")?;
    let console = sandpiper_console::settings::ConsoleSettings::from_config(&Environment, false)
        .context("invalid configuration")?;
    let bus = sandpiper_runtime::bus::Bus::connect(&common, ServiceName::Intake)
        .await
        .context("cannot connect to NATS")?;
    let settings = Provisioning::new(common.clock, console.session, services);
    let done = provision(&bus, &settings).await.context("provisioning failed")?;
    tracing::info!(streams = ?done.streams, buckets = done.buckets.len(), consumers = ?done.consumers, "provisioned");
    bus.drain().await;
    Ok(())
}
