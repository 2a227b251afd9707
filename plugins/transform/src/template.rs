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
    /// The method.
    fn method(&self) -> String;
    /// The (percent-encoded) path the client asked for.
    fn path(&self) -> String;
    /// The raw query string.
    fn query(&self) -> Option<String>;
    /// Every value of a request header.
    fn header_values(&self, name: &str) -> Vec<String>;
    /// A path parameter.
    fn path_param(&self, name: &str) -> Option<String>;
    /// A stage variable.
    fn stage_variable(&self, name: &str) -> Option<String>;
    /// The client's address.
    fn client_ip(&self) -> String;
    /// The identity's principal.
    fn principal(&self) -> Option<String>;
    /// An identity claim.
    fn claim(&self, name: &str) -> Option<String>;
    /// The route's key, e.g. `GET /orders/{id}`.
    fn route_key(&self) -> String;
    /// The API's name.
    fn api_name(&self) -> String;
    /// The stage's name.
    fn stage_name(&self) -> String;
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

/// Whether `name` is an HTTP header name (a token).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
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
            if is_header_name(&n) {
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
            Self::RequestPath => text(Some(src.path())),
            Self::PathParam(name) => text(src.path_param(name)),
            Self::Query(name) => text(
                src.query()
                    .and_then(|q| tollgate_sdk::query_param(&q, name)),
            ),
            Self::MultiQuery(name) => joined(
                src.query()
                    .map(|q| crate::query::Query::parse(&q).values(name))
                    .unwrap_or_default(),
            ),
            Self::Header(name) => text(src.header_values(name).into_iter().next()),
            Self::MultiHeader(name) => joined(src.header_values(name)),
            Self::StageVariable(name) => text(src.stage_variable(name)),
            Self::Claim(name) => text(src.claim(name)),
            Self::ResponseHeader(name) => text(src.response_header_values(name).into_iter().next()),
            Self::ResponseMultiHeader(name) => joined(src.response_header_values(name)),
            Self::StatusCode => Ok(Some(Value::from(src.status()))),
            Self::Context(ctx) => text(match ctx {
                Ctx::RequestId => src.header_values("x-request-id").into_iter().next(),
                Ctx::HttpMethod => Some(src.method()),
                Ctx::Path => Some(src.path()),
                Ctx::RouteKey => Some(src.route_key()),
                Ctx::Stage => Some(src.stage_name()),
                Ctx::ApiName => Some(src.api_name()),
                Ctx::SourceIp => Some(src.client_ip()),
                Ctx::UserAgent => src.header_values("user-agent").into_iter().next(),
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
pub mod fake {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use super::{Answer, Source};

    /// Every value a template can read, settable per test.
    pub struct Fake {
        pub method: String,
        pub path: String,
        pub query: Option<String>,
        pub headers: Vec<(String, String)>,
        pub params: BTreeMap<String, String>,
        pub stage_vars: BTreeMap<String, String>,
        pub identity: Option<(String, Vec<(String, String)>)>,
        pub route_key: String,
        pub body: Result<Value, Answer>,
        pub status: u16,
        pub response_headers: Vec<(String, String)>,
        pub response_body: Result<Value, Answer>,
    }

    impl Default for Fake {
        fn default() -> Self {
            Self {
                method: "POST".into(),
                path: "/orders/42".into(),
                query: Some("q=a%20b&tag=x&tag=y+z".into()),
                headers: vec![
                    ("x-request-id".into(), "req-1".into()),
                    ("x-tag".into(), "t1".into()),
                    ("x-tag".into(), "t2".into()),
                    ("user-agent".into(), "curl/8".into()),
                    ("content-type".into(), "application/json".into()),
                ],
                params: [("id".to_owned(), "42".to_owned())].into(),
                stage_vars: [("name".to_owned(), "prod".to_owned())].into(),
                identity: Some((
                    "alice".into(),
                    vec![
                        ("sub".into(), "u-1".into()),
                        ("scope".into(), "read".into()),
                    ],
                )),
                route_key: "POST /orders/{id}".into(),
                body: Ok(json!({"items": [{"sku": "a", "secret": 1}], "user": {"name": "Zoë"}})),
                status: 404,
                response_headers: vec![
                    ("server".into(), "backend/1".into()),
                    ("set-cookie".into(), "a=1".into()),
                    ("set-cookie".into(), "b=2".into()),
                ],
                response_body: Ok(json!({"id": 7, "ok": true})),
            }
        }
    }

    fn values(list: &[(String, String)], name: &str) -> Vec<String> {
        list.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    impl Source for Fake {
        fn method(&self) -> String {
            self.method.clone()
        }
        fn path(&self) -> String {
            self.path.clone()
        }
        fn query(&self) -> Option<String> {
            self.query.clone()
        }
        fn header_values(&self, name: &str) -> Vec<String> {
            values(&self.headers, name)
        }
        fn path_param(&self, name: &str) -> Option<String> {
            self.params.get(name).cloned()
        }
        fn stage_variable(&self, name: &str) -> Option<String> {
            self.stage_vars.get(name).cloned()
        }
        fn client_ip(&self) -> String {
            "203.0.113.9".into()
        }
        fn principal(&self) -> Option<String> {
            self.identity.as_ref().map(|(p, _)| p.clone())
        }
        fn claim(&self, name: &str) -> Option<String> {
            let (_, claims) = self.identity.as_ref()?;
            claims
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
        fn route_key(&self) -> String {
            self.route_key.clone()
        }
        fn api_name(&self) -> String {
            "shop".into()
        }
        fn stage_name(&self) -> String {
            "v1".into()
        }
        fn request_body(&self) -> Result<&Value, Answer> {
            self.body.as_ref().map_err(Clone::clone)
        }
        fn status(&self) -> u16 {
            self.status
        }
        fn response_header_values(&self, name: &str) -> Vec<String> {
            values(&self.response_headers, name)
        }
        fn response_body(&self) -> Result<&Value, Answer> {
            self.response_body.as_ref().map_err(Clone::clone)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::Fake;
    use super::*;
    use serde_json::json;

    fn req(s: &str) -> Text {
        Text::parse(s, Side::Request).expect(s)
    }

    fn resp(s: &str) -> Text {
        Text::parse(s, Side::Response).expect(s)
    }

    fn text(t: &Text) -> Option<String> {
        t.render_text(&Fake::default()).expect("renders")
    }

    #[test]
    fn parses_pieces() {
        let t = req("/v2/orders/${request.path.id}/items");
        assert_eq!(
            t.pieces,
            vec![
                Piece::Lit("/v2/orders/".into()),
                Piece::Var(Var::PathParam("id".into())),
                Piece::Lit("/items".into()),
            ]
        );
        let t = req("Bearer $request.header.X-Token.");
        assert_eq!(t.pieces[1], Piece::Var(Var::Header("x-token".into())));
        assert_eq!(
            t.pieces[2],
            Piece::Lit(".".into()),
            "a trailing dot is text"
        );
        let t = req("$request.body.items[0]['a.b'].c!");
        assert_eq!(
            t.pieces[0],
            Piece::Var(Var::RequestBody(
                JsonPath::parse("items[0]['a.b'].c").expect("path")
            ))
        );
        assert_eq!(req("${ request.path }").whole(), Some(&Var::RequestPath));
        assert!(req("${request.body['}']}").whole().is_some());
        assert_eq!(
            req("costs \\$5 \\n").literal().as_deref(),
            Some("costs $5 \\n")
        );
        assert_eq!(req("").pieces, vec![]);
        assert_eq!(req("plain").literal().as_deref(), Some("plain"));
        assert!(req("a$request.path").whole().is_none());
    }

    #[test]
    fn parses_every_variable() {
        let cases: [(&str, Var); 24] = [
            ("$request.body", Var::RequestBody(JsonPath::default())),
            (
                "$request.body.a[1]",
                Var::RequestBody(JsonPath::parse("a[1]").expect("path")),
            ),
            ("$request.path", Var::RequestPath),
            ("$request.path.id", Var::PathParam("id".into())),
            ("$request.querystring.q", Var::Query("q".into())),
            (
                "$request.multivaluequerystring.q",
                Var::MultiQuery("q".into()),
            ),
            ("$request.header.X-A", Var::Header("x-a".into())),
            (
                "$request.multivalueheader.x-a",
                Var::MultiHeader("x-a".into()),
            ),
            ("$request.header.x.y", Var::Header("x.y".into())),
            ("$request.header['x.y']", Var::Header("x.y".into())),
            ("$stageVariables.name", Var::StageVariable("name".into())),
            ("$context.requestId", Var::Context(Ctx::RequestId)),
            ("$context.httpMethod", Var::Context(Ctx::HttpMethod)),
            ("$context.path", Var::Context(Ctx::Path)),
            ("$context.routeKey", Var::Context(Ctx::RouteKey)),
            ("$context.stage", Var::Context(Ctx::Stage)),
            ("$context.apiName", Var::Context(Ctx::ApiName)),
            ("$context.identity.sourceIp", Var::Context(Ctx::SourceIp)),
            ("$context.identity.userAgent", Var::Context(Ctx::UserAgent)),
            (
                "$context.authorizer.principalId",
                Var::Context(Ctx::PrincipalId),
            ),
            ("$context.authorizer.claims.sub", Var::Claim("sub".into())),
            (
                "$context.authorizer.claims['cognito:groups']",
                Var::Claim("cognito:groups".into()),
            ),
            ("$context.authorizer.tenant", Var::Claim("tenant".into())),
            ("$response.statuscode", Var::StatusCode),
        ];
        for (src, want) in cases {
            assert_eq!(resp_or_req(src).whole(), Some(&want), "{src}");
        }
        assert_eq!(
            resp("$response.header.Server").whole(),
            Some(&Var::ResponseHeader("server".into()))
        );
        assert_eq!(
            resp("$response.multivalueheader.set-cookie").whole(),
            Some(&Var::ResponseMultiHeader("set-cookie".into()))
        );
        assert_eq!(
            resp("$response.body.id").whole(),
            Some(&Var::ResponseBody(JsonPath::parse("id").expect("path")))
        );
    }

    fn resp_or_req(s: &str) -> Text {
        if s.starts_with("$response") {
            resp(s)
        } else {
            req(s)
        }
    }

    #[test]
    fn refuses_bad_templates() {
        for (side, bad, want) in [
            (
                Side::Request,
                "$requst.header.x",
                "unknown variable `$requst.header.x`",
            ),
            (
                Side::Request,
                "$request.heder.x",
                "unknown variable `$request.heder.x`",
            ),
            (
                Side::Request,
                "$context.foo",
                "unknown variable `$context.foo`: context values",
            ),
            (Side::Request, "$context.identity.ip", "unknown variable"),
            (Side::Request, "$context.requestId.x", "unknown variable"),
            (Side::Request, "$context.authorizer", "needs a name"),
            (Side::Request, "$context.authorizer.claims", "needs a name"),
            (
                Side::Request,
                "$request.header",
                "needs a name, e.g. `$request.header.x-tag`",
            ),
            (Side::Request, "$request.querystring", "needs a name"),
            (Side::Request, "$stageVariables", "needs a name"),
            (
                Side::Request,
                "$request.header['a b']",
                "`a b` is not a header name",
            ),
            (Side::Request, "$request.header['']", "empty name"),
            (
                Side::Request,
                "$request.path.id[0]",
                "a name cannot have an index",
            ),
            (
                Side::Request,
                "${request.body.a..b}",
                "bad variable `$request.body.a..b`",
            ),
            (Side::Request, "${request.path.id", "unclosed `${`"),
            (Side::Request, "$request.body.a[0", "unclosed `[`"),
            (Side::Request, "cost $5", "`$` does not start a variable"),
            (Side::Request, "end $", "`$` does not start a variable"),
            (Side::Request, "${}", "bad variable `$`: empty path"),
            (
                Side::Request,
                "$response.statuscode",
                "only available on the response side",
            ),
            (
                Side::Response,
                "$request.body.x",
                "not available on the response side",
            ),
            (Side::Response, "$response.statuscode.x", "unknown variable"),
            (Side::Response, "$response.cookie", "unknown variable"),
            (Side::Request, "$ctx.x", "variables start with"),
        ] {
            let e = Text::parse(bad, side).expect_err(bad);
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn renders_every_source() {
        for (t, want) in [
            ("$request.path", Some("/orders/42")),
            ("$request.path.id", Some("42")),
            ("$request.path.nope", None),
            ("$request.querystring.q", Some("a b")),
            ("$request.querystring.tag", Some("x")),
            ("$request.multivaluequerystring.tag", Some("x,y z")),
            ("$request.multivaluequerystring.none", None),
            ("$request.header.x-tag", Some("t1")),
            ("$request.multivalueheader.x-tag", Some("t1,t2")),
            ("$request.header.absent", None),
            ("$stageVariables.name", Some("prod")),
            ("$context.requestId", Some("req-1")),
            ("$context.httpMethod", Some("POST")),
            ("$context.path", Some("/orders/42")),
            ("$context.routeKey", Some("POST /orders/{id}")),
            ("$context.stage", Some("v1")),
            ("$context.apiName", Some("shop")),
            ("$context.identity.sourceIp", Some("203.0.113.9")),
            ("$context.identity.userAgent", Some("curl/8")),
            ("$context.authorizer.principalId", Some("alice")),
            ("$context.authorizer.claims.sub", Some("u-1")),
            ("$context.authorizer.scope", Some("read")),
            ("$context.authorizer.claims.none", None),
            ("$request.body.user.name", Some("Zoë")),
            ("$request.body.items", Some(r#"[{"sku":"a","secret":1}]"#)),
            ("$request.body.none", None),
        ] {
            assert_eq!(text(&req(t)).as_deref(), want, "{t}");
        }
        for (t, want) in [
            ("$response.header.server", Some("backend/1")),
            ("$response.multivalueheader.set-cookie", Some("a=1,b=2")),
            ("$response.statuscode", Some("404")),
            ("$response.body.id", Some("7")),
            ("$response.body.none", None),
            ("$request.header.x-tag", Some("t1")),
        ] {
            assert_eq!(text(&resp(t)).as_deref(), want, "{t}");
        }
        let anonymous = Fake {
            identity: None,
            ..Fake::default()
        };
        assert_eq!(
            req("$context.authorizer.principalId")
                .render_text(&anonymous)
                .expect("renders"),
            None
        );
    }

    #[test]
    fn whole_values_keep_their_type() {
        let f = Fake::default();
        assert_eq!(
            req("$request.body.items[0]").render_json(&f),
            Ok(json!({"sku": "a", "secret": 1}))
        );
        assert_eq!(resp("$response.statuscode").render_json(&f), Ok(json!(404)));
        assert_eq!(resp("$response.body.ok").render_json(&f), Ok(json!(true)));
        assert_eq!(req("$request.body.none").render_json(&f), Ok(Value::Null));
        assert_eq!(req("${request.path.id}").render_json(&f), Ok(json!("42")));
        assert_eq!(
            req("n=$request.body.items[0].secret, u=${request.body.user}, x=[$request.body.none]")
                .render_json(&f),
            Ok(json!(r#"n=1, u={"name":"Zoë"}, x=[]"#)),
            "interpolation writes compact JSON and empty for missing"
        );
        assert_eq!(
            req("$request.path.none").render_text(&f),
            Ok(None),
            "a missing whole value is not set"
        );
        assert_eq!(
            req("id-${request.path.none}").render_text(&f),
            Ok(Some("id-".into()))
        );
        let empty = Fake {
            body: Ok(Value::Null),
            ..Fake::default()
        };
        assert_eq!(
            req("$request.body").render_text(&empty),
            Ok(None),
            "null is missing"
        );
        assert_eq!(req("$request.body.a").render_json(&empty), Ok(Value::Null));
    }

    #[test]
    fn json_templates() {
        let tpl = json!({
            "orderId": "$request.path.id",
            "items": "$request.body.items",
            "user": "$context.authorizer.claims.sub",
            "source": "web",
            "tags": ["a", "$request.header.x-tag"],
            "n": 3,
            "none": "$request.body.missing",
            "nested": {"ok": null, "ü": "${request.querystring.q}!"}
        });
        let node = Node::parse(&tpl, Side::Request, "request.body.template").expect("parses");
        assert_eq!(node.vars().len(), 6);
        assert_eq!(
            node.render(&Fake::default()),
            Ok(json!({
                "orderId": "42",
                "items": [{"sku": "a", "secret": 1}],
                "user": "u-1",
                "source": "web",
                "tags": ["a", "t1"],
                "n": 3,
                "none": null,
                "nested": {"ok": null, "ü": "a b!"}
            }))
        );
        let e = Node::parse(
            &json!({"a": [1, {"b c": "$requst.x"}]}),
            Side::Request,
            "request.body.template",
        )
        .expect_err("bad");
        assert!(
            e.starts_with("request.body.template.a[1]['b c']: unknown variable `$requst.x`"),
            "{e}"
        );
    }

    #[test]
    fn body_errors_pass_through() {
        let f = Fake {
            body: Err(Answer {
                status: 415,
                message: "no".into(),
            }),
            ..Fake::default()
        };
        assert_eq!(
            req("$request.body.a").render_text(&f).map_err(|a| a.status),
            Err(415)
        );
    }
}
