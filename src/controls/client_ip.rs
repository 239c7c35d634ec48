//! The client's IP address, for the limits taken before authentication: the TCP peer's, or, when
//! that peer is one of `server.trusted_proxies`, the one its `X-Forwarded-For` names.
//!
//! `X-Forwarded-For` is read from the right: each proxy appends the address it received the
//! request from, so the rightmost address not of a trusted proxy is the first one no trusted
//! party vouches for. Anything to its left was written by the client and is ignored, or any
//! client could pick its own rate-limit bucket.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses (`10.0.0.7`) and networks (`10.0.0.0/8`); the first entry that is neither is
    /// returned as the error.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| entry.clone())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request with these extensions and headers: the one behind the socket's
    /// peer (`ConnectInfo`, which the server sets on every request), or `None` without it.
    pub fn of_request(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(self.client_ip(peer.ip(), headers))
    }

    /// The client behind `peer`, per the rule above.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        // Every X-Forwarded-For field, in order, as one list (RFC 9110 §5.3), split on the raw
        // bytes: a field a proxy appended to keeps its entries even when the client's part
        // holds bytes that are not text.
        let hops: Vec<&[u8]> = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = std::str::from_utf8(hop)
                .ok()
                .and_then(|hop| hop.trim().parse::<IpAddr>().ok())
            else {
                // Garbage where an address should be: trust nothing further left.
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The rate-limit bucket of a client address: an IPv4 address itself, an IPv6 address its /64
/// (one subscriber's network: anyone holding a /64 can pick any of its addresses).
pub fn bucket(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap();
        assert_eq!(
            proxies.client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("10.0.0.1"), &headers(&["198.51.100.1"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_rightmost_untrusted_hop() {
        let proxies =
            TrustedProxies::parse(&["10.0.0.0/8".to_owned(), "192.0.2.7".to_owned()]).unwrap();
        // The client wrote "1.1.1.1" itself; 198.51.100.1 is what the first trusted proxy saw.
        let forwarded = headers(&["1.1.1.1, 198.51.100.1", "10.1.2.3"]);
        assert_eq!(
            proxies.client_ip(ip("192.0.2.7"), &forwarded),
            ip("198.51.100.1")
        );
        assert_eq!(
            proxies.client_ip(ip("::ffff:10.0.0.9"), &headers(&["198.51.100.2"])),
            ip("198.51.100.2")
        );
    }

    #[test]
    fn garbage_or_nothing_forwarded_stops_at_the_last_trusted_hop() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap();
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &headers(&["1.1.1.1, not-an-ip, 10.0.0.2"])),
            ip("10.0.0.2")
        );
        assert_eq!(
            proxies.client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_share_their_64s_bucket() {
        assert_eq!(
            bucket(ip("2001:db8:1:2::1")),
            bucket(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("::ffff:10.0.0.1")), "10.0.0.1");
        assert_eq!(bucket(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
    }

    #[test]
    fn bytes_that_are_not_text_in_the_clients_part_do_not_hide_the_proxys_entry() {
        let proxies = TrustedProxies::parse(&["127.0.0.0/8".to_owned()]).unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff, 203.0.113.7").unwrap(),
        );
        assert_eq!(
            proxies.client_ip(ip("127.0.0.1"), &headers),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn entries_must_be_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8".to_owned(), "::1".to_owned()]).is_ok());
        assert_eq!(
            TrustedProxies::parse(&["proxy.local".to_owned()]).unwrap_err(),
            "proxy.local"
        );
    }
}
