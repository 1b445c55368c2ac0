//! `sandpiper submit FILE.json`: create a draft from a file and submit it.

use std::path::PathBuf;

use anyhow::Context;

use super::ApiArgs;

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The application body (JSON, as in CONTRACT §2)
    file: PathBuf,
    #[command(flatten)]
    api: ApiArgs,
}

pub async fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let body = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let client = args.api.client()?;
    let draft = client.create_application(body).await.context("the draft was refused")?;
    let id = draft["id"]
        .as_str()
        .context("the API answered without an application id")?
        .to_owned();
    let submitted = client
        .post_json(&format!("/v1/applications/{id}/submit"), Vec::new())
        .await
        .with_context(|| format!("draft {id} was saved but its submission was refused; fix it with PATCH /v1/applications/{id} and submit again"))?;
    if args.api.json {
        println!("{}", serde_json::to_string_pretty(&submitted)?);
    } else {
        println!("submitted {id} ({})", submitted["state"].as_str().unwrap_or("?"));
        println!("follow it with: sandpiper status {id}");
    }
    Ok(())
}
