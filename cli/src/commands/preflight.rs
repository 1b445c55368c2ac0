//! `sandpiper preflight FILE.json`: how the review would score an application, without filing it.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::Value;

use super::ApiArgs;
use crate::simulate::report::usd;

#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// The application body (JSON, as in CONTRACT §2)
    file: PathBuf,
    #[command(flatten)]
    api: ApiArgs,
}

pub async fn run(args: PreflightArgs) -> anyhow::Result<()> {
    let body = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let client = args.api.client()?;
    let scoring = client
        .post_json("/v1/preflight", body)
        .await
        .context("preflight refused the application")?;
    if args.api.json {
        println!("{}", serde_json::to_string_pretty(&scoring)?);
    } else {
        print!("{}", render(&scoring));
    }
    Ok(())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

/// The scoring as a person reads it: the components as a table with their reasons, the outcome,
/// and what would raise it.
pub fn render(scoring: &Value) -> String {
    let mut out = String::new();
    let classification = &scoring["classification"];
    out += &format!(
        "pool: {}  ({})\n",
        text(&scoring["pool"]),
        text(&classification["outcome"])
    );
    for reason in list(&classification["reasons"]) {
        out += &format!("  - {reason}\n");
    }
    // K1 to Activate Portfolio and C4a are not reviewed here: there are no components or tier.
    if scoring["decision"] == "redirected" {
        out += &format!(
            "\noutcome: redirected to {}, not reviewed here  (rules {}; catalog {})\n",
            text(&scoring["pool"]),
            list(&scoring["rules"]).join(", "),
            text(&scoring["catalog_version"])
        );
        return out;
    }
    out += "\ncomponent   strength  rules\n";
    out += "---------   --------  -----\n";
    for (name, key) in [
        ("use case", "use_case"),
        ("metrics", "metrics"),
        ("window", "window"),
        ("budget", "budget"),
    ] {
        let component = &scoring["components"][key];
        out += &format!(
            "{name:<11} {:<9} {}\n",
            text(&component["strength"]),
            list(&component["rules"]).join(", ")
        );
        for reason in list(&component["reasons"]) {
            out += &format!("              {reason}\n");
        }
    }
    let outcome = match scoring["tier_usd"].as_i64() {
        Some(tier) => format!("approved at {}", usd(tier)),
        None => "rejected".into(),
    };
    out += &format!(
        "\noutcome: {outcome}  (rules {}; decided {} days after submission; catalog {})\n",
        list(&scoring["rules"]).join(", "),
        text(&scoring["review_period_days"]),
        text(&scoring["catalog_version"])
    );
    for reason in list(&scoring["reasons"]) {
        out += &format!("  - {reason}\n");
    }
    let next = list(&scoring["next_tier"]);
    if next.is_empty() {
        out += "\nthis is the highest tier.\n";
    } else {
        out += "\nto reach the next tier:\n";
        for step in next {
            out += &format!("  - {step}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_components_outcome_and_next_steps() {
        let weak = json!({"strength": "weak", "reasons": ["a range estimate"], "rules": ["B"]});
        let strong = json!({"strength": "strong", "reasons": [], "rules": ["U"]});
        let scoring = json!({
            "pool": "innovation_sandbox",
            "classification": {"outcome": "fits", "reasons": ["emerging $1,200 ≥ inference $850"]},
            "components": {"use_case": strong, "metrics": strong, "window": strong, "budget": weak},
            "tier_usd": 10000, "rules": ["T3"], "reasons": ["one weak component"],
            "next_tier": ["give exact monthly amounts"], "review_period_days": 12, "catalog_version": "2026.1"
        });
        let out = render(&scoring);
        assert!(out.contains("budget      weak      B"), "{out}");
        assert!(out.contains("              a range estimate"), "{out}");
        assert!(out.contains("outcome: approved at $10,000"), "{out}");
        assert!(out.contains("  - give exact monthly amounts"), "{out}");
    }

    #[test]
    fn a_redirect_that_is_not_reviewed_shows_no_components_or_tier() {
        let scoring = json!({
            "decision": "redirected", "pool": "activate_portfolio",
            "classification": {"outcome": "redirect", "reasons": ["Amazon Q Business matured (K1)"]},
            "components": null, "tier_usd": null, "rules": ["K1"], "reasons": ["Amazon Q Business matured (K1)"],
            "next_tier": [], "review_period_days": null, "catalog_version": "2026.2"
        });
        let out = render(&scoring);
        assert!(
            out.contains("outcome: redirected to activate_portfolio, not reviewed here  (rules K1; catalog 2026.2)"),
            "{out}"
        );
        assert!(!out.contains("component") && !out.contains("rejected"), "{out}");
    }
}
