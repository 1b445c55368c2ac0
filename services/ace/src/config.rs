//! The connector's configuration: the common settings, the ACE settings the intake's export uses
//! too (catalog, benefits), and what only the connector needs: the engagement's involvement, the
//! polling interval, Partner Central's quotas and, for a stand-in, its endpoint and credentials.

use std::time::Duration;

use sandpiper_partner_central::export::AceSettings;
use sandpiper_runtime::config::{CommonConfig, ConfigError, Source, ace_settings, parse_or};

/// The connector's default HTTP port (health endpoints).
pub const DEFAULT_PORT: u16 = 8085;

/// `StartEngagementFromOpportunityTask`'s `AwsSubmission.InvolvementType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Involvement {
    /// AWS sees the opportunity and may engage: the default, as an Innovation Sandbox wants the
    /// service team's office hours.
    CoSell,
    ForVisibilityOnly,
}

impl Involvement {
    /// As Partner Central spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Involvement::CoSell => "Co-Sell",
            Involvement::ForVisibilityOnly => "For Visibility Only",
        }
    }

    fn parse(value: &str) -> Result<Involvement, &'static str> {
        match value {
            "Co-Sell" => Ok(Involvement::CoSell),
            "For Visibility Only" => Ok(Involvement::ForVisibilityOnly),
            _ => Err("expected Co-Sell or For Visibility Only"),
        }
    }
}

/// Partner Central's published quotas, per partner account: what the connector paces itself to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub writes_per_second: u32,
    pub writes_per_day: u32,
    pub reads_per_second: u32,
    pub reads_per_day: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        // Partner Central's published quotas (writes 1/s and 10,000/day; reads 10/s and
        // 100,000/day per partner account).
        Quotas {
            writes_per_second: 1,
            writes_per_day: 10_000,
            reads_per_second: 10,
            reads_per_day: 100_000,
        }
    }
}

/// What the connector needs besides the common settings.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// The catalog and each programme's benefit (`SANDPIPER_ACE_CATALOG`, `_BENEFIT_*`).
    pub ace: AceSettings,
    /// `SANDPIPER_ACE_INVOLVEMENT`: `Co-Sell` (default) or `For Visibility Only`.
    pub involvement: Involvement,
    /// `SANDPIPER_ACE_POLL_SECONDS`: how often AWS's statuses are read (default 60).
    pub poll_interval: Duration,
    pub quotas: Quotas,
    /// `SANDPIPER_ACE_ENDPOINT_URL`: one endpoint for both APIs, for a local stand-in; unset, the
    /// SDK resolves AWS's own (`partnercentral-selling.us-east-1.api.aws`, …).
    pub endpoint_url: Option<String>,
    /// Static keys for a stand-in (tests); unset, the SDK's standard credential chain (the
    /// environment, a profile, IRSA's web identity, EKS Pod Identity, instance roles).
    pub static_credentials: Option<(String, String)>,
    /// The longest a throttled call waits before it is tried again (backoff with full jitter).
    pub max_backoff: Duration,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        ConnectorSettings {
            ace: AceSettings::default(),
            involvement: Involvement::CoSell,
            poll_interval: Duration::from_secs(60),
            quotas: Quotas::default(),
            endpoint_url: None,
            static_credentials: None,
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl ConnectorSettings {
    /// Reads the connector's settings from `source` (`SANDPIPER_ACE_*`).
    pub fn load(source: &dyn Source) -> Result<ConnectorSettings, ConfigError> {
        let defaults = ConnectorSettings::default();
        let ace = ace_settings(source)?;
        let involvement = parse_or(
            source,
            "SANDPIPER_ACE_INVOLVEMENT",
            defaults.involvement,
            Involvement::parse,
        )?;
        let poll_interval = parse_or(
            source,
            "SANDPIPER_ACE_POLL_SECONDS",
            defaults.poll_interval,
            |v| match v.parse::<f64>() {
                Ok(s) if (0.05..=3600.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
                _ => Err("expected seconds between 0.05 and 3600"),
            },
        )?;
        let endpoint_url = parse_or(source, "SANDPIPER_ACE_ENDPOINT_URL", None, |v| {
            if v.starts_with("http://") || v.starts_with("https://") {
                Ok(Some(v.to_owned()))
            } else {
                Err("expected an http:// or https:// URL")
            }
        })?;
        Ok(ConnectorSettings {
            ace,
            involvement,
            poll_interval,
            endpoint_url,
            ..defaults
        })
    }
}

/// The connector's whole configuration.
#[derive(Debug, Clone)]
pub struct AceConfig {
    pub common: CommonConfig,
    pub connector: ConnectorSettings,
}

impl AceConfig {
    pub fn load(source: &dyn Source) -> Result<AceConfig, ConfigError> {
        Ok(AceConfig {
            common: CommonConfig::load(source, DEFAULT_PORT)?,
            connector: ConnectorSettings::load(source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;

    use super::*;

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_co_sell_every_minute_within_the_published_quotas() {
        let settings = ConnectorSettings::load(&source(&[])).unwrap();
        assert_eq!(settings.involvement, Involvement::CoSell);
        assert_eq!(settings.poll_interval, Duration::from_secs(60));
        assert_eq!(settings.quotas.writes_per_second, 1);
        assert_eq!(settings.quotas.reads_per_second, 10);
        assert_eq!(settings.endpoint_url, None);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = ConnectorSettings::load(&source(&[("SANDPIPER_ACE_INVOLVEMENT", "cosell")])).unwrap_err();
        assert_eq!(err.variable, "SANDPIPER_ACE_INVOLVEMENT");
        let err = ConnectorSettings::load(&source(&[("SANDPIPER_ACE_ENDPOINT_URL", "localhost:1")])).unwrap_err();
        assert_eq!(err.variable, "SANDPIPER_ACE_ENDPOINT_URL");
        let err = ConnectorSettings::load(&source(&[("SANDPIPER_ACE_POLL_SECONDS", "0")])).unwrap_err();
        assert_eq!(err.variable, "SANDPIPER_ACE_POLL_SECONDS");
        let err = ConnectorSettings::load(&source(&[("SANDPIPER_ACE_CATALOG", "AWS")])).unwrap_err();
        assert_eq!(
            err.variable, "SANDPIPER_ACE_CATALOG",
            "placeholder benefits with the AWS catalog"
        );
    }
}
