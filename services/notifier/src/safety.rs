//! Where deliveries may go. Subscription URLs must be http(s); loopback, link-local (169.254/16,
//! the cloud metadata range), private, CGNAT, benchmarking, reserved, multicast and unspecified
//! addresses, and IPv6 addresses that embed one (IPv4-compatible, NAT64, 6to4), are refused
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
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                // 100.64.0.0/10: carrier-grade NAT.
                || (a == 100 && (64..128).contains(&b))
                // 192.0.0.0/24: IETF protocol assignments.
                || (a == 192 && b == 0 && c == 0)
                // 198.18.0.0/15: benchmarking, often internal.
                || (a == 198 && (b & 0xfe) == 18)
                // 240.0.0.0/4: reserved.
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let embedded = |high: u16, low: u16| {
                let [a, b] = high.to_be_bytes();
                let [c, d] = low.to_be_bytes();
                std::net::Ipv4Addr::new(a, b, c, d)
            };
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal(IpAddr::V4(v4));
            }
            // ::a.b.c.d (IPv4-compatible, deprecated but still routed by some stacks); `::` and
            // `::1` land here too, as 0.0.0.0 and 0.0.0.1, both refused.
            if s[..6] == [0; 6] {
                return internal(IpAddr::V4(embedded(s[6], s[7])));
            }
            // 64:ff9b::/96, NAT64: the gateway connects to the embedded IPv4 address.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return internal(IpAddr::V4(embedded(s[6], s[7])));
            }
            // 2002::/16, 6to4: the embedded IPv4 address is the relay's destination.
            if s[0] == 0x2002 && internal(IpAddr::V4(embedded(s[1], s[2]))) {
                return true;
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // 64:ff9b:1::/48: NAT64 for local use.
                || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
                // 2001:db8::/32: documentation.
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
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

    #[test]
    fn internal_ranges_are_known_including_embedded_ipv4() {
        for (ip, refused) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("100.127.255.254", true),
            ("100.128.0.1", false),
            ("192.0.0.8", true),
            ("192.0.1.1", false),
            ("198.18.0.1", true),
            ("198.19.255.255", true),
            ("198.20.0.1", false),
            ("240.0.0.1", true),
            ("255.255.255.255", true),
            ("239.1.1.1", true),
            ("93.184.216.34", false),
            ("::", true),
            ("::1", true),
            ("::127.0.0.1", true),
            ("::a9fe:a9fe", true),
            ("::5db8:d822", false),
            ("::ffff:169.254.169.254", true),
            ("::ffff:93.184.216.34", false),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::5db8:d822", false),
            ("64:ff9b:1::1", true),
            ("2002:a9fe:a9fe::1", true),
            ("2002:0a00:0001::", true),
            ("2002:5db8:d822::1", false),
            ("fec0::1", true),
            ("feff::1", true),
            ("fe80::1", true),
            ("fd00::1", true),
            ("ff02::1", true),
            ("2001:db8::1", true),
            ("2606:4700::1111", false),
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(internal(parsed), refused, "{ip}");
            assert_eq!(Policy::default().permits(parsed), !refused, "{ip}");
        }
    }

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
