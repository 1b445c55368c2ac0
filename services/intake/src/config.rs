//! The intake's configuration: the common settings plus the API tokens, the body size limit and
//! the ACE export's settings.

use sandpiper_runtime::config::{CommonConfig, ConfigError, Source, parse_or};

use crate::ace::AceSettings;

use sandpiper_runtime::http::auth::Tokens;

/// The intake's default HTTP port.
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub common: CommonConfig,
    /// `SANDPIPER_API_TOKENS`: `principal:token,…` (required: an API nobody can call is a mistake).
    pub tokens: Tokens,
    /// `SANDPIPER_MAX_BODY_BYTES`: larger request bodies get 413 (default 256 KiB).
    pub max_body_bytes: usize,
    /// `SANDPIPER_ACE_CATALOG` and `SANDPIPER_ACE_BENEFIT_*`: see [`ace_settings`].
    pub ace: AceSettings,
    /// `SANDPIPER_PUBLIC_URL`: see [`public_url`].
    pub public_url: Option<String>,
    /// `SANDPIPER_CONSOLE_*`: the web console's sessions and trusted-proxy sign-in.
    pub console: sandpiper_console::settings::ConsoleSettings,
}

impl IntakeConfig {
    pub fn load(source: &dyn Source) -> Result<IntakeConfig, ConfigError> {
        let common = CommonConfig::load(source, DEFAULT_PORT)?;
        let tokens = Tokens::from_config(source)?;
        let max_body_bytes = max_body_bytes(source)?;
        let ace = ace_settings(source)?;
        let public_url = public_url(source)?;
        let https = public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
        let console = sandpiper_console::settings::ConsoleSettings::from_config(source, https)?;
        Ok(IntakeConfig {
            common,
            tokens,
            max_body_bytes,
            ace,
            public_url,
            console,
        })
    }
}

/// `SANDPIPER_MAX_BODY_BYTES` (default 256 KiB), also read by `sandpiper up`, which starts the
/// intake without its full configuration.
pub fn max_body_bytes(source: &dyn Source) -> Result<usize, ConfigError> {
    parse_or(source, "SANDPIPER_MAX_BODY_BYTES", 256 * 1024, |v| {
        match v.parse::<usize>() {
            Ok(n) if (1024..=16 * 1024 * 1024).contains(&n) => Ok(n),
            _ => Err("expected a byte count from 1024 to 16777216"),
        }
    })
}

/// `SANDPIPER_PUBLIC_URL`: where clients reach the API (`https://sandpiper.example.com`), the
/// base of the calendar feed links; unset, the links use the request's `Host` over `http://`.
/// A trailing `/` is dropped; anything but an `http(s)://` URL is refused at start.
pub fn public_url(source: &dyn Source) -> Result<Option<String>, ConfigError> {
    parse_or(source, "SANDPIPER_PUBLIC_URL", None, |v| {
        let v = v.trim().trim_end_matches('/');
        let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(Some(v.to_owned())),
            _ => Err("expected an http:// or https:// URL, e.g. https://sandpiper.example.com"),
        }
    })
}

// The ACE settings are read the same way by the intake (its export) and the ACE connector.
pub use sandpiper_runtime::config::ace_settings;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;

    use super::*;
    use crate::ace::AceCatalog;

    fn source(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_ace_catalog_defaults_to_sandbox_and_refuses_anything_else() {
        assert_eq!(ace_settings(&source(&[])).unwrap(), AceSettings::default());
        assert_eq!(
            ace_settings(&source(&[("SANDPIPER_ACE_CATALOG", "Sandbox")]))
                .unwrap()
                .catalog,
            AceCatalog::Sandbox
        );
        let err = ace_settings(&source(&[("SANDPIPER_ACE_CATALOG", "prod")])).unwrap_err();
        assert_eq!(err.variable, "SANDPIPER_ACE_CATALOG");
        assert_eq!(
            err.to_string(),
            "SANDPIPER_ACE_CATALOG=\"prod\" is invalid: \"prod\" is not a Partner Central catalog: expected Sandbox or AWS"
        );
        let err = ace_settings(&source(&[("SANDPIPER_ACE_BENEFIT_BEDROCK_POC", "poc")])).unwrap_err();
        assert_eq!(err.variable, "SANDPIPER_ACE_BENEFIT_BEDROCK_POC");
    }

    #[test]
    fn the_aws_catalog_needs_real_benefit_identifiers() {
        let err = ace_settings(&source(&[("SANDPIPER_ACE_CATALOG", "AWS")])).unwrap_err();
        assert!(err.reason.contains("list-benefits"), "{err}");
        let settings = ace_settings(&source(&[
            ("SANDPIPER_ACE_CATALOG", "AWS"),
            ("SANDPIPER_ACE_BENEFIT_INNOVATION_SANDBOX", "ben-0123456789abcd"),
            (
                "SANDPIPER_ACE_BENEFIT_BEDROCK_POC",
                "arn:aws:partnercentral:us-east-1:111122223333:benefit/poc",
            ),
        ]))
        .unwrap();
        assert_eq!(settings.catalog, AceCatalog::Aws);
        assert_eq!(settings.innovation_sandbox_benefit.as_str(), "ben-0123456789abcd");
    }
}
