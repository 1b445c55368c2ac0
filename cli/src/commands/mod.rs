//! The `sandpiper` subcommands.

pub mod ace;
pub mod agenda;
pub mod catalog;
pub mod dead_letters;
pub mod demo;
pub mod notify;
pub mod preflight;
pub mod simulate;
pub mod status;
pub mod submit;
pub mod up;
pub mod withdraw;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where `sandpiper up` keeps its state by default (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = ".sandpiper";

/// What `sandpiper up` writes for the other commands: where the API is and the dev tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackFile {
    pub api: String,
    pub notifier: String,
    pub nats_url: String,
    /// The demo partner's token, when `up` generated it.
    pub demo_token: Option<String>,
    pub admin_token: Option<String>,
}

impl StackFile {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("stack.json")
    }

    pub fn read(data_dir: &Path) -> Option<StackFile> {
        let text = std::fs::read(StackFile::path(data_dir)).ok()?;
        serde_json::from_slice(&text).ok()
    }
}

/// How `submit` and `status` reach the API: flags and variables first, then what `up` wrote.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// The API's base URL [default: the running `sandpiper up`'s, else http://127.0.0.1:8080]
    #[arg(long, env = "SANDPIPER_API_URL")]
    pub api: Option<String>,
    /// A bearer token [default: the demo token `sandpiper up` printed]
    #[arg(long, env = "SANDPIPER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where `sandpiper up` keeps its state
    #[arg(long, default_value = DEFAULT_DATA_DIR, env = "SANDPIPER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Print the API's JSON as it is
    #[arg(long)]
    pub json: bool,
}

impl ApiArgs {
    /// A client with the partner token (`--token`, `SANDPIPER_TOKEN`, or the demo token).
    pub fn client(&self) -> anyhow::Result<crate::client::ApiClient> {
        self.client_as(|stack| stack.demo_token.clone())
    }

    /// A client with an admin token (`--token`, `SANDPIPER_TOKEN`, or the dev admin token).
    pub fn admin_client(&self) -> anyhow::Result<crate::client::ApiClient> {
        self.client_as(|stack| stack.admin_token.clone())
    }

    /// A partner client for another base URL (the notifier's).
    pub fn client_at(&self, base: &str) -> anyhow::Result<crate::client::ApiClient> {
        self.client_for(Some(base.to_owned()), |stack| stack.demo_token.clone())
    }

    /// An admin client for another base URL (the notifier's).
    pub fn admin_client_at(&self, base: &str) -> anyhow::Result<crate::client::ApiClient> {
        self.client_for(Some(base.to_owned()), |stack| stack.admin_token.clone())
    }

    fn client_as(&self, dev_token: impl Fn(&StackFile) -> Option<String>) -> anyhow::Result<crate::client::ApiClient> {
        self.client_for(None, dev_token)
    }

    fn client_for(
        &self,
        base: Option<String>,
        dev_token: impl Fn(&StackFile) -> Option<String>,
    ) -> anyhow::Result<crate::client::ApiClient> {
        let stack = StackFile::read(&self.data_dir);
        let api = base
            .or_else(|| self.api.clone())
            .or_else(|| stack.as_ref().map(|s| s.api.clone()))
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let token = self.token.clone().or_else(|| stack.as_ref().and_then(&dev_token)).ok_or_else(|| {
            anyhow::anyhow!("no token: pass --token or set SANDPIPER_TOKEN (sandpiper up prints a demo token when SANDPIPER_API_TOKENS is unset)")
        })?;
        Ok(crate::client::ApiClient::new(&api, &token)?)
    }
}
