//! Money, dates, states and programmes as a page shows them. Pure, so the pages stay templates.

use chrono::{DateTime, Utc};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::state::State;

/// `$20,000`; `-$1,500` for a negative figure.
pub fn usd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if amount < 0 {
        format!("-${grouped}")
    } else {
        format!("${grouped}")
    }
}

/// `2026-03-14`.
pub fn day(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// `2026-03-14 09:00 UTC`.
pub fn moment(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `in review` for `in_review`.
pub fn state(state: State) -> String {
    state.as_str().replace('_', " ")
}

pub fn programme(programme: Programme) -> &'static str {
    match programme {
        Programme::InnovationSandbox => "Innovation Sandbox",
        Programme::BedrockPoc => "Bedrock POC",
        Programme::ActivatePortfolio => "Activate Portfolio",
        Programme::BuildForStartups => "Build for Startups",
    }
}

/// A tier as `$20K`.
pub fn tier(tier_usd: i64) -> String {
    if tier_usd.rem_euclid(1000) == 0 {
        format!("${}K", tier_usd / 1000)
    } else {
        usd(tier_usd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_by_thousands() {
        assert_eq!(usd(0), "$0");
        assert_eq!(usd(999), "$999");
        assert_eq!(usd(1000), "$1,000");
        assert_eq!(usd(1_234_567), "$1,234,567");
        assert_eq!(usd(-1500), "-$1,500");
        assert_eq!(tier(25_000), "$25K");
        assert_eq!(tier(12_345), "$12,345");
    }

    #[test]
    fn states_read_as_words() {
        assert_eq!(state(State::InReview), "in review");
        assert_eq!(state(State::WindowClosed), "window closed");
    }
}
