//! The intake's configuration: the common settings plus the API tokens and the body size limit.

use sandpiper_runtime::config::{CommonConfig, ConfigError, Source, parse_or};

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
}

impl IntakeConfig {
    pub fn load(source: &dyn Source) -> Result<IntakeConfig, ConfigError> {
        let common = CommonConfig::load(source, DEFAULT_PORT)?;
        let tokens = Tokens::from_config(source)?;
        let max_body_bytes = max_body_bytes(source)?;
        Ok(IntakeConfig {
            common,
            tokens,
            max_body_bytes,
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
