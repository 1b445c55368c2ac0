//! `sandpiper recall ID --reason …` and `sandpiper cancel ID --reason …`: withdraw a filing
//! before its decision (back to draft), or end a draft for good.

use super::ApiArgs;

#[derive(Debug, clap::Args)]
pub struct WithdrawArgs {
    /// The application id
    id: String,
    /// Why, in your words (kept on the application's history)
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    api: ApiArgs,
}

/// Which withdrawal: the route it posts to and what it prints.
#[derive(Debug, Clone, Copy)]
pub enum Withdrawal {
    Recall,
    Cancel,
}

impl Withdrawal {
    fn route(self) -> &'static str {
        match self {
            Withdrawal::Recall => "recall",
            Withdrawal::Cancel => "cancel",
        }
    }
}

pub async fn run(kind: Withdrawal, args: WithdrawArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let body = serde_json::to_vec(&serde_json::json!({"reason": args.reason}))?;
    let view = client
        .post_json(&format!("/v1/applications/{}/{}", args.id, kind.route()), body)
        .await?;
    if args.api.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        let state = view["state"].as_str().unwrap_or("-");
        match kind {
            Withdrawal::Recall => println!(
                "{} recalled: {state} again, its review cancelled; edit it and submit it again, or cancel it",
                args.id
            ),
            Withdrawal::Cancel => println!("{} canceled: {state}", args.id),
        }
    }
    Ok(())
}
