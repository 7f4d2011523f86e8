//! The address of the client behind a request, for per-address limits.
//!
//! `X-Forwarded-For` is a list every proxy appends its peer to, so only its right end is
//! trustworthy, and only as far as the proxies that wrote it are ours. The client is found by
//! walking from the peer leftwards while the address in hand is a trusted proxy
//! (`http.trusted_proxies`): the first untrusted address is the client. A peer that is not a
//! trusted proxy is the client itself, whatever header it sent.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::HeaderMap;
use ipnet::IpNet;

/// The client address of a request that arrived from `peer`.
pub fn client_address(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A malformed entry ends what can be believed.
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// The peer address axum recorded for the connection, when there is one.
pub fn peer_of(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().expect("header"));
        headers
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["127.0.0.0/8"]);
        assert_eq!(
            client_address(&headers("1.2.3.4"), ip("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_chain_is_walked_from_the_right() {
        let trusted = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        // The client forged the first entry; the load balancer (10.1.1.1) appended the real one.
        let h = headers("6.6.6.6, 198.51.100.7, 10.1.1.1");
        assert_eq!(
            client_address(&h, ip("127.0.0.1"), &trusted),
            ip("198.51.100.7")
        );
        // No header from a trusted peer: the peer.
        assert_eq!(
            client_address(&HeaderMap::new(), ip("127.0.0.1"), &trusted),
            ip("127.0.0.1")
        );
        // Garbage stops the walk at the last believable address.
        let h = headers("198.51.100.7, not-an-ip");
        assert_eq!(
            client_address(&h, ip("127.0.0.1"), &trusted),
            ip("127.0.0.1")
        );
        // IPv4-mapped IPv6 peers match IPv4 networks.
        assert_eq!(
            client_address(&headers("198.51.100.7"), ip("::ffff:127.0.0.1"), &trusted),
            ip("198.51.100.7")
        );
    }
}
