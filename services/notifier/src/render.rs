//! What a delivery looks like: the CloudEvents envelope as it is, or a Slack Block Kit message with
//! one layout per event type (a header, the application and startup, what happened with amounts and
//! dates, the rule ids behind a decision, a context line with the application id; `text` as the
//! fallback for notifications).
//!
//! A Slack message is rendered from the payload decoded once into its type ([`Envelope::event`]);
//! an envelope whose payload does not decode as its type gets a minimal message naming the type.

use chrono::{DateTime, Utc};
use sandpiper_contracts::agenda::DigestEvent;
use sandpiper_contracts::decision::{Components, Continuation, Outcome, Strength};
use sandpiper_contracts::events::{Envelope, Event, Payload, Redirected};
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_contracts::model::{ApplicationDraft, BudgetLine};
use sandpiper_contracts::rule::RuleId;
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

/// Dollars as a person reads them: `$20,000`, `-$1,234`.
pub(crate) fn usd(n: i64) -> String {
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

/// The day of a timestamp: `2026-03-20`.
fn date(at: DateTime<Utc>) -> String {
    at.date_naive().to_string()
}

/// A timestamp as a person reads it: `2026-03-20 15:30 UTC`.
fn date_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Partner text, escaped for mrkdwn, or `-` when empty.
fn or_dash(text: &str) -> String {
    if text.is_empty() { "-".into() } else { escape(text) }
}

/// A partner's or team's note as a mrkdwn quote (every line of it); none when blank.
fn quote(note: &str) -> Option<String> {
    if note.trim().is_empty() {
        return None;
    }
    Some(
        note.lines()
            .map(|l| format!("> {}", escape(l)))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn strength(strength: Strength) -> &'static str {
    match strength {
        Strength::Strong => "strong",
        Strength::Weak => "weak",
    }
}

fn strengths(components: &Components) -> String {
    format!(
        "*Components:* use case {} · metrics {} · window {} · budget {}",
        strength(components.use_case.strength),
        strength(components.metrics.strength),
        strength(components.window.strength),
        strength(components.budget.strength)
    )
}

fn catalog(version: &str) -> String {
    format!("*Catalog:* {}", or_dash(version))
}

/// The monthly budget of a submitted body: exact lines, ranges as low–high.
fn budget_total(lines: &[BudgetLine]) -> String {
    let (mut low, mut high) = (0i64, 0i64);
    for line in lines {
        if let Some(exact) = line.monthly_usd {
            low = low.saturating_add(exact);
            high = high.saturating_add(exact);
        } else if let Some([l, h]) = line.monthly_usd_range {
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
fn continuation(redirected: &Redirected) -> String {
    let to = redirected.to.as_str();
    match redirected.continues_as {
        Continuation::NewLinkedApplication => match redirected.redirected_to {
            Some(id) => format!("a new linked {to} application `{id}`"),
            None => format!("a new linked {to} application"),
        },
        Continuation::ExistingStackEntry { stack_index } => format!(
            "the {to} engagement already in the startup's stack (entry {})",
            stack_index.saturating_add(1)
        ),
        Continuation::RecordedInStack => format!("recorded in the startup's stack as {to}"),
    }
}

/// One event's message: its headline, the key fact for the notification text, the facts, and the
/// reasons and rule ids its payload gives.
struct Layout<'a> {
    title: String,
    /// Plain and short: it is what a phone notification shows.
    summary: String,
    lines: Vec<String>,
    /// Why, in words a partner reads (unescaped).
    reasons: &'a [String],
    /// Whether the reasons are listed (all of them), or only the first.
    all_reasons: bool,
    rules: &'a [RuleId],
}

impl<'a> Layout<'a> {
    fn new(title: &str, summary: String, lines: Vec<String>) -> Layout<'a> {
        Layout {
            title: title.to_owned(),
            summary,
            lines,
            reasons: &[],
            all_reasons: false,
            rules: &[],
        }
    }

    /// The reasons and rule ids behind it.
    fn why(self, reasons: &'a [String], rules: &'a [RuleId]) -> Layout<'a> {
        Layout { reasons, rules, ..self }
    }

    fn rules(self, rules: &'a [RuleId]) -> Layout<'a> {
        Layout { rules, ..self }
    }
}

fn draft<'a>(title: &str, draft: &ApplicationDraft, originated_from: Option<ApplicationId>) -> Layout<'a> {
    let workload = or_dash(draft.workload.as_deref().unwrap_or_default());
    let mut lines = vec![format!("*Workload:* {workload}")];
    if let Some(from) = originated_from {
        lines.push(format!("*Carries on from:* `{from}`"));
    }
    Layout::new(title, format!("workload {workload}"), lines)
}

fn layout(event: &Event) -> Layout<'_> {
    match event {
        Event::Drafted(d) => draft("📝 Draft created", &d.draft, d.originated_from),
        Event::DraftUpdated(d) => draft("📝 Draft updated", &d.draft, None),
        Event::Submitted(s) => {
            let a = &s.application;
            let (programme, budget, days) = (a.programme.as_str(), budget_total(&a.budget), a.evaluation_window_days);
            Layout::new(
                "📨 Application submitted",
                format!("{programme} for {budget}, {days} days"),
                vec![
                    format!("*Programme:* {programme}"),
                    format!("*Budget:* {budget}"),
                    format!("*Window:* {days} days"),
                    format!("*Workload:* {}", or_dash(&a.workload)),
                    format!("*Use case:* {}", or_dash(&a.use_case)),
                ],
            )
        }
        Event::Classified(c) => Layout::new(
            "🧭 Classified",
            format!("pool {}", c.pool.as_str()),
            vec![
                format!("*Pool:* {}", c.pool.as_str()),
                format!(
                    "*Emerging service:* {}/month · *Model inference:* {}/month",
                    usd(c.figures.emerging_service_monthly_usd),
                    usd(c.figures.model_inference_monthly_usd)
                ),
                catalog(&c.catalog_version),
            ],
        )
        .why(&c.reasons, &c.rules),
        Event::Redirected(r) => Layout::new(
            "↪️ Redirected",
            format!("to {}", r.to.as_str()),
            vec![
                format!("*To:* {}", r.to.as_str()),
                format!("*Carries on as:* {}", continuation(r)),
                catalog(&r.catalog_version),
            ],
        )
        .why(&r.reasons, &r.rules),
        Event::Approved(a) => Layout::new(
            "✅ Approved",
            format!("approved at the {} tier", usd(a.tier_usd)),
            vec![
                format!("*Tier:* {}", usd(a.tier_usd)),
                strengths(&a.review.components),
                catalog(&a.catalog_version),
            ],
        )
        .why(&a.review.reasons, &a.review.rules),
        Event::Rejected(r) => Layout {
            all_reasons: true,
            ..Layout::new(
                "⛔ Rejected",
                r.review
                    .reasons
                    .first()
                    .map(|reason| escape(reason))
                    .unwrap_or_else(|| "rejected".into()),
                vec![strengths(&r.review.components), catalog(&r.catalog_version)],
            )
            .why(&r.review.reasons, &r.review.rules)
        },
        Event::CreditsApplied(c) => Layout::new(
            "💳 Credits applied",
            format!("{} from {}", usd(c.amount_usd), date(c.window.starts_at)),
            vec![
                format!(
                    "*Amount:* {}{}",
                    usd(c.amount_usd),
                    if c.split { " in two tranches" } else { "" }
                ),
                format!("*Window:* {} → {}", date(c.window.starts_at), date(c.window.ends_at)),
                format!("*Valid until:* {}", date(c.window.expires_at)),
            ],
        )
        .why(&c.reasons, &c.rules),
        Event::TrancheReleased(t) => Layout::new(
            "💵 Tranche released",
            format!("tranche {}: {}", t.number, usd(t.amount_usd)),
            vec![format!("*Tranche {}:* {}", t.number, usd(t.amount_usd))],
        )
        .why(&t.reasons, &t.rules),
        Event::TrancheWithheld(t) => Layout::new(
            "✋ Tranche withheld",
            format!("tranche {}: {} withheld", t.number, usd(t.amount_usd)),
            vec![format!("*Tranche {}:* {} withheld", t.number, usd(t.amount_usd))],
        )
        .why(&t.reasons, &t.rules),
        Event::OfficeHoursScheduled(o) => {
            let session = format!(
                "{} on {}",
                o.session.kind.as_str().replace('_', "-"),
                date_time(o.session.starts_at)
            );
            let with = o
                .session
                .participants
                .iter()
                .map(|p| escape(p))
                .collect::<Vec<_>>()
                .join(", ");
            Layout::new(
                "📅 Office hours scheduled",
                session.clone(),
                vec![format!("*Session:* {session}"), format!("*With:* {with}")],
            )
            .why(&o.reasons, &o.rules)
        }
        Event::ConcernRecorded(c) => Layout::new(
            if c.concern.blocking {
                "🚧 Blocking concern"
            } else {
                "💬 Concern recorded"
            },
            escape(&c.concern.note),
            quote(&c.concern.note).into_iter().collect(),
        ),
        Event::FeedbackRecorded(f) => Layout::new(
            "🗒️ Feedback recorded",
            escape(&f.note),
            [Some(format!("*Session:* {}", or_dash(&f.session_id))), quote(&f.note)]
                .into_iter()
                .flatten()
                .collect(),
        ),
        Event::ConsumptionRecorded(c) => {
            let c = &c.consumption;
            Layout::new(
                "📈 Consumption recorded",
                format!("{} on {}", usd(c.amount_usd), c.date),
                [
                    Some(format!("*{}* on {}", usd(c.amount_usd), c.date)),
                    c.note.as_deref().and_then(quote),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )
        }
        Event::ClawbackWarning(c) => Layout::new(
            "⚠️ Clawback risk",
            format!("{} consumed of a pro-rata {}", usd(c.consumed_usd), usd(c.pro_rata_usd)),
            vec![format!(
                "*Consumed:* {} of a pro-rata {}",
                usd(c.consumed_usd),
                usd(c.pro_rata_usd)
            )],
        )
        .why(&c.reasons, &c.rules),
        Event::WindowClosed(w) => Layout::new(
            "🏁 Window closed",
            format!("balance {}, grace until {}", usd(w.balance_usd), date(w.grace_ends_at)),
            vec![
                format!(
                    "*Balance:* {} · *grace until* {}",
                    usd(w.balance_usd),
                    date(w.grace_ends_at)
                ),
                "A decision (graduate or retire) is owed.".into(),
            ],
        )
        .why(&w.reasons, &w.rules),
        Event::ClawedBack(c) => Layout::new(
            "↩️ Credits clawed back",
            format!("{} clawed back", usd(c.amount_usd)),
            vec![format!("*Amount:* {}", usd(c.amount_usd))],
        )
        .why(&c.reasons, &c.rules),
        Event::DecisionReminder(r) => Layout::new(
            "⏰ Decision owed",
            format!("reminder {}", r.number),
            vec![format!("Reminder {}: graduate or retire?", r.number)],
        )
        .why(&r.reasons, &r.rules),
        Event::Graduated(g) => {
            let mut lines = vec![format!("*To:* {}", g.target.as_str())];
            if let Some(id) = g.graduated_to {
                lines.push(format!("*Carries on as:* application `{id}`"));
            }
            lines.extend(g.notes.as_deref().and_then(quote));
            Layout::new("🎓 Graduated", format!("to {}", g.target.as_str()), lines).why(&g.reasons, &g.rules)
        }
        Event::Retired(r) => Layout::new(
            "🛑 Retired",
            r.notes
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(escape)
                .unwrap_or_else(|| "retired".into()),
            r.notes.as_deref().and_then(quote).into_iter().collect(),
        )
        .why(&r.reasons, &r.rules),
        Event::CreditsForfeited(c) => Layout::new(
            "🧾 Credits forfeited",
            format!("{} forfeited", usd(c.amount_usd)),
            vec![format!("*Amount:* {}", usd(c.amount_usd))],
        )
        .rules(&c.rules),
        Event::CreditsExpired(c) => Layout::new(
            "⌛ Credits expired",
            format!("{} expired", usd(c.amount_usd)),
            vec![format!("*Amount:* {}", usd(c.amount_usd))],
        )
        .rules(&c.rules),
        Event::Recalled(r) => Layout::new(
            "↩️ Recalled to draft",
            escape(&r.reason),
            [
                Some(format!(
                    "The filing of {} is withdrawn before a decision; its review is cancelled.",
                    date(r.submitted_at)
                )),
                quote(&r.reason),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        Event::Canceled(c) => Layout::new("🗑️ Canceled", escape(&c.reason), quote(&c.reason).into_iter().collect()),
        Event::AceFiled(f) => Layout::new(
            "🏛️ Filed in Partner Central",
            format!("opportunity {}", escape(&f.opportunity_id)),
            vec![
                format!("*Catalog:* {}", escape(&f.catalog)),
                format!("*Opportunity:* `{}`", escape(&f.opportunity_id)),
                format!("*Benefit application:* `{}`", escape(&f.benefit_application_id)),
            ],
        ),
        Event::AceStatusChanged(c) => {
            let mut lines = Vec::new();
            if let Some(status) = c.review_status {
                lines.push(format!("*Opportunity review:* {}", ace_wire(&status)));
            }
            if let Some(status) = c.benefit_application_status {
                lines.push(format!("*Benefit application:* {}", ace_wire(&status)));
            }
            lines.extend(
                c.review_comments
                    .as_deref()
                    .or(c.status_reason.as_deref())
                    .and_then(quote),
            );
            let summary = c
                .benefit_application_status
                .map(|s| ace_wire(&s))
                .or_else(|| c.review_status.map(|s| ace_wire(&s)))
                .unwrap_or_default();
            Layout::new("🏛️ Partner Central changed", summary, lines)
        }
        Event::ReviewForecast(f) => Layout::new(
            "🔮 Review forecast",
            match f.review.outcome {
                Outcome::Approved { tier_usd } => format!("AWS is expected to approve at {}", usd(tier_usd)),
                Outcome::Rejected => "AWS is expected to reject".to_owned(),
            },
            vec![strengths(&f.review.components), catalog(&f.catalog_version)],
        )
        .why(&f.review.reasons, &f.review.rules),
    }
}

/// A Partner Central status as AWS spells it.
fn ace_wire<T: serde::Serialize>(status: &T) -> String {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(s)) => escape(&s),
        _ => String::new(),
    }
}

/// The message for an envelope whose payload does not decode as its type: its type, and that its
/// details could not be read (the CloudEvents subscribers still get the envelope as it is).
fn unreadable<'a>(kind: &str) -> Layout<'a> {
    Layout::new(
        &format!("📣 {kind}"),
        "its details could not be read".into(),
        vec![format!("A `{kind}` event whose details could not be read.")],
    )
}

/// A Slack Block Kit message for an incoming webhook, rendered from the payload decoded once.
pub fn slack(event: &Envelope, context: &AppContext) -> Value {
    let decoded = event.event();
    let (kind, layout) = match &decoded {
        Ok(payload) => (payload.event_type().as_str().to_owned(), layout(payload)),
        Err(err) => {
            tracing::warn!(event = %event.id, r#type = %event.event_type, error = %err, "the payload does not decode as its type; sending a minimal Slack message");
            let kind = match event.kind() {
                Ok(kind) => kind.as_str().to_owned(),
                Err(_) => escape(&event.event_type),
            };
            let layout = unreadable(&kind);
            (kind, layout)
        }
    };
    let Layout {
        title,
        summary,
        mut lines,
        reasons,
        all_reasons,
        rules,
    } = layout;
    let startup = context
        .startup
        .as_deref()
        .map(escape)
        .unwrap_or_else(|| "an application".into());
    let service = context.service.as_deref().map(escape).unwrap_or_default();
    if all_reasons {
        lines.extend(reasons.iter().map(|r| format!("• {}", escape(r))));
    } else if let Some(reason) = reasons.first() {
        lines.push(escape(reason));
    }
    let rule_ids: Vec<&str> = rules.iter().map(|r| r.as_str()).collect();
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
    // The decision is owed: the team can take it from the message (`slack::interactions`).
    if matches!(decoded, Ok(Event::WindowClosed(_) | Event::DecisionReminder(_))) {
        blocks.push(crate::slack::interactions::decision_buttons(event.subject));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Application `{}` · {} · {}", event.subject, event.partnerid, event.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))}]}));
    let fallback = format!(
        "{title}: {startup} ({}): {summary}",
        if service.is_empty() { &kind } else { &service }
    );
    json!({"text": truncate(&fallback, SECTION_LIMIT), "blocks": blocks})
}

/// A weekly digest as a Slack message: the agenda answer's layout, its times in the
/// subscription's timezone.
pub fn digest(digest: &DigestEvent) -> Value {
    let data = &digest.data;
    let tz = crate::digest::zone(&data.timezone);
    let (text, blocks) = crate::slack::agenda::blocks(
        "Weekly digest",
        &data.items,
        data.from,
        data.to,
        crate::digest::DAYS,
        tz,
    );
    json!({"text": truncate(&text, SECTION_LIMIT), "blocks": blocks})
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
    use sandpiper_contracts::events::{EventPayload, EventType};
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
                    submission_id: None,
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
                    aws: None,
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
                    aws: None,
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
            (
                envelope(&ev::Recalled {
                    reason: "budget lines were <last> quarter's".into(),
                    submission_id: None,
                    submitted_at: at("2026-03-02T09:00:00Z"),
                }),
                vec![
                    "2026-03-02",
                    "its review is cancelled",
                    "> budget lines were &lt;last&gt; quarter's",
                ],
                "budget lines were &lt;last&gt; quarter's",
            ),
            (
                envelope(&ev::Canceled {
                    reason: "filed with Activate instead".into(),
                }),
                vec!["> filed with Activate instead"],
                "filed with Activate instead",
            ),
            (
                envelope(&ev::AceFiled {
                    catalog: "Sandbox".into(),
                    opportunity_id: "O1000000001".into(),
                    engagement_task_id: Some("task-0000000000001".into()),
                    benefit_application_id: "benappl-00000000000001".into(),
                    submission_id: None,
                }),
                vec!["*Catalog:* Sandbox", "`O1000000001`", "`benappl-00000000000001`"],
                "opportunity O1000000001",
            ),
            (
                envelope(&ev::AceStatusChanged {
                    review_status: None,
                    review_comments: None,
                    benefit_application_status: Some(
                        sandpiper_contracts::partner_central::BenefitApplicationStatus::ActionRequired,
                    ),
                    status_reason: Some("Add the <target> metrics".into()),
                    changed_at: at("2026-03-20T10:00:00Z"),
                }),
                vec![
                    "*Benefit application:* ACTION_REQUIRED",
                    "> Add the &lt;target&gt; metrics",
                ],
                "ACTION_REQUIRED",
            ),
            (
                envelope(&ev::ReviewForecast {
                    review: review(
                        Outcome::Approved { tier_usd: 20_000 },
                        false,
                        &[RuleId::T4],
                        &["Strong use case."],
                    ),
                    catalog_version: "2026.1".into(),
                }),
                vec!["*Catalog:* 2026.1", "Rules: T4"],
                "approve at $20,000",
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
            let message = slack(&event, &context());
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
                    .all(|b| ["header", "section", "context", "actions"].contains(&b["type"].as_str().unwrap()))
            );
            // Only a message asking for the team's decision carries the buttons (#15).
            let buttons: Vec<(String, Value)> = blocks
                .iter()
                .filter(|b| b["type"] == "actions")
                .flat_map(|b| b["elements"].as_array().unwrap().clone())
                .map(|e| {
                    (
                        e["text"]["text"].as_str().unwrap().to_owned(),
                        serde_json::from_str(e["value"].as_str().unwrap()).unwrap(),
                    )
                })
                .collect();
            if matches!(kind, EventType::WindowClosed | EventType::DecisionReminder) {
                assert_eq!(
                    buttons,
                    [
                        (
                            "Graduate".to_owned(),
                            json!({"application_id": event.subject, "decision": "graduate"})
                        ),
                        (
                            "Retire".to_owned(),
                            json!({"application_id": event.subject, "decision": "retire"})
                        ),
                    ],
                    "{kind:?}"
                );
            } else {
                assert!(buttons.is_empty(), "{kind:?}: {buttons:?}");
            }
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
        let all = slack(&event, &context).to_string();
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
        let message = slack(&event, &context());
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

    /// An envelope with fixed ids, so its whole message can be pinned.
    fn pinned(mut event: Envelope) -> Envelope {
        event.id = "01JQ00000000000000000000EV".parse().unwrap();
        event.subject = "01JQ0000000000000000000APP".parse().unwrap();
        event
    }

    /// The message's frame around `lines` and `rules`: header, startup and service, the context line.
    fn framed(title: &str, startup: &str, service: &str, lines: &str, rules: Option<&str>, text: &str) -> Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": title, "emoji": true}}),
            json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Startup:*\n{startup}")},
                {"type": "mrkdwn", "text": format!("*Service:*\n{service}")},
            ]}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": lines}}),
        ];
        blocks.extend(rules.map(|r| json!({"type": "context", "elements": [{"type": "mrkdwn", "text": r}]})));
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": "Application `01JQ0000000000000000000APP` · acme · 2026-03-14T09:00:00Z"}]}));
        json!({"text": text, "blocks": blocks})
    }

    /// Whole messages, pinned as the notifier rendered them before it read typed payloads.
    #[test]
    fn complete_messages_are_pinned() {
        let approved = pinned(envelope(&ev::Approved {
            tier_usd: 20_000,
            review: review(
                Outcome::Approved { tier_usd: 20_000 },
                false,
                &[RuleId::U, RuleId::M, RuleId::W, RuleId::B, RuleId::T5, RuleId::T6],
                &["All four components are strong"],
            ),
            catalog_version: "2026-03".into(),
            aws: None,
        }));
        assert_eq!(
            slack(&approved, &context()),
            framed(
                "✅ Approved",
                "Helpdesk Autopilot",
                "bedrock-agents",
                "*Tier:* $20,000\n*Components:* use case strong · metrics strong · window strong · budget strong\n*Catalog:* 2026-03\nAll four components are strong",
                Some("Rules: U, M, W, B, T5, T6"),
                "✅ Approved: Helpdesk Autopilot (bedrock-agents): approved at the $20,000 tier",
            )
        );

        let redirected = pinned(envelope(&ev::Redirected {
            to: Programme::ActivatePortfolio,
            continues_as: Continuation::ExistingStackEntry { stack_index: 4 },
            redirected_to: Some("01JQ0000000000000000000009".parse().unwrap()),
            rules: vec![RuleId::K1, RuleId::C4a],
            reasons: vec![],
            catalog_version: "2026<03>".into(),
            figures: PoolFigures::default(),
        }));
        assert_eq!(
            slack(&redirected, &AppContext::default()),
            framed(
                "↪️ Redirected",
                "an application",
                "-",
                "*To:* activate_portfolio\n*Carries on as:* the activate_portfolio engagement already in the startup's stack (entry 5)\n*Catalog:* 2026&lt;03&gt;",
                Some("Rules: K1, C4a"),
                "↪️ Redirected: an application (redirected): to activate_portfolio",
            )
        );

        let rejected = pinned(envelope(&ev::Rejected {
            review: review(Outcome::Rejected, true, &[], &["<@U1> & friends", "two", "three"]),
            catalog_version: "2026-03".into(),
            aws: None,
        }));
        let escaping = AppContext {
            startup: Some("<@U1> & Co".into()),
            service: Some("".into()),
        };
        assert_eq!(
            slack(&rejected, &escaping),
            framed(
                "⛔ Rejected",
                "&lt;@U1&gt; &amp; Co",
                "-",
                "*Components:* use case strong · metrics weak · window strong · budget strong\n*Catalog:* 2026-03\n• &lt;@U1&gt; &amp; friends\n• two\n• three",
                None,
                "⛔ Rejected: &lt;@U1&gt; &amp; Co (rejected): &lt;@U1&gt; &amp; friends",
            )
        );

        let consumption = pinned(envelope(&ev::ConsumptionRecorded {
            consumption: Consumption {
                date: NaiveDate::from_ymd_opt(2026, 4, 2).unwrap(),
                amount_usd: -42,
                note: Some("a\n<b>".into()),
            },
        }));
        assert_eq!(
            slack(&consumption, &context()),
            framed(
                "📈 Consumption recorded",
                "Helpdesk Autopilot",
                "bedrock-agents",
                "*-$42* on 2026-04-02\n> a\n> &lt;b&gt;",
                None,
                "📈 Consumption recorded: Helpdesk Autopilot (bedrock-agents): -$42 on 2026-04-02",
            )
        );
    }

    #[test]
    fn a_payload_that_does_not_decode_gets_a_minimal_message_naming_its_type() {
        let mut event = pinned(envelope(&ev::TrancheReleased {
            number: 2,
            amount_usd: 10_000,
            rules: vec![RuleId::TR3],
            reasons: vec![],
            catalog_version: "2026.1".into(),
        }));
        event.data = json!({"number": "two"});
        assert!(event.event().is_err());
        assert_eq!(
            slack(&event, &context()),
            framed(
                "📣 tranche_released",
                "Helpdesk Autopilot",
                "bedrock-agents",
                "A `tranche_released` event whose details could not be read.",
                None,
                "📣 tranche_released: Helpdesk Autopilot (bedrock-agents): its details could not be read",
            )
        );
        // Not even a known type: named as it came, escaped.
        event.event_type = "dev.sandpiper.<!channel>.v1".into();
        let message = slack(&event, &AppContext::default());
        assert_eq!(
            message["text"],
            "📣 dev.sandpiper.&lt;!channel&gt;.v1: an application (dev.sandpiper.&lt;!channel&gt;.v1): its details could not be read"
        );
        assert!(!message.to_string().contains("<!channel>"), "{message}");
    }
}
