//! The plugin's config, checked once at `init` and compiled into a [`Plan`]. Every error
//! names the field it is about (``request.headers.set.`x-user`: ...``), since the gateway
//! shows it as the reason it refuses the whole config.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::mapping::{self, Line, Target, check_path};
use crate::path::JsonPath;
use crate::status::{Rule, When, is_status};
use crate::template::{Node, Side, Text, Var};

/// A JSON object's members as a list, in the order written (the config keeps its key
/// order: `serde_json` is built with `preserve_order`).
#[derive(Debug)]
struct Ordered<V>(Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Members<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut out = Vec::new();
                while let Some(member) = map.next_entry()? {
                    out.push(member);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Members(PhantomData))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    request: Value,
    response: Value,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawRequest {
    headers: Value,
    query: Value,
    path: Value,
    body: Value,
    parameter_mapping: Value,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawResponse {
    status: Value,
    headers: Value,
    body: Value,
    parameter_mapping: Value,
}

/// `headers:` and `query:`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawEdits {
    set: Ordered<Value>,
    append: Ordered<Value>,
    remove: Vec<String>,
    rename: Ordered<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawBody {
    template: Option<Value>,
    set: Ordered<Value>,
    rename: Ordered<String>,
    remove: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    when: Value,
    set: Value,
}

/// Header or query edits, applied as rename, remove, set, append.
#[derive(Debug, Default)]
pub struct Edits {
    /// `from` → `to`: every value moves; `to`'s earlier values go.
    pub rename: Vec<(String, String)>,
    /// Names removed.
    pub remove: Vec<String>,
    /// Names given one value (not set when a whole-value template is missing).
    pub set: Vec<(String, Text)>,
    /// Names given one more value.
    pub append: Vec<(String, Text)>,
}

impl Edits {
    fn is_empty(&self) -> bool {
        self.rename.is_empty()
            && self.remove.is_empty()
            && self.set.is_empty()
            && self.append.is_empty()
    }

    fn vars(&self) -> impl Iterator<Item = &Var> {
        self.set
            .iter()
            .chain(&self.append)
            .flat_map(|(_, t)| t.vars())
    }
}

/// A body mapping: a new body (or the old one), then set, rename, remove.
#[derive(Debug, Default)]
pub struct BodyPlan {
    /// The new body; `None` keeps the one received.
    pub template: Option<Node>,
    /// Values put at paths.
    pub set: Vec<(JsonPath, Node)>,
    /// Values moved.
    pub rename: Vec<(JsonPath, JsonPath)>,
    /// Values removed.
    pub remove: Vec<JsonPath>,
}

impl BodyPlan {
    fn vars(&self) -> Vec<&Var> {
        let mut vars: Vec<&Var> = self.template.iter().flat_map(Node::vars).collect();
        vars.extend(self.set.iter().flat_map(|(_, n)| n.vars()));
        vars
    }
}

/// What to do to a request.
#[derive(Debug, Default)]
pub struct RequestPlan {
    /// Header edits.
    pub headers: Edits,
    /// Query edits.
    pub query: Edits,
    /// `parameter_mapping`, in order.
    pub lines: Vec<Line>,
    /// The path rewrite.
    pub path: Option<Text>,
    /// The body mapping.
    pub body: Option<BodyPlan>,
    /// Whether the request body is read (a body mapping keeping it, or a `$request.body`).
    pub reads_body: bool,
}

/// What to do to a response.
#[derive(Debug, Default)]
pub struct ResponsePlan {
    /// Status rules, first match wins.
    pub status: Vec<Rule>,
    /// Header edits.
    pub headers: Edits,
    /// `parameter_mapping`, in order.
    pub lines: Vec<Line>,
    /// The body mapping.
    pub body: Option<BodyPlan>,
    /// Whether the response body is read.
    pub reads_body: bool,
}

impl RequestPlan {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
            && self.query.is_empty()
            && self.lines.is_empty()
            && self.path.is_none()
            && self.body.is_none()
    }
}

impl ResponsePlan {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
            && self.headers.is_empty()
            && self.lines.is_empty()
            && self.body.is_none()
    }
}

/// The checked config.
#[derive(Debug, Default)]
pub struct Plan {
    /// For `on_request`.
    pub request: RequestPlan,
    /// For `on_response`.
    pub response: ResponsePlan,
}

/// Deserialises `value` (absent when `null`); the error names `at`.
fn field<T: DeserializeOwned + Default>(value: Value, at: &str) -> Result<T, String> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value).map_err(|e| format!("{at}: {e}"))
}

/// `at` and a member name, quoted: ``at.`name` ``.
fn member(at: &str, name: &str) -> String {
    format!("{at}.`{name}`")
}

/// Checks a header name that is edited: a token, and not one the gateway owns.
fn edited_header(name: &str) -> Result<String, String> {
    if !tollgate_sdk::http::is_token(name) {
        return Err(format!("`{name}` is not a header name"));
    }
    let lower = name.to_ascii_lowercase();
    let hop = matches!(
        lower.as_str(),
        "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "te" | "trailer"
    ) || lower.starts_with("proxy-");
    if hop {
        return Err(format!(
            "`{name}` is a hop-by-hop header and cannot be changed"
        ));
    }
    if matches!(lower.as_str(), "host" | "content-length") {
        return Err(format!(
            "`{name}` is set by the gateway and cannot be changed"
        ));
    }
    Ok(lower)
}

/// A template value in `headers` or `query`: a string, number or boolean.
fn scalar_template(value: &Value, side: Side) -> Result<Text, String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err("expected a string".to_owned()),
    };
    Text::parse(&text, side)
}

/// What `headers` or `query` edit names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Names {
    Header,
    Query,
}

fn check_name(name: &str, names: Names) -> Result<String, String> {
    match names {
        Names::Header => edited_header(name),
        Names::Query if name.is_empty() => Err("empty parameter name".to_owned()),
        Names::Query => Ok(name.to_owned()),
    }
}

fn edits(value: Value, side: Side, names: Names, at: &str) -> Result<Edits, String> {
    let raw: RawEdits = field(value, at)?;
    let mut out = Edits::default();
    for (from, to) in raw.rename.0 {
        let at = member(&format!("{at}.rename"), &from);
        let from = check_name(&from, names).map_err(|e| format!("{at}: {e}"))?;
        let to = check_name(&to, names).map_err(|e| format!("{at}: {e}"))?;
        if from == to {
            return Err(format!("{at}: renames `{from}` to itself"));
        }
        out.rename.push((from, to));
    }
    for (i, name) in raw.remove.iter().enumerate() {
        out.remove
            .push(check_name(name, names).map_err(|e| format!("{at}.remove[{i}]: {e}"))?);
    }
    for (kind, list, dest) in [
        ("set", raw.set.0, &mut out.set),
        ("append", raw.append.0, &mut out.append),
    ] {
        for (name, value) in list {
            let at = member(&format!("{at}.{kind}"), &name);
            let name = check_name(&name, names).map_err(|e| format!("{at}: {e}"))?;
            let text = scalar_template(&value, side).map_err(|e| format!("{at}: {e}"))?;
            dest.push((name, text));
        }
    }
    Ok(out)
}

fn body_plan(value: Value, side: Side, at: &str) -> Result<Option<BodyPlan>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let raw: RawBody = field(value, at)?;
    let set = raw.set.0;
    let rename = raw.rename.0;
    let path = |p: &str, at: &str| JsonPath::parse(p).map_err(|e| format!("{at}: {e}"));
    let mut plan = BodyPlan {
        template: raw
            .template
            .as_ref()
            .map(|t| Node::parse(t, side, &format!("{at}.template")))
            .transpose()?,
        ..BodyPlan::default()
    };
    for (key, value) in &set {
        let at = member(&format!("{at}.set"), key);
        plan.set
            .push((path(key, &at)?, Node::parse(value, side, &at)?));
    }
    for (from, to) in &rename {
        let at = member(&format!("{at}.rename"), from);
        plan.rename.push((path(from, &at)?, path(to, &at)?));
    }
    for (i, p) in raw.remove.iter().enumerate() {
        plan.remove.push(path(p, &format!("{at}.remove[{i}]"))?);
    }
    Ok(Some(plan))
}

fn lines(value: Value, side: Side, at: &str) -> Result<Vec<Line>, String> {
    let raw: Ordered<Value> = field(value, at)?;
    let mut out = Vec::new();
    for (key, value) in raw.0 {
        let at = member(at, &key);
        let mut line = mapping::parse(&key, &value, side).map_err(|e| format!("{at}: {e}"))?;
        if let Target::Header(name) = &line.target {
            line.target = Target::Header(edited_header(name).map_err(|e| format!("{at}: {e}"))?);
        }
        out.push(line);
    }
    Ok(out)
}

fn status_rules(value: Value) -> Result<Vec<Rule>, String> {
    let raw: Vec<RawRule> = field(value, "response.status")?;
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("response.status[{i}]");
            let when = match &r.when {
                Value::String(s) => When::parse(s),
                Value::Number(n) => When::parse(&n.to_string()),
                _ => Err("expected a code, a class such as 5xx or a pattern".to_owned()),
            }
            .map_err(|e| format!("{at}.when: {e}"))?;
            let set = r
                .set
                .as_u64()
                .filter(|c| is_status(*c))
                .and_then(|c| u16::try_from(c).ok())
                .ok_or_else(|| {
                    format!("{at}.set: `{}` is not a status code (100 to 599)", r.set)
                })?;
            Ok(Rule { when, set })
        })
        .collect()
}

fn request(value: Value) -> Result<RequestPlan, String> {
    let raw: RawRequest = field(value, "request")?;
    let side = Side::Request;
    let path = match raw.path {
        Value::Null => None,
        Value::String(s) => {
            let t = Text::parse(&s, side).map_err(|e| format!("request.path: {e}"))?;
            check_path(&t).map_err(|e| format!("request.path: {e}"))?;
            Some(t)
        }
        _ => {
            return Err(
                "request.path: expected a path template such as /v2/orders/${request.path.id}"
                    .into(),
            );
        }
    };
    let plan = RequestPlan {
        headers: edits(raw.headers, side, Names::Header, "request.headers")?,
        query: edits(raw.query, side, Names::Query, "request.query")?,
        lines: lines(raw.parameter_mapping, side, "request.parameter_mapping")?,
        path,
        body: body_plan(raw.body, side, "request.body")?,
        reads_body: false,
    };
    if plan.path.is_some() && plan.lines.iter().any(|l| l.target == Target::Path) {
        return Err(
            "request.path: `overwrite:path` in request.parameter_mapping rewrites the path too; keep one"
                .into(),
        );
    }
    let mut vars: Vec<&Var> = plan.headers.vars().chain(plan.query.vars()).collect();
    vars.extend(
        plan.lines
            .iter()
            .flat_map(|l| l.value.iter().flat_map(Text::vars)),
    );
    vars.extend(plan.path.iter().flat_map(Text::vars));
    vars.extend(plan.body.iter().flat_map(BodyPlan::vars));
    let reads_body = vars.iter().any(|v| matches!(v, Var::RequestBody(_)))
        || plan.body.as_ref().is_some_and(|b| b.template.is_none());
    Ok(RequestPlan { reads_body, ..plan })
}

fn response(value: Value) -> Result<ResponsePlan, String> {
    let raw: RawResponse = field(value, "response")?;
    let side = Side::Response;
    let plan = ResponsePlan {
        status: status_rules(raw.status)?,
        headers: edits(raw.headers, side, Names::Header, "response.headers")?,
        lines: lines(raw.parameter_mapping, side, "response.parameter_mapping")?,
        body: body_plan(raw.body, side, "response.body")?,
        reads_body: false,
    };
    let mut vars: Vec<&Var> = plan.headers.vars().collect();
    vars.extend(
        plan.lines
            .iter()
            .flat_map(|l| l.value.iter().flat_map(Text::vars)),
    );
    vars.extend(plan.body.iter().flat_map(BodyPlan::vars));
    let reads_body = vars.iter().any(|v| matches!(v, Var::ResponseBody(_)))
        || plan.body.as_ref().is_some_and(|b| b.template.is_none());
    Ok(ResponsePlan { reads_body, ..plan })
}

impl Plan {
    /// Checks the plugin's JSON config; maps apply in the order `config` has them.
    pub fn parse(config: Value) -> Result<Self, String> {
        let raw: RawConfig = if config.is_null() {
            RawConfig::default()
        } else {
            serde_json::from_value(config).map_err(|e| e.to_string())?
        };
        Ok(Self {
            request: request(raw.request)?,
            response: response(raw.response)?,
        })
    }
}

#[cfg(test)]
mod tests;
