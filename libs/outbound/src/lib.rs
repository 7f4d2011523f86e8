//! Outbound HTTP to hosts a workspace chose: prompt webhooks and LLM provider base URLs.
//!
//! Such a URL must not reach the stack's own services, its network or a cloud metadata
//! endpoint. The check runs where the address is known: an IP literal in the URL is checked
//! before sending, and a host name is checked by the client's DNS resolver, so the address
//! checked is the address connected to (no second lookup a rebinding DNS server could answer
//! differently), for the first request and for every redirect. Networks an operator
//! allow-lists (a self-hosted model server, say) pass.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which internal addresses may be reached anyway.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Every address passes (tests and trusted installations).
    pub allow_all: bool,
    /// Networks that pass although they are internal.
    pub allowed: Vec<IpNet>,
}

/// Why a destination was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Blocked(pub String);

impl Policy {
    pub fn allow_all() -> Policy {
        Policy {
            allow_all: true,
            allowed: Vec::new(),
        }
    }

    pub fn networks(allowed: Vec<IpNet>) -> Policy {
        Policy {
            allow_all: false,
            allowed,
        }
    }

    /// Whether `ip` may be connected to.
    pub fn permits(&self, ip: IpAddr) -> bool {
        self.allow_all || !is_internal(&ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Checks what can be checked without resolving: the scheme, and the host when it is an
    /// IP literal. Host names are checked when the client resolves them.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Blocked> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Blocked(format!("`{url}` is not an http or https URL")));
        }
        let ip = match url.host() {
            None => return Err(Blocked(format!("`{url}` has no host"))),
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(()),
        };
        if self.permits(ip) {
            Ok(())
        } else {
            Err(refusal(&ip.to_string(), ip))
        }
    }

    /// Resolves `host` and checks every address it resolves to.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Blocked> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| Blocked(format!("`{host}` does not resolve: {e}")))?
            .collect();
        if let Some(bad) = addresses.iter().find(|a| !self.permits(a.ip())) {
            return Err(refusal(host, bad.ip()));
        }
        Ok(addresses)
    }
}

fn refusal(host: &str, ip: IpAddr) -> Blocked {
    Blocked(format!(
        "`{host}` is an internal address ({ip}): loopback, private, link-local and metadata \
         addresses are refused unless the operator allow-lists their network"
    ))
}

/// Loopback, private, shared (CGNAT), link-local (cloud metadata among them), unspecified,
/// broadcast and multicast addresses, and IPv6 forms embedding such an IPv4 address.
pub fn is_internal(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (b & 0xc0) == 64)
                || (a == 198 && (b & 0xfe) == 18)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .or_else(|| embedded_v4(v6))
                    .is_some_and(|v4| is_internal(&IpAddr::V4(v4)))
        }
    }
}

/// The IPv4 address inside a NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address.
fn embedded_v4(v6: &std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let pair = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        std::net::Ipv4Addr::new(a, b, c, d)
    };
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        Some(pair(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(pair(s[1], s[2]))
    } else {
        None
    }
}

/// A DNS resolver that refuses names resolving to an address the policy does not permit.
#[derive(Debug, Clone)]
struct GuardedResolver(Arc<Policy>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let addresses = policy
                .resolve(name.as_str(), 0)
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Limits of a client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    /// Longest silence while reading.
    pub read: Duration,
    /// A whole request, body included.
    pub total: Duration,
    /// Redirects followed (each checked like the first request); 0 follows none.
    pub redirects: usize,
}

/// A client whose every connection, redirects included, goes only where `policy` permits.
/// Environment proxies are ignored: a proxy would resolve the names itself.
pub fn client(policy: Policy, limits: Limits) -> reqwest::Result<reqwest::Client> {
    let policy = Arc::new(policy);
    let for_redirects = policy.clone();
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver(policy)))
        .connect_timeout(limits.connect)
        .read_timeout(limits.read)
        .timeout(limits.total)
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > limits.redirects {
                return attempt.stop();
            }
            match for_redirects.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(blocked) => attempt.error(blocked),
            }
        }))
        .build()
}

/// The policy's refusal inside a client error, when that is why the request failed.
pub fn blocked(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(blocked) = current.downcast_ref::<Blocked>() {
            return Some(blocked.0.clone());
        }
        source = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "ff02::1",
        ] {
            assert!(is_internal(&ip(internal)), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_internal(&ip(public)), "{public}");
        }
    }

    #[test]
    fn an_allow_list_lets_its_networks_through_and_nothing_else() {
        let policy = Policy::networks(vec!["10.1.0.0/16".parse().expect("a network")]);
        assert!(policy.permits(ip("10.1.2.3")));
        assert!(!policy.permits(ip("10.2.0.1")));
        assert!(!policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("8.8.8.8")));
    }

    #[test]
    fn literal_urls_are_checked_before_any_connection() {
        let policy = Policy::default();
        for refused in [
            "http://127.0.0.1:11434/v1",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://192.168.0.10/",
            "file:///etc/passwd",
        ] {
            let url = url::Url::parse(refused).expect("a URL");
            assert!(policy.check_url(&url).is_err(), "{refused}");
        }
        let url = url::Url::parse("https://api.openai.com/v1").expect("a URL");
        assert!(policy.check_url(&url).is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_internal_addresses_are_refused() {
        let policy = Policy::default();
        let refused = policy.resolve("localhost", 80).await.expect_err("loopback");
        assert!(refused.0.contains("internal address"), "{refused}");
        let allowed = Policy::networks(vec![
            "127.0.0.0/8".parse().expect("a network"),
            "::1/128".parse().expect("a network"),
        ]);
        assert!(allowed.resolve("localhost", 80).await.is_ok());
    }
}
