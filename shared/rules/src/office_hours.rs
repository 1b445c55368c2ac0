//! Office hours (DOMAIN §7): when the service team meets the startup.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use sandpiper_contracts::engagement::{Session, SessionKind, Window};

/// OH1 (decided): sessions start at 16:00 UTC and last an hour.
pub const SESSION_HOUR: u32 = 16;
/// OH3: an ad-hoc session is two business days after the request.
pub const AD_HOC_BUSINESS_DAYS: u32 = 2;

fn at_session_time(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::from_hms_opt(SESSION_HOUR, 0, 0).unwrap_or(NaiveTime::MIN))
        .and_utc()
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// OH1 (decided): a weekend day moves to the nearest weekday inside the window (Saturday → Friday,
/// Sunday → Monday; the other way when the nearest falls outside the window).
pub fn weekday_inside(date: NaiveDate, first: NaiveDate, last: NaiveDate) -> NaiveDate {
    let (nearer, farther) = match date.weekday() {
        Weekday::Sat => (date - Duration::days(1), date + Duration::days(2)),
        Weekday::Sun => (date + Duration::days(1), date - Duration::days(2)),
        _ => return date,
    };
    let inside = |d: NaiveDate| d >= first && d <= last;
    if inside(nearer) {
        nearer
    } else if inside(farther) {
        farther
    } else {
        date
    }
}

fn session(id: &str, kind: SessionKind, date: NaiveDate, participants: &[String]) -> Session {
    let starts_at = at_session_time(date);
    Session {
        id: id.to_owned(),
        kind,
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        participants: participants.to_vec(),
        feedback: Vec::new(),
    }
}

/// OH1, OH2: kickoff on day 3, the mid-window check-in at half the window, the closing session on
/// the window's last day, with the catalog's participants.
pub fn standard_sessions(window: &Window, window_days: i64, participants: &[String]) -> Vec<Session> {
    let first = window.starts_at.date_naive();
    let last = window.ends_at.date_naive();
    let day = |n: i64| weekday_inside(first + Duration::days(n), first, last);
    vec![
        session(
            SessionKind::Kickoff.as_str(),
            SessionKind::Kickoff,
            day(3),
            participants,
        ),
        session(
            SessionKind::MidWindow.as_str(),
            SessionKind::MidWindow,
            day(window_days / 2),
            participants,
        ),
        session(
            SessionKind::Closing.as_str(),
            SessionKind::Closing,
            day(window_days),
            participants,
        ),
    ]
}

/// OH3: an ad-hoc session two business days after `requested_at`, if that is inside the window.
pub fn ad_hoc_session(
    number: usize,
    requested_at: DateTime<Utc>,
    window: &Window,
    participants: &[String],
) -> Option<Session> {
    let mut date = requested_at.date_naive();
    let mut business_days = 0;
    while business_days < AD_HOC_BUSINESS_DAYS {
        date += Duration::days(1);
        if !is_weekend(date) {
            business_days += 1;
        }
    }
    (date <= window.ends_at.date_naive())
        .then(|| session(&format!("ad-hoc-{number}"), SessionKind::AdHoc, date, participants))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: &str, days: i64) -> Window {
        let starts_at: DateTime<Utc> = start.parse().unwrap();
        let ends_at = starts_at + Duration::days(days);
        Window {
            starts_at,
            ends_at,
            grace_ends_at: ends_at,
            expires_at: ends_at,
            mid_window_at: starts_at + Duration::days(days / 2),
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rule_oh1_kickoff_day_3_mid_window_and_closing_at_16_utc() {
        // Starts Monday 2026-03-02: day 3 Thursday, day 30 Wednesday 04-01, day 60 Friday 05-01.
        let sessions = standard_sessions(&window("2026-03-02T09:00:00Z", 60), 60, &["team".into()]);
        let starts: Vec<String> = sessions.iter().map(|s| s.starts_at.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-05T16:00:00+00:00",
                "2026-04-01T16:00:00+00:00",
                "2026-05-01T16:00:00+00:00"
            ]
        );
        assert_eq!(sessions[0].ends_at - sessions[0].starts_at, Duration::hours(1));
        let thirty = standard_sessions(&window("2026-03-02T09:00:00Z", 30), 30, &[]);
        assert_eq!(thirty[1].starts_at.date_naive(), date("2026-03-17"), "day 15 of 30");
    }

    #[test]
    fn rule_oh1_a_saturday_kickoff_moves_to_the_nearest_weekday() {
        // Starts Wednesday 2026-03-04: day 3 is Saturday 03-07 → Friday 03-06.
        let sessions = standard_sessions(&window("2026-03-04T09:00:00Z", 60), 60, &[]);
        assert_eq!(sessions[0].starts_at.date_naive(), date("2026-03-06"));
        // Starts Thursday: day 3 is Sunday → Monday.
        let sessions = standard_sessions(&window("2026-03-05T09:00:00Z", 60), 60, &[]);
        assert_eq!(sessions[0].starts_at.date_naive(), date("2026-03-09"));
    }

    #[test]
    fn rule_oh1_a_weekend_closing_stays_inside_the_window() {
        // A Sunday last day cannot move to Monday (outside): it moves back to Friday.
        assert_eq!(
            weekday_inside(date("2026-05-03"), date("2026-03-04"), date("2026-05-03")),
            date("2026-05-01")
        );
    }

    #[test]
    fn rule_oh2_participants_come_from_the_catalog() {
        let catalog = sandpiper_contracts::catalog::Catalog::builtin().unwrap();
        let people = &catalog.service("bedrock-agents").unwrap().office_hours_participants;
        let sessions = standard_sessions(&window("2026-03-02T09:00:00Z", 60), 60, people);
        assert!(
            sessions
                .iter()
                .all(|s| s.participants.len() == 4 && s.participants[0] == "Bedrock Agents product management")
        );
    }

    #[test]
    fn rule_oh3_ad_hoc_two_business_days_later_inside_the_window() {
        let w = window("2026-03-02T09:00:00Z", 60);
        // Requested Thursday 03-12 → Monday 03-16.
        let s = ad_hoc_session(1, "2026-03-12T10:00:00Z".parse().unwrap(), &w, &[]).unwrap();
        assert_eq!(s.starts_at.date_naive(), date("2026-03-16"));
        assert_eq!(s.id, "ad-hoc-1");
        assert!(
            ad_hoc_session(2, "2026-04-30T10:00:00Z".parse().unwrap(), &w, &[]).is_none(),
            "past the window"
        );
    }
}
