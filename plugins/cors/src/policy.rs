//! The CORS decisions, free of the host: the headers of a preflight's answer and the edits
//! to an actual response.

use crate::config::{Allowed, Settings};

/// CORS headers a backend may send; removed from actual responses, since the plugin is
/// the one that decides (as Amazon API Gateway ignores them when CORS is configured).
pub const BACKEND_HEADERS: [&str; 6] = [
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
];

/// The most bytes of requested headers echoed back with `allow_headers: ["*"]`; a longer
/// `Access-Control-Request-Headers` is refused rather than echoed.
const MAX_ECHO: usize = 8 * 1024;

/// A response header: name and value.
pub type Header = (String, String);

/// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight(method: &str, origin: Option<&str>, request_method: Option<&str>) -> bool {
    method.eq_ignore_ascii_case("OPTIONS") && origin.is_some() && request_method.is_some()
}

fn header(name: &str, value: impl Into<String>) -> Header {
    (name.to_owned(), value.into())
}

impl Settings {
    /// Whether the `Origin` header value `origin` is allowed.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim();
        match &self.origins {
            Allowed::Any => !origin.is_empty(),
            Allowed::List(patterns) => patterns.iter().any(|p| p.matches(origin)),
        }
    }

    /// The `Access-Control-Allow-Origin` value for an allowed `origin`.
    fn allow_origin_value(&self, origin: &str) -> String {
        match self.origins {
            Allowed::Any => "*".to_owned(),
            Allowed::List(_) => origin.trim().to_owned(),
        }
    }

    fn method_allowed(&self, method: &str) -> bool {
        match &self.methods {
            Allowed::Any => true,
            Allowed::List(list) => list.iter().any(|m| m.eq_ignore_ascii_case(method)),
        }
    }

    /// The requested headers (every `Access-Control-Request-Headers` line, split on `,`),
    /// lowercase, if all of them are allowed.
    fn requested_headers(&self, lines: &[String]) -> Option<Vec<String>> {
        let requested: Vec<String> = lines
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let ok = requested.iter().all(|h| match &self.headers {
            Allowed::Any => tollgate_sdk::http::is_token(h),
            Allowed::List(list) => list.contains(h),
        });
        ok.then_some(requested)
    }

    /// The headers of the 204 answering a preflight from `origin` asking for `method` and
    /// the headers in `request_headers` (each `Access-Control-Request-Headers` line). A
    /// refused preflight gets only `Vary: Origin`, which the browser treats as a refusal.
    pub fn preflight(&self, origin: &str, method: &str, request_headers: &[String]) -> Vec<Header> {
        let refused = || vec![header("vary", "Origin")];
        if !self.origin_allowed(origin) || !self.method_allowed(method.trim()) {
            return refused();
        }
        let Some(requested) = self.requested_headers(request_headers) else {
            return refused();
        };
        let mut out = vec![
            header(
                "access-control-allow-origin",
                self.allow_origin_value(origin),
            ),
            header("access-control-allow-methods", self.methods_value.clone()),
        ];
        let echoed = self.headers == Allowed::Any;
        if echoed {
            let value = requested.join(", ");
            if value.len() > MAX_ECHO {
                return refused();
            }
            if !value.is_empty() {
                out.push(header("access-control-allow-headers", value));
            }
        } else if let Some(value) = &self.headers_value {
            out.push(header("access-control-allow-headers", value.clone()));
        }
        if let Some(age) = self.max_age {
            out.push(header("access-control-max-age", age.to_string()));
        }
        if self.credentials {
            out.push(header("access-control-allow-credentials", "true"));
        }
        let vary = match (self.origins == Allowed::Any, echoed) {
            (true, false) => None,
            (true, true) => Some("Access-Control-Request-Headers"),
            (false, false) => Some("Origin"),
            (false, true) => Some("Origin, Access-Control-Request-Headers"),
        };
        if let Some(vary) = vary {
            out.push(header("vary", vary));
        }
        out
    }

    /// The CORS headers to set on an actual response to a request from `origin`, after the
    /// backend's own [`BACKEND_HEADERS`] are removed.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<Header> {
        let Some(origin) = origin.filter(|o| self.origin_allowed(o)) else {
            return Vec::new();
        };
        let mut out = vec![header(
            "access-control-allow-origin",
            self.allow_origin_value(origin),
        )];
        if self.credentials {
            out.push(header("access-control-allow-credentials", "true"));
        }
        if let Some(expose) = &self.expose_value {
            out.push(header("access-control-expose-headers", expose.clone()));
        }
        out
    }

    /// Whether an actual response whose `Vary` lines are `vary` needs `Vary: Origin`
    /// appended: unless every origin gets `*`, or `Vary` already lists `Origin` or `*`.
    pub fn needs_vary_origin(&self, vary: &[String]) -> bool {
        self.origins != Allowed::Any
            && !vary
                .iter()
                .flat_map(|line| line.split(','))
                .map(str::trim)
                .any(|v| v == "*" || v.eq_ignore_ascii_case("origin"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Settings {
        Settings::parse(serde_json::from_str(json).expect("json")).expect("valid")
    }

    fn full() -> Settings {
        settings(
            r#"{"allow_origins":["https://app.example.com","https://*.example.com","http://localhost:3000"],
                "allow_methods":["GET","POST"],"allow_headers":["content-type","authorization"],
                "expose_headers":["x-request-id"],"max_age":600,"allow_credentials":true}"#,
        )
    }

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| (*l).to_owned()).collect()
    }

    fn get<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn detects_preflights() {
        assert!(is_preflight("OPTIONS", Some("https://a.com"), Some("POST")));
        assert!(!is_preflight("OPTIONS", None, Some("POST")));
        assert!(!is_preflight("OPTIONS", Some("https://a.com"), None));
        assert!(!is_preflight("POST", Some("https://a.com"), Some("POST")));
    }

    #[test]
    fn allowed_preflight() {
        let s = full();
        let h = s.preflight(
            "https://a.b.example.com",
            "POST",
            &lines(&["Content-Type, Authorization"]),
        );
        assert_eq!(
            h,
            vec![
                header("access-control-allow-origin", "https://a.b.example.com"),
                header("access-control-allow-methods", "GET, POST"),
                header(
                    "access-control-allow-headers",
                    "content-type, authorization"
                ),
                header("access-control-max-age", "600"),
                header("access-control-allow-credentials", "true"),
                header("vary", "Origin"),
            ]
        );
        // No requested headers, several lines, a method in lowercase: still allowed.
        let h = s.preflight("http://localhost:3000", "get", &[]);
        assert_eq!(
            get(&h, "access-control-allow-origin"),
            Some("http://localhost:3000")
        );
        let h = s.preflight(
            "https://app.example.com",
            "GET",
            &lines(&["content-type", " authorization ,"]),
        );
        assert!(get(&h, "access-control-allow-origin").is_some());
    }

    #[test]
    fn refused_preflights() {
        let s = full();
        let refused = vec![header("vary", "Origin")];
        for (origin, method, requested) in [
            ("https://evil.com", "GET", vec![]),
            ("https://example.com", "GET", vec![]),
            ("http://localhost:3001", "GET", vec![]),
            ("null", "GET", vec![]),
            ("https://app.example.com", "DELETE", vec![]),
            ("https://app.example.com", "POST", vec!["x-custom"]),
            (
                "https://app.example.com",
                "POST",
                vec!["content-type, x-custom"],
            ),
        ] {
            assert_eq!(
                s.preflight(origin, method, &lines(&requested)),
                refused,
                "{origin} {method} {requested:?}"
            );
        }
    }

    #[test]
    fn wildcards() {
        let s = settings(r#"{"allow_origins":["*"],"allow_methods":["*"],"allow_headers":["*"]}"#);
        let h = s.preflight(
            "https://x.test",
            "PURGE",
            &lines(&["X-One, x-two", "X-Three"]),
        );
        assert_eq!(
            h,
            vec![
                header("access-control-allow-origin", "*"),
                header("access-control-allow-methods", "*"),
                header("access-control-allow-headers", "x-one, x-two, x-three"),
                header("vary", "Access-Control-Request-Headers"),
            ]
        );
        // Nothing requested, nothing echoed; the answer still depends on the request.
        let h = s.preflight("https://x.test", "GET", &[]);
        assert_eq!(get(&h, "access-control-allow-headers"), None);
        assert_eq!(get(&h, "vary"), Some("Access-Control-Request-Headers"));
        let s2 = settings(r#"{"allow_origins":["*"],"allow_headers":["x-a"]}"#);
        assert_eq!(
            get(&s2.preflight("https://x.test", "GET", &[]), "vary"),
            None
        );
        // A requested header that is not a token is not echoed.
        let h = s.preflight("https://x.test", "GET", &lines(&["x y"]));
        assert_eq!(h, vec![header("vary", "Origin")]);
        let long = vec!["x-aaaaaaaaaaaaaaa, ".repeat(500)];
        assert_eq!(
            s.preflight("https://x.test", "GET", &long),
            vec![header("vary", "Origin")]
        );

        let s = settings(r#"{"allow_origins":["https://a.com"],"allow_headers":["*"]}"#);
        let h = s.preflight("https://a.com", "GET", &lines(&["x-any"]));
        assert_eq!(
            get(&h, "vary"),
            Some("Origin, Access-Control-Request-Headers")
        );
        assert_eq!(get(&h, "access-control-allow-headers"), Some("x-any"));
    }

    #[test]
    fn preflight_without_optional_headers() {
        let s = settings(r#"{"allow_origins":["https://a.com"]}"#);
        let h = s.preflight("https://a.com", "PUT", &[]);
        assert_eq!(
            h,
            vec![
                header("access-control-allow-origin", "https://a.com"),
                header(
                    "access-control-allow-methods",
                    "GET, HEAD, POST, PUT, PATCH, DELETE"
                ),
                header("vary", "Origin"),
            ]
        );
        // With no allowed headers, any requested header is refused.
        assert_eq!(
            s.preflight("https://a.com", "PUT", &lines(&["content-type"])),
            vec![header("vary", "Origin")]
        );
    }

    #[test]
    fn actual_responses() {
        let s = full();
        assert_eq!(
            s.response_headers(Some("https://app.example.com")),
            vec![
                header("access-control-allow-origin", "https://app.example.com"),
                header("access-control-allow-credentials", "true"),
                header("access-control-expose-headers", "x-request-id"),
            ]
        );
        assert!(s.response_headers(Some("https://evil.com")).is_empty());
        assert!(s.response_headers(None).is_empty());

        let any = settings(r#"{"allow_origins":["*"]}"#);
        assert_eq!(
            any.response_headers(Some("https://x.test")),
            vec![header("access-control-allow-origin", "*")]
        );
        assert!(any.response_headers(Some("")).is_empty());
    }

    #[test]
    fn vary() {
        let s = full();
        assert!(s.needs_vary_origin(&[]));
        assert!(s.needs_vary_origin(&lines(&["Accept-Encoding"])));
        assert!(!s.needs_vary_origin(&lines(&["Accept-Encoding, origin"])));
        assert!(!s.needs_vary_origin(&lines(&["accept", "Origin"])));
        assert!(!s.needs_vary_origin(&lines(&["*"])));
        assert!(s.needs_vary_origin(&lines(&["Origins"])));
        let any = settings(r#"{"allow_origins":["*"]}"#);
        assert!(!any.needs_vary_origin(&[]));
    }
}
