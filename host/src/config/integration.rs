//! `integration:` — what answers a route: an HTTP backend, a mock or a function plugin.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};
use serde_saphyr::Spanned;

use super::units::Duration;
use crate::template::{Mode, Template};

/// The integration of a route. `type` selects the kind; the other fields belong to one kind
/// each, and a field of another kind is a config error.
///
/// ```yaml
/// # proxy to a URL built from the route's parameters and stage variables
/// integration: { type: http, url: "http://${stageVariables.backend}/pets/{id}" }
/// # proxy to an upstream pool; `path` defaults to the request path below the API
/// integration: { type: http, upstream: pets, path: "/pets/{id}", timeout: 5s }
/// # answer from the gateway
/// integration:
///   type: mock
///   status: 200
///   headers: { content-type: application/json }
///   body: '{"id": "${request.path.id}"}'
/// ```
///
/// Read as [`RawIntegration`] (every field, with where it is written) and made this typed
/// form while the file is read: a combination no kind takes is refused there, with the
/// position of the integration.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "RawIntegration")]
pub struct Integration {
    /// Where `type:` is written (errors about the kind point there).
    pub type_at: Spanned<()>,
    /// The kind's settings.
    pub spec: IntegrationSpec,
}

/// The settings of one kind of integration.
#[derive(Clone, Debug)]
pub enum IntegrationSpec {
    /// Proxy to an HTTP backend.
    Http(HttpSpec),
    /// Answer from the gateway.
    Mock(MockSpec),
    /// A function plugin produces the response: its name under `plugins:`.
    Function(Spanned<String>),
}

/// `type: http`.
#[derive(Clone, Debug)]
pub struct HttpSpec {
    /// Where requests go.
    pub target: HttpTargetSpec,
    /// The response timeout for this route, overriding the upstream's.
    pub timeout: Option<Duration>,
    /// Send the client's `Host` header instead of the target's.
    pub preserve_host: bool,
}

/// Where an `http` integration sends requests.
#[derive(Clone, Debug)]
pub enum HttpTargetSpec {
    /// A URL template.
    Url(Spanned<UrlTemplate>),
    /// An upstream pool by name, with the path template sent to its targets (default: the
    /// request path below the API's base path and stage).
    Upstream {
        /// The pool's name under `upstreams:`.
        name: Spanned<String>,
        /// The path template; starts with `/`.
        path: Option<Spanned<UrlTemplate>>,
    },
}

/// `type: mock`.
#[derive(Clone, Debug)]
pub struct MockSpec {
    /// The status, 200-599 (default 200).
    pub status: http::StatusCode,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The body template.
    pub body: Option<Spanned<TextTemplate>>,
}

/// An integration as written: every kind's fields, each optional. Only the shape of the
/// file (and the fields of its JSON Schema); [`Integration`] is what the gateway reads.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIntegration {
    /// `http`, `mock` or `function`.
    #[serde(rename = "type")]
    #[schemars(with = "IntegrationKind")]
    kind: Spanned<IntegrationKind>,
    /// http: URL template of the backend (`{param}`, `${stageVariables.x}`, ...). The
    /// client's query string is appended. Exclusive with `upstream`.
    #[serde(default)]
    #[schemars(with = "Option<UrlTemplate>")]
    url: Option<Spanned<UrlTemplate>>,
    /// http: name of an upstream pool. Exclusive with `url`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    upstream: Option<Spanned<String>>,
    /// http with `upstream`: path template sent to the target; default: the request path
    /// below the API's base path and stage.
    #[serde(default)]
    #[schemars(with = "Option<UrlTemplate>")]
    path: Option<Spanned<UrlTemplate>>,
    /// http: response timeout for this route, overriding the upstream's.
    #[serde(default)]
    timeout: Option<Duration>,
    /// http: send the client's `Host` header instead of the target's.
    #[serde(default)]
    preserve_host: bool,
    /// mock: response status. Default 200.
    #[serde(default)]
    status: Option<u16>,
    /// mock: response headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// mock: body template (`${...}` variables; JSON-escaped when the content type is JSON).
    #[serde(default)]
    #[schemars(with = "Option<TextTemplate>")]
    body: Option<Spanned<TextTemplate>>,
    /// function: the plugin (declared under `plugins:`) that produces the response.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    plugin: Option<Spanned<String>>,
}

impl TryFrom<RawIntegration> for Integration {
    type Error = String;

    fn try_from(raw: RawIntegration) -> Result<Self, String> {
        let spec = match raw.kind.value {
            IntegrationKind::Function => IntegrationSpec::Function(raw.function()?),
            IntegrationKind::Http => IntegrationSpec::Http(raw.http()?),
            IntegrationKind::Mock => IntegrationSpec::Mock(raw.mock()?),
        };
        let kind = raw.kind;
        Ok(Self {
            type_at: Spanned::new((), kind.referenced, kind.defined),
            spec,
        })
    }
}

impl RawIntegration {
    fn has_http_fields(&self) -> bool {
        self.url.is_some()
            || self.upstream.is_some()
            || self.path.is_some()
            || self.timeout.is_some()
            || self.preserve_host
    }

    fn has_mock_fields(&self) -> bool {
        self.status.is_some() || !self.headers.is_empty() || self.body.is_some()
    }

    fn function(&self) -> Result<Spanned<String>, String> {
        if self.has_http_fields() || self.has_mock_fields() {
            return Err("a function integration takes only `plugin`".into());
        }
        self.plugin.clone().ok_or_else(|| {
            "a function integration needs `plugin`, e.g. `integration: { type: function, \
             plugin: hello }`"
                .into()
        })
    }

    fn http(&self) -> Result<HttpSpec, String> {
        if self.plugin.is_some() {
            return Err("`plugin` belongs to `type: function`".into());
        }
        if self.has_mock_fields() {
            return Err("`status`, `headers` and `body` belong to `type: mock`".into());
        }
        let target = match (&self.url, &self.upstream) {
            (Some(_), Some(_)) => return Err("set either `url` or `upstream`, not both".into()),
            (None, None) => {
                return Err("an http integration needs `url` or `upstream`, e.g. `url: \
                            \"http://10.0.0.7:8080/pets/{id}\"` or `upstream: pets`"
                    .into());
            }
            (Some(_), None) if self.path.is_some() => {
                return Err("`path` goes with `upstream`; put the path in `url`".into());
            }
            (Some(url), None) => HttpTargetSpec::Url(url.clone()),
            (None, Some(name)) => {
                if let Some(path) = &self.path
                    && !path.value.0.source().starts_with('/')
                {
                    return Err(format!(
                        "path: `{}` must start with `/`",
                        path.value.0.source()
                    ));
                }
                HttpTargetSpec::Upstream {
                    name: name.clone(),
                    path: self.path.clone(),
                }
            }
        };
        Ok(HttpSpec {
            target,
            timeout: self.timeout,
            preserve_host: self.preserve_host,
        })
    }

    fn mock(&self) -> Result<MockSpec, String> {
        if self.plugin.is_some() {
            return Err("`plugin` belongs to `type: function`".into());
        }
        if self.has_http_fields() {
            return Err(
                "`url`, `upstream`, `path`, `timeout` and `preserve_host` belong to `type: http`"
                    .into(),
            );
        }
        let status = self.status.unwrap_or(200);
        let status = http::StatusCode::from_u16(status)
            .ok()
            .filter(|_| (200..=599).contains(&status))
            .ok_or_else(|| format!("status: {status} is not a response status (200-599)"))?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.headers {
            match (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => {
                    headers.insert(n, v);
                }
                _ => return Err(format!("headers: `{name}: {value}` is not a valid header")),
            }
        }
        Ok(MockSpec {
            status,
            headers,
            body: self.body.clone(),
        })
    }
}

/// The fields each kind takes, for the JSON Schema.
const KIND_FIELDS: [(&str, &[&str]); 3] = [
    (
        "http",
        &["url", "upstream", "path", "timeout", "preserve_host"],
    ),
    ("mock", &["status", "headers", "body"]),
    ("function", &["plugin"]),
];

/// One object per kind (`oneOf`), each with only its own fields, so that an editor refuses
/// what the gateway refuses.
impl JsonSchema for Integration {
    fn schema_name() -> Cow<'static, str> {
        "Integration".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let raw = RawIntegration::json_schema(generator);
        let all = raw.get("properties").cloned().unwrap_or_default();
        let variants: Vec<serde_json::Value> = KIND_FIELDS
            .iter()
            .map(|(kind, fields)| {
                let mut properties = serde_json::Map::new();
                properties.insert("type".into(), serde_json::json!({ "const": kind }));
                for field in *fields {
                    if let Some(p) = all.get(*field) {
                        properties.insert((*field).into(), p.clone());
                    }
                }
                let required: &[&str] = match *kind {
                    "function" => &["type", "plugin"],
                    _ => &["type"],
                };
                serde_json::json!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                })
            })
            .collect();
        json_schema!({
            "description": "What answers the route: `type: http` (a `url` or an `upstream`), \
                            `mock` or `function`.",
            "oneOf": variants,
        })
    }
}

/// The kind of integration.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Proxy to an HTTP backend.
    Http,
    /// Answer from the gateway with a fixed status, headers and a body template.
    Mock,
    /// A plugin built for the `function` world produces the response.
    Function,
}

/// A URL or path template (`{param}` and `${...}` variables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate(pub Template);

/// A text template (`${...}` variables only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextTemplate(pub Template);

impl<'de> Deserialize<'de> for UrlTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::parse(&s, Mode::Url)
            .map(Self)
            .map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for TextTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::parse(&s, Mode::Text)
            .map(Self)
            .map_err(de::Error::custom)
    }
}

impl JsonSchema for UrlTemplate {
    fn schema_name() -> Cow<'static, str> {
        "UrlTemplate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "examples": ["http://${stageVariables.backend}/pets/{id}", "/pets/{id}"]
        })
    }
}

impl JsonSchema for TextTemplate {
    fn schema_name() -> Cow<'static, str> {
        "TextTemplate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "examples": ["{\"id\": \"${request.path.id}\"}"] })
    }
}
