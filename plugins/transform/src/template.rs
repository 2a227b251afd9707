//! Templates: text with `$a.b` / `${a.b}` variables, and JSON templates made of them.
//!
//! A template string is literal text with variables. `$request.header.x-tag` runs as far
//! as names (letters, digits, `_`, `-`), `.name`, `[0]` and `['quoted']` go; `${...}` ends at
//! its `}`, for when text follows directly. `\$` is a literal dollar; any other `$` must
//! start a variable. Everything is checked when the config is loaded.
//!
//! A string that is exactly one variable keeps the value's JSON type in a JSON template;
//! anything else is text, with JSON values written as compact JSON and strings as they are.

use serde_json::Value;
use tollgate_sdk::view::RequestView;

use crate::path::{JsonPath, Seg, is_name_char};

/// Which hook a template runs in, which decides the variables it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `on_request`: no `$response.*`.
    Request,
    /// `on_response`: `$response.*` too, but no `$request.body`.
    Response,
}

/// A `$context.*` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// `$context.requestId`: the `x-request-id` header the gateway sets.
    RequestId,
    /// `$context.httpMethod`.
    HttpMethod,
    /// `$context.path`: the path the client asked for.
    Path,
    /// `$context.routeKey`, e.g. `GET /orders/{id}`.
    RouteKey,
    /// `$context.stage`.
    Stage,
    /// `$context.apiName`.
    ApiName,
    /// `$context.identity.sourceIp`.
    SourceIp,
    /// `$context.identity.userAgent`.
    UserAgent,
    /// `$context.authorizer.principalId`.
    PrincipalId,
}

/// The `$context.*` names, for errors.
const CONTEXT_NAMES: &str = "requestId, httpMethod, path, routeKey, stage, apiName, \
     identity.sourceIp, identity.userAgent, authorizer.principalId, authorizer.claims.NAME, \
     authorizer.NAME";

/// A variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Var {
    /// `$request.body` (empty path) or `$request.body.<path>`.
    RequestBody(JsonPath),
    /// `$request.path`: the (percent-encoded) path the client asked for.
    RequestPath,
    /// `$request.path.<name>`: a path parameter.
    PathParam(String),
    /// `$request.querystring.<name>`: the first value, decoded.
    Query(String),
    /// `$request.multivaluequerystring.<name>`: every value, joined with `,`.
    MultiQuery(String),
    /// `$request.header.<name>` (lower-case name): the first value.
    Header(String),
    /// `$request.multivalueheader.<name>`: every value, joined with `,`.
    MultiHeader(String),
    /// `$stageVariables.<name>`.
    StageVariable(String),
    /// A `$context.*` value.
    Context(Ctx),
    /// `$context.authorizer.claims.<name>` or `$context.authorizer.<name>`.
    Claim(String),
    /// `$response.header.<name>`.
    ResponseHeader(String),
    /// `$response.multivalueheader.<name>`.
    ResponseMultiHeader(String),
    /// `$response.body` or `$response.body.<path>`.
    ResponseBody(JsonPath),
    /// `$response.statuscode`: the status the response came with.
    StatusCode,
}

/// Why a hook answers instead of going on: the status and the `message` of the JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The message.
    pub message: String,
}

impl Answer {
    /// 500 for an edit the gateway refused.
    pub fn internal(error: &str) -> Self {
        Self {
            status: 500,
            message: format!("transform: {error}"),
        }
    }
}

/// Where variables get their values: the request (and the response, on the response side).
pub trait Source {
    /// The request.
    fn request(&self) -> &dyn RequestView;
    /// The identity's principal.
    fn principal(&self) -> Option<String>;
    /// An identity claim.
    fn claim(&self, name: &str) -> Option<String>;
    /// The request body as JSON (`null` when empty), or the answer when it is not JSON.
    fn request_body(&self) -> Result<&Value, Answer>;
    /// The response's status (response side).
    fn status(&self) -> u16 {
        0
    }
    /// Every value of a response header (response side).
    fn response_header_values(&self, name: &str) -> Vec<String> {
        let _ = name;
        Vec::new()
    }
    /// The response body as JSON (response side).
    fn response_body(&self) -> Result<&Value, Answer> {
        Ok(&Value::Null)
    }
}

impl Var {
    /// Parses the text after `$` (without braces) for a template on `side`.
    pub fn parse(expr: &str, side: Side) -> Result<Self, String> {
        let segs = JsonPath::parse(expr)
            .map_err(|e| format!("bad variable `${expr}`: {e}"))?
            .0;
        let key = |i: usize| match segs.get(i) {
            Some(Seg::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        let unknown = |hint: &str| format!("unknown variable `${expr}`{hint}");
        // The name after the first `from` segments: one or more names (dots kept).
        let name = |from: usize, example: &str| -> Result<String, String> {
            let rest = segs.get(from..).unwrap_or_default();
            if rest.is_empty() {
                return Err(format!("`${expr}` needs a name, e.g. `${example}`"));
            }
            let mut parts = Vec::with_capacity(rest.len());
            for seg in rest {
                match seg {
                    Seg::Key(k) if !k.is_empty() => parts.push(k.as_str()),
                    Seg::Key(_) => return Err(format!("`${expr}`: empty name")),
                    Seg::Index(_) => {
                        return Err(format!("`${expr}`: a name cannot have an index"));
                    }
                }
            }
            Ok(parts.join("."))
        };
        let header = |from: usize, example: &str| -> Result<String, String> {
            let n = name(from, example)?;
            if tollgate_sdk::http::is_token(&n) {
                Ok(n.to_ascii_lowercase())
            } else {
                Err(format!("`${expr}`: `{n}` is not a header name"))
            }
        };
        let tail = || JsonPath(segs.get(2..).unwrap_or_default().to_vec());
        match key(0) {
            Some("request") => match key(1) {
                Some("body") if side == Side::Response => Err(format!(
                    "`${expr}`: the request body is not available on the response side"
                )),
                Some("body") => Ok(Self::RequestBody(tail())),
                Some("path") if segs.len() == 2 => Ok(Self::RequestPath),
                Some("path") => name(2, "request.path.id").map(Self::PathParam),
                Some("querystring") => name(2, "request.querystring.q").map(Self::Query),
                Some("multivaluequerystring") => {
                    name(2, "request.multivaluequerystring.q").map(Self::MultiQuery)
                }
                Some("header") => header(2, "request.header.x-tag").map(Self::Header),
                Some("multivalueheader") => {
                    header(2, "request.multivalueheader.x-tag").map(Self::MultiHeader)
                }
                _ => Err(unknown(
                    ": use request.body, request.path, request.querystring.NAME, \
                     request.multivaluequerystring.NAME, request.header.NAME or \
                     request.multivalueheader.NAME",
                )),
            },
            Some("stageVariables") => name(1, "stageVariables.name").map(Self::StageVariable),
            Some("context") => {
                let ctx = match (key(1), key(2), segs.len()) {
                    (Some("requestId"), _, 2) => Ctx::RequestId,
                    (Some("httpMethod"), _, 2) => Ctx::HttpMethod,
                    (Some("path"), _, 2) => Ctx::Path,
                    (Some("routeKey"), _, 2) => Ctx::RouteKey,
                    (Some("stage"), _, 2) => Ctx::Stage,
                    (Some("apiName"), _, 2) => Ctx::ApiName,
                    (Some("identity"), Some("sourceIp"), 3) => Ctx::SourceIp,
                    (Some("identity"), Some("userAgent"), 3) => Ctx::UserAgent,
                    (Some("authorizer"), Some("principalId"), 3) => Ctx::PrincipalId,
                    (Some("authorizer"), Some("claims"), _) => {
                        return name(3, "context.authorizer.claims.sub").map(Self::Claim);
                    }
                    (Some("authorizer"), _, _) => {
                        return name(2, "context.authorizer.claims.sub").map(Self::Claim);
                    }
                    _ => return Err(unknown(&format!(": context values are {CONTEXT_NAMES}"))),
                };
                Ok(Self::Context(ctx))
            }
            Some("response") if side == Side::Request => Err(format!(
                "`${expr}`: response values are only available on the response side"
            )),
            Some("response") => match key(1) {
                Some("header") => header(2, "response.header.server").map(Self::ResponseHeader),
                Some("multivalueheader") => {
                    header(2, "response.multivalueheader.set-cookie").map(Self::ResponseMultiHeader)
                }
                Some("body") => Ok(Self::ResponseBody(tail())),
                Some("statuscode") if segs.len() == 2 => Ok(Self::StatusCode),
                _ => Err(unknown(
                    ": use response.header.NAME, response.multivalueheader.NAME, \
                     response.body or response.statuscode",
                )),
            },
            _ => Err(unknown(
                ": variables start with $request., $response., $context. or $stageVariables.",
            )),
        }
    }

    /// The value of the variable, `None` when missing; text values are JSON strings.
    pub fn resolve(&self, src: &dyn Source) -> Result<Option<Value>, Answer> {
        let text = |s: Option<String>| Ok(s.map(Value::String));
        let joined = |v: Vec<String>| text((!v.is_empty()).then(|| v.join(",")));
        match self {
            Self::RequestBody(path) => Ok(path.get(src.request_body()?).cloned()),
            Self::ResponseBody(path) => Ok(path.get(src.response_body()?).cloned()),
            Self::RequestPath => text(Some(src.request().path())),
            Self::PathParam(name) => text(src.request().path_param(name)),
            Self::Query(name) => text(
                src.request()
                    .query()
                    .and_then(|q| tollgate_sdk::query_param(&q, name)),
            ),
            Self::MultiQuery(name) => joined(
                src.request()
                    .query()
                    .map(|q| crate::query::Query::parse(&q).values(name))
                    .unwrap_or_default(),
            ),
            Self::Header(name) => text(src.request().header_values(name).into_iter().next()),
            Self::MultiHeader(name) => joined(src.request().header_values(name)),
            Self::StageVariable(name) => text(src.request().stage_variable(name)),
            Self::Claim(name) => text(src.claim(name)),
            Self::ResponseHeader(name) => text(src.response_header_values(name).into_iter().next()),
            Self::ResponseMultiHeader(name) => joined(src.response_header_values(name)),
            Self::StatusCode => Ok(Some(Value::from(src.status()))),
            Self::Context(ctx) => text(match ctx {
                Ctx::RequestId => src
                    .request()
                    .header_values("x-request-id")
                    .into_iter()
                    .next(),
                Ctx::HttpMethod => Some(src.request().method()),
                Ctx::Path => Some(src.request().path()),
                Ctx::RouteKey => Some(src.request().route_key()),
                Ctx::Stage => Some(src.request().stage_name()),
                Ctx::ApiName => Some(src.request().api_name()),
                Ctx::SourceIp => Some(src.request().client_ip()),
                Ctx::UserAgent => src.request().header_values("user-agent").into_iter().next(),
                Ctx::PrincipalId => src.principal(),
            }),
        }
    }
}

/// A value as text: strings as they are, `null` as missing, anything else as compact JSON.
pub fn as_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// A piece of a template string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Lit(String),
    /// A variable.
    Var(Var),
}

/// A parsed template string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    /// Its pieces; adjacent literals are merged.
    pub pieces: Vec<Piece>,
}

/// The length of an unbraced variable at the start of `s` (just after `$`).
fn unbraced_len(s: &str, source: &str) -> Result<usize, String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let name_at = |i: usize| s[i..].chars().next().is_some_and(is_name_char);
    loop {
        while let Some(c) = s[i..].chars().next().filter(|c| is_name_char(*c)) {
            i += c.len_utf8();
        }
        match bytes.get(i) {
            Some(b'.') if name_at(i + 1) => i += 1,
            Some(b'[') => i += bracket_len(&s[i..], source)?,
            _ => return Ok(i),
        }
    }
}

/// The length of `[...]` at the start of `s`, quotes respected.
fn bracket_len(s: &str, source: &str) -> Result<usize, String> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ']' => return Ok(i + 1),
            None => {}
        }
    }
    Err(format!("unclosed `[` in `{source}`"))
}

/// The length of the inside of `${...}` (`s` starts after `{`), quotes respected.
fn braced_len(s: &str, source: &str) -> Result<usize, String> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '}' => return Ok(i),
            None => {}
        }
    }
    Err(format!("unclosed `${{` in `{source}`"))
}

impl Text {
    /// Parses a template string for `side`.
    pub fn parse(source: &str, side: Side) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = source;
        while let Some(pos) = rest.find(['$', '\\']) {
            lit.push_str(&rest[..pos]);
            let at = &rest[pos..];
            if let Some(after) = at.strip_prefix("\\$") {
                lit.push('$');
                rest = after;
                continue;
            }
            if let Some(after) = at.strip_prefix('\\') {
                lit.push('\\');
                rest = after;
                continue;
            }
            let after = &at[1..];
            let (expr, next) = if let Some(inner) = after.strip_prefix('{') {
                let len = braced_len(inner, source)?;
                (&inner[..len], &inner[len + 1..])
            } else if after.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                let len = unbraced_len(after, source)?;
                (&after[..len], &after[len..])
            } else {
                return Err(format!(
                    "`{source}`: `$` does not start a variable (write `\\$` for a dollar sign)"
                ));
            };
            let var = Var::parse(expr.trim(), side)?;
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Var(var));
            rest = next;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Self { pieces })
    }

    /// The variable, when the template is exactly one.
    pub fn whole(&self) -> Option<&Var> {
        match self.pieces.as_slice() {
            [Piece::Var(v)] => Some(v),
            _ => None,
        }
    }

    /// The text, when the template has no variables.
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Var(_) => return None,
            }
        }
        Some(out)
    }

    /// The variables it uses.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) => Some(v),
            Piece::Lit(_) => None,
        })
    }

    /// Renders as a JSON value: one variable keeps its value (`null` when missing);
    /// anything else is a string.
    pub fn render_json(&self, src: &dyn Source) -> Result<Value, Answer> {
        if let Some(var) = self.whole() {
            return Ok(var.resolve(src)?.unwrap_or(Value::Null));
        }
        Ok(Value::String(self.render_text(src)?.unwrap_or_default()))
    }

    /// Renders as text; `None` when the template is one variable and it is missing.
    pub fn render_text(&self, src: &dyn Source) -> Result<Option<String>, Answer> {
        self.render_with(src, |s, out| out.push_str(s), |_, s, out| out.push_str(s))
    }

    /// Renders as text, literal pieces through `lit` and values through `val`; `None` when
    /// the template is one variable and it is missing. Missing values in text are empty.
    pub fn render_with(
        &self,
        src: &dyn Source,
        lit: impl Fn(&str, &mut String),
        val: impl Fn(&Var, &str, &mut String),
    ) -> Result<Option<String>, Answer> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(s) => lit(s, &mut out),
                Piece::Var(var) => match var.resolve(src)?.and_then(as_text) {
                    Some(text) => val(var, &text, &mut out),
                    None if self.pieces.len() == 1 => return Ok(None),
                    None => {}
                },
            }
        }
        Ok(Some(out))
    }
}

/// A JSON template: strings are template strings, arrays and objects hold templates, other
/// values are themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A number, boolean or `null`.
    Value(Value),
    /// A string.
    Text(Text),
    /// An array.
    Array(Vec<Node>),
    /// An object; names are literal.
    Object(Vec<(String, Node)>),
}

/// `at` followed by `name` as a path step, for errors.
fn step(at: &str, name: &str) -> String {
    let seg = JsonPath(vec![Seg::Key(name.to_owned())]).to_string();
    if seg.starts_with('[') {
        format!("{at}{seg}")
    } else {
        format!("{at}.{seg}")
    }
}

impl Node {
    /// Parses a JSON template for `side`; errors start with `at` and where inside it.
    pub fn parse(value: &Value, side: Side, at: &str) -> Result<Self, String> {
        Ok(match value {
            Value::String(s) => Self::Text(Text::parse(s, side).map_err(|e| format!("{at}: {e}"))?),
            Value::Array(items) => Self::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Self::parse(v, side, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Self::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::parse(v, side, &step(at, k))?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Self::Value(other.clone()),
        })
    }

    /// Every variable it uses.
    pub fn vars(&self) -> Vec<&Var> {
        match self {
            Self::Value(_) => Vec::new(),
            Self::Text(t) => t.vars().collect(),
            Self::Array(items) => items.iter().flat_map(Self::vars).collect(),
            Self::Object(members) => members.iter().flat_map(|(_, n)| n.vars()).collect(),
        }
    }

    /// Builds the value.
    pub fn render(&self, src: &dyn Source) -> Result<Value, Answer> {
        Ok(match self {
            Self::Value(v) => v.clone(),
            Self::Text(t) => t.render_json(src)?,
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|n| n.render(src))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, n)| Ok((k.clone(), n.render(src)?)))
                    .collect::<Result<_, Answer>>()?,
            ),
        })
    }
}

/// A fake request (and response) for tests.
#[cfg(test)]
pub mod fake;

#[cfg(test)]
mod tests;
