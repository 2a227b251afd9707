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
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// `http`, `mock` or `function`.
    #[serde(rename = "type")]
    #[schemars(with = "IntegrationKind")]
    pub kind: Spanned<IntegrationKind>,
    /// http: URL template of the backend (`{param}`, `${stageVariables.x}`, ...). The
    /// client's query string is appended. Exclusive with `upstream`.
    #[serde(default)]
    #[schemars(with = "Option<UrlTemplate>")]
    pub url: Option<Spanned<UrlTemplate>>,
    /// http: name of an upstream pool. Exclusive with `url`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub upstream: Option<Spanned<String>>,
    /// http with `upstream`: path template sent to the target; default: the request path
    /// below the API's base path and stage.
    #[serde(default)]
    #[schemars(with = "Option<UrlTemplate>")]
    pub path: Option<Spanned<UrlTemplate>>,
    /// http: response timeout for this route, overriding the upstream's.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// http: send the client's `Host` header instead of the target's.
    #[serde(default)]
    pub preserve_host: bool,
    /// mock: response status. Default 200.
    #[serde(default)]
    pub status: Option<u16>,
    /// mock: response headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// mock: body template (`${...}` variables; JSON-escaped when the content type is JSON).
    #[serde(default)]
    #[schemars(with = "Option<TextTemplate>")]
    pub body: Option<Spanned<TextTemplate>>,
    /// function: the plugin (declared under `plugins:`) that produces the response.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub plugin: Option<Spanned<String>>,
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
