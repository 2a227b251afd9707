//! Origins: the patterns of `allow_origins` and the `Origin` header a browser sends.
//!
//! An origin is `scheme://host[:port]`. Scheme and host compare case-insensitively (both
//! are kept lowercase); the port compares as written, so `https://a.com` and
//! `https://a.com:443` are different origins, as they are to a browser's `Origin` header,
//! which never carries a default port.

/// A parsed `scheme://host[:port]`, scheme and host lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

/// One entry of `allow_origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// `*`: every origin.
    Any,
    /// `null`: the opaque origin of sandboxed frames, `file:` pages and redirects.
    Null,
    /// One origin.
    Exact(Origin),
    /// `scheme://*.domain[:port]`: every subdomain of `domain`, at any depth, but not
    /// `domain` itself.
    Subdomains {
        /// The scheme, lowercase.
        scheme: String,
        /// The domain after `*.`, lowercase.
        domain: String,
        /// The port, which must match.
        port: Option<u16>,
    },
}

/// What the config accepts, for error messages.
const EXPECTED: &str = "expected scheme://host[:port], scheme://*.domain[:port], `*` or `null`";

/// Whether `s` is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// Whether `s` is a host name (`a.example.com`, `localhost`) or an IP literal
/// (`127.0.0.1`, `[::1]`).
fn is_host(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return !inner.is_empty()
            && inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Splits `scheme://authority` into scheme, host and port; the host may still be a
/// `*.` pattern, which the caller checks.
fn split(s: &str) -> Result<(String, &str, Option<u16>), &'static str> {
    let (scheme, authority) = s.split_once("://").ok_or("no `://`")?;
    if !is_scheme(scheme) {
        return Err("the scheme is not valid");
    }
    if authority.contains(['/', '?', '#']) {
        return Err("an origin has no path, query or fragment (nor a trailing `/`)");
    }
    if authority.contains('@') {
        return Err("an origin has no user info");
    }
    // The port follows the last `:`, unless that `:` is inside an IPv6 literal.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, digits)) if !digits.contains(']') => {
            let port = (!digits.is_empty()
                && digits.len() <= 5
                && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<u16>().ok())
            .flatten()
            .filter(|p| *p > 0)
            .ok_or("the port is not a number from 1 to 65535")?;
            (host, Some(port))
        }
        _ => (authority, None),
    };
    Ok((scheme.to_ascii_lowercase(), host, port))
}

impl Origin {
    /// Parses an `Origin` header value; `None` for `null` or anything malformed.
    pub fn parse(s: &str) -> Option<Self> {
        let (scheme, host, port) = split(s).ok()?;
        is_host(host).then(|| Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl Pattern {
    /// Parses an entry of `allow_origins`; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<Self, String> {
        let fail = |why: &str| format!("`{s}` is not an origin: {why}; {EXPECTED}");
        match s {
            "*" => return Ok(Self::Any),
            "null" => return Ok(Self::Null),
            _ => {}
        }
        let (scheme, host, port) = split(s).map_err(fail)?;
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') || domain.starts_with('[') || !is_host(domain) {
                return Err(fail("the domain after `*.` is not a host name"));
            }
            return Ok(Self::Subdomains {
                scheme,
                domain: domain.to_ascii_lowercase(),
                port,
            });
        }
        if host.contains('*') {
            return Err(fail(
                "`*` may only stand for the subdomains, as `*.example.com`",
            ));
        }
        if !is_host(host) {
            return Err(fail("the host is not valid"));
        }
        Ok(Self::Exact(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        }))
    }

    /// Whether the `Origin` header value `origin` (trimmed) is allowed by this pattern.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => !origin.is_empty(),
            Self::Null => origin == "null",
            Self::Exact(want) => Origin::parse(origin).is_some_and(|o| o == *want),
            Self::Subdomains {
                scheme,
                domain,
                port,
            } => Origin::parse(origin).is_some_and(|o| {
                o.scheme == *scheme
                    && o.port == *port
                    && o.host
                        .strip_suffix(domain.as_str())
                        .and_then(|rest| rest.strip_suffix('.'))
                        .is_some_and(|sub| !sub.is_empty() && !sub.starts_with('['))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> Pattern {
        Pattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_patterns() {
        assert_eq!(pattern("*"), Pattern::Any);
        assert_eq!(pattern("null"), Pattern::Null);
        assert_eq!(
            pattern("HTTPS://App.Example.COM:8443"),
            Pattern::Exact(Origin {
                scheme: "https".into(),
                host: "app.example.com".into(),
                port: Some(8443),
            })
        );
        assert_eq!(
            pattern("https://*.Example.com"),
            Pattern::Subdomains {
                scheme: "https".into(),
                domain: "example.com".into(),
                port: None,
            }
        );
        assert!(matches!(pattern("http://[::1]:3000"), Pattern::Exact(_)));
        assert!(matches!(pattern("http://127.0.0.1"), Pattern::Exact(_)));
        assert!(matches!(pattern("app://local_host"), Pattern::Exact(_)));
    }

    #[test]
    fn refuses_non_origins() {
        for (bad, why) in [
            ("", "no `://`"),
            ("example.com", "no `://`"),
            ("https://", "the host is not valid"),
            ("https://app.example.com/", "no path"),
            ("https://app.example.com/x", "no path"),
            ("https://app.example.com?x", "no path"),
            ("https://user@app.example.com", "no user info"),
            ("https://app.example.com:", "the port"),
            ("https://app.example.com:0", "the port"),
            ("https://app.example.com:65536", "the port"),
            ("https://app.example.com:80a", "the port"),
            ("https://app..example.com", "the host is not valid"),
            ("https://app.example.com.", "the host is not valid"),
            ("https://app example.com", "the host is not valid"),
            ("https://ex\u{e4}mple.com", "the host is not valid"),
            ("1http://a.com", "the scheme"),
            ("https://*", "`*` may only"),
            ("https://a.*.example.com", "`*` may only"),
            ("https://*example.com", "`*` may only"),
            ("https://*.", "after `*.`"),
            ("https://*.*.example.com", "after `*.`"),
            ("https://*.[::1]", "after `*.`"),
            ("https://[]", "the host is not valid"),
            ("https://[zz::1]", "the host is not valid"),
            ("*.example.com", "no `://`"),
            ("NULL", "no `://`"),
        ] {
            let e = Pattern::parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains(EXPECTED), "{bad}: {e}");
        }
    }

    #[test]
    fn matching_matrix() {
        let exact = pattern("https://app.example.com");
        let with_port = pattern("http://localhost:3000");
        let wild = pattern("https://*.example.com");
        let wild_port = pattern("https://*.example.com:8443");
        let any = pattern("*");
        let null = pattern("null");
        let v6 = pattern("http://[::1]:8080");
        for (p, origin, want) in [
            (&exact, "https://app.example.com", true),
            (&exact, "HTTPS://APP.EXAMPLE.COM", true),
            (&exact, "http://app.example.com", false),
            (&exact, "https://app.example.com:443", false),
            (&exact, "https://app.example.com.evil.com", false),
            (&exact, "https://evilapp.example.com", false),
            (&exact, "https://app.example.co", false),
            (&exact, "https://app.example.com/", false),
            (&exact, "null", false),
            (&exact, "", false),
            (&with_port, "http://localhost:3000", true),
            (&with_port, "http://localhost", false),
            (&with_port, "http://localhost:3001", false),
            (&with_port, "https://localhost:3000", false),
            (&wild, "https://a.example.com", true),
            (&wild, "https://a.b.example.com", true),
            (&wild, "https://A.Example.Com", true),
            (&wild, "https://example.com", false),
            (&wild, "https://.example.com", false),
            (&wild, "https://aexample.com", false),
            (&wild, "https://a.example.com.evil.com", false),
            (&wild, "https://a.example.com:443", false),
            (&wild, "http://a.example.com", false),
            (&wild, "https://a.example.org", false),
            (&wild_port, "https://a.example.com:8443", true),
            (&wild_port, "https://a.example.com", false),
            (&any, "https://anything.test", true),
            (&any, "null", true),
            (&any, "", false),
            (&null, "null", true),
            (&null, "https://a.example.com", false),
            (&v6, "http://[::1]:8080", true),
            (&v6, "http://[::1]", false),
        ] {
            assert_eq!(p.matches(origin), want, "{p:?} vs {origin:?}");
        }
    }

    #[test]
    fn parses_request_origins() {
        assert!(Origin::parse("https://a.com").is_some());
        assert!(Origin::parse("null").is_none());
        assert!(Origin::parse("https://*.a.com").is_none());
        assert!(Origin::parse("https://a.com, https://b.com").is_none());
        assert!(Origin::parse("https://a.com:99999").is_none());
    }
}
