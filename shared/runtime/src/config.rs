//! Configuration from environment variables. Every service reads [`CommonConfig`]; the intake and
//! notifier add their own. A missing default is filled in; a present but invalid value is an error
//! naming the variable, so a misconfigured pod fails at start-up, not at its first request.

use sandpiper_partner_central::export::{AceCatalog, AceSettings, BenefitIdentifier};
use std::net::SocketAddr;

use chrono::{DateTime, Utc};

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub reason: String,
}

/// Where configuration values come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, variable: &str) -> Option<String>;
}

/// The process environment.
pub struct Environment;

impl Source for Environment {
    fn get(&self, variable: &str) -> Option<String> {
        std::env::var(variable).ok().filter(|v| !v.is_empty())
    }
}

impl<S: ::std::hash::BuildHasher> Source for std::collections::HashMap<String, String, S> {
    fn get(&self, variable: &str) -> Option<String> {
        std::collections::HashMap::get(self, variable).cloned()
    }
}

/// Reads and parses one variable, with a default when it is unset.
pub fn parse_or<T, E: std::fmt::Display>(
    source: &dyn Source,
    variable: &'static str,
    default: T,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    match source.get(variable) {
        None => Ok(default),
        Some(value) => parse(&value).map_err(|err| ConfigError {
            variable,
            value,
            reason: err.to_string(),
        }),
    }
}

/// Which clock the system runs on (CONTRACT §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    Wall,
    /// Starts at the given time (or the stored one, if the system already ran) and moves only
    /// through `POST /v1/clock/advance`.
    Simulated {
        start: DateTime<Utc>,
    },
}

/// What every service needs.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `SANDPIPER_NATS_URL`: the NATS server, or a comma-separated list of a cluster's servers
    /// (default `nats://127.0.0.1:4222`), as given; [`CommonConfig::nats_servers`] reads it.
    pub nats_url: String,
    /// `SANDPIPER_NATS_USER` / `SANDPIPER_NATS_PASSWORD`: optional credentials.
    pub nats_user: Option<(String, String)>,
    /// `SANDPIPER_HTTP_ADDR`: where the service's HTTP endpoints listen.
    pub http_addr: SocketAddr,
    /// `SANDPIPER_CLOCK` (`wall` | `simulated`) and `SANDPIPER_CLOCK_START` (RFC 3339).
    pub clock: ClockMode,
    /// `SANDPIPER_STREAM_REPLICAS`: replicas of every stream and bucket the services provision (the
    /// events, the notifier's deliveries and dead letters, the buckets; 3 on a NATS cluster).
    pub stream_replicas: usize,
    /// `SANDPIPER_REVIEW` (`simulated` | `ace`): who decides a review. `ace` (issue #17): AWS,
    /// in Partner Central, read back by the ACE connector; the simulation's outcome is then a
    /// forecast only. The reviewer and the connector must agree, so both read it here.
    pub review: ReviewMode,
}

/// `SANDPIPER_REVIEW`: `simulated` (default) or `ace`.
pub fn review_mode(source: &dyn Source) -> Result<ReviewMode, ConfigError> {
    parse_or(source, "SANDPIPER_REVIEW", ReviewMode::Simulated, |v| match v {
        "simulated" => Ok(ReviewMode::Simulated),
        "ace" => Ok(ReviewMode::Ace),
        _ => Err("expected simulated or ace"),
    })
}

/// Who decides a review (`SANDPIPER_REVIEW`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReviewMode {
    /// The review simulation decides (DOMAIN §5, T6): the default.
    #[default]
    Simulated,
    /// AWS decides, in Partner Central; the simulation forecasts.
    Ace,
}

impl CommonConfig {
    /// Reads the common settings; `default_port` is the service's own default HTTP port.
    pub fn load(source: &dyn Source, default_port: u16) -> Result<CommonConfig, ConfigError> {
        let nats_url = parse_or(source, "SANDPIPER_NATS_URL", "nats://127.0.0.1:4222".to_owned(), |v| {
            nats_servers(v).map(|_| v.to_owned())
        })?;
        let nats_user = match (source.get("SANDPIPER_NATS_USER"), source.get("SANDPIPER_NATS_PASSWORD")) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            (Some(user), None) => {
                return Err(ConfigError {
                    variable: "SANDPIPER_NATS_PASSWORD",
                    value: String::new(),
                    reason: format!("SANDPIPER_NATS_USER={user:?} is set, so a password is required"),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    variable: "SANDPIPER_NATS_USER",
                    value: String::new(),
                    reason: "SANDPIPER_NATS_PASSWORD is set, so a user is required".into(),
                });
            }
        };
        let http_addr = parse_or(
            source,
            "SANDPIPER_HTTP_ADDR",
            SocketAddr::from(([0, 0, 0, 0], default_port)),
            |v| {
                v.parse::<SocketAddr>()
                    .map_err(|e| format!("{e}; expected host:port such as 0.0.0.0:{default_port}"))
            },
        )?;
        let start = parse_or(source, "SANDPIPER_CLOCK_START", Utc::now(), |v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| format!("{e}; expected RFC 3339"))
        })?;
        let clock = parse_or(source, "SANDPIPER_CLOCK", ClockMode::Wall, |v| match v {
            "wall" => Ok(ClockMode::Wall),
            "simulated" => Ok(ClockMode::Simulated { start }),
            _ => Err("expected wall or simulated"),
        })?;
        let stream_replicas = parse_or(source, "SANDPIPER_STREAM_REPLICAS", 1, |v| match v.parse::<usize>() {
            Ok(n @ 1..=5) => Ok(n),
            _ => Err("expected 1 to 5"),
        })?;
        let review = review_mode(source)?;
        Ok(CommonConfig {
            nats_url,
            nats_user,
            http_addr,
            clock,
            stream_replicas,
            review,
        })
    }
}

impl CommonConfig {
    /// The NATS servers of [`CommonConfig::nats_url`], in order.
    pub fn nats_servers(&self) -> Result<Vec<async_nats::ServerAddr>, ConfigError> {
        nats_servers(&self.nats_url).map_err(|reason| ConfigError {
            variable: "SANDPIPER_NATS_URL",
            value: self.nats_url.clone(),
            reason,
        })
    }
}

/// Reads a NATS server list: one URL or several separated by commas (`nats://`, `tls://`, `ws://`
/// or `wss://`; a bare `host:port` means `nats://`), as every NATS client takes it. A bad entry is
/// named in the error.
pub fn nats_servers(list: &str) -> Result<Vec<async_nats::ServerAddr>, String> {
    let entries: Vec<&str> = list.split(',').map(str::trim).collect();
    let count = entries.len();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let at = if count > 1 {
                format!(" (entry {} of {count})", i + 1)
            } else {
                String::new()
            };
            if entry.is_empty() {
                return Err(format!("an empty NATS URL{at}"));
            }
            if entry.contains(char::is_whitespace) {
                return Err(format!("{entry:?}{at} is not a NATS URL: it holds a space"));
            }
            entry
                .parse::<async_nats::ServerAddr>()
                .map_err(|err| format!("{entry:?}{at} is not a NATS URL: {err}"))
        })
        .collect()
}

/// The Partner Central settings of the ACE export (the intake) and the ACE connector, also read
/// by `sandpiper up`:
/// - `SANDPIPER_ACE_CATALOG`: `Sandbox` (default) or `AWS`, Partner Central's catalogs; anything
///   else is refused at start.
/// - `SANDPIPER_ACE_BENEFIT_INNOVATION_SANDBOX`, `SANDPIPER_ACE_BENEFIT_BEDROCK_POC`: the Benefits
///   API benefit each programme applies for (`ben-` and 14 of `[0-9a-z]`, or an ARN). The defaults
///   are placeholders, fine for the Sandbox catalog; with `AWS` both must be set.
pub fn ace_settings(source: &dyn Source) -> Result<AceSettings, ConfigError> {
    let defaults = AceSettings::default();
    let catalog = parse_or(source, "SANDPIPER_ACE_CATALOG", defaults.catalog, AceCatalog::parse)?;
    let innovation_sandbox_benefit = parse_or(
        source,
        "SANDPIPER_ACE_BENEFIT_INNOVATION_SANDBOX",
        defaults.innovation_sandbox_benefit,
        BenefitIdentifier::parse,
    )?;
    let bedrock_poc_benefit = parse_or(
        source,
        "SANDPIPER_ACE_BENEFIT_BEDROCK_POC",
        defaults.bedrock_poc_benefit,
        BenefitIdentifier::parse,
    )?;
    AceSettings {
        catalog,
        innovation_sandbox_benefit,
        bedrock_poc_benefit,
    }
    .checked()
    .map_err(|err| ConfigError {
        variable: "SANDPIPER_ACE_CATALOG",
        value: catalog.as_str().to_owned(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_fill_an_empty_environment() {
        let config = CommonConfig::load(&source(&[]), 8082).unwrap();
        assert_eq!(config.nats_url, "nats://127.0.0.1:4222");
        assert_eq!(config.http_addr.port(), 8082);
        assert_eq!(config.clock, ClockMode::Wall);
        assert_eq!(config.stream_replicas, 1);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (variable, value) in [
            ("SANDPIPER_HTTP_ADDR", "localhost"),
            ("SANDPIPER_CLOCK", "lunar"),
            ("SANDPIPER_CLOCK_START", "tomorrow"),
            ("SANDPIPER_STREAM_REPLICAS", "7"),
        ] {
            let err = CommonConfig::load(&source(&[(variable, value)]), 1).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.to_string().starts_with(variable), "{err}");
        }
        let err = CommonConfig::load(&source(&[("SANDPIPER_NATS_USER", "intake")]), 1).unwrap_err();
        assert_eq!(err.variable, "SANDPIPER_NATS_PASSWORD");
    }

    #[test]
    fn the_nats_url_takes_a_list_and_names_a_bad_entry() {
        let list = "nats://n1:4222, nats://n2:4222,tls://n3:4443";
        let config = CommonConfig::load(&source(&[("SANDPIPER_NATS_URL", list)]), 1).unwrap();
        let servers = config.nats_servers().unwrap();
        let hosts: Vec<(String, u16)> = servers.iter().map(|s| (s.host().to_owned(), s.port())).collect();
        assert_eq!(
            hosts,
            [
                ("n1".to_owned(), 4222),
                ("n2".to_owned(), 4222),
                ("n3".to_owned(), 4443)
            ]
        );
        assert_eq!(nats_servers("localhost:4333").unwrap()[0].port(), 4333);

        for (value, named) in [
            ("nats://n1:4222,http://n2:4222", "\"http://n2:4222\" (entry 2 of 2)"),
            ("nats://n1:4222,,nats://n3:4222", "an empty NATS URL (entry 2 of 3)"),
            ("nats://n1:4222,", "an empty NATS URL (entry 2 of 2)"),
            ("nats://n1:notaport", "\"nats://n1:notaport\" is not a NATS URL"),
            ("nats://n1:4222 nats://n2:4222", "holds a space"),
        ] {
            let err = CommonConfig::load(&source(&[("SANDPIPER_NATS_URL", value)]), 1).unwrap_err();
            assert_eq!(err.variable, "SANDPIPER_NATS_URL");
            assert!(err.reason.contains(named), "{value}: {err}");
        }
    }

    #[test]
    fn the_simulated_clock_takes_its_start() {
        let config = CommonConfig::load(
            &source(&[
                ("SANDPIPER_CLOCK", "simulated"),
                ("SANDPIPER_CLOCK_START", "2026-03-01T09:00:00Z"),
            ]),
            1,
        )
        .unwrap();
        assert_eq!(
            config.clock,
            ClockMode::Simulated {
                start: "2026-03-01T09:00:00Z".parse().unwrap()
            }
        );
    }
}
