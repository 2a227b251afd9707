//! Generated bindings of `sdk/wit`: the `filter` world generates the imported interfaces,
//! the `authorizer` and `function` worlds reuse them.

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

pub mod authorizer {
    wit_bindgen::generate!({
        path: "wit",
        world: "authorizer",
        pub_export_macro: true,
        export_macro_name: "__export_authorizer_world",
        default_bindings_module: "$crate::bindings::authorizer",
        with: {
            "tollgate:plugin/types@0.1.0": crate::bindings::filter::tollgate::plugin::types,
            "tollgate:plugin/log@0.1.0": crate::bindings::filter::tollgate::plugin::log,
            "tollgate:plugin/clock@0.1.0": crate::bindings::filter::tollgate::plugin::clock,
            "tollgate:plugin/random@0.1.0": crate::bindings::filter::tollgate::plugin::random,
            "tollgate:plugin/cache@0.1.0": crate::bindings::filter::tollgate::plugin::cache,
            "tollgate:plugin/state@0.1.0": crate::bindings::filter::tollgate::plugin::state,
            "tollgate:plugin/outbound@0.1.0": crate::bindings::filter::tollgate::plugin::outbound,
            "tollgate:plugin/metrics@0.1.0": crate::bindings::filter::tollgate::plugin::metrics,
        },
    });
}

pub mod function {
    wit_bindgen::generate!({
        path: "wit",
        world: "function",
        pub_export_macro: true,
        export_macro_name: "__export_function_world",
        default_bindings_module: "$crate::bindings::function",
        with: {
            "tollgate:plugin/types@0.1.0": crate::bindings::filter::tollgate::plugin::types,
            "tollgate:plugin/log@0.1.0": crate::bindings::filter::tollgate::plugin::log,
            "tollgate:plugin/clock@0.1.0": crate::bindings::filter::tollgate::plugin::clock,
            "tollgate:plugin/random@0.1.0": crate::bindings::filter::tollgate::plugin::random,
            "tollgate:plugin/cache@0.1.0": crate::bindings::filter::tollgate::plugin::cache,
            "tollgate:plugin/state@0.1.0": crate::bindings::filter::tollgate::plugin::state,
            "tollgate:plugin/outbound@0.1.0": crate::bindings::filter::tollgate::plugin::outbound,
            "tollgate:plugin/metrics@0.1.0": crate::bindings::filter::tollgate::plugin::metrics,
        },
    });
}
