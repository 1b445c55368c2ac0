//! The console's settings: how long a session lasts, whether cookies are `Secure`, and the
//! optional trusted-proxy sign-in.

use std::time::Duration;

use sandpiper_contracts::ids::PartnerId;
use sandpiper_runtime::config::{ConfigError, Source};
use sandpiper_runtime::http::auth::Principal;

/// Sessions last this long unless `SANDPIPER_CONSOLE_SESSION_HOURS` says otherwise.
pub const DEFAULT_SESSION: Duration = Duration::from_secs(8 * 3600);

/// Sign-in by a header an authenticating proxy sets (oauth2-proxy's `X-Forwarded-Email`), off
/// unless configured. Only a deployment whose every request passes through that proxy may turn
/// it on: anyone who can reach the console directly could send the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedHeader {
    /// The header, lower-cased (`x-forwarded-email`).
    pub name: String,
    /// `value:principal` rules: an exact value (`pat@acme.example`) or a domain (`@acme.example`).
    pub rules: Vec<(String, Principal)>,
}

impl TrustedHeader {
    /// The principal a header value maps to: an exact rule first, then the value's domain.
    pub fn principal_for(&self, value: &str) -> Option<Principal> {
        let value = value.trim().to_lowercase();
        if value.is_empty() {
            return None;
        }
        let exact = self.rules.iter().find(|(rule, _)| *rule == value);
        let domain = || {
            let at = value.rfind('@')?;
            let domain = &value[at..];
            self.rules.iter().find(|(rule, _)| rule == domain)
        };
        exact.or_else(domain).map(|(_, principal)| principal.clone())
    }
}

#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub session: Duration,
    /// Mark the cookies `Secure`: set when the public URL is `https://` or the proxy in front
    /// says the request came over TLS (`X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    pub trusted_header: Option<TrustedHeader>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            session: DEFAULT_SESSION,
            secure_cookies: false,
            trusted_header: None,
        }
    }
}

impl ConsoleSettings {
    /// `SANDPIPER_CONSOLE_SESSION_HOURS` (1 to 168), `SANDPIPER_CONSOLE_TRUSTED_HEADER` with
    /// `SANDPIPER_CONSOLE_TRUSTED_USERS` (`value:principal,…`; both or neither); `secure` from
    /// the public URL's scheme.
    pub fn from_config(source: &dyn Source, public_url_is_https: bool) -> Result<ConsoleSettings, ConfigError> {
        let error = |variable: &'static str, value: &str, reason: &str| ConfigError {
            variable,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let session = match source.get("SANDPIPER_CONSOLE_SESSION_HOURS") {
            None => DEFAULT_SESSION,
            Some(text) => match text.trim().parse::<u64>() {
                Ok(hours @ 1..=168) => Duration::from_secs(hours * 3600),
                _ => {
                    return Err(error(
                        "SANDPIPER_CONSOLE_SESSION_HOURS",
                        &text,
                        "must be a whole number of hours, 1 to 168",
                    ));
                }
            },
        };
        let header = source.get("SANDPIPER_CONSOLE_TRUSTED_HEADER");
        let users = source.get("SANDPIPER_CONSOLE_TRUSTED_USERS");
        let trusted_header = match (header, users) {
            (None, None) => None,
            (Some(name), Some(list)) => {
                let name = name.trim().to_lowercase();
                if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(error("SANDPIPER_CONSOLE_TRUSTED_HEADER", &name, "is not a header name"));
                }
                let mut rules = Vec::new();
                for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    let Some((value, principal)) = entry.rsplit_once(':') else {
                        return Err(error(
                            "SANDPIPER_CONSOLE_TRUSTED_USERS",
                            entry,
                            "each entry must be value:principal (a partner id or admin)",
                        ));
                    };
                    let principal = match principal.trim() {
                        "admin" => Principal::Admin,
                        partner => Principal::Partner(
                            PartnerId::parse(partner)
                                .map_err(|e| error("SANDPIPER_CONSOLE_TRUSTED_USERS", entry, &e.to_string()))?,
                        ),
                    };
                    rules.push((value.trim().to_lowercase(), principal));
                }
                if rules.is_empty() {
                    return Err(error("SANDPIPER_CONSOLE_TRUSTED_USERS", "", "lists no user"));
                }
                Some(TrustedHeader { name, rules })
            }
            _ => {
                return Err(error(
                    "SANDPIPER_CONSOLE_TRUSTED_HEADER",
                    "",
                    "SANDPIPER_CONSOLE_TRUSTED_HEADER and SANDPIPER_CONSOLE_TRUSTED_USERS go together",
                ));
            }
        };
        Ok(ConsoleSettings {
            session,
            secure_cookies: public_url_is_https,
            trusted_header,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl Source for Map {
        fn get(&self, variable: &str) -> Option<String> {
            self.0.get(variable).map(|v| (*v).to_owned())
        }
    }

    #[test]
    fn the_trusted_header_is_off_by_default() {
        let settings = ConsoleSettings::from_config(&Map(HashMap::new()), false).unwrap();
        assert!(settings.trusted_header.is_none());
        assert_eq!(settings.session, DEFAULT_SESSION);
    }

    #[test]
    fn trusted_users_map_exactly_then_by_domain() {
        let source = Map(HashMap::from([
            ("SANDPIPER_CONSOLE_TRUSTED_HEADER", "X-Forwarded-Email"),
            (
                "SANDPIPER_CONSOLE_TRUSTED_USERS",
                "ops@acme.example:admin, @acme.example:acme",
            ),
        ]));
        let trusted = ConsoleSettings::from_config(&source, true)
            .unwrap()
            .trusted_header
            .unwrap();
        assert_eq!(trusted.name, "x-forwarded-email");
        assert_eq!(trusted.principal_for("OPS@acme.example"), Some(Principal::Admin));
        assert_eq!(
            trusted.principal_for("pat@acme.example"),
            Some(Principal::Partner(PartnerId::parse("acme").unwrap()))
        );
        assert_eq!(trusted.principal_for("pat@globex.example"), None);
        assert_eq!(trusted.principal_for(""), None);
    }

    #[test]
    fn half_a_trusted_setting_is_refused() {
        let source = Map(HashMap::from([(
            "SANDPIPER_CONSOLE_TRUSTED_HEADER",
            "X-Forwarded-Email",
        )]));
        assert!(ConsoleSettings::from_config(&source, false).is_err());
        let bad = Map(HashMap::from([("SANDPIPER_CONSOLE_SESSION_HOURS", "0")]));
        assert!(ConsoleSettings::from_config(&bad, false).is_err());
    }
}
