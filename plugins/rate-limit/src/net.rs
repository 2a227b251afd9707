//! Who the client is: the peer address, or, when the peer is a trusted proxy, the address
//! `X-Forwarded-For` names, read from the right past every trusted hop. IPv4-mapped IPv6
//! addresses (`::ffff:10.0.0.1`) count as IPv4 throughout.

use std::net::{IpAddr, SocketAddr};

/// An address block such as `10.0.0.0/8` or `::1/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix`, or a bare address (a block of one).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not an address block such as 10.0.0.0/8 or ::1/128");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net = addr.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { net, prefix })
    }

    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`,
/// `[::1]:80`) or in brackets (`[::1]`).
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
        .map(|ip| ip.to_canonical())
}

/// The client's address. `peer` is the connection's address; `forwarded` the
/// `X-Forwarded-For` header, believed only when `peer` is inside `trusted`. Its entries are
/// walked from the right, past trusted ones: the first untrusted address is the client. If
/// every entry is trusted, the leftmost is; an entry that is not an address ends the walk
/// at the last trusted one.
pub fn client_ip(peer: &str, forwarded: Option<&str>, trusted: &[Cidr]) -> String {
    let Ok(peer_ip) = peer.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
        return peer.to_owned();
    };
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let (Some(forwarded), true) = (forwarded, is_trusted(peer_ip)) else {
        return peer_ip.to_string();
    };
    let mut last = peer_ip;
    for entry in forwarded.rsplit(',').filter(|e| !e.trim().is_empty()) {
        let Some(ip) = forwarded_ip(entry) else {
            break;
        };
        if !is_trusted(ip) {
            return ip.to_string();
        }
        last = ip;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| Cidr::parse(s).expect("cidr")).collect()
    }

    #[test]
    fn blocks() {
        let c = Cidr::parse("10.0.0.0/8").expect("v4");
        assert!(c.contains("10.200.3.4".parse().expect("ip")));
        assert!(c.contains("::ffff:10.1.1.1".parse().expect("mapped")));
        assert!(!c.contains("11.0.0.1".parse().expect("ip")));
        let one = Cidr::parse("127.0.0.1").expect("bare");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        let all = Cidr::parse("0.0.0.0/0").expect("all");
        assert!(all.contains("8.8.8.8".parse().expect("ip")));
        assert!(!all.contains("::1".parse().expect("ip")));
        let v6 = Cidr::parse("fd00::/8").expect("v6");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("fe80::1".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "x", "10.0.0.0/", "/8"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for() {
        let trusted = cidrs(&["10.0.0.0/8", "127.0.0.1/32"]);
        let ip = |peer, xff| client_ip(peer, xff, &trusted);
        assert_eq!(ip("127.0.0.1", None), "127.0.0.1");
        assert_eq!(ip("127.0.0.1", Some("203.0.113.9")), "203.0.113.9");
        assert_eq!(
            ip("127.0.0.1", Some("1.1.1.1, 203.0.113.9, 10.0.0.2")),
            "203.0.113.9",
            "the rightmost untrusted, not a spoofed leftmost"
        );
        assert_eq!(ip("127.0.0.1", Some("10.0.0.3, 10.0.0.2")), "10.0.0.3");
        assert_eq!(ip("127.0.0.1", Some("203.0.113.9:4711")), "203.0.113.9");
        assert_eq!(ip("127.0.0.1", Some("[2001:db8::1]:80")), "2001:db8::1");
        assert_eq!(ip("127.0.0.1", Some("junk, 10.0.0.2")), "10.0.0.2");
        assert_eq!(ip("::ffff:127.0.0.1", Some("203.0.113.9")), "203.0.113.9");
        assert_eq!(
            ip("198.51.100.7", Some("203.0.113.9")),
            "198.51.100.7",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            client_ip("127.0.0.1", Some("203.0.113.9"), &[]),
            "127.0.0.1"
        );
    }
}
