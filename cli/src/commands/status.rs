//! `sandpiper status ID`: where an application stands, what was decided, and its history.

use serde_json::Value;

use super::ApiArgs;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The application id
    id: String,
    #[command(flatten)]
    api: ApiArgs,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let view = client.get(&format!("/v1/applications/{}", args.id)).await?;
    let events = client.get(&format!("/v1/applications/{}/events", args.id)).await?;
    if args.api.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"application": view, "events": events}))?
        );
    } else {
        print!("{}", render(&view, &events));
    }
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// The status as a person reads it.
pub fn render(view: &Value, events: &Value) -> String {
    let mut out = String::new();
    out += &format!("{}  {}\n", text(&view["id"]), text(&view["startup"]["name"]));
    out += &format!("  state:     {}\n", text(&view["state"]));
    if let Some(reason) = view["canceled"]["reason"].as_str() {
        out += &format!("  canceled:  {reason}\n");
    } else if let (Some(reason), "draft") = (view["recalled"]["reason"].as_str(), text(&view["state"])) {
        out += &format!("  recalled:  {reason} (a draft again; submit it to file it anew)\n");
    }
    out += &format!("  partner:   {}\n", text(&view["partner_id"]));
    out += &format!(
        "  service:   {}  ({} days)\n",
        text(&view["service"]),
        view["evaluation_window_days"]
    );
    out += &format!("  submitted: {}\n", view["submitted_at"].as_str().unwrap_or("not yet"));
    if let Some(decision) = view["decision"].as_object() {
        let tier = match (
            decision.get("tier_usd").and_then(Value::as_i64),
            decision.get("outcome").and_then(|o| o.get("decision")),
        ) {
            (Some(t), _) => format!("approved at ${t}"),
            (None, Some(outcome)) => text(outcome).to_owned(),
            (None, None) => "not yet reviewed".into(),
        };
        out += &format!(
            "  pool:      {}  ({tier}; catalog {})\n",
            text(&decision["pool"]),
            text(&decision["catalog_version"])
        );
        let rules: Vec<&str> = decision
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !rules.is_empty() {
            out += &format!("  rules:     {}\n", rules.join(", "));
        }
        if let Some(components) = decision.get("components").and_then(Value::as_object) {
            for (name, score) in components {
                out += &format!("  {:<10} {}\n", format!("{name}:"), text(&score["strength"]));
            }
        }
        for reason in decision.get("reasons").and_then(Value::as_array).into_iter().flatten() {
            out += &format!("             - {}\n", text(reason));
        }
    }
    for (label, key) in [
        ("redirected to", "redirected_to"),
        ("graduated to", "graduated_to"),
        ("from", "originated_from"),
    ] {
        if let Some(id) = view["links"][key].as_str() {
            out += &format!("  {label}: {id}\n");
        }
    }
    out += "  history:\n";
    for event in events.as_array().into_iter().flatten() {
        let kind = text(&event["type"])
            .trim_start_matches("dev.sandpiper.")
            .trim_end_matches(".v1");
        out += &format!(
            "    {}  {:<24} {}\n",
            text(&event["time"]),
            kind,
            text(&event["source"])
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_state_decision_and_history() {
        let view = json!({"id": "01J", "state": "in_review", "partner_id": "demo", "service": "bedrock-agents",
            "evaluation_window_days": 60, "startup": {"name": "Helpdesk"}, "submitted_at": "2026-01-01T00:00:00Z",
            "decision": {"pool": "innovation_sandbox", "tier_usd": null, "catalog_version": "2026.1", "reasons": ["kept"]}});
        let events = json!([{"type": "dev.sandpiper.submitted.v1", "time": "2026-01-01T00:00:00Z", "source": "/sandpiper/intake"}]);
        let out = render(&view, &events);
        assert!(out.contains("state:     in_review"), "{out}");
        assert!(
            out.contains("pool:      innovation_sandbox  (not yet reviewed; catalog 2026.1)"),
            "{out}"
        );
        assert!(out.contains("submitted"), "{out}");
        assert!(out.contains("- kept"), "{out}");
    }

    #[test]
    fn says_why_an_application_was_recalled_or_canceled() {
        let recalled = json!({"id": "01J", "state": "draft", "recalled": {"reason": "wrong budget", "at": "2026-01-02T00:00:00Z"}});
        assert!(render(&recalled, &json!([])).contains("recalled:  wrong budget (a draft again"));
        let resubmitted = json!({"id": "01J", "state": "in_review", "recalled": {"reason": "wrong budget"}});
        assert!(
            !render(&resubmitted, &json!([])).contains("recalled:"),
            "a recall before the filing in force is history"
        );
        let canceled = json!({"id": "01J", "state": "canceled", "canceled": {"reason": "went with Activate"}, "recalled": {"reason": "x"}});
        assert!(render(&canceled, &json!([])).contains("canceled:  went with Activate"));
    }
}
