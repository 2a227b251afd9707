//! Write [Tollgate](https://github.com/tollgate-gw/tollgate) plugins in Rust.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` against the contract in
//! `sdk/wit` (`tollgate:plugin@0.1.0`). Implement [`Plugin`] — every hook has a default that
//! passes the request on — and export it with [`plugin!`]:
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
//!
//! tollgate_sdk::plugin!(RequireHeader);
//! ```
//!
//! The crate is a `cdylib` depending on `tollgate-sdk` alone (plus `serde` for its config);
//! build it with `cargo build --release --target wasm32-wasip2` and point a gateway config's
//! `plugins:` entry at the `.wasm`.

#![deny(missing_docs)]

/// The wit-bindgen the bindings were generated with, for the [`plugin!`] expansion.
#[doc(hidden)]
pub use wit_bindgen;

/// The contract version this SDK builds plugins for; the host refuses other major versions.
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Generated bindings of `sdk/wit`.
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "filter",
        pub_export_macro: true,
        default_bindings_module: "$crate::bindings",
        generate_all,
    });
}

pub use bindings::tollgate::plugin::types::{
    Action, Identity, Request, RequestPhase, Response, ResponseHead, ResponsePhase,
};
pub use bindings::tollgate::plugin::{clock, log};

/// A plugin. Every hook defaults to passing the request on.
pub trait Plugin: Sized + 'static {
    /// The plugin's config, deserialised from the JSON the gateway config gives it. A
    /// config that does not deserialise is reported to the host, which refuses the gateway
    /// config with the message.
    type Config: serde::de::DeserializeOwned;

    /// Builds the plugin from its config, once per instance. An `Err` rejects the config.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// A request phase: return [`Action::Continue`] or answer with [`Action::Respond`].
    fn on_request(&self, phase: RequestPhase, req: &Request) -> Action {
        let _ = (phase, req);
        Action::Continue
    }

    /// A response phase.
    fn on_response(&self, phase: ResponsePhase, resp: &ResponseHead) -> Action {
        let _ = (phase, resp);
        Action::Continue
    }
}

/// Answers with `status` and `body`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Action {
    Action::Respond(Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.into(),
    })
}

/// Answers with `status` and a JSON body.
pub fn respond_json(status: u16, value: &serde_json::Value) -> Action {
    respond(
        status,
        &[("content-type", "application/json")],
        value.to_string(),
    )
}

/// Deserialises the config and builds the plugin; used by [`plugin!`].
#[doc(hidden)]
pub fn __init<P: Plugin>(cell: &std::cell::OnceCell<P>, config: &str) -> Result<(), String> {
    let config: P::Config =
        serde_json::from_str(config).map_err(|e| format!("invalid plugin config: {e}"))?;
    let plugin = P::new(config)?;
    cell.set(plugin)
        .map_err(|_| "init was called twice".to_owned())
}

/// What a hook answers when `init` never ran (the host always calls it first).
#[doc(hidden)]
pub fn __not_initialised() -> Action {
    respond(500, &[], "plugin not initialised")
}

/// Exports a [`Plugin`] implementation as the component's hooks.
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        const _: () = {
            ::std::thread_local! {
                static __TOLLGATE_PLUGIN: ::std::cell::OnceCell<$plugin> = const { ::std::cell::OnceCell::new() };
            }
            struct __TollgateExport;
            impl $crate::bindings::Guest for __TollgateExport {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    __TOLLGATE_PLUGIN.with(|cell| $crate::__init::<$plugin>(cell, &config))
                }
                fn on_request(phase: $crate::RequestPhase, req: &$crate::Request) -> $crate::Action {
                    __TOLLGATE_PLUGIN.with(|cell| match cell.get() {
                        Some(p) => $crate::Plugin::on_request(p, phase, req),
                        None => $crate::__not_initialised(),
                    })
                }
                fn on_response(phase: $crate::ResponsePhase, resp: &$crate::ResponseHead) -> $crate::Action {
                    __TOLLGATE_PLUGIN.with(|cell| match cell.get() {
                        Some(p) => $crate::Plugin::on_response(p, phase, resp),
                        None => $crate::__not_initialised(),
                    })
                }
            }
            $crate::bindings::export!(__TollgateExport with_types_in $crate::bindings);
        };
    };
}
