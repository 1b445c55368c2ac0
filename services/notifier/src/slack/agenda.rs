//! `/sandpiper agenda [days]`: what falls due across the workspace's partner's applications in the
//! coming days, in Block Kit. The items are the API's (`GET /v1/agenda`): the same rules
//! (`sandpiper_rules::agenda`) over the same read model, on the same clock.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sandpiper_contracts::agenda::AgendaItem;
use sandpiper_contracts::ids::PartnerId;
use sandpiper_runtime::http::problem::ApiResult;
use serde_json::Value;

use crate::portfolio;
use crate::render::{escape, truncate, usd};
use crate::slack::SlackState;
use crate::slack::command::section;

/// The days `/sandpiper agenda` covers when none are named.
pub const DEFAULT_DAYS: i64 = 7;
/// The most days one answer covers.
pub const MAX_DAYS: i64 = 60;
/// Slack allows 50 blocks a message: the header, this many sections of items, the overflow note.
const MAX_SECTIONS: usize = 45;
/// Below Slack's 3,000 characters a section, leaving room for one more line's cut.
const SECTION_CHARS: usize = 2_800;

/// The agenda of the coming `days` as an ephemeral answer's text and blocks.
pub async fn answer(state: &SlackState, partner: &PartnerId, days: i64) -> ApiResult<(String, Vec<Value>)> {
    let now = state.0.clock.now();
    let to = now + Duration::days(days);
    let items = portfolio::agenda_between(&state.0.views, partner, now, now, to).await?;
    Ok(blocks("Agenda", &items, now, to, days, Tz::UTC))
}

/// One item as a line: when (in `tz`), the startup, the kind with its rules, what it says.
fn line(item: &AgendaItem, tz: Tz) -> String {
    let at = item.at.with_timezone(&tz);
    let when = if item.is_session() {
        at.format("%a %Y-%m-%d %H:%M %Z").to_string()
    } else {
        at.format("%a %Y-%m-%d").to_string()
    };
    let rules: Vec<String> = item.rules.iter().map(|r| r.to_string()).collect();
    let amount = item.amount_usd.map(|a| format!(" ({})", usd(a))).unwrap_or_default();
    format!(
        "• *{when}* · {} · {} ({}): {}{amount} · `{}`",
        escape(if item.startup_name.is_empty() {
            "-"
        } else {
            &item.startup_name
        }),
        item.kind.as_str().replace('_', " "),
        rules.join(", "),
        escape(&item.title),
        item.application_id
    )
}

/// The answer (or a digest, under its own `heading`): a header line with the range, then the
/// items in time order, in sections under Slack's limits (what does not fit is counted, not
/// dropped silently).
pub fn blocks(
    heading: &str,
    items: &[AgendaItem],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: i64,
    tz: Tz,
) -> (String, Vec<Value>) {
    let range = format!(
        "{} → {} ({days} day{})",
        from.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        to.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        if days == 1 { "" } else { "s" }
    );
    let text = format!("Sandpiper {}: {} item(s), {range}", heading.to_lowercase(), items.len());
    let mut out = vec![section(&format!("*{heading}* · {range}"))];
    if items.is_empty() {
        out.push(section("Nothing falls due in these days."));
        return (text, out);
    }
    let mut current = String::new();
    let mut shown = 0;
    for item in items {
        let line = truncate(&line(item, tz), SECTION_CHARS);
        if !current.is_empty() && current.chars().count() + 1 + line.chars().count() > SECTION_CHARS {
            if out.len() > MAX_SECTIONS {
                break;
            }
            out.push(section(&std::mem::take(&mut current)));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
        shown += 1;
    }
    if !current.is_empty() {
        out.push(section(&current));
    }
    if shown < items.len() {
        out.push(section(&format!(
            "… and {} more: ask for fewer days, or see `GET /v1/agenda`.",
            items.len() - shown
        )));
    }
    (text, out)
}

/// The days asked for: none is [`DEFAULT_DAYS`]; `Err` says what is allowed.
pub fn days(raw: Option<&str>) -> Result<i64, String> {
    match raw {
        None => Ok(DEFAULT_DAYS),
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
            _ => Err(format!(
                "`{}` is not a number of days from 1 to {MAX_DAYS}.",
                escape(raw)
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_to_a_week_and_stay_within_sixty() {
        assert_eq!(days(None), Ok(7));
        assert_eq!(days(Some("1")), Ok(1));
        assert_eq!(days(Some("60")), Ok(60));
        for bad in ["0", "61", "-3", "a week", "7.5"] {
            assert!(days(Some(bad)).is_err(), "{bad}");
        }
    }
}
