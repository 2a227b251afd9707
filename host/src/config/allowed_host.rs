//! The hosts a plugin granted `http` may call (`plugins.<name>.http.allow`).

/// A host a plugin may call: `api.example.com`, `*.example.com` (subdomains), either with
/// `:port` to allow only that port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    /// Parses a pattern.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a host name, `*.domain` or `host:port`");
        let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(port(p)?)),
                None if after.is_empty() => (h, None),
                None => return Err(bad()),
            }
        } else if let Some((h, p)) = s.rsplit_once(':') {
            (h, Some(port(p)?))
        } else {
            (s, None)
        };
        let bare = host.strip_prefix("*.").unwrap_or(host);
        if bare.is_empty() || bare.contains(['*', '/', ' ', ':']) && !s.starts_with('[') {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether `host` (lower case) on `port` is allowed.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => self.host == host,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AllowedHost;

    #[test]
    fn patterns_match_hosts_and_ports() {
        let p = AllowedHost::parse("api.example.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(p.matches("api.example.com", 443));
        assert!(!p.matches("x.api.example.com", 443));
        let w = AllowedHost::parse("*.example.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(w.matches("a.example.com", 80));
        assert!(!w.matches("example.com", 80));
        assert!(!w.matches("badexample.com", 80));
        let port = AllowedHost::parse("127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        assert!(port.matches("127.0.0.1", 8080));
        assert!(!port.matches("127.0.0.1", 8081));
        assert!(AllowedHost::parse("").is_err());
        assert!(AllowedHost::parse("a/b").is_err());
        assert!(AllowedHost::parse("host:notaport").is_err());
    }
}
