//! The agenda (issue #15 item 1): what falls due across the caller's applications in a time range,
//! in time order, paged. The items are `sandpiper_rules::agenda`'s, derived from each view; this
//! route only reads the views, filters and pages.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use sandpiper_contracts::agenda::{AgendaItem, AgendaKind};
use sandpiper_contracts::answers::AgendaPage;
use sandpiper_contracts::ids::ApplicationId;
use sandpiper_rules::agenda;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::routes::{bad_query as bad, whose};
use crate::state::AppState;
use sandpiper_runtime::http::auth::Principal;
use sandpiper_runtime::http::extract::ApiQuery;
use sandpiper_runtime::http::problem::{ApiResult, Problem};

/// The range when `to` is not given: four weeks from `from`.
pub const DEFAULT_DAYS: i64 = 28;
/// The longest range asked for at once.
pub const MAX_DAYS: i64 = 366;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgendaParams {
    /// Start of the range, inclusive (RFC 3339; default: now, on the API's clock).
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339; default: `from` + 28 days; at most `from` + 366 days).
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<DateTime<Utc>>,
    /// Only these kinds, comma-separated: office_hours, mid_window, window_close, decision_owed,
    /// feedback_owed, grace_end, expiry.
    kind: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page (same range and kinds).
    #[param(pattern = r"^[0-9]{1,16}\.[0-7][0-9A-HJKMNP-TV-Z]{25}\.[a-z0-9._-]{1,100}$")]
    cursor: Option<String>,
    /// An admin's choice of one partner's agenda (default: every partner's); a partner token
    /// may name only its own partner (403 otherwise).
    #[param(pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    partner_id: Option<String>,
}

/// Where an item sorts: the cursor names the last item of a page.
type Key = (DateTime<Utc>, ApplicationId, String);

fn key(item: &AgendaItem) -> Key {
    (item.at, item.application_id, item.id.clone())
}

/// A cursor: `{microseconds}.{application}.{item}`. Every string of this shape (the `cursor`
/// parameter's pattern) is a position in the agenda's order, so the document says exactly which
/// cursors the server takes.
fn encode_cursor(key: &Key) -> String {
    format!("{}.{}.{}", key.0.timestamp_micros(), key.1, key.2)
}

fn decode_cursor(cursor: &str) -> Option<Key> {
    let mut parts = cursor.splitn(3, '.');
    let micros = parts
        .next()
        .filter(|m| (1..=16).contains(&m.len()) && m.bytes().all(|b| b.is_ascii_digit()))?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    let application = ApplicationId::parse(parts.next()?).ok()?;
    let id = parts.next().filter(|id| (1..=100).contains(&id.len())).filter(|id| {
        id.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
    })?;
    Some((at, application, id.to_owned()))
}

/// The kinds asked for (all when none is named).
fn kinds(raw: Option<&str>) -> ApiResult<BTreeSet<AgendaKind>> {
    let Some(raw) = raw else {
        return Ok(AgendaKind::ALL.iter().copied().collect());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            AgendaKind::parse(k).ok_or_else(|| {
                let known: Vec<&str> = AgendaKind::ALL.iter().map(|k| k.as_str()).collect();
                bad("kind", format!("{k:?} is not a kind: expected {}", known.join(", ")))
            })
        })
        .collect()
}

/// Everything due across the caller's applications in `[from, to)`, in time order: office-hours
/// sessions (OH1, OH3), the mid-window check-in with what it will decide (TR3, TR8), window closes
/// (with the clawback an unused balance brings, TR6), decisions owed with their reminders (G1),
/// the closing feedback owed (OH6, G3), grace ends (TR5) and expiries with the balance that will
/// expire (TR4). What a checkpoint will decide is the scheduler's own decision for the application
/// as it stands now.
#[utoipa::path(
    get, path = "/v1/agenda", tag = "engagement",
    params(AgendaParams),
    responses(
        (status = 200, description = "A page of the agenda", body = AgendaPage),
        (status = 400, description = "A bad range, kind, limit or cursor (the parameter is named)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A partner token naming another partner in partner_id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn agenda(
    State(app): State<AppState>,
    caller: Principal,
    ApiQuery(params): ApiQuery<AgendaParams>,
) -> ApiResult<Json<AgendaPage>> {
    let now = app.clock.now();
    let from = params.from.unwrap_or(now);
    let to = params.to.unwrap_or(from + Duration::days(DEFAULT_DAYS));
    if to <= from {
        return Err(bad("to", format!("{to} is not after from ({from})")));
    }
    if to > from + Duration::days(MAX_DAYS) {
        return Err(bad(
            "to",
            format!("{to} is more than {MAX_DAYS} days after from ({from})"),
        ));
    }
    let kinds = kinds(params.kind.as_deref())?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad("limit", format!("is {limit}; it must be 1 to {MAX_PAGE}")));
    }
    let cursor = params
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c).ok_or_else(|| bad("cursor", "is not one this API returned".into())))
        .transpose()?;
    let partner = whose(&caller, params.partner_id)?;
    let views = app.projection.engaged(partner.as_ref()).await?;
    let mut items: Vec<AgendaItem> = agenda::between(&views, now, from, to, &kinds)
        .into_iter()
        .filter(|i| cursor.as_ref().is_none_or(|c| key(i) > *c))
        .take(limit + 1)
        .collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|i| encode_cursor(&key(i)))
    } else {
        None
    };
    Ok(Json(AgendaPage {
        from,
        to,
        items,
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const CURSOR_PATTERN: &str = r"^[0-9]{1,16}\.[0-7][0-9A-HJKMNP-TV-Z]{25}\.[a-z0-9._-]{1,100}$";

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let key: Key = (
            "2026-03-05T16:00:00Z".parse().unwrap(),
            ApplicationId::generate(),
            "due.reminder-2".into(),
        );
        let cursor = encode_cursor(&key);
        // The attribute on `AgendaParams::cursor` repeats the pattern (an attribute takes a literal).
        let documented = crate::openapi::document();
        let documented = serde_json::to_value(&documented).unwrap();
        let parameters = documented["paths"]["/v1/agenda"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .clone();
        let cursor_parameter = parameters.iter().find(|p| p["name"] == "cursor").unwrap();
        assert_eq!(cursor_parameter["schema"]["pattern"], CURSOR_PATTERN);
        let pattern =
            jsonschema::draft202012::new(&serde_json::json!({"type": "string", "pattern": CURSOR_PATTERN})).unwrap();
        let matches = |text: &str| pattern.is_valid(&serde_json::json!(text));
        assert!(matches(&cursor), "{cursor}");
        assert_eq!(decode_cursor(&cursor), Some(key));
        // The document's pattern and the decoder agree: what the pattern takes decodes.
        for fits in [
            "0.00000000000000000000000000.a",
            "9999999999999999.7ZZZZZZZZZZZZZZZZZZZZZZZZZ.due.reminder-2",
        ] {
            assert!(matches(fits), "{fits}");
            assert!(decode_cursor(fits).is_some(), "{fits}");
        }
        for bad in [
            "",
            "zz",
            "00",
            "1|nope|x",
            "x.y",
            "1.01J0.kickoff",
            "-1.00000000000000000000000000.a",
        ] {
            assert!(!matches(bad), "{bad:?}");
            assert_eq!(decode_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn kinds_are_a_comma_separated_list_of_known_names() {
        assert_eq!(kinds(None).unwrap().len(), AgendaKind::ALL.len());
        assert_eq!(
            kinds(Some("expiry, office_hours"))
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [AgendaKind::OfficeHours, AgendaKind::Expiry]
        );
        let err = kinds(Some("office_hours,party")).unwrap_err();
        assert_eq!(err.status_code(), axum::http::StatusCode::BAD_REQUEST);
    }
}
