//! `sandpiper ace export ID`: the Partner Central request bodies that file an application (the
//! ACE export, `GET /v1/applications/{id}/ace`), printed as JSON; with `--operation`, one body
//! alone, ready for `aws partnercentral-selling create-opportunity --cli-input-json file://…`.

use serde_json::Value;

use super::ApiArgs;

#[derive(Debug, clap::Subcommand)]
pub enum AceCommand {
    /// Print the CreateOpportunity and CreateBenefitApplication inputs (and the mapped status)
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The application id
    id: String,
    /// Print only this body, as `--cli-input-json` takes it
    #[arg(long, value_enum)]
    operation: Option<Operation>,
    #[command(flatten)]
    api: ApiArgs,
}

/// One Partner Central operation, named as the AWS CLI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Operation {
    /// `aws partnercentral-selling create-opportunity`
    CreateOpportunity,
    /// `aws partnercentral-benefits create-benefit-application`
    CreateBenefitApplication,
}

impl Operation {
    /// The export's member holding this operation's input.
    fn member(self) -> &'static str {
        match self {
            Operation::CreateOpportunity => "create_opportunity",
            Operation::CreateBenefitApplication => "create_benefit_application",
        }
    }
}

pub async fn run(command: AceCommand) -> anyhow::Result<()> {
    match command {
        AceCommand::Export(args) => {
            let client = args.api.client()?;
            let (printed, notes) = export(&client, &args.id, args.operation).await?;
            println!("{}", serde_json::to_string_pretty(&printed)?);
            // A single body goes to a file as it is: the notes go to standard error.
            if args.operation.is_some() {
                for note in notes {
                    eprintln!("note: {note}");
                }
            }
        }
    }
    Ok(())
}

/// What `sandpiper ace export ID [--operation …]` prints, and the export's notes.
pub async fn export(
    client: &crate::client::ApiClient,
    id: &str,
    operation: Option<Operation>,
) -> anyhow::Result<(Value, Vec<String>)> {
    let export = client.get(&format!("/v1/applications/{id}/ace")).await?;
    let notes = export["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    Ok((select(&export, operation)?, notes))
}

/// The whole export, or the one body `operation` names.
pub fn select(export: &Value, operation: Option<Operation>) -> anyhow::Result<Value> {
    match operation {
        None => Ok(export.clone()),
        Some(operation) => export
            .get(operation.member())
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the API's export has no {}", operation.member())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn an_operation_selects_its_body_alone() {
        let export = json!({
            "create_opportunity": {"Catalog": "Sandbox", "ClientToken": "t"},
            "create_benefit_application": {"Catalog": "Sandbox"},
            "notes": []
        });
        assert_eq!(select(&export, None).unwrap(), export);
        assert_eq!(
            select(&export, Some(Operation::CreateOpportunity)).unwrap(),
            json!({"Catalog": "Sandbox", "ClientToken": "t"})
        );
        assert_eq!(
            select(&export, Some(Operation::CreateBenefitApplication)).unwrap(),
            json!({"Catalog": "Sandbox"})
        );
        assert!(select(&json!({}), Some(Operation::CreateOpportunity)).is_err());
    }
}
