//! `sandpiper dead-letters list|redrive`: the events the services refused (#13), from the
//! intake's admin API (`GET /v1/dead-letters`, `POST /v1/dead-letters/{id}/redrive`).

use serde_json::Value;

use super::ApiArgs;

#[derive(Debug, clap::Subcommand)]
pub enum DeadLettersCommand {
    /// The refused events, oldest first (admin token)
    List {
        /// At most this many (the API pages by 200; the pages are followed)
        #[arg(long, default_value_t = 200)]
        limit: usize,
        /// Only the letters of this service (classifier, reviewer, scheduler, notifier)
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Have the refusing service handle one again (admin token)
    Redrive {
        /// The dead letter's id, as `dead-letters list` shows it
        id: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: DeadLettersCommand) -> anyhow::Result<()> {
    match command {
        DeadLettersCommand::List { limit, service, api } => {
            let client = api.admin_client()?;
            let mut letters: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            while letters.len() < limit {
                let page_size = (limit - letters.len()).min(200);
                let mut path = format!("/v1/dead-letters?limit={page_size}");
                if let Some(service) = &service {
                    path.push_str(&format!("&service={service}"));
                }
                if let Some(cursor) = &cursor {
                    path.push_str(&format!("&cursor={cursor}"));
                }
                let page = client.get(&path).await?;
                letters.extend(page["items"].as_array().into_iter().flatten().cloned());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            if api.json {
                println!("{}", serde_json::to_string_pretty(&letters)?);
                return Ok(());
            }
            if letters.is_empty() {
                println!("no dead letters");
            }
            for letter in &letters {
                println!("{}", line(letter));
            }
        }
        DeadLettersCommand::Redrive { id, api } => {
            let answer = api
                .admin_client()?
                .post_json(&format!("/v1/dead-letters/{id}/redrive"), Vec::new())
                .await?;
            if api.json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
                return Ok(());
            }
            let service = answer["service"].as_str().unwrap_or("?");
            match answer["outcome"].as_str() {
                Some("redriven") => println!("dead letter {id}: handled by the {service}; removed"),
                _ => println!(
                    "dead letter {id}: refused again by the {service}, now dead letter {}: {}",
                    answer["dead_letter"],
                    answer["reason"].as_str().unwrap_or("?")
                ),
            }
        }
    }
    Ok(())
}

/// One letter on one line: id, when, who refused what, and why.
fn line(letter: &Value) -> String {
    let text = |key: &str| letter[key].as_str().unwrap_or("-").to_owned();
    let event_type = text("event_type");
    let event_type = event_type.trim_start_matches("dev.sandpiper.").trim_end_matches(".v1");
    format!(
        "{:>6}  {}  {:<10} {:<24} seq {:<6} {:<10} redrives {}  {}  {}",
        letter["id"],
        text("refused_at"),
        text("service"),
        event_type,
        letter["stream_sequence"],
        text("reason_kind"),
        letter["redrives"],
        text("application_id"),
        text("reason"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_who_refused_what_and_why() {
        let letter = serde_json::json!({
            "id": 12, "refused_at": "2026-03-02T09:00:00Z", "service": "classifier",
            "event_type": "dev.sandpiper.submitted.v1", "stream_sequence": 40, "reason_kind": "mismatched",
            "redrives": 0, "application_id": "01J0000000000000000000000A", "reason": "permanent: arrived on …"
        });
        let shown = line(&letter);
        for part in [
            "12",
            "classifier",
            "submitted ",
            "seq 40",
            "mismatched",
            "permanent: arrived on",
        ] {
            assert!(shown.contains(part), "{part} in {shown}");
        }
        assert!(!shown.contains("dev.sandpiper"), "{shown}");
        // An unreadable event has no type or application: dashes, not a failure.
        let unreadable =
            line(&serde_json::json!({"id": 1, "service": "notifier", "reason_kind": "unreadable", "redrives": 0}));
        assert!(unreadable.contains(" - "), "{unreadable}");
    }
}
