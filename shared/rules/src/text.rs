//! Text tests behind U1–U4, M and C4, and the money format of reasons. Deliberately simple and
//! explainable: a partner must be able to see why a sentence counted or did not.

/// C4's normal form of a label (also E2's for industries): lower case, runs of non-alphanumerics to
/// one `-`, trimmed of `-`. "Customer Support!!" and "customer_support" are both `customer-support`.
pub fn normalise_workload(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Lower-cased words of letters and digits (hyphens and punctuation split words).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words too common to show that two metrics measure the same thing (decided list). Only words
/// that can occur in a typical metric matter; "rate" is here so "error rate" does not pass for
/// "acceptance rate".
pub const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "per", "from", "into", "out", "our", "its", "via", "rate", "time", "number", "total",
    "level",
];

/// Folds a trailing plural so "queries" meets "query" and "invocations" meets "invocation".
fn singular(word: &str) -> String {
    let n = word.chars().count();
    if n > 4
        && let Some(stem) = word.strip_suffix("ies")
    {
        return format!("{stem}y");
    }
    if n > 3 && word.ends_with('s') && !word.ends_with("ss") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

/// The significant words of a text (M): three letters or more, not a stopword, plural folded.
pub fn significant_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .map(|w| singular(&w))
        .collect()
}

/// Whether `haystack` mentions `needle`: a case-insensitive substring (U1).
pub fn mentions(haystack: &str, needle: &str) -> bool {
    let needle = needle.trim();
    !needle.is_empty() && haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// U2's units, longest first so "seconds" is not read as "s".
const UNITS: &[&str] = &[
    "%", "seconds", "second", "sec", "ms", "s", "x", "days", "day", "hours", "hour",
];

/// The unit of U2 starting at `chars[at]`, if any. A letter unit must end a word ("5 sessions"
/// is not five seconds); `%` needs no boundary.
fn unit_at(chars: &[char], at: usize) -> Option<&'static str> {
    UNITS.iter().copied().find(|unit| {
        let len = unit.chars().count();
        let Some(candidate) = chars.get(at..at + len) else {
            return false;
        };
        let same = candidate
            .iter()
            .zip(unit.chars())
            .all(|(c, u)| c.eq_ignore_ascii_case(&u));
        same && (*unit == "%" || !chars.get(at + len).is_some_and(|c| c.is_alphanumeric()))
    })
}

/// The first quantitative target of a text (U2), e.g. "30%", "200 ms", "sub-3-second", "2x",
/// "14 days", "1.5 hours".
///
/// A number is digits with optional thousands commas and an optional decimal part; it must not be
/// glued to a word before it ("p95", "SOC2", "H100s" are names, not targets). The unit follows
/// directly, after whitespace, or after a single `-`.
pub fn quantitative_target(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let digit_at = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let glued = i > 0 && chars[i - 1].is_alphabetic();
        let start = i;
        while digit_at(i) || (matches!(chars.get(i), Some('.' | ',')) && digit_at(i + 1)) {
            i += 1;
        }
        if glued {
            // Skip the rest of the name too, so "v1.5x" does not yield "5x".
            while chars.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '.') {
                i += 1;
            }
            continue;
        }
        let number: String = chars[start..i].iter().collect();
        let mut j = i;
        while chars.get(j).is_some_and(|c| c.is_whitespace()) {
            j += 1;
        }
        if j == i && chars.get(j) == Some(&'-') {
            j += 1;
        }
        if let Some(unit) = unit_at(&chars, j) {
            let space = if unit == "%" || unit == "x" { "" } else { " " };
            return Some(format!("{number}{space}{unit}"));
        }
    }
    None
}

/// The exploratory phrasing of U4 found in a text, if any: "exploring", "explore what", "what …
/// can do", "various … use case(s)", "for our workflows". Compared word by word, case-insensitive,
/// so punctuation and line breaks between the words do not hide a phrase.
pub fn exploratory_phrase(text: &str) -> Option<&'static str> {
    let words = words(text);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let position = |needle: &[&str]| w.windows(needle.len()).position(|win| win == needle);
    let after = |first: &str, then: &[&str]| {
        w.iter()
            .position(|x| *x == first)
            .is_some_and(|at| w[at + 1..].windows(then.len()).any(|win| win == then))
    };
    if position(&["exploring"]).is_some() {
        Some("exploring")
    } else if position(&["explore", "what"]).is_some() {
        Some("explore what")
    } else if position(&["for", "our", "workflows"]).is_some() {
        Some("for our workflows")
    } else if after("what", &["can", "do"]) {
        Some("what … can do")
    } else if after("various", &["use", "case"]) || after("various", &["use", "cases"]) {
        Some("various … use cases")
    } else {
        None
    }
}

/// Whole dollars as a partner reads them: `$2,540`, `-$5`.
pub fn usd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}${grouped}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_need_a_number_and_a_unit() {
        for (text, found) in [
            ("30% auto-resolution", Some("30%")),
            ("30 % auto-resolution", Some("30%")),
            ("p95 under 200 ms", Some("200 ms")),
            ("p95 under 200ms", Some("200 ms")),
            ("sub-3-second answers", Some("3 second")),
            ("answers in 3 SECONDS", Some("3 seconds")),
            ("5 sec budget", Some("5 sec")),
            ("a 2x speed-up", Some("2x")),
            ("within 14 days", Some("14 days")),
            ("within a 1-day turnaround", Some("1 day")),
            ("1.5 hours saved", Some("1.5 hours")),
            ("3\u{a0}s at p99", Some("3 s")),
            ("1,000 ms", Some("1,000 ms")),
            ("we have 200 tickets", None),
            ("Claude Sonnet 4 inference", None),
            ("Claude Sonnet 4 sessions", None),
            ("SOC2 work", None),
            ("8 H100s", None),
            ("v1.5x", None),
            ("5 seasons", None),
            ("5 minutes", None),
            ("5 secs", None),
            ("42", None),
            ("", None),
        ] {
            assert_eq!(quantitative_target(text).as_deref(), found, "{text}");
        }
    }

    #[test]
    fn exploratory_phrasing() {
        for (text, found) in [
            (
                "Exploring Bedrock Agents for various customer-support use cases.",
                Some("exploring"),
            ),
            ("We want to explore what agents do", Some("explore what")),
            ("We want to see what Q Business can do", Some("what … can do")),
            ("various internal use-cases", Some("various … use cases")),
            ("a use case among various", None),
            ("Agents for our workflows", Some("for our workflows")),
            ("somewhat sure it can do it", None),
            ("Evaluation of Bedrock Agents to resolve tickets", None),
        ] {
            assert_eq!(exploratory_phrase(text), found, "{text}");
        }
    }

    #[test]
    fn significant_words_skip_the_common_ones_and_fold_plurals() {
        assert_eq!(
            significant_words("tool-call latency per agent"),
            ["tool", "call", "latency", "agent"]
        );
        assert_eq!(
            significant_words("false-positive rate on out-of-scope queries"),
            ["false", "positive", "scope", "query"]
        );
        assert_eq!(
            significant_words("agent invocations; process"),
            ["agent", "invocation", "process"]
        );
    }

    #[test]
    fn workloads_normalise() {
        for (label, normal) in [
            ("  Customer Support!! ", "customer-support"),
            ("customer_support", "customer-support"),
            ("--SOC2   architecture--", "soc2-architecture"),
            ("Adult Content", "adult-content"),
            ("Über Größe", "über-größe"),
            ("!!!", ""),
        ] {
            assert_eq!(normalise_workload(label), normal, "{label}");
        }
    }

    #[test]
    fn dollars_are_grouped() {
        for (amount, text) in [
            (0, "$0"),
            (460, "$460"),
            (2_540, "$2,540"),
            (25_000, "$25,000"),
            (1_234_567, "$1,234,567"),
            (-5, "-$5"),
            (i64::MIN, "-$9,223,372,036,854,775,808"),
        ] {
            assert_eq!(usd(amount), text);
        }
    }
}
