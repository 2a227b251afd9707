//! The host bindings of `sdk/wit/plugin.wit`. The `filter` world generates the imported
//! interfaces; the `authorizer`, `function` and `message-router` worlds reuse them, so one
//! linker serves all four.

pub use super::handles::{RequestHandle, ResponseHandle};
pub use super::host::VerifierHandle;

/// The `filter` world and every imported interface.
pub mod filter {
    pub use super::{RequestHandle, ResponseHandle, VerifierHandle};
    wasmtime::component::bindgen!({
        path: "sdk/wit",
        world: "filter",
        // Only the imports that can wait are async; the rest run as plain calls on the
        // guest's stack, without a boxed future and a poll per call.
        imports: {
            "tollgate:plugin/types.[method]request.body": async | trappable,
            "tollgate:plugin/types.[method]response-head.body": async | trappable,
            "tollgate:plugin/jwt.[method]verifier.verify": async | trappable,
            "tollgate:plugin/outbound.send": async | trappable,
            "tollgate:plugin/state.incr": async | trappable,
            "tollgate:plugin/state.take": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        with: {
            "tollgate:plugin/types.request": RequestHandle,
            "tollgate:plugin/types.response-head": ResponseHandle,
            "tollgate:plugin/jwt.verifier": VerifierHandle,
        },
    });
}

/// Bindings of a world whose imports are the `filter` world's.
macro_rules! world_sharing_imports {
    ($world:literal) => {
        wasmtime::component::bindgen!({
            path: "sdk/wit",
            world: $world,
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "tollgate:plugin/types": super::filter::tollgate::plugin::types,
                "tollgate:plugin/log": super::filter::tollgate::plugin::log,
                "tollgate:plugin/clock": super::filter::tollgate::plugin::clock,
                "tollgate:plugin/random": super::filter::tollgate::plugin::random,
                "tollgate:plugin/cache": super::filter::tollgate::plugin::cache,
                "tollgate:plugin/state": super::filter::tollgate::plugin::state,
                "tollgate:plugin/outbound": super::filter::tollgate::plugin::outbound,
                "tollgate:plugin/metrics": super::filter::tollgate::plugin::metrics,
                "tollgate:plugin/jwt": super::filter::tollgate::plugin::jwt,
                "tollgate:plugin/messages": super::filter::tollgate::plugin::messages,
                "tollgate:plugin/trace": super::filter::tollgate::plugin::trace,
            },
        });
    };
}

/// The `authorizer` world.
pub mod authorizer {
    world_sharing_imports!("authorizer");
}

/// The `function` world.
pub mod function {
    world_sharing_imports!("function");
}

/// The `message-router` world.
pub mod message_router {
    world_sharing_imports!("message-router");
}

pub use filter::tollgate::plugin::types::{
    Action, Decision, RequestPhase, Response, ResponsePhase,
};
pub use filter::tollgate::plugin::{
    cache, clock, jwt, log, messages, metrics, outbound, random, state, trace, types,
};
