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

/// Slack's limits: a section's text, a header's plain text, a field's text.
const SECTION_LIMIT: usize = 3_000;
const HEADER_LIMIT: usize = 150;
const FIELD_LIMIT: usize = 2_000;

/// Escapes text for Slack mrkdwn: `<`, `>` and `&` are control characters there, so a partner's
/// note could otherwise render a link or ping `<!channel>`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `limit` characters, ending with an ellipsis when cut, never inside an
/// escape (`&amp;` cut to `&am` would show as such).
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(limit.saturating_sub(1)).collect();
    if let Some(amp) = kept.rfind('&')
        && !kept[amp..].contains(';')
    {
        kept.truncate(amp);
    }
    kept.push('…');
    kept
}

fn money(value: &Value) -> String {
    match value.as_i64() {
        Some(n) => usd(n),
        None => "-".into(),
    }
}

fn usd(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}${out}", if n < 0 { "-" } else { "" })
}

fn date(value: &Value) -> String {
    value
        .as_str()
        .and_then(|s| s.get(..10))
        .map(escape)
        .unwrap_or_else(|| "-".into())
}

/// A timestamp as a person reads it: `2026-03-20 15:30 UTC`.
fn date_time(value: &Value) -> String {
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A string of the payload, escaped for mrkdwn.
fn text(value: &Value) -> String {
    escape(value.as_str().unwrap_or_default())
}

/// A payload string, escaped, or `-` when absent or empty.
fn or_dash(value: &Value) -> String {
    match value.as_str() {
        Some(s) if !s.is_empty() => escape(s),
        _ => "-".into(),
    }
}

/// A partner's or team's note as a mrkdwn quote (every line of it).
fn quote(value: &Value) -> Option<String> {
    let note = value.as_str().filter(|n| !n.trim().is_empty())?;
    Some(
        note.lines()
            .map(|l| format!("> {}", escape(l)))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn strengths(components: &Value) -> String {
    format!(
        "*Components:* use case {} · metrics {} · window {} · budget {}",
        or_dash(&components["use_case"]["strength"]),
        or_dash(&components["metrics"]["strength"]),
        or_dash(&components["window"]["strength"]),
        or_dash(&components["budget"]["strength"])
    )
}

fn catalog(d: &Value) -> String {
    format!("*Catalog:* {}", or_dash(&d["catalog_version"]))
}

/// The monthly budget of a submitted body: exact lines, ranges as low–high.
fn budget_total(lines: &Value) -> String {
    let (mut low, mut high) = (0i64, 0i64);
    for line in lines.as_array().into_iter().flatten() {
        if let Some(exact) = line["monthly_usd"].as_i64() {
            low = low.saturating_add(exact);
            high = high.saturating_add(exact);
        } else if let (Some(l), Some(h)) = (
            line["monthly_usd_range"][0].as_i64(),
            line["monthly_usd_range"][1].as_i64(),
        ) {
            low = low.saturating_add(l);
            high = high.saturating_add(h);
        }
    }
    if low == high {
        format!("{}/month", usd(low))
    } else {
        format!("{}–{}/month", usd(low), usd(high))
    }
}

/// Where a redirected application carries on (`continues_as`).
fn continuation(d: &Value) -> String {
    let to = or_dash(&d["to"]);
    match d["continues_as"]["kind"].as_str() {
        Some("new_linked_application") => match d["redirected_to"].as_str() {
            Some(id) => format!("a new linked {to} application `{}`", escape(id)),
            None => format!("a new linked {to} application"),
        },
        Some("existing_stack_entry") => format!(
            "the {to} engagement already in the startup's stack (entry {})",
            d["continues_as"]["stack_index"]
                .as_u64()
                .map(|i| (i + 1).to_string())
                .unwrap_or_else(|| "-".into())
        ),
        Some("recorded_in_stack") => format!("recorded in the startup's stack as {to}"),
        _ => d["redirected_to"]
            .as_str()
            .map(|id| format!("application `{}`", escape(id)))
            .unwrap_or_else(|| "the existing engagement".into()),
    }
}

/// The reasons a payload gives, review reasons included (eligibility failures among them).
fn reasons(d: &Value) -> Vec<String> {
    let list = d["reasons"].as_array().or_else(|| d["review"]["reasons"].as_array());
    list.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(escape)
        .collect()
}

/// One event's message: its headline, the key fact for the notification text, and the facts.
struct Layout {
    title: String,
    /// Plain and short: it is what a phone notification shows.
    summary: String,
    lines: Vec<String>,
    /// Whether the payload's reasons are listed (all of them), or only the first.
    all_reasons: bool,
}

fn layout(kind: EventType, d: &Value) -> Layout {
    use EventType as E;
    let mut all_reasons = false;
    let (title, summary, lines): (&str, String, Vec<String>) = match kind {
        E::Drafted | E::DraftUpdated => {
            let mut lines = vec![format!("*Workload:* {}", or_dash(&d["draft"]["workload"]))];
            if let Some(from) = d["originated_from"].as_str() {
                lines.push(format!("*Carries on from:* `{}`", escape(from)));
            }
            let title = if kind == E::Drafted {
                "📝 Draft created"
            } else {
                "📝 Draft updated"
            };
            (title, format!("workload {}", or_dash(&d["draft"]["workload"])), lines)
        }
        E::Submitted => {
            let a = &d["application"];
            (
                "📨 Application submitted",
                format!(
                    "{} for {}, {} days",
                    or_dash(&a["programme"]),
                    budget_total(&a["budget"]),
                    a["evaluation_window_days"]
                ),
                vec![
                    format!("*Programme:* {}", or_dash(&a["programme"])),
                    format!("*Budget:* {}", budget_total(&a["budget"])),
                    format!("*Window:* {} days", a["evaluation_window_days"]),
                    format!("*Workload:* {}", or_dash(&a["workload"])),
                    format!("*Use case:* {}", or_dash(&a["use_case"])),
                ],
            )
        }
        E::Classified => (
            "🧭 Classified",
            format!("pool {}", or_dash(&d["pool"])),
            vec![
                format!("*Pool:* {}", or_dash(&d["pool"])),
                format!(
                    "*Emerging service:* {}/month · *Model inference:* {}/month",
                    money(&d["figures"]["emerging_service_monthly_usd"]),
                    money(&d["figures"]["model_inference_monthly_usd"])
                ),
                catalog(d),
            ],
        ),
        E::Redirected => (
            "↪️ Redirected",
            format!("to {}", or_dash(&d["to"])),
            vec![
                format!("*To:* {}", or_dash(&d["to"])),
                format!("*Carries on as:* {}", continuation(d)),
                catalog(d),
            ],
        ),
        E::Approved => (
            "✅ Approved",
            format!("approved at the {} tier", money(&d["tier_usd"])),
            vec![
                format!("*Tier:* {}", money(&d["tier_usd"])),
                strengths(&d["review"]["components"]),
                catalog(d),
            ],
        ),
        E::Rejected => {
            all_reasons = true;
            (
                "⛔ Rejected",
                reasons(d).first().cloned().unwrap_or_else(|| "rejected".into()),
                vec![strengths(&d["review"]["components"]), catalog(d)],
            )
        }
        E::CreditsApplied => (
            "💳 Credits applied",
            format!("{} from {}", money(&d["amount_usd"]), date(&d["window"]["starts_at"])),
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
            format!("tranche {}: {}", d["number"], money(&d["amount_usd"])),
            vec![format!("*Tranche {}:* {}", d["number"], money(&d["amount_usd"]))],
        ),
        E::TrancheWithheld => (
            "✋ Tranche withheld",
            format!("tranche {}: {} withheld", d["number"], money(&d["amount_usd"])),
            vec![format!(
                "*Tranche {}:* {} withheld",
                d["number"],
                money(&d["amount_usd"])
            )],
        ),
        E::OfficeHoursScheduled => {
            let session = format!(
                "{} on {}",
                text(&d["session"]["kind"]).replace('_', "-"),
                date_time(&d["session"]["starts_at"])
            );
            (
                "📅 Office hours scheduled",
                session.clone(),
                vec![
                    format!("*Session:* {session}"),
                    format!(
                        "*With:* {}",
                        d["session"]["participants"]
                            .as_array()
                            .map(|p| p.iter().map(text).collect::<Vec<_>>().join(", "))
                            .unwrap_or_default()
                    ),
                ],
            )
        }
        E::ConcernRecorded => (
            if d["concern"]["blocking"].as_bool() == Some(true) {
                "🚧 Blocking concern"
            } else {
                "💬 Concern recorded"
            },
            text(&d["concern"]["note"]),
            quote(&d["concern"]["note"]).into_iter().collect(),
        ),
        E::FeedbackRecorded => (
            "🗒️ Feedback recorded",
            text(&d["note"]),
            [
                Some(format!("*Session:* {}", or_dash(&d["session_id"]))),
                quote(&d["note"]),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        E::ConsumptionRecorded => (
            "📈 Consumption recorded",
            format!(
                "{} on {}",
                money(&d["consumption"]["amount_usd"]),
                or_dash(&d["consumption"]["date"])
            ),
            [
                Some(format!(
                    "*{}* on {}",
                    money(&d["consumption"]["amount_usd"]),
                    or_dash(&d["consumption"]["date"])
                )),
                quote(&d["consumption"]["note"]),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        E::ClawbackWarning => (
            "⚠️ Clawback risk",
            format!(
                "{} consumed of a pro-rata {}",
                money(&d["consumed_usd"]),
                money(&d["pro_rata_usd"])
            ),
            vec![format!(
                "*Consumed:* {} of a pro-rata {}",
                money(&d["consumed_usd"]),
                money(&d["pro_rata_usd"])
            )],
        ),
        E::WindowClosed => (
            "🏁 Window closed",
            format!(
                "balance {}, grace until {}",
                money(&d["balance_usd"]),
                date(&d["grace_ends_at"])
            ),
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
            format!("{} clawed back", money(&d["amount_usd"])),
            vec![format!("*Amount:* {}", money(&d["amount_usd"]))],
        ),
        E::DecisionReminder => (
            "⏰ Decision owed",
            format!("reminder {}", d["number"]),
            vec![format!("Reminder {}: graduate or retire?", d["number"])],
        ),
        E::Graduated => {
            let mut lines = vec![format!("*To:* {}", or_dash(&d["target"]))];
            if let Some(id) = d["graduated_to"].as_str() {
                lines.push(format!("*Carries on as:* application `{}`", escape(id)));
            }
            lines.extend(quote(&d["notes"]));
            ("🎓 Graduated", format!("to {}", or_dash(&d["target"])), lines)
        }
        E::Retired => (
            "🛑 Retired",
            d["notes"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map(escape)
                .unwrap_or_else(|| "retired".into()),
            quote(&d["notes"]).into_iter().collect(),
        ),
        E::CreditsForfeited => (
            "🧾 Credits forfeited",
            format!("{} forfeited", money(&d["amount_usd"])),
            vec![format!("*Amount:* {}", money(&d["amount_usd"]))],
        ),
        E::CreditsExpired => (
            "⌛ Credits expired",
            format!("{} expired", money(&d["amount_usd"])),
            vec![format!("*Amount:* {}", money(&d["amount_usd"]))],
        ),
    };
    Layout {
        title: title.to_owned(),
        summary,
        lines,
        all_reasons,
    }
}

/// The rule ids behind an event, wherever its payload keeps them.
fn rules(d: &Value) -> Vec<String> {
    let list = d["rules"].as_array().or_else(|| d["review"]["rules"].as_array());
    list.map(|r| r.iter().filter_map(Value::as_str).map(escape).collect())
        .unwrap_or_default()
}

/// A Slack Block Kit message for an incoming webhook.
pub fn slack(event: &Envelope, kind: EventType, context: &AppContext) -> Value {
    let d = &event.data;
    let Layout {
        title,
        summary,
        mut lines,
        all_reasons,
    } = layout(kind, d);
    let startup = context
        .startup
        .as_deref()
        .map(escape)
        .unwrap_or_else(|| "an application".into());
    let service = context.service.as_deref().map(escape).unwrap_or_default();
    let why = reasons(d);
    if all_reasons {
        lines.extend(why.iter().map(|r| format!("• {r}")));
    } else if let Some(reason) = why.first() {
        lines.push(reason.clone());
    }
    let rule_ids = rules(d);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, HEADER_LIMIT), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": truncate(&format!("*Startup:*\n{startup}"), FIELD_LIMIT)},
            {"type": "mrkdwn", "text": truncate(&format!("*Service:*\n{}", if service.is_empty() { "-" } else { &service }), FIELD_LIMIT)},
        ]}),
    ];
    if !lines.is_empty() {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&lines.join("\n"), SECTION_LIMIT)}}),
        );
    }
    if !rule_ids.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&format!("Rules: {}", rule_ids.join(", ")), SECTION_LIMIT)}]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Application `{}` · {} · {}", event.subject, event.partnerid, event.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))}]}));
    let fallback = format!(
        "{title}: {startup} ({}): {summary}",
        if service.is_empty() { kind.as_str() } else { &service }
    );
    json!({"text": truncate(&fallback, SECTION_LIMIT), "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate, Utc};
    use sandpiper_contracts::decision::{
        ComponentScore, Components, Continuation, Outcome, PoolFigures, Review, Strength,
    };
    use sandpiper_contracts::engagement::{Concern, Consumption, Session, SessionKind, Tranche, TrancheStatus, Window};
    use sandpiper_contracts::events as ev;
    use sandpiper_contracts::events::EventPayload;
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_contracts::model::{
        ApplicationBody, ApplicationDraft, BudgetCategory, BudgetLine, Programme, Startup, TargetMetric,
    };
    use sandpiper_contracts::names::ServiceName;
    use sandpiper_contracts::rule::RuleId;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn envelope<P: EventPayload>(payload: &P) -> Envelope {
        Envelope::new(
            EventId::generate(),
            ServiceName::Reviewer,
            PartnerId::parse("acme").unwrap(),
            ApplicationId::generate(),
            at("2026-03-14T09:00:00Z"),
            payload,
        )
        .unwrap()
    }

    fn context() -> AppContext {
        AppContext {
            startup: Some("Helpdesk Autopilot".into()),
            service: Some("bedrock-agents".into()),
        }
    }

    fn score(strength: Strength) -> ComponentScore {
        ComponentScore {
            strength,
            reasons: vec![],
            rules: vec![],
        }
    }

    fn review(outcome: Outcome, weak_metrics: bool, rules: &[RuleId], reasons: &[&str]) -> Review {
        Review {
            pool: Programme::InnovationSandbox,
            components: Components {
                use_case: score(Strength::Strong),
                metrics: score(if weak_metrics { Strength::Weak } else { Strength::Strong }),
                window: score(Strength::Strong),
                budget: score(Strength::Strong),
            },
            vague: false,
            outcome,
            rules: rules.to_vec(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            next_tier: vec![],
            figures: PoolFigures::default(),
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn body() -> ApplicationBody {
        ApplicationBody {
            startup: Startup {
                name: "Helpdesk Autopilot".into(),
                aws_account_id: "123456789012".into(),
                industry: "saas".into(),
                stage: None,
                team_size: None,
                monthly_recurring_revenue_usd: None,
            },
            programme: Programme::InnovationSandbox,
            service: "bedrock-agents".into(),
            workload: "support-triage".into(),
            use_case: "Cut first-response time by 40%".into(),
            target_metrics: vec![TargetMetric {
                name: "first response".into(),
                target: "-40%".into(),
            }],
            metrics: vec!["first response".into()],
            feedback_checkpoints_days: vec![30, 60],
            evaluation_window_days: 90,
            budget: vec![
                BudgetLine {
                    item: "agents".into(),
                    category: BudgetCategory::EmergingService,
                    monthly_usd: Some(1_200),
                    monthly_usd_range: None,
                    basis: None,
                },
                BudgetLine {
                    item: "inference".into(),
                    category: BudgetCategory::ModelInference,
                    monthly_usd: None,
                    monthly_usd_range: Some([800, 900]),
                    basis: None,
                },
            ],
            production_monthly_usd: None,
            stack: vec![],
        }
    }

    fn window() -> Window {
        Window {
            starts_at: at("2026-03-20T00:00:00Z"),
            ends_at: at("2026-06-18T00:00:00Z"),
            grace_ends_at: at("2026-07-18T00:00:00Z"),
            expires_at: at("2027-03-20T00:00:00Z"),
            mid_window_at: at("2026-05-04T00:00:00Z"),
        }
    }

    /// Every event type with a realistic payload, the facts its message must show and the key
    /// fact its notification text must carry.
    fn cases() -> Vec<(Envelope, Vec<&'static str>, &'static str)> {
        let linked = "01JQ0000000000000000000001";
        let origin = "01JQ0000000000000000000002";
        let draft = ApplicationDraft {
            workload: Some("support-triage".into()),
            ..Default::default()
        };
        vec![
            (
                envelope(&ev::Drafted {
                    draft: draft.clone(),
                    originated_from: Some(origin.parse().unwrap()),
                }),
                vec!["*Workload:* support-triage", origin],
                "support-triage",
            ),
            (
                envelope(&ev::DraftUpdated { draft }),
                vec!["*Workload:* support-triage"],
                "support-triage",
            ),
            (
                envelope(&ev::Submitted { application: body() }),
                vec![
                    "*Programme:* innovation_sandbox",
                    "*Budget:* $2,000–$2,100/month",
                    "*Window:* 90 days",
                    "Cut first-response time by 40%",
                ],
                "$2,000–$2,100/month",
            ),
            (
                envelope(&ev::Classified {
                    pool: Programme::InnovationSandbox,
                    rules: vec![RuleId::C1, RuleId::C2],
                    reasons: strings(&["The emerging service leads the budget."]),
                    catalog_version: "2026-03".into(),
                    figures: PoolFigures {
                        emerging_service_monthly_usd: 1_200,
                        model_inference_monthly_usd: 850,
                        ..Default::default()
                    },
                    eligibility_failures: vec![],
                    submitted_at: at("2026-03-14T08:00:00Z"),
                }),
                vec![
                    "*Pool:* innovation_sandbox",
                    "$1,200/month",
                    "*Catalog:* 2026-03",
                    "Rules: C1, C2",
                ],
                "innovation_sandbox",
            ),
            (
                envelope(&ev::Redirected {
                    to: Programme::BedrockPoc,
                    continues_as: Continuation::NewLinkedApplication,
                    redirected_to: Some(linked.parse().unwrap()),
                    rules: vec![RuleId::C3],
                    reasons: strings(&["Model inference leads the budget."]),
                    catalog_version: "2026-03".into(),
                    figures: PoolFigures::default(),
                }),
                vec!["*To:* bedrock_poc", linked, "*Catalog:* 2026-03", "Rules: C3"],
                "bedrock_poc",
            ),
            (
                envelope(&ev::Approved {
                    tier_usd: 20_000,
                    review: review(
                        Outcome::Approved { tier_usd: 20_000 },
                        false,
                        &[RuleId::U, RuleId::M, RuleId::W, RuleId::B, RuleId::T5, RuleId::T6],
                        &["All four components are strong"],
                    ),
                    catalog_version: "2026-03".into(),
                }),
                vec![
                    "*Tier:* $20,000",
                    "use case strong · metrics strong",
                    "Rules: U, M, W, B, T5, T6",
                    "*Catalog:* 2026-03",
                ],
                "$20,000",
            ),
            (
                envelope(&ev::Rejected {
                    review: review(
                        Outcome::Rejected,
                        true,
                        &[RuleId::M, RuleId::T1, RuleId::E2],
                        &[
                            "Not eligible: the AWS account is not active",
                            "Eligibility failed (E2): rejected (T1).",
                        ],
                    ),
                    catalog_version: "2026-03".into(),
                }),
                vec![
                    "metrics weak",
                    "Not eligible: the AWS account is not active",
                    "Eligibility failed (E2)",
                    "Rules: M, T1, E2",
                    "*Catalog:* 2026-03",
                ],
                "Not eligible",
            ),
            (
                envelope(&ev::CreditsApplied {
                    amount_usd: 20_000,
                    split: true,
                    tranches: vec![Tranche {
                        number: 1,
                        amount_usd: 10_000,
                        status: TrancheStatus::Released,
                        due_at: at("2026-03-20T00:00:00Z"),
                        released_at: None,
                        balance_usd: 10_000,
                    }],
                    window: window(),
                    rules: vec![RuleId::TR3],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["$20,000 in two tranches", "2026-03-20 → 2026-06-18", "2027-03-20"],
                "$20,000",
            ),
            (
                envelope(&ev::TrancheReleased {
                    number: 2,
                    amount_usd: 10_000,
                    rules: vec![RuleId::TR3],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["*Tranche 2:* $10,000"],
                "$10,000",
            ),
            (
                envelope(&ev::TrancheWithheld {
                    number: 2,
                    amount_usd: 10_000,
                    rules: vec![RuleId::TR3],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["$10,000 withheld"],
                "$10,000 withheld",
            ),
            (
                envelope(&ev::OfficeHoursScheduled {
                    session: Session {
                        id: "kickoff".into(),
                        kind: SessionKind::MidWindow,
                        starts_at: at("2026-05-04T15:30:00Z"),
                        ends_at: at("2026-05-04T16:00:00Z"),
                        participants: strings(&["sa@example.com", "founder@example.com"]),
                        feedback: vec![],
                    },
                    rules: vec![RuleId::OH1],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec![
                    "mid-window on 2026-05-04 15:30 UTC",
                    "sa@example.com, founder@example.com",
                ],
                "2026-05-04 15:30 UTC",
            ),
            (
                envelope(&ev::ConcernRecorded {
                    concern: Concern {
                        id: "c1".into(),
                        blocking: true,
                        note: "Latency over budget".into(),
                        recorded_at: at("2026-04-01T10:00:00Z"),
                    },
                }),
                vec!["Blocking concern", "> Latency over budget"],
                "Latency over budget",
            ),
            (
                envelope(&ev::FeedbackRecorded {
                    session_id: "kickoff".into(),
                    note: "Great progress".into(),
                }),
                vec!["*Session:* kickoff", "> Great progress"],
                "Great progress",
            ),
            (
                envelope(&ev::ConsumptionRecorded {
                    consumption: Consumption {
                        date: NaiveDate::from_ymd_opt(2026, 4, 2).unwrap(),
                        amount_usd: 1_500,
                        note: Some("load test".into()),
                    },
                }),
                vec!["*$1,500* on 2026-04-02", "> load test"],
                "$1,500",
            ),
            (
                envelope(&ev::ClawbackWarning {
                    consumed_usd: 900,
                    pro_rata_usd: 5_000,
                    released_usd: 10_000,
                    rules: vec![RuleId::TR8],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["$900 of a pro-rata $5,000", "Rules: TR8"],
                "$900",
            ),
            (
                envelope(&ev::WindowClosed {
                    balance_usd: 4_000,
                    grace_ends_at: at("2026-07-18T00:00:00Z"),
                    rules: vec![RuleId::TR5, RuleId::G1],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["*Balance:* $4,000", "2026-07-18"],
                "$4,000",
            ),
            (
                envelope(&ev::ClawedBack {
                    amount_usd: 10_000,
                    rules: vec![RuleId::TR6],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["*Amount:* $10,000", "Rules: TR6"],
                "$10,000",
            ),
            (
                envelope(&ev::DecisionReminder {
                    number: 2,
                    rules: vec![RuleId::G1],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["Reminder 2"],
                "reminder 2",
            ),
            (
                envelope(&ev::Graduated {
                    target: Programme::BedrockPoc,
                    graduated_to: Some(linked.parse().unwrap()),
                    notes: Some("Moving to production".into()),
                    rules: vec![RuleId::G2],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["*To:* bedrock_poc", linked, "> Moving to production"],
                "bedrock_poc",
            ),
            (
                envelope(&ev::Retired {
                    notes: Some("Not a fit".into()),
                    rules: vec![RuleId::G3],
                    reasons: vec![],
                    catalog_version: "2026.1".into(),
                }),
                vec!["> Not a fit", "Rules: G3"],
                "Not a fit",
            ),
            (
                envelope(&ev::CreditsForfeited {
                    amount_usd: 3_000,
                    rules: vec![RuleId::G3],
                    catalog_version: "2026.1".into(),
                }),
                vec!["*Amount:* $3,000"],
                "$3,000",
            ),
            (
                envelope(&ev::CreditsExpired {
                    amount_usd: 250,
                    rules: vec![RuleId::TR4],
                    catalog_version: "2026.1".into(),
                }),
                vec!["*Amount:* $250"],
                "$250",
            ),
        ]
    }

    #[test]
    fn every_event_type_shows_its_key_facts_in_valid_block_kit() {
        let cases = cases();
        let covered: Vec<EventType> = cases.iter().map(|(e, ..)| e.kind().unwrap()).collect();
        assert_eq!(covered, EventType::ALL, "one realistic case per event type");
        for (event, facts, key) in cases {
            let kind = event.kind().unwrap();
            let message = slack(&event, kind, &context());
            let text = message["text"].as_str().unwrap();
            assert!(
                text.contains("Helpdesk Autopilot") && text.contains(key),
                "{kind:?}: {text}"
            );
            let blocks = message["blocks"].as_array().unwrap();
            assert_eq!(blocks[0]["type"], "header");
            assert!(
                blocks
                    .iter()
                    .all(|b| ["header", "section", "context"].contains(&b["type"].as_str().unwrap()))
            );
            let rendered: String = blocks
                .iter()
                .flat_map(|b| {
                    let mut texts = vec![b["text"]["text"].clone()];
                    texts.extend(b["fields"].as_array().into_iter().flatten().map(|f| f["text"].clone()));
                    texts.extend(
                        b["elements"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|e| e["text"].clone()),
                    );
                    texts
                })
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
                .join("\n");
            for fact in facts {
                assert!(rendered.contains(fact), "{kind:?} lacks {fact:?}:\n{rendered}");
            }
            assert!(
                blocks.last().unwrap()["elements"][0]["text"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("Application `{}`", event.subject))
            );
        }
    }

    #[test]
    fn partner_text_is_escaped_for_mrkdwn() {
        assert_eq!(escape("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        let note = "<!channel> see <https://evil.example|your bank> & more";
        let event = envelope(&ev::Retired {
            notes: Some(note.into()),
            rules: vec![],
            reasons: vec![],
            catalog_version: "2026.1".into(),
        });
        let context = AppContext {
            startup: Some("<@U123> & Co".into()),
            service: Some("svc>".into()),
        };
        let all = slack(&event, EventType::Retired, &context).to_string();
        assert!(
            !all.contains("<!channel>") && !all.contains("<https://") && !all.contains("<@U123>"),
            "{all}"
        );
        assert!(all.contains("&lt;!channel&gt;"), "{all}");
        assert!(all.contains("&lt;@U123&gt; &amp; Co"), "{all}");
        assert!(all.contains("svc&gt;"), "{all}");
    }

    #[test]
    fn long_texts_are_cut_to_slacks_limits() {
        let note = "&".repeat(5_000);
        let event = envelope(&ev::FeedbackRecorded {
            session_id: "kickoff".into(),
            note: note.clone(),
        });
        let message = slack(&event, EventType::FeedbackRecorded, &context());
        for block in message["blocks"].as_array().unwrap() {
            if let Some(text) = block["text"]["text"].as_str() {
                let limit = if block["type"] == "header" { 150 } else { 3_000 };
                assert!(text.chars().count() <= limit, "{}", text.chars().count());
            }
        }
        let section = message["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(section.ends_with('…'), "marked as cut");
        assert!(
            section.trim_end_matches('…').ends_with("&amp;"),
            "no escape cut in half"
        );
        assert!(message["text"].as_str().unwrap().chars().count() <= 3_000);

        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("ab&amp;cd", 5), "ab…");
        assert_eq!(truncate(&"x".repeat(200), 150).chars().count(), 150);
    }
}
