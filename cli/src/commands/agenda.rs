//! `sandpiper agenda [--days N] [--kind K,…]`: what falls due across the partner's applications
//! from now (`GET /v1/agenda`), every page, one line per item in time order.

use anyhow::Context;
use serde_json::Value;

use super::ApiArgs;

#[derive(Debug, clap::Args)]
pub struct AgendaArgs {
    /// How many days ahead, from now on the API's clock (1 to 366)
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(i64).range(1..=366))]
    days: i64,
    /// Only these kinds, comma-separated (office_hours, mid_window, window_close, decision_owed,
    /// feedback_owed, grace_end, expiry)
    #[arg(long)]
    kind: Option<String>,
    #[command(flatten)]
    api: ApiArgs,
}

pub async fn run(args: AgendaArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let items = fetch(&client, args.days, args.kind.as_deref()).await?;
    if args.api.json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(items))?);
        return Ok(());
    }
    if items.is_empty() {
        println!("nothing due in the next {} days", args.days);
    }
    for item in &items {
        println!("{}", line(item));
    }
    Ok(())
}

/// Every item due in the next `days` days, all pages.
pub async fn fetch(client: &crate::client::ApiClient, days: i64, kind: Option<&str>) -> anyhow::Result<Vec<Value>> {
    let clock = client.get("/v1/clock").await.context("reading the API's clock")?;
    let now: chrono::DateTime<chrono::Utc> = clock["now"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("the clock answer has no time")?;
    let to = now + chrono::Duration::days(days);
    let mut query = format!(
        "from={}&to={}&limit=200",
        now.format("%Y-%m-%dT%H:%M:%S%.fZ"),
        to.format("%Y-%m-%dT%H:%M:%S%.fZ")
    );
    if let Some(kind) = kind {
        query.push_str(&format!("&kind={kind}"));
    }
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/agenda?{query}&cursor={c}"),
            None => format!("/v1/agenda?{query}"),
        };
        let page = client.get(&path).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(items),
        }
    }
}

/// `2026-03-05 16:00  office_hours   Acme (01J…)  Acme: bedrock-agents office hours (kickoff)  [OH1]`
pub fn line(item: &Value) -> String {
    let at = item["at"].as_str().unwrap_or_default();
    let when = at.get(..16).unwrap_or(at).replace('T', " ");
    let rules: Vec<&str> = item["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    format!(
        "{when}  {:<13}  {}  {}  [{}]",
        item["kind"].as_str().unwrap_or_default(),
        item["application_id"].as_str().unwrap_or_default(),
        item["title"].as_str().unwrap_or_default(),
        rules.join(", ")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn a_line_says_when_what_and_why() {
        let item = json!({
            "at": "2026-04-01T09:00:00Z", "kind": "mid_window", "application_id": "01J",
            "title": "Acme: mid-window check-in: tranche 2 ($10,000) released", "rules": ["TR3", "TR8"]
        });
        assert_eq!(
            line(&item),
            "2026-04-01 09:00  mid_window     01J  Acme: mid-window check-in: tranche 2 ($10,000) released  [TR3, TR8]"
        );
    }
}
