//! The plugin's config, checked once at `init` into [`Settings`]. Field names are those of
//! the gateway config (`allow_origins`); the AWS HTTP API names (`allowOrigins`) are
//! accepted too. Every error names the field it is about.

use serde::Deserialize;
use serde_json::Value;
use tollgate_sdk::http::is_token;

use crate::origin::Pattern;

/// The config as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Origins allowed to read responses.
    #[serde(default, alias = "allowOrigins")]
    allow_origins: Option<Vec<String>>,
    /// Methods a preflight may ask for.
    #[serde(default, alias = "allowMethods")]
    allow_methods: Option<Vec<String>>,
    /// Request headers a preflight may ask for.
    #[serde(default, alias = "allowHeaders")]
    allow_headers: Vec<String>,
    /// Response headers the browser lets scripts read.
    #[serde(default, alias = "exposeHeaders")]
    expose_headers: Vec<String>,
    /// How long a browser may cache a preflight's answer, in seconds.
    #[serde(default, alias = "maxAge")]
    max_age: Option<u32>,
    /// Whether requests with cookies or HTTP authentication may be read.
    #[serde(default, alias = "allowCredentials")]
    allow_credentials: bool,
}

/// The methods allowed when `allow_methods` is not given.
const DEFAULT_METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// The longest `Access-Control-Max-Age` accepted, a day (as AWS).
const MAX_AGE_LIMIT: u32 = 86_400;

/// A list where `*` allows anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed<T> {
    /// `*`.
    Any,
    /// The listed entries.
    List(Vec<T>),
}

/// The checked config.
#[derive(Debug)]
pub struct Settings {
    /// Allowed origins.
    pub origins: Allowed<Pattern>,
    /// Allowed methods, uppercase.
    pub methods: Allowed<String>,
    /// Allowed request headers, lowercase.
    pub headers: Allowed<String>,
    /// `Access-Control-Allow-Methods` of an allowed preflight.
    pub methods_value: String,
    /// `Access-Control-Allow-Headers` of an allowed preflight, unless the requested
    /// headers are echoed (`*`) or none are allowed.
    pub headers_value: Option<String>,
    /// `Access-Control-Expose-Headers`, if any.
    pub expose_value: Option<String>,
    /// `Access-Control-Max-Age`, if set.
    pub max_age: Option<u32>,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
}

/// Checks a list of tokens where `*` means any: `what` names a token in errors.
fn tokens(
    list: &[String],
    field: &str,
    what: &str,
    normalise: fn(&str) -> String,
) -> Result<Allowed<String>, String> {
    if list.iter().any(|s| s == "*") {
        return Ok(Allowed::Any);
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            if is_token(s) {
                Ok(normalise(s))
            } else {
                Err(format!("{field}[{i}]: `{s}` is not {what}"))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Allowed::List)
}

/// A value list as a header value: `*`, or the entries joined by `, `.
fn joined(allowed: &Allowed<String>) -> String {
    match allowed {
        Allowed::Any => "*".to_owned(),
        Allowed::List(list) => list.join(", "),
    }
}

impl Settings {
    /// Checks the plugin's JSON config.
    pub fn parse(config: Value) -> Result<Self, String> {
        let config: Config = tollgate_sdk::config::from_value(config)?;

        let raw_origins = config.allow_origins.ok_or(
            "allow_origins: missing; list the origins allowed, e.g. [\"https://app.example.com\"], or [\"*\"]",
        )?;
        if raw_origins.is_empty() {
            return Err("allow_origins: empty; list the origins allowed, e.g. [\"https://app.example.com\"], or [\"*\"]".into());
        }
        let patterns = raw_origins
            .iter()
            .enumerate()
            .map(|(i, s)| Pattern::parse(s).map_err(|e| format!("allow_origins[{i}]: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let origins = if patterns.contains(&Pattern::Any) {
            Allowed::Any
        } else {
            Allowed::List(patterns)
        };

        let raw_methods = config
            .allow_methods
            .unwrap_or_else(|| DEFAULT_METHODS.iter().map(|m| (*m).to_owned()).collect());
        let methods = tokens(&raw_methods, "allow_methods", "a method", |s| {
            s.to_ascii_uppercase()
        })?;
        let headers = tokens(
            &config.allow_headers,
            "allow_headers",
            "a header name",
            str::to_ascii_lowercase,
        )?;
        let expose = tokens(
            &config.expose_headers,
            "expose_headers",
            "a header name",
            str::to_ascii_lowercase,
        )?;

        if let Some(age) = config.max_age
            && age > MAX_AGE_LIMIT
        {
            return Err(format!(
                "max_age: {age} is over {MAX_AGE_LIMIT} seconds (a day)"
            ));
        }

        if config.allow_credentials {
            let wildcard = [
                ("allow_origins", origins == Allowed::Any),
                ("allow_methods", methods == Allowed::Any),
                ("allow_headers", headers == Allowed::Any),
                ("expose_headers", expose == Allowed::Any),
            ];
            if let Some((field, _)) = wildcard.iter().find(|(_, any)| *any) {
                return Err(format!(
                    "allow_credentials cannot be combined with `*` in {field}: browsers refuse \
                     `*` on requests with credentials; list the values instead"
                ));
            }
        }

        let headers_value = match &headers {
            Allowed::List(list) if !list.is_empty() => Some(list.join(", ")),
            _ => None,
        };
        let expose_value = match &expose {
            Allowed::List(list) if list.is_empty() => None,
            other => Some(joined(other)),
        };
        Ok(Self {
            origins,
            methods_value: joined(&methods),
            methods,
            headers,
            headers_value,
            expose_value,
            max_age: config.max_age,
            credentials: config.allow_credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Settings, String> {
        Settings::parse(serde_json::from_str(json).map_err(|e| e.to_string())?)
    }

    #[test]
    fn defaults() {
        let s = parse(r#"{"allow_origins":["https://app.example.com"]}"#).expect("valid");
        assert_eq!(s.methods_value, "GET, HEAD, POST, PUT, PATCH, DELETE");
        assert_eq!(s.headers, Allowed::List(vec![]));
        assert_eq!(s.headers_value, None);
        assert_eq!(s.expose_value, None);
        assert_eq!(s.max_age, None);
        assert!(!s.credentials);
    }

    #[test]
    fn normalises_and_joins() {
        let s = parse(
            r#"{"allow_origins":["https://a.com"],"allow_methods":["get","Post"],
                "allow_headers":["Content-Type","authorization"],
                "expose_headers":["X-Request-Id"],"max_age":600,"allow_credentials":true}"#,
        )
        .expect("valid");
        assert_eq!(s.methods_value, "GET, POST");
        assert_eq!(
            s.headers_value.as_deref(),
            Some("content-type, authorization")
        );
        assert_eq!(s.expose_value.as_deref(), Some("x-request-id"));
        assert_eq!(s.max_age, Some(600));
        assert!(s.credentials);
    }

    #[test]
    fn aws_names() {
        let s = parse(
            r#"{"allowOrigins":["*"],"allowMethods":["*"],"allowHeaders":["*"],
                "exposeHeaders":["*"],"maxAge":0,"allowCredentials":false}"#,
        )
        .expect("valid");
        assert_eq!(s.origins, Allowed::Any);
        assert_eq!(s.methods_value, "*");
        assert_eq!(s.headers, Allowed::Any);
        assert_eq!(s.headers_value, None);
        assert_eq!(s.expose_value.as_deref(), Some("*"));
        assert_eq!(s.max_age, Some(0));
    }

    #[test]
    fn wildcard_among_others_allows_any() {
        let s = parse(r#"{"allow_origins":["https://a.com","*"]}"#).expect("valid");
        assert_eq!(s.origins, Allowed::Any);
    }

    #[test]
    fn errors_name_the_field() {
        for (json, want) in [
            (r#"{}"#, "allow_origins: missing"),
            (r#"{"allow_origins":[]}"#, "allow_origins: empty"),
            (
                r#"{"allow_origins":["https://a.com","https://b.com/"]}"#,
                "allow_origins[1]: `https://b.com/` is not an origin",
            ),
            (
                r#"{"allow_origins":["a.com"]}"#,
                "allow_origins[0]: `a.com` is not an origin",
            ),
            (
                r#"{"allow_origins":"https://a.com"}"#,
                "allow_origins: invalid type: string",
            ),
            (
                r#"{"allow_origins":["*"],"allow_credentials":true}"#,
                "allow_credentials cannot be combined with `*` in allow_origins",
            ),
            (
                r#"{"allowOrigins":["https://a.com"],"allowMethods":["*"],"allowCredentials":true}"#,
                "allow_credentials cannot be combined with `*` in allow_methods",
            ),
            (
                r#"{"allow_origins":["https://a.com"],"allow_headers":["x","*"],"allow_credentials":true}"#,
                "allow_credentials cannot be combined with `*` in allow_headers",
            ),
            (
                r#"{"allow_origins":["https://a.com"],"expose_headers":["*"],"allow_credentials":true}"#,
                "allow_credentials cannot be combined with `*` in expose_headers",
            ),
            (
                r#"{"allow_origins":["*"],"allow_methods":["GET","GE T"]}"#,
                "allow_methods[1]: `GE T` is not a method",
            ),
            (
                r#"{"allow_origins":["*"],"allow_methods":[""]}"#,
                "allow_methods[0]: `` is not a method",
            ),
            (
                r#"{"allow_origins":["*"],"allow_headers":["x:y"]}"#,
                "allow_headers[0]: `x:y` is not a header name",
            ),
            (
                r#"{"allow_origins":["*"],"expose_headers":["ok","b\u00e4d"]}"#,
                "expose_headers[1]: `b\u{e4}d` is not a header name",
            ),
            (
                r#"{"allow_origins":["*"],"max_age":86401}"#,
                "max_age: 86401 is over 86400",
            ),
            (
                r#"{"allow_origins":["*"],"max_age":-1}"#,
                "max_age: invalid value",
            ),
            (
                r#"{"allow_origins":["*"],"allow_credentials":"yes"}"#,
                "allow_credentials: invalid type",
            ),
            (
                r#"{"allow_origins":["*"],"allow_origin":["*"]}"#,
                "allow_origin: unknown field `allow_origin`, expected one of",
            ),
            (
                r#"{"allow_origins":["*"],"allowOrigins":["*"]}"#,
                "duplicate field `allow_origins`",
            ),
        ] {
            let e = parse(json).map(|_| ()).expect_err(json);
            assert!(e.starts_with(want), "{json}: {e}");
        }
    }
}
