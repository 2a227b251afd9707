//! Generated bindings of `sdk/wit`: the `filter` world generates the imported interfaces,
//! the `authorizer`, `function` and `message-router` worlds reuse them.

#![allow(missing_docs, unsafe_code, clippy::all)]

pub mod filter {
    wit_bindgen::generate!({
        path: "wit",
        world: "filter",
        pub_export_macro: true,
        export_macro_name: "__export_filter_world",
        default_bindings_module: "$crate::bindings::filter",
        generate_all,
    });
}

/// Bindings of a world whose imports are the `filter` world's.
macro_rules! world_sharing_imports {
    ($world:literal, $export:literal, $module:literal) => {
        wit_bindgen::generate!({
            path: "wit",
            world: $world,
            pub_export_macro: true,
            export_macro_name: $export,
            default_bindings_module: $module,
            with: {
                "tollgate:plugin/types@0.1.0": crate::bindings::filter::tollgate::plugin::types,
                "tollgate:plugin/log@0.1.0": crate::bindings::filter::tollgate::plugin::log,
                "tollgate:plugin/clock@0.1.0": crate::bindings::filter::tollgate::plugin::clock,
                "tollgate:plugin/random@0.1.0": crate::bindings::filter::tollgate::plugin::random,
                "tollgate:plugin/cache@0.1.0": crate::bindings::filter::tollgate::plugin::cache,
                "tollgate:plugin/state@0.1.0": crate::bindings::filter::tollgate::plugin::state,
                "tollgate:plugin/outbound@0.1.0": crate::bindings::filter::tollgate::plugin::outbound,
                "tollgate:plugin/metrics@0.1.0": crate::bindings::filter::tollgate::plugin::metrics,
                "tollgate:plugin/jwt@0.1.0": crate::bindings::filter::tollgate::plugin::jwt,
                "tollgate:plugin/messages@0.1.0": crate::bindings::filter::tollgate::plugin::messages,
                "tollgate:plugin/trace@0.1.0": crate::bindings::filter::tollgate::plugin::trace,
            },
        });
    };
}

pub mod authorizer {
    world_sharing_imports!(
        "authorizer",
        "__export_authorizer_world",
        "$crate::bindings::authorizer"
    );
}

pub mod function {
    world_sharing_imports!(
        "function",
        "__export_function_world",
        "$crate::bindings::function"
    );
}

pub mod message_router {
    world_sharing_imports!(
        "message-router",
        "__export_message_router_world",
        "$crate::bindings::message_router"
    );
}
