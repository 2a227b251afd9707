//! Templates for integration URLs and mock bodies.
//!
//! A template is literal text with variables:
//!
//! | variable                          | value                                   |
//! |-----------------------------------|-----------------------------------------|
//! | `{id}` / `{proxy+}` (URLs only)   | the path parameter of the matched route |
//! | `${request.path.id}`              | the same, in any template               |
//! | `${request.querystring.q}`        | the first query parameter `q`           |
//! | `${request.header.x-name}`        | the request header `x-name`             |
//! | `${stageVariables.name}`          | the stage variable `name`               |
//! | `${context.requestId}`, `${context.httpMethod}`, `${context.path}`, `${context.stage}`, `${context.routeKey}`, `${context.apiName}`, `${context.domainName}`, `${context.identity.sourceIp}` | request context |
//!
//! Templates are parsed when the config is loaded, so a typo is a config error with a line
//! number, never a surprise on the first request. A variable with no value renders empty.
//! Values are escaped for where they land: percent-encoded in a URL path or query, JSON-escaped
//! in a JSON body.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Where a template is used, which decides the variable forms it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// URL or path: `{param}` shorthand allowed.
    Url,
    /// Free text such as a mock body: only `${...}`.
    Text,
}

/// How substituted values are escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Values are inserted as they are.
    None,
    /// Values are escaped for the inside of a JSON string.
    Json,
    /// Path segments and query values are percent-encoded.
    Url,
}

/// A request-context variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextVar {
    /// `context.requestId`
    RequestId,
    /// `context.httpMethod`
    HttpMethod,
    /// `context.path`
    Path,
    /// `context.stage`
    Stage,
    /// `context.routeKey`
    RouteKey,
    /// `context.apiName`
    ApiName,
    /// `context.domainName`
    DomainName,
    /// `context.identity.sourceIp`
    SourceIp,
}

/// A variable in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Var {
    /// A path parameter of the route.
    PathParam(String),
    /// A query-string parameter.
    Query(String),
    /// A request header (lower-case name).
    Header(String),
    /// A stage variable.
    StageVar(String),
    /// A request-context value.
    Context(ContextVar),
}

/// A request as the variables of the language see it: each thing a variable can name.
/// Templates (routes' `RequestContext`) and authorizer identity sources (a plugin's request
/// handle) both implement it, and [`resolve`] is the one reading of the language over it.
pub trait RequestFacts {
    /// The joined value of path parameter `name`.
    fn path_param(&self, name: &str) -> Option<Cow<'_, str>>;
    /// The raw query string, without `?`.
    fn query(&self) -> Option<&str>;
    /// The request headers.
    fn headers(&self) -> &http::HeaderMap;
    /// A stage variable.
    fn stage_variable(&self, name: &str) -> Option<&str>;
    /// The request id.
    fn request_id(&self) -> &str;
    /// The method.
    fn method(&self) -> &http::Method;
    /// The request path as received.
    fn path(&self) -> &str;
    /// The stage's name.
    fn stage(&self) -> &str;
    /// The route's key.
    fn route_key(&self) -> &str;
    /// The API's name.
    fn api_name(&self) -> &str;
    /// The host the client asked for: lower case, without port (empty when none).
    fn domain_name(&self) -> Cow<'_, str>;
    /// The client's address.
    fn source_ip(&self) -> std::net::IpAddr;
}

/// The value of `var` on the request `facts` describes.
pub fn resolve<'a, F: RequestFacts + ?Sized>(facts: &'a F, var: &Var) -> Option<Cow<'a, str>> {
    match var {
        Var::PathParam(name) => facts.path_param(name),
        Var::Query(name) => crate::request::query_param(facts.query()?, name),
        Var::Header(name) => facts
            .headers()
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(Cow::Borrowed),
        Var::StageVar(name) => facts.stage_variable(name).map(Cow::Borrowed),
        Var::Context(c) => Some(match c {
            ContextVar::RequestId => Cow::Borrowed(facts.request_id()),
            ContextVar::HttpMethod => Cow::Borrowed(facts.method().as_str()),
            ContextVar::Path => Cow::Borrowed(facts.path()),
            ContextVar::Stage => Cow::Borrowed(facts.stage()),
            ContextVar::RouteKey => Cow::Borrowed(facts.route_key()),
            ContextVar::ApiName => Cow::Borrowed(facts.api_name()),
            ContextVar::DomainName => facts.domain_name(),
            ContextVar::SourceIp => Cow::Owned(facts.source_ip().to_string()),
        }),
    }
}

/// Supplies values for variables while rendering.
pub trait Lookup {
    /// The value of `var`, if it has one.
    fn lookup(&self, var: &Var) -> Option<Cow<'_, str>>;

    /// The decoded segments of path parameter `name` (one for `{x}`, several for `{x+}`),
    /// used in URL paths so that a `/` inside a segment stays encoded.
    fn path_segments(&self, name: &str) -> Option<Vec<&str>>;
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var(Var),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    source: String,
}

impl Template {
    /// Parses `source`; the error says what is wrong and where in the string.
    pub fn parse(source: &str, mode: Mode) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(pos) = rest.find(['$', '{']) {
            let (before, at) = rest.split_at(pos);
            literal.push_str(before);
            let (var, after) = if let Some(inner) = at.strip_prefix("${") {
                let end = inner
                    .find('}')
                    .ok_or_else(|| format!("unclosed `${{` in `{source}`"))?;
                (parse_expression(&inner[..end])?, &inner[end + 1..])
            } else if at.starts_with('{') && mode == Mode::Url {
                let inner = &at[1..];
                let end = inner
                    .find('}')
                    .ok_or_else(|| format!("unclosed `{{` in `{source}`"))?;
                let name = inner[..end].trim_end_matches('+');
                check_name(name, "path parameter")?;
                (Var::PathParam(name.to_owned()), &inner[end + 1..])
            } else {
                literal.push_str(&at[..1]);
                rest = &at[1..];
                continue;
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Var(var));
            rest = after;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            parts,
            source: source.to_owned(),
        })
    }

    /// The text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The path parameters the template refers to.
    pub fn path_params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(Var::PathParam(name)) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Whether the template is plain text with no variables.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Renders into `out`. With [`Escape::Url`], values before the first `?` of the
    /// literal text are path-encoded (a `/` inside a greedy parameter is kept) and values
    /// after it are query-encoded.
    pub fn render(&self, lookup: &dyn Lookup, escape: Escape, out: &mut String) {
        let mut in_query = false;
        for part in &self.parts {
            match part {
                Part::Literal(text) => {
                    in_query |= text.contains('?');
                    out.push_str(text);
                }
                Part::Var(var) => {
                    let Some(value) = lookup.lookup(var) else {
                        continue;
                    };
                    match escape {
                        Escape::None => out.push_str(&value),
                        Escape::Json => push_json_escaped(out, &value),
                        Escape::Url if in_query => {
                            let _ = write!(out, "{}", utf8_percent_encode(&value, QUERY_VALUE));
                        }
                        Escape::Url => match var {
                            Var::PathParam(name) => {
                                let segments = lookup.path_segments(name).unwrap_or_default();
                                for (i, seg) in segments.iter().enumerate() {
                                    if i > 0 {
                                        out.push('/');
                                    }
                                    let _ =
                                        write!(out, "{}", utf8_percent_encode(seg, SEGMENT_VALUE));
                                }
                            }
                            _ => {
                                let _ = write!(out, "{}", utf8_percent_encode(&value, PATH_VALUE));
                            }
                        },
                    }
                }
            }
        }
    }
}

/// Characters encoded in a path value; `/` stays so a greedy parameter keeps its segments.
const PATH_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// Characters encoded in one segment of a path parameter: `/` too.
const SEGMENT_VALUE: &AsciiSet = &PATH_VALUE.add(b'/');

/// Characters encoded in a query value.
const QUERY_VALUE: &AsciiSet = &PATH_VALUE.add(b'&').add(b'=').add(b'+').add(b'/');

fn push_json_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

fn check_name(name: &str, what: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid {what} name (letters, digits, `_`, `-`, `.`)"
        ))
    }
}

impl Var {
    /// Parses a variable as written in an identity source: `$request.header.X`,
    /// `$request.querystring.y`, `$request.path.p`, `$stageVariables.z` or `$context.x`.
    pub fn parse_source(source: &str) -> Result<Self, String> {
        let expr = source
            .strip_prefix('$')
            .ok_or_else(|| format!("`{source}` does not start with `$`"))?;
        parse_expression(expr)
    }
}

fn parse_expression(expr: &str) -> Result<Var, String> {
    let expr = expr.trim();
    let named = |prefix: &str, what: &str| -> Option<Result<String, String>> {
        expr.strip_prefix(prefix)
            .map(|name| check_name(name, what).map(|()| name.to_owned()))
    };
    if let Some(name) = named("request.path.", "path parameter") {
        return name.map(Var::PathParam);
    }
    if let Some(name) = named("request.querystring.", "query parameter") {
        return name.map(Var::Query);
    }
    if let Some(name) = named("request.header.", "header") {
        return name.map(|n| Var::Header(n.to_ascii_lowercase()));
    }
    if let Some(name) = named("stageVariables.", "stage variable") {
        return name.map(Var::StageVar);
    }
    let context = match expr {
        "context.requestId" => ContextVar::RequestId,
        "context.httpMethod" => ContextVar::HttpMethod,
        "context.path" => ContextVar::Path,
        "context.stage" => ContextVar::Stage,
        "context.routeKey" => ContextVar::RouteKey,
        "context.apiName" => ContextVar::ApiName,
        "context.domainName" => ContextVar::DomainName,
        "context.identity.sourceIp" => ContextVar::SourceIp,
        _ => {
            return Err(format!(
                "unknown variable `${{{expr}}}`: use request.path.X, request.querystring.X, \
                 request.header.X, stageVariables.X or a context.* value"
            ));
        }
    };
    Ok(Var::Context(context))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars;
    impl Lookup for Vars {
        fn path_segments(&self, name: &str) -> Option<Vec<&str>> {
            match name {
                "id" => Some(vec!["a b/c"]),
                "rest" => Some(vec!["x", "y z"]),
                _ => None,
            }
        }

        fn lookup(&self, var: &Var) -> Option<Cow<'_, str>> {
            match var {
                Var::PathParam(p) if p == "id" => Some("a b/c".into()),
                Var::PathParam(p) if p == "rest" => Some("x/y z".into()),
                Var::Query(q) if q == "q" => Some("x&y".into()),
                Var::StageVar(s) if s == "host" => Some("backend:8080".into()),
                Var::Header(h) if h == "x-quote" => Some("say \"hi\"\n".into()),
                Var::Context(ContextVar::RequestId) => Some("r-1".into()),
                _ => None,
            }
        }
    }

    fn render(src: &str, mode: Mode, escape: Escape) -> String {
        let mut out = String::new();
        Template::parse(src, mode)
            .expect("template parses")
            .render(&Vars, escape, &mut out);
        out
    }

    #[test]
    fn url_templates_encode_path_and_query_differently() {
        assert_eq!(
            render(
                "http://${stageVariables.host}/items/{id}?q=${request.querystring.q}",
                Mode::Url,
                Escape::Url
            ),
            "http://backend:8080/items/a%20b%2Fc?q=x%26y"
        );
        assert_eq!(
            render(
                "/files/{rest}?id=${request.path.id}",
                Mode::Url,
                Escape::Url
            ),
            "/files/x/y%20z?id=a%20b%2Fc"
        );
    }

    #[test]
    fn text_templates_keep_braces_and_escape_json() {
        assert_eq!(
            render(
                r#"{"id": "${request.path.id}", "h": "${request.header.X-Quote}", "r": "${context.requestId}", "m": "${request.path.missing}"}"#,
                Mode::Text,
                Escape::Json
            ),
            r#"{"id": "a b/c", "h": "say \"hi\"\n", "r": "r-1", "m": ""}"#
        );
    }

    #[test]
    fn bad_templates_are_rejected_with_a_reason() {
        assert!(
            Template::parse("${request.nope}", Mode::Text)
                .expect_err("must fail")
                .contains("unknown variable")
        );
        assert!(
            Template::parse("/a/{id", Mode::Url)
                .expect_err("must fail")
                .contains("unclosed")
        );
        assert!(
            Template::parse("${stageVariables.}", Mode::Text)
                .expect_err("must fail")
                .contains("not a valid")
        );
        let t = Template::parse("/pets/{id}/{proxy+}", Mode::Url).expect("parses");
        assert_eq!(t.path_params().collect::<Vec<_>>(), ["id", "proxy"]);
        assert!(Template::parse("cost: $5", Mode::Text).is_ok());
    }
}
