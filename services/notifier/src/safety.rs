//! Where deliveries may go. Subscription URLs must be http(s); loopback, link-local (169.254/16,
//! the cloud metadata range), private, CGNAT, multicast and unspecified addresses are refused
//! unless `SANDPIPER_WEBHOOK_ALLOW` names them (tests and local Slack mocks). The check runs when
//! a subscription is created and again at every delivery, inside the HTTP client's DNS resolver,
//! so a name that later resolves somewhere forbidden (DNS rebinding) is never connected to.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL: {0}")]
    Parse(String),
    #[error("only http and https URLs can receive deliveries")]
    Scheme,
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL must not carry credentials")]
    Credentials,
    #[error("{0} is a loopback, link-local, private or otherwise internal address; deliveries there are refused")]
    Forbidden(IpAddr),
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

/// Which addresses deliveries may reach.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Internal ranges allowed anyway.
    pub allow: Vec<IpNet>,
}

fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

impl Policy {
    pub fn permits(&self, ip: IpAddr) -> bool {
        !internal(ip) || self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Parses and checks a subscription URL, resolving its host.
    pub async fn check_url(&self, text: &str) -> Result<Url, UrlError> {
        let url = Url::parse(text).map_err(|e| UrlError::Parse(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UrlError::Scheme);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let host = url
            .host_str()
            .ok_or(UrlError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| UrlError::Unresolvable(host.clone()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(UrlError::Unresolvable(host));
        }
        if let Some(bad) = addrs.iter().find(|a| !self.permits(a.ip())) {
            return Err(UrlError::Forbidden(bad.ip()));
        }
        Ok(url)
    }
}

/// The HTTP client's resolver: it drops every address the policy forbids, so a connection can only
/// go where a check allowed, whatever the name resolves to at delivery time.
pub struct CheckedResolver(pub Arc<Policy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(std::io::Error::other(format!(
                    "{host} resolves only to forbidden addresses"
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        let strict = Policy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:8080/hook",
            "http://10.0.0.7/hook",
            "http://192.168.1.1/",
            "http://172.16.5.4/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://localhost:9/",
        ] {
            assert!(
                matches!(strict.check_url(url).await, Err(UrlError::Forbidden(_))),
                "{url}"
            );
        }
        for (url, error) in [
            ("ftp://example.com/", UrlError::Scheme),
            ("file:///etc/passwd", UrlError::Scheme),
            ("https://user:pw@example.com/", UrlError::Credentials),
        ] {
            assert_eq!(strict.check_url(url).await, Err(error), "{url}");
        }
        assert!(matches!(strict.check_url("not a url").await, Err(UrlError::Parse(_))));
        assert!(
            strict.check_url("https://93.184.216.34/hook").await.is_ok(),
            "a public address"
        );

        let local = Policy {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
        };
        assert!(local.check_url("http://127.0.0.1:8080/hook").await.is_ok());
        assert!(
            local.check_url("http://169.254.169.254/").await.is_err(),
            "the allow-list is exact"
        );
    }
}
