//! What a delivery looks like: the CloudEvents envelope as it is, or a Slack Block Kit message with
//! one layout per event type (a header, the application and startup, what happened with amounts and
//! dates, the rule ids behind a decision, a context line with the application id; `text` as the
//! fallback for notifications).

use sandpiper_contracts::events::{Envelope, EventType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the notifier knows about the application beyond the event itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppContext {
    pub startup: Option<String>,
    pub service: Option<String>,
}

fn money(value: &Value) -> String {
    match value.as_i64() {
        Some(n) => {
            let digits = n.abs().to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            format!("{}${out}", if n < 0 { "-" } else { "" })
        }
        None => "-".into(),
    }
}

fn date(value: &Value) -> String {
    value.as_str().and_then(|s| s.get(..10)).unwrap_or("-").to_owned()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn first_reason(data: &Value) -> Option<String> {
    data["reasons"][0]
        .as_str()
        .or_else(|| data["review"]["reasons"][0].as_str())
        .map(str::to_owned)
}

/// The headline and the facts of one event, per type.
fn facts(kind: EventType, d: &Value) -> (String, Vec<String>) {
    use EventType as E;
    let (title, lines): (&str, Vec<String>) = match kind {
        E::Drafted => ("📝 Draft created", vec![]),
        E::DraftUpdated => ("📝 Draft updated", vec![]),
        E::Submitted => (
            "📨 Application submitted",
            vec![format!("*Window:* {} days", d["application"]["evaluation_window_days"])],
        ),
        E::Classified => (
            "🧭 Classified",
            vec![
                format!("*Pool:* {}", text(&d["pool"])),
                format!(
                    "*Emerging service:* {}/month · *Model inference:* {}/month",
                    money(&d["figures"]["emerging_service_monthly_usd"]),
                    money(&d["figures"]["model_inference_monthly_usd"])
                ),
            ],
        ),
        E::Redirected => (
            "↪️ Redirected",
            vec![
                format!("*To:* {}", text(&d["to"])),
                format!(
                    "*Carries on as:* {}",
                    d["redirected_to"].as_str().unwrap_or("the existing engagement")
                ),
            ],
        ),
        E::Approved => (
            "✅ Approved",
            vec![
                format!("*Tier:* {}", money(&d["tier_usd"])),
                format!(
                    "*Components:* use case {} · metrics {} · window {} · budget {}",
                    text(&d["review"]["components"]["use_case"]["strength"]),
                    text(&d["review"]["components"]["metrics"]["strength"]),
                    text(&d["review"]["components"]["window"]["strength"]),
                    text(&d["review"]["components"]["budget"]["strength"])
                ),
            ],
        ),
        E::Rejected => ("⛔ Rejected", vec![]),
        E::CreditsApplied => (
            "💳 Credits applied",
            vec![
                format!(
                    "*Amount:* {}{}",
                    money(&d["amount_usd"]),
                    if d["split"].as_bool() == Some(true) {
                        " in two tranches"
                    } else {
                        ""
                    }
                ),
                format!(
                    "*Window:* {} → {}",
                    date(&d["window"]["starts_at"]),
                    date(&d["window"]["ends_at"])
                ),
                format!("*Valid until:* {}", date(&d["window"]["expires_at"])),
            ],
        ),
        E::TrancheReleased => (
            "💵 Tranche released",
            vec![format!("*Tranche {}:* {}", d["number"], money(&d["amount_usd"]))],
        ),
        E::TrancheWithheld => (
            "✋ Tranche withheld",
            vec![format!(
                "*Tranche {}:* {} withheld",
                d["number"],
                money(&d["amount_usd"])
            )],
        ),
        E::OfficeHoursScheduled => (
            "📅 Office hours scheduled",
            vec![
                format!(
                    "*Session:* {} on {} 16:00 UTC",
                    text(&d["session"]["kind"]).replace('_', "-"),
                    date(&d["session"]["starts_at"])
                ),
                format!(
                    "*With:* {}",
                    d["session"]["participants"]
                        .as_array()
                        .map(|p| p.iter().map(text).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
            ],
        ),
        E::ConcernRecorded => (
            if d["concern"]["blocking"].as_bool() == Some(true) {
                "🚧 Blocking concern"
            } else {
                "💬 Concern recorded"
            },
            vec![format!("> {}", text(&d["concern"]["note"]))],
        ),
        E::FeedbackRecorded => (
            "🗒️ Feedback recorded",
            vec![
                format!("*Session:* {}", text(&d["session_id"])),
                format!("> {}", text(&d["note"])),
            ],
        ),
        E::ConsumptionRecorded => (
            "📈 Consumption recorded",
            vec![format!(
                "*{}* on {}",
                money(&d["consumption"]["amount_usd"]),
                text(&d["consumption"]["date"])
            )],
        ),
        E::ClawbackWarning => (
            "⚠️ Clawback risk",
            vec![format!(
                "*Consumed:* {} of a pro-rata {}",
                money(&d["consumed_usd"]),
                money(&d["pro_rata_usd"])
            )],
        ),
        E::WindowClosed => (
            "🏁 Window closed",
            vec![
                format!(
                    "*Balance:* {} · *grace until* {}",
                    money(&d["balance_usd"]),
                    date(&d["grace_ends_at"])
                ),
                "A decision (graduate or retire) is owed.".into(),
            ],
        ),
        E::ClawedBack => (
            "↩️ Credits clawed back",
            vec![format!("*Amount:* {}", money(&d["amount_usd"]))],
        ),
        E::DecisionReminder => (
            "⏰ Decision owed",
            vec![format!("Reminder {}: graduate or retire?", d["number"])],
        ),
        E::Graduated => ("🎓 Graduated", vec![format!("*To:* {}", text(&d["target"]))]),
        E::Retired => ("🛑 Retired", vec![]),
        E::CreditsForfeited => (
            "🧾 Credits forfeited",
            vec![format!("*Amount:* {}", money(&d["amount_usd"]))],
        ),
        E::CreditsExpired => (
            "⌛ Credits expired",
            vec![format!("*Amount:* {}", money(&d["amount_usd"]))],
        ),
    };
    (title.to_owned(), lines)
}

/// The rule ids behind an event, wherever its payload keeps them.
fn rules(d: &Value) -> Vec<String> {
    let list = d["rules"].as_array().or_else(|| d["review"]["rules"].as_array());
    list.map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A Slack Block Kit message for an incoming webhook.
pub fn slack(event: &Envelope, kind: EventType, context: &AppContext) -> Value {
    let d = &event.data;
    let (title, mut lines) = facts(kind, d);
    let startup = context.startup.clone().unwrap_or_else(|| "an application".into());
    let service = context.service.clone().unwrap_or_default();
    if let Some(reason) = first_reason(d) {
        lines.push(reason);
    }
    let rule_ids = rules(d);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": title, "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Startup:*\n{startup}")},
            {"type": "mrkdwn", "text": format!("*Service:*\n{}", if service.is_empty() { "-" } else { &service })},
        ]}),
    ];
    if !lines.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}));
    }
    if !rule_ids.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Rules: {}", rule_ids.join(", "))}]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Application `{}` · {} · {}", event.subject, event.partnerid, event.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))}]}));
    json!({"text": format!("{title}: {startup} ({})", if service.is_empty() { kind.as_str() } else { &service }), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};

    fn envelope(kind: EventType, data: Value) -> Envelope {
        Envelope {
            specversion: "1.0".into(),
            id: EventId::generate(),
            source: "/sandpiper/reviewer".into(),
            event_type: kind.cloudevents_type(),
            subject: ApplicationId::generate(),
            time: "2026-03-14T09:00:00Z".parse().unwrap(),
            datacontenttype: "application/json".into(),
            partnerid: PartnerId::parse("acme").unwrap(),
            data,
        }
    }

    #[test]
    fn every_event_type_renders_valid_block_kit() {
        let context = AppContext {
            startup: Some("Helpdesk Autopilot".into()),
            service: Some("bedrock-agents".into()),
        };
        for kind in EventType::ALL {
            let message = slack(&envelope(*kind, json!({})), *kind, &context);
            assert!(
                message["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Helpdesk Autopilot")),
                "{kind:?}"
            );
            let blocks = message["blocks"].as_array().unwrap();
            assert_eq!(blocks[0]["type"], "header");
            assert!(
                blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150,
                "Slack's header limit"
            );
            assert!(
                blocks
                    .iter()
                    .all(|b| ["header", "section", "context"].contains(&b["type"].as_str().unwrap()))
            );
            assert!(
                blocks.last().unwrap()["elements"][0]["text"]
                    .as_str()
                    .unwrap()
                    .contains("Application `")
            );
        }
    }

    #[test]
    fn an_approval_shows_tier_components_and_rules() {
        let data = json!({"tier_usd": 20000, "review": {"rules": ["U", "M", "W", "B", "T5", "T6"], "reasons": ["All four components are strong"],
            "components": {"use_case": {"strength": "strong"}, "metrics": {"strength": "strong"}, "window": {"strength": "strong"}, "budget": {"strength": "strong"}}}});
        let message = slack(
            &envelope(EventType::Approved, data),
            EventType::Approved,
            &AppContext::default(),
        );
        let all = message.to_string();
        assert!(all.contains("*Tier:* $20,000"), "{all}");
        assert!(all.contains("Rules: U, M, W, B, T5, T6"), "{all}");
        assert!(all.contains("use case strong"), "{all}");
    }
}
