//! iCalendar (RFC 5545) output: the office-hours calendar of an application (OH4) and the
//! subscribable calendar feeds (issue #15) are both written here, from agenda items.
//!
//! Written by hand rather than with a crate, because subscribed calendars are strict about what
//! a generic writer gets approximately right:
//! - every content line ends in CRLF (§3.1), and partner text never brings a bare CR or LF: a
//!   newline in a note is the two characters `\n` (§3.3.11), CRLF counted as one newline;
//! - a line longer than 75 octets is folded (CRLF and one space) at 75 octets of UTF-8, never
//!   inside a multi-byte character (§3.1: "octets", not characters);
//! - TEXT values escape `\`, `;` and `,` (§3.3.11);
//! - times are UTC (`…Z`); a deadline is an all-day event (`VALUE=DATE`, DTEND the next day).

use chrono::{DateTime, Duration, Utc};
use sandpiper_contracts::agenda::{AgendaItem, ItemStatus};
use sandpiper_rules::agenda::Revised;

/// RFC 5545 §3.1: lines are at most 75 octets, excluding the line break.
const MAX_OCTETS: usize = 75;

/// Escapes a TEXT value (RFC 5545 §3.3.11): `\`, `;`, `,`, and newlines (CRLF, CR or LF) as `\n`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            // Other control characters are not allowed in TEXT (§3.3.11); a tab is.
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line (RFC 5545 §3.1) and ends it with CRLF: at most 75 octets per line, the
/// continuation lines starting with one space (which counts), never splitting a UTF-8 sequence.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / MAX_OCTETS * 3 + 2);
    let mut rest = line;
    let mut limit = MAX_OCTETS;
    while rest.len() > limit {
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space is one of the 75.
        limit = MAX_OCTETS - 1;
    }
    out.push_str(rest);
    out.push_str("\r\n");
    out
}

/// A calendar being written.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// Starts a VCALENDAR named `name` (shown by calendar apps as the subscription's name).
    pub fn calendar(name: &str) -> Writer {
        let mut w = Writer::default();
        w.line("BEGIN:VCALENDAR");
        w.line("VERSION:2.0");
        w.line("PRODID:-//Sandpiper//Sandpiper calendar//EN");
        w.line("CALSCALE:GREGORIAN");
        w.text("NAME", name);
        w.text("X-WR-CALNAME", name);
        w
    }

    /// One raw content line (its value already escaped).
    pub fn line(&mut self, line: &str) {
        self.out.push_str(&fold(line));
    }

    /// A property with a TEXT value.
    pub fn text(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{}", escape(value)));
    }

    /// A property with a UTC DATE-TIME value.
    pub fn time(&mut self, name: &str, at: DateTime<Utc>) {
        self.line(&format!("{name}:{}", at.format("%Y%m%dT%H%M%SZ")));
    }

    /// One VEVENT for an agenda item: a session as a timed event, anything else as an all-day
    /// event on its day (UTC).
    pub fn event(&mut self, revised: &Revised, uid: &str, description: &str) {
        let item = &revised.item;
        self.line("BEGIN:VEVENT");
        self.text("UID", uid);
        // No METHOD: DTSTAMP is when the information was last revised (§3.8.7.2).
        self.time("DTSTAMP", revised.last_modified);
        self.time("LAST-MODIFIED", revised.last_modified);
        self.line(&format!("SEQUENCE:{}", revised.sequence));
        match item.ends_at {
            Some(ends_at) if item.is_session() => {
                self.time("DTSTART", item.at);
                self.time("DTEND", ends_at);
            }
            _ => {
                let day = item.at.date_naive();
                self.line(&format!("DTSTART;VALUE=DATE:{}", day.format("%Y%m%d")));
                let next = day + Duration::days(1);
                self.line(&format!("DTEND;VALUE=DATE:{}", next.format("%Y%m%d")));
                self.line("TRANSP:TRANSPARENT");
            }
        }
        self.text("SUMMARY", &item.title);
        if !description.is_empty() {
            self.text("DESCRIPTION", description);
        }
        self.text("CATEGORIES", item.kind.as_str());
        let status = match item.status {
            ItemStatus::Scheduled => "CONFIRMED",
            ItemStatus::Canceled => "CANCELLED",
        };
        self.line(&format!("STATUS:{status}"));
        self.line("END:VEVENT");
    }

    /// Ends the VCALENDAR and gives the text.
    pub fn finish(mut self) -> String {
        self.line("END:VCALENDAR");
        self.out
    }
}

/// The event's UID: stable for the item of the application (the session's UID is the one the
/// office-hours calendar always had).
pub fn uid(item: &AgendaItem) -> String {
    format!("{}-{}@sandpiper", item.application_id, item.id)
}

/// What an item's DESCRIPTION says: a session's participants and feedback notes, a checkpoint's
/// decisions with their rules.
pub fn description(item: &AgendaItem) -> String {
    let mut lines = Vec::new();
    if item.is_session() {
        lines.push(format!("Participants: {}", item.participants.join("; ")));
        for note in &item.feedback {
            // Each note is `date: text` (the agenda's shape); shown as the calendar always had it.
            match note.split_once(": ") {
                Some((date, text)) => lines.push(format!("Feedback ({date}): {text}")),
                None => lines.push(format!("Feedback: {note}")),
            }
        }
    } else {
        for outcome in &item.decides {
            lines.push(outcome.reason.clone());
        }
        let rules: Vec<&str> = item.rules.iter().map(|r| r.as_str()).collect();
        lines.push(format!("Rules: {}", rules.join(", ")));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn escapes_text_per_rfc_5545() {
        let table = [
            ("plain", "plain"),
            ("a, b; c", "a\\, b\\; c"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("crlf\r\nline", "crlf\\nline"),
            ("bare\rcr", "bare\\ncr"),
            ("bell\u{7}", "bell"),
            ("tab\tok", "tab\tok"),
            ("Ünïcödé, 東京", "Ünïcödé\\, 東京"),
        ];
        for (input, expected) in table {
            assert_eq!(escape(input), expected, "{input:?}");
        }
    }

    fn lines(folded: &str) -> Vec<&str> {
        folded.strip_suffix("\r\n").unwrap().split("\r\n").collect()
    }

    fn unfold(folded: &str) -> String {
        lines(folded)
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { *l } else { l.strip_prefix(' ').unwrap() })
            .collect()
    }

    #[test]
    fn folds_at_75_octets_never_inside_a_character() {
        let cases = [
            "SUMMARY:short".to_owned(),
            format!("SUMMARY:{}", "a".repeat(67)), // exactly 75 octets: not folded
            format!("SUMMARY:{}", "a".repeat(68)), // 76: folded once
            format!("DESCRIPTION:{}", "é".repeat(100)), // 2-octet characters
            format!("DESCRIPTION:{}", "東".repeat(60)), // 3-octet characters
            format!("DESCRIPTION:x{}", "🦀".repeat(40)), // 4-octet characters, off by one
            format!("DESCRIPTION:{}", "aé東🦀".repeat(30)),
        ];
        for line in &cases {
            let folded = fold(line);
            assert!(folded.ends_with("\r\n"));
            for (i, l) in lines(&folded).iter().enumerate() {
                assert!(l.len() <= 75, "{} octets: {l:?}", l.len());
                assert!(i == 0 || l.starts_with(' '), "a continuation starts with a space");
            }
            assert_eq!(&unfold(&folded), line, "unfolding gives the line back");
        }
        assert_eq!(lines(&fold(&cases[1])).len(), 1);
        assert_eq!(lines(&fold(&cases[2])).len(), 2);
        // 3-octet characters: 75 octets hold the 12 of "DESCRIPTION:" and 21 characters.
        assert_eq!(lines(&fold(&cases[4]))[0].len(), 75);
        assert_eq!(lines(&fold(&cases[4]))[1].len(), 1 + 72);
    }

    #[test]
    fn a_folded_escaped_note_never_holds_a_bare_line_break() {
        let mut w = Writer::calendar("Acme, Inc.; Sandpiper");
        w.text(
            "DESCRIPTION",
            &format!("{}\r\nsecond; line, with \\ and 東京", "x".repeat(70)),
        );
        let text = w.finish();
        assert!(text.contains("NAME:Acme\\, Inc.\\; Sandpiper\r\n"), "{text}");
        for line in text.strip_suffix("\r\n").unwrap().split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
            assert!(line.len() <= 75);
        }
        assert!(text.ends_with("END:VCALENDAR\r\n"));
    }
}
