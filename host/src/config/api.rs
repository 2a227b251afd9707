//! `apis:` — APIs, their stages and routes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, de};
use serde_saphyr::Spanned;

use super::RoutePath;
use super::integration::Integration;
use super::units::ByteSize;

/// An API: a set of routes served under some hosts and a base path, in one or more stages.
///
/// ```yaml
/// apis:
///   - name: petstore
///     kind: http
///     hosts: [api.example.com]
///     base_path: /v1
///     stages:
///       $default: { variables: { backend: "10.0.0.7:8080" } }
///       beta: { variables: { backend: "10.0.0.9:8080" } }
///     routes:
///       - path: /pets/{id}
///         methods: [GET]
///         integration: { type: http, url: "http://${stageVariables.backend}/pets/{id}" }
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Unique name of the API (used in logs and `${context.apiName}`).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `http` or `rest` (both served by the same router), or `websocket` (a managed
    /// WebSocket API: `$connect`, `$disconnect`, `$default` and message routes).
    #[schemars(with = "ApiKind")]
    pub kind: Spanned<ApiKind>,
    /// Host names served (`api.example.com`, `*.example.com`); empty means any host.
    #[serde(default)]
    pub hosts: Vec<HostPattern>,
    /// Path prefix of the API, e.g. `/v1`; default `/`.
    #[serde(default)]
    pub base_path: Option<BasePath>,
    /// Stages by name. `$default` is served at the base path, any other stage at
    /// `base_path/<stage>`. Without stages the API has an implicit `$default` stage.
    #[serde(default)]
    pub stages: BTreeMap<StageName, Stage>,
    /// Largest request body for routes of this API that do not set their own.
    #[serde(default)]
    pub max_body: Option<ByteSize>,
    /// Plugins (by name) that run for every route of the API, before the route's own.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub plugins: Vec<Spanned<String>>,
    /// WebSocket APIs: how a message picks its route, as Amazon API Gateway's route
    /// selection expression. Default `$request.body.action`; also
    /// `${request.body.a}/${request.body.b}` or `\$default`. Evaluated by the built-in
    /// `ws-router` plugin.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub route_selection_expression: Option<Spanned<String>>,
    /// WebSocket APIs: a plugin of the `message-router` world (by name) that picks each
    /// message's route instead of the built-in `ws-router`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub router: Option<Spanned<String>>,
    /// WebSocket APIs: size, rate and time limits of each connection.
    #[serde(default)]
    pub websocket: Option<super::websocket::WebSocketSettings>,
    /// The routes.
    pub routes: Vec<Route>,
}

/// The kind of an API.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApiKind {
    /// An HTTP API (Amazon API Gateway v2 semantics).
    Http,
    /// A REST API; routed like an HTTP API.
    Rest,
    /// A WebSocket API.
    Websocket,
}

/// A deployment stage.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Stage variables, readable as `${stageVariables.name}` in templates.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// A route: methods and a path template, bound to an integration.
///
/// ```yaml
/// - path: /pets/{id}
///   methods: [GET, DELETE]
///   max_body: 1MiB
///   integration: { type: http, upstream: pets, path: "/pets/{id}" }
/// ```
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Path template (`/pets/{id}`, `/files/{path+}`) or `$default` for the catch-all.
    /// Required on `http` and `rest` APIs.
    #[serde(default)]
    #[schemars(with = "Option<RoutePath>")]
    pub path: Option<Spanned<RoutePath>>,
    /// WebSocket APIs: the route key a message's selection expression must give
    /// (`sendmessage`), or `$connect`, `$disconnect`, `$default`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub route_key: Option<Spanned<String>>,
    /// WebSocket APIs: the integration's response body goes back to the client as a
    /// message (Amazon API Gateway's route response). Default false.
    #[serde(default)]
    pub two_way: bool,
    /// Methods served; `ANY` (the default) serves every method.
    #[serde(default)]
    pub methods: Vec<RouteMethod>,
    /// Largest request body; overrides the API and server default.
    #[serde(default)]
    pub max_body: Option<ByteSize>,
    /// Plugins (by name) that run for this route, after the API's.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub plugins: Vec<Spanned<String>>,
    /// Scopes for this route, as Amazon API Gateway's `authorizationScopes`: a caller's
    /// token must carry at least one of them (`scope` or `scp` claim); read by `jwt-auth`.
    #[serde(default)]
    pub authorization_scopes: Vec<String>,
    /// Lets WebSocket upgrades through to the `http` integration (pass-through; the URL may
    /// be `ws://` or `wss://`): the request phases run on the upgrade request, then frames
    /// go both ways untouched. Default false: an upgrade request is proxied as plain HTTP,
    /// without its `Upgrade` header.
    #[serde(default)]
    pub websocket: bool,
    /// What answers the request.
    pub integration: Integration,
}

/// A method a route serves, or `ANY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMethod {
    /// Every method.
    Any,
    /// One method.
    Method(http::Method),
}

impl<'de> Deserialize<'de> for RouteMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let upper = s.to_ascii_uppercase();
        match upper.as_str() {
            "ANY" => Ok(Self::Any),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => {
                http::Method::from_bytes(upper.as_bytes())
                    .map(Self::Method)
                    .map_err(de::Error::custom)
            }
            _ => Err(de::Error::custom(format!(
                "`{s}` is not a method: use GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY"
            ))),
        }
    }
}

impl JsonSchema for RouteMethod {
    fn schema_name() -> Cow<'static, str> {
        "RouteMethod".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]
        })
    }
}

/// A host name an API serves: exact, or `*.example.com` for any subdomain.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostPattern {
    /// Exactly this host (lower case).
    Exact(String),
    /// Any host ending in `.suffix` (suffix stored with its leading dot).
    Wildcard(String),
}

impl HostPattern {
    /// Whether `host` (lower case, no port) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Wildcard(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }
}

impl std::str::FromStr for HostPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let (wild, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let valid = !name.is_empty()
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !valid {
            return Err(format!(
                "`{s}` is not a host name: write `api.example.com` or `*.example.com` (no port)"
            ));
        }
        Ok(if wild {
            Self::Wildcard(format!(".{name}"))
        } else {
            Self::Exact(name.to_owned())
        })
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for HostPattern {
    fn schema_name() -> Cow<'static, str> {
        "HostPattern".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "examples": ["api.example.com", "*.example.com"] })
    }
}

/// An API base path such as `/v1`: literal segments only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasePath(pub Vec<String>);

impl<'de> Deserialize<'de> for BasePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let Some(body) = s.strip_prefix('/') else {
            return Err(de::Error::custom(format!(
                "base path `{s}` must start with `/`"
            )));
        };
        let segments: Vec<String> = body
            .split('/')
            .filter(|seg| !seg.is_empty())
            .map(str::to_owned)
            .collect();
        if segments
            .iter()
            .any(|seg| seg.contains(['{', '}', '%', '?', '#']) || seg == "." || seg == "..")
        {
            return Err(de::Error::custom(format!(
                "base path `{s}` may only hold literal segments"
            )));
        }
        Ok(Self(segments))
    }
}

impl JsonSchema for BasePath {
    fn schema_name() -> Cow<'static, str> {
        "BasePath".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^/", "examples": ["/v1"] })
    }
}

/// A stage name: `$default` or letters, digits, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StageName(pub String);

/// The stage served at the API's base path.
pub const DEFAULT_STAGE: &str = "$default";

impl<'de> Deserialize<'de> for StageName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = s == DEFAULT_STAGE
            || (!s.is_empty()
                && s.len() <= 128
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        if ok {
            Ok(Self(s))
        } else {
            Err(de::Error::custom(format!(
                "`{s}` is not a stage name: use `$default` or letters, digits, `-` and `_`"
            )))
        }
    }
}

impl JsonSchema for StageName {
    fn schema_name() -> Cow<'static, str> {
        "StageName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^(\\$default|[A-Za-z0-9_-]+)$" })
    }
}
