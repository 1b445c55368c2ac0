//! `sandpiper catalog show | versions | publish FILE.toml`: the emerging-service catalog (K1–K4).

use std::path::PathBuf;

use anyhow::Context;
use sandpiper_contracts::catalog::Catalog;

use super::ApiArgs;

#[derive(Debug, clap::Subcommand)]
pub enum CatalogCommand {
    /// The version in force now
    Show {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Every published version
    Versions {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Publish a new version from a TOML file like shared/contracts/data/catalog-2026.toml (admin token)
    Publish {
        file: PathBuf,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Show { api } => {
            let catalog = api.client()?.get("/v1/catalog").await?;
            println!("{}", serde_json::to_string_pretty(&catalog)?);
        }
        CatalogCommand::Versions { api } => {
            let versions = api.client()?.get("/v1/catalog/versions").await?;
            for version in versions.as_array().into_iter().flatten() {
                let services = version["services"].as_array().map(Vec::len).unwrap_or(0);
                println!(
                    "{:<16} effective {}  {services} services",
                    version["version"].as_str().unwrap_or("?"),
                    version["effective_from"].as_str().unwrap_or("?")
                );
            }
        }
        CatalogCommand::Publish { file, api } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            // Checked here first, so a typo is reported against the file, not as a 422.
            let catalog =
                Catalog::from_toml(&text).with_context(|| format!("{} is not a valid catalog", file.display()))?;
            let client = api.admin_client()?;
            client
                .post_json("/v1/catalog", serde_json::to_vec(&catalog)?)
                .await
                .context("the catalog was refused")?;
            println!(
                "published catalog {} (effective {})",
                catalog.version, catalog.effective_from
            );
        }
    }
    Ok(())
}
