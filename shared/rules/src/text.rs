//! Text tests behind U1–U4 and M. Deliberately simple and explainable: a partner must be able to
//! see why a sentence counted or did not.

/// Lower-cased words of letters and digits (hyphens and punctuation split words).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Words too common to show two metrics are about the same thing (decided list).
const STOPWORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "with",
    "per",
    "of",
    "on",
    "in",
    "at",
    "to",
    "by",
    "across",
    "against",
    "from",
    "our",
    "its",
    "rate",
    "time",
    "use",
    "set",
    "level",
    "tracked",
    "during",
    "surfaced",
    "labeled",
    "representative",
];

/// The significant words of a text: three letters or more, not a stopword.
pub fn significant_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .collect()
}

/// Whether `haystack` mentions `needle` case-insensitively.
pub fn mentions(haystack: &str, needle: &str) -> bool {
    !needle.trim().is_empty() && haystack.to_lowercase().contains(&needle.trim().to_lowercase())
}

/// Units that make a number a quantitative target (U2).
const UNITS: &[&str] = &[
    "%", "ms", "seconds", "second", "sec", "s", "x", "days", "day", "hours", "hour",
];

/// The first quantitative target in a text: a number followed (after spaces or one hyphen) by a
/// unit of U2, e.g. "30%", "200 ms", "sub-3-second", "2x", "14 days".
pub fn quantitative_target(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_alphabetic()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || ((chars[i] == '.' || chars[i] == ',') && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        let number_end = i;
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if j == i && chars.get(j) == Some(&'-') {
            j += 1;
        }
        let rest: String = chars[j..chars.len().min(j + 8)]
            .iter()
            .collect::<String>()
            .to_lowercase();
        for unit in UNITS {
            if let Some(after) = rest.strip_prefix(unit) {
                let boundary = *unit == "%" || !after.chars().next().is_some_and(char::is_alphanumeric);
                if boundary {
                    let number: String = chars[start..number_end].iter().collect();
                    return Some(format!("{number}{unit}"));
                }
            }
        }
        i = number_end.max(start + 1);
    }
    None
}

/// The exploratory phrasing of U4 found in a text, if any.
pub fn exploratory_phrase(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    if lower.contains("exploring") {
        return Some("exploring");
    }
    if lower.contains("explore what") {
        return Some("explore what");
    }
    if lower.contains("for our workflows") {
        return Some("for our workflows");
    }
    if let Some(at) = lower.find("what ")
        && lower[at..].contains("can do")
    {
        return Some("what … can do");
    }
    if let Some(at) = lower.find("various")
        && lower[at..].contains("use case")
    {
        return Some("various … use cases");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_need_a_number_and_a_unit() {
        for (text, found) in [
            ("30% auto-resolution", Some("30%")),
            ("p95 under 200 ms", Some("200ms")),
            ("sub-3-second answers", Some("3second")),
            ("a 2x speed-up", Some("2x")),
            ("within 14 days", Some("14days")),
            ("1.5 hours saved", Some("1.5hours")),
            ("we have 200 tickets", None),
            ("Claude Sonnet 4 inference", None),
            ("SOC2 work", None),
            ("5 seasons", None),
        ] {
            assert_eq!(quantitative_target(text).as_deref(), found, "{text}");
        }
    }

    #[test]
    fn exploratory_phrasing() {
        assert_eq!(
            exploratory_phrase("Exploring Bedrock Agents for various customer-support use cases."),
            Some("exploring")
        );
        assert_eq!(
            exploratory_phrase("We want to see what Q Business can do"),
            Some("what … can do")
        );
        assert_eq!(
            exploratory_phrase("various internal use cases"),
            Some("various … use cases")
        );
        assert_eq!(
            exploratory_phrase("Evaluation of Bedrock Agents to resolve tickets"),
            None
        );
    }

    #[test]
    fn significant_words_skip_the_common_ones() {
        assert_eq!(
            significant_words("tool-call latency per agent"),
            ["tool", "call", "latency", "agent"]
        );
    }
}
