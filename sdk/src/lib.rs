//! Write [Tollgate](https://github.com/tollgate-gw/tollgate) plugins in Rust.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` against the contract in
//! `sdk/wit` (`tollgate:plugin@0.1.0`). Implement [`Plugin`] — every hook has a default —
//! and put [`macro@plugin`] on the impl. The hooks you define pick the world:
//!
//! - `on_request` / `on_response`: a **filter**, run in the phases the gateway config
//!   names;
//! - `authorize`: an **authorizer**, run in the authorize phase, answering allow (with a
//!   principal and context), deny (403) or unauthorized (401);
//! - `handle`: a **function**, the integration of a route, producing the response;
//! - `select_route`: a **message router**, picking the route of each message of a managed
//!   WebSocket API.
//!
//! ```no_run
//! use tollgate_sdk::{Action, Plugin, Request, RequestPhase};
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     header: String,
//! }
//!
//! struct RequireHeader(Config);
//!
//! #[tollgate_sdk::plugin]
//! impl Plugin for RequireHeader {
//!     type Config = Config;
//!
//!     fn new(config: Config) -> Result<Self, String> {
//!         Ok(Self(config))
//!     }
//!
//!     fn on_request(&self, phase: RequestPhase, req: &Request) -> Action {
//!         if phase == RequestPhase::Authorize && req.header(&self.0.header).is_none() {
//!             return tollgate_sdk::respond_json(401, &serde_json::json!({"message": "Unauthorized"}));
//!         }
//!         Action::Continue
//!     }
//! }
//! ```
//!
//! The config arrives once per instance as JSON and is deserialised into
//! [`Plugin::Config`]; a config that does not deserialise, or that [`Plugin::new`] refuses,
//! is reported to the gateway, which refuses the whole gateway config with the message.
//!
//! Host capabilities ([`log`], [`clock`], [`random`], [`cache`], [`state`], [`outbound`],
//! [`metrics`], [`jwt`], [`trace`]) must be granted in the gateway config; a call to one that is not granted
//! returns `Err`, never traps.
//!
//! The crate is a `cdylib` depending on `tollgate-sdk` alone (plus `serde` for its config);
//! build it with `cargo build --release --target wasm32-wasip2` and point a gateway config's
//! `plugins:` entry at the `.wasm`.

#![deny(missing_docs)]

#[doc(hidden)]
pub mod bindings;
pub mod config;
mod contract;
pub mod credential;
pub mod duration;
mod export;
pub mod http;
mod query;
mod respond;
pub mod testing;
pub mod view;

pub use export::{__init, __not_initialised};
pub use query::query_param;
pub use respond::{
    allow, json_response, message_body, respond, respond_json, respond_message, text_response,
};

/// Exports an `impl Plugin for T` as a component (see the crate docs).
pub use tollgate_sdk_macros::plugin;

/// The wit-bindgen the bindings were generated with.
#[doc(hidden)]
pub use wit_bindgen;

/// The contract version this SDK builds plugins for; the host refuses other major versions.
pub const CONTRACT_VERSION: &str = contract::VERSION;

pub use bindings::filter::tollgate::plugin::messages::{Message, Selection};
pub use bindings::filter::tollgate::plugin::types::{
    Action, Decision, Grant, Identity, Request, RequestPhase, Response, ResponseHead, ResponsePhase,
};
pub use bindings::filter::tollgate::plugin::{
    cache, clock, jwt, log, metrics, outbound, random, state, trace,
};

/// A plugin. Every hook has a default; define the ones your plugin needs.
pub trait Plugin: Sized + 'static {
    /// The plugin's config, deserialised from the JSON the gateway config gives it.
    type Config: serde::de::DeserializeOwned;

    /// Builds the plugin from its config, once per instance. An `Err` rejects the config.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Filter: a request phase. Return [`Action::Continue`] or answer with
    /// [`Action::Respond`]. Default: continue.
    fn on_request(&self, phase: RequestPhase, req: &Request) -> Action {
        let _ = (phase, req);
        Action::Continue
    }

    /// Filter: a response phase. Default: continue.
    fn on_response(&self, phase: ResponsePhase, resp: &ResponseHead) -> Action {
        let _ = (phase, resp);
        Action::Continue
    }

    /// Authorizer: decide on a request. Default: unauthorized (fails closed).
    fn authorize(&self, req: &Request) -> Decision {
        let _ = req;
        Decision::Unauthorized
    }

    /// Function: produce the response. Default: 501.
    fn handle(&self, req: &Request) -> Response {
        let _ = req;
        text_response(501, "not implemented")
    }

    /// Message router: the route key of one message of a managed WebSocket API, or why
    /// there is none ([`Selection::Unmatched`]: the gateway then uses the `$default`
    /// route). Default: unmatched.
    fn select_route(&self, message: Message) -> Selection {
        let _ = message;
        Selection::Unmatched("the plugin defines no `select_route`".into())
    }
}
