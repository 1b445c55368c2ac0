//! The notifier's configuration: the common settings, the API tokens, where deliveries may go,
//! and the retry policy.

use std::time::Duration;

use ipnet::IpNet;
use sandpiper_runtime::config::{CommonConfig, ConfigError, Source, parse_or};
use sandpiper_runtime::http::auth::Tokens;

/// The notifier's default HTTP port.
pub const DEFAULT_PORT: u16 = 8081;

/// How long a slash command is answered on its own request, by default: under Slack's 3 s.
pub const DEFAULT_SLACK_ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before a delivery goes to the dead letters.
    pub attempts: i64,
    /// The first backoff; each retry doubles it (with jitter) up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// One attempt's time limit (connect and response).
    pub timeout: Duration,
    /// The least time between two messages to one Slack webhook (Slack takes about one a second).
    pub slack_interval: Duration,
}

impl Default for RetryPolicy {
    /// The production defaults: 8 attempts, 1 s doubling to 5 min, 10 s per attempt, 1 s per Slack message.
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            slack_interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub common: CommonConfig,
    /// `SANDPIPER_API_TOKENS`, as for the intake.
    pub tokens: Tokens,
    /// `SANDPIPER_WEBHOOK_ALLOW`: internal address ranges deliveries may reach anyway (CIDRs).
    pub allow: Vec<IpNet>,
    /// `SANDPIPER_DELIVERY_ATTEMPTS`, `SANDPIPER_DELIVERY_BACKOFF_MS`, `SANDPIPER_DELIVERY_MAX_BACKOFF_MS`,
    /// `SANDPIPER_DELIVERY_TIMEOUT_MS`, `SANDPIPER_SLACK_INTERVAL_MS`.
    pub retry: RetryPolicy,
    /// `SANDPIPER_SLACK_SIGNING_SECRET`: the Slack app's signing secret; unset, the Slack app's
    /// routes are off (404).
    pub slack_signing_secret: Option<String>,
    /// `SANDPIPER_SLACK_ANSWER_WITHIN_MS` (2500): a slash command's answer not ready by then is
    /// sent through Slack's `response_url`, with "working on it" answered at once; 0 sends every
    /// answer that way.
    pub slack_answer_within: Duration,
}

fn millis(source: &dyn Source, variable: &'static str, default: u64) -> Result<Duration, ConfigError> {
    parse_or(source, variable, Duration::from_millis(default), |v| {
        match v.parse::<u64>() {
            Ok(ms) if ms <= 3_600_000 => Ok(Duration::from_millis(ms)),
            _ => Err("expected milliseconds, at most 3600000"),
        }
    })
}

/// `SANDPIPER_SLACK_ANSWER_WITHIN_MS`, [`DEFAULT_SLACK_ANSWER_WITHIN`] when unset.
pub fn slack_answer_within(source: &dyn Source) -> Result<Duration, ConfigError> {
    parse_or(
        source,
        "SANDPIPER_SLACK_ANSWER_WITHIN_MS",
        DEFAULT_SLACK_ANSWER_WITHIN,
        |v| match v.parse::<u64>() {
            // Past 3 s Slack has given up on the request and shows the user an error.
            Ok(ms) if ms <= 2_900 => Ok(Duration::from_millis(ms)),
            _ => Err("expected milliseconds, at most 2900 (Slack waits 3 s)"),
        },
    )
}

impl NotifierConfig {
    pub fn load(source: &dyn Source) -> Result<NotifierConfig, ConfigError> {
        let common = CommonConfig::load(source, DEFAULT_PORT)?;
        let tokens = Tokens::from_config(source)?;
        let allow = parse_or(source, "SANDPIPER_WEBHOOK_ALLOW", Vec::new(), |v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .map_err(|e| format!("{s:?}: {e}; expected CIDRs such as 127.0.0.0/8"))
                })
                .collect()
        })?;
        let retry = RetryPolicy {
            attempts: parse_or(source, "SANDPIPER_DELIVERY_ATTEMPTS", 8, |v| match v.parse::<i64>() {
                Ok(n @ 1..=100) => Ok(n),
                _ => Err("expected 1 to 100"),
            })?,
            base_backoff: millis(source, "SANDPIPER_DELIVERY_BACKOFF_MS", 1_000)?,
            max_backoff: millis(source, "SANDPIPER_DELIVERY_MAX_BACKOFF_MS", 5 * 60_000)?,
            timeout: millis(source, "SANDPIPER_DELIVERY_TIMEOUT_MS", 10_000)?,
            slack_interval: millis(source, "SANDPIPER_SLACK_INTERVAL_MS", 1_000)?,
        };
        let slack_signing_secret = source
            .get("SANDPIPER_SLACK_SIGNING_SECRET")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let slack_answer_within = slack_answer_within(source)?;
        Ok(NotifierConfig {
            common,
            tokens,
            allow,
            retry,
            slack_signing_secret,
            slack_answer_within,
        })
    }
}
