//! The gateway configuration: one YAML file, `version: 1`, strictly typed.
//!
//! ```
//! let yaml = r#"
//! version: 1
//! listeners: [{ address: "127.0.0.1:0" }]
//! apis:
//!   - name: demo
//!     kind: http
//!     routes:
//!       - path: /hello
//!         integration: { type: mock, body: "hi" }
//! "#;
//! let config = tollgate::config::Config::from_yaml(yaml, "inline.yaml").expect("valid");
//! assert_eq!(config.apis.len(), 1);
//! ```
//!
//! Parsing is strict (unknown fields are errors) and every error names the file, line,
//! column and field, with a hint where one helps. See `docs/config.md`.

mod admin;
mod allowed_host;
mod api;
mod error;
mod integration;
mod limits;
mod listener;
mod load;
mod plugin;
mod refs;
mod root;
mod route_path;
mod runtime;
mod state;
mod telemetry;
mod units;
mod usage;
mod validate;
pub mod websocket;

pub use admin::Admin;
pub use allowed_host::AllowedHost;
pub use api::{
    Api, ApiKind, BasePath, DEFAULT_STAGE, HostPattern, Route, RouteMethod, Stage, StageName,
};
pub use error::ConfigError;
pub use integration::{
    HttpSpec, HttpTargetSpec, Integration, IntegrationKind, IntegrationSpec, MockSpec,
    TextTemplate, UrlTemplate,
};
pub use limits::Limits;
pub use listener::{ClientAuth, Listener, SniCert, Tls, TlsVersion};
pub use load::parse as parse_yaml;
pub use plugin::{
    Capability, HttpCapability, Isolation, MAX_AUTHORIZER_TTL, OnError, PluginDef,
    RequestPhaseName, ResponsePhaseName,
};
pub use root::{Config, Version};
pub use route_path::{DEFAULT_ROUTE, RoutePath, Segment};
pub use runtime::PluginRuntime;
pub use state::{RedisConfig, StateConfig, StoreFailure};
pub use telemetry::{AccessLogConfig, OtlpProtocol, TelemetryConfig, TracingConfig};
pub use units::{ByteSize, Duration};
pub use upstream::{Balance, PassiveHealth, TargetUrl, Upstream, UpstreamProtocol};
pub use usage::{MeterMode, Period, Quota, Throttle, UsagePlan};
pub use websocket::WebSocketSettings;

mod upstream;

/// The JSON Schema of the config file, for editors (`tollgate schema`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(serde_json::Value::Null)
}
