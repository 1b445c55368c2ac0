//! A private stack on a simulated clock, as `demo` and `simulate` run it: nats-server in a
//! temporary directory and the five services in this process, with fixed dev tokens. Stopped (and
//! its directory removed) by [`PrivateStack::stop`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use sandpiper_runtime::config::ClockMode;

use crate::client::ApiClient;
use crate::local_nats::LocalNats;
use crate::stack::{Stack, StackConfig};

/// The partner token of a private stack (its partner is `demo`).
pub const PARTNER_TOKEN: &str = "demo-partner-token";
/// The admin token of a private stack.
pub const ADMIN_TOKEN: &str = "demo-admin-token";

/// nats-server and the five services, started for one command.
pub struct PrivateStack {
    stack: Stack,
    nats: LocalNats,
    dir: PathBuf,
}

impl PrivateStack {
    /// Starts nats-server under a fresh temporary directory named after `purpose` and the five
    /// services on a simulated clock at `start`, and waits until they are ready.
    pub async fn start(purpose: &str, start: &str) -> anyhow::Result<PrivateStack> {
        let dir = std::env::temp_dir().join(format!("sandpiper-{purpose}-{}", std::process::id()));
        let nats = LocalNats::start(&dir.join("nats"), 0)
            .await
            .with_context(|| format!("the {purpose} needs nats-server"))?;
        let config = StackConfig {
            nats_url: nats.url(),
            clock: ClockMode::Simulated {
                start: start.parse().context("start time")?,
            },
            api_tokens: format!("demo:{PARTNER_TOKEN},admin:{ADMIN_TOKEN}"),
            api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            notifier_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_body_bytes: 256 * 1024,
            ace: Default::default(),
            webhook_allow: Vec::new(),
            delivery: Default::default(),
            slack_signing_secret: None,
            slack_answer_within: sandpiper_notifier::config::DEFAULT_SLACK_ANSWER_WITHIN,
            stream_replicas: 1,
            provisioner: None,
            nats_users: Default::default(),
            console: Default::default(),
            review: Default::default(),
            ace_connector: None,
        };
        let stack = match Stack::start(config).await {
            Ok(stack) => stack,
            Err(err) => {
                nats.stop().await;
                let _ = std::fs::remove_dir_all(&dir);
                return Err(err.into());
            }
        };
        let private = PrivateStack { stack, nats, dir };
        if let Err(err) = private.stack.wait_ready(Duration::from_secs(30)).await {
            private.stop().await;
            return Err(err.into());
        }
        Ok(private)
    }

    pub fn api_url(&self) -> String {
        self.stack.api_url()
    }

    /// A client with the partner token.
    pub fn partner(&self) -> anyhow::Result<ApiClient> {
        Ok(ApiClient::new(&self.api_url(), PARTNER_TOKEN)?)
    }

    /// A client with the admin token.
    pub fn admin(&self) -> anyhow::Result<ApiClient> {
        Ok(ApiClient::new(&self.api_url(), ADMIN_TOKEN)?)
    }

    /// Stops the services, then nats-server, and removes the directory.
    pub async fn stop(self) {
        self.stack.stop().await;
        self.nats.stop().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
