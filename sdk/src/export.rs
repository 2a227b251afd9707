//! The expansions behind `#[plugin]`: one instance of the plugin per component instance,
//! built by `init` and used by every hook.

/// Deserialises the config and builds the plugin.
#[doc(hidden)]
pub fn __init<P: crate::Plugin>(cell: &std::cell::OnceCell<P>, config: &str) -> Result<(), String> {
    let config: P::Config =
        crate::config::from_str(config).map_err(|e| format!("invalid plugin config: {e}"))?;
    let plugin = P::new(config)?;
    cell.set(plugin)
        .map_err(|_| "init was called twice".to_owned())
}

/// What a hook answers when `init` never ran (the host always calls it first).
#[doc(hidden)]
pub fn __not_initialised() -> crate::Response {
    crate::Response {
        status: 500,
        headers: Vec::new(),
        body: b"plugin not initialised".to_vec(),
    }
}

/// The per-instance plugin and `init`, shared by the exports of every world.
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_cell {
    ($plugin:ty) => {
        ::std::thread_local! {
            static __TOLLGATE_PLUGIN: ::std::cell::OnceCell<$plugin> = const { ::std::cell::OnceCell::new() };
        }
        fn __with<R>(f: impl FnOnce(&$plugin) -> R, missing: impl FnOnce() -> R) -> R {
            __TOLLGATE_PLUGIN.with(|cell| match cell.get() {
                Some(p) => f(p),
                None => missing(),
            })
        }
        fn __init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
            __TOLLGATE_PLUGIN.with(|cell| $crate::__init::<$plugin>(cell, &config))
        }
    };
}

/// Exports a plugin as the `filter` world.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_filter {
    ($plugin:ty) => {
        const _: () = {
            $crate::__plugin_cell!($plugin);
            struct __TollgateExport;
            impl $crate::bindings::filter::Guest for __TollgateExport {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    __init(config)
                }
                fn on_request(phase: $crate::RequestPhase, req: &$crate::Request) -> $crate::Action {
                    __with(|p| $crate::Plugin::on_request(p, phase, req), || $crate::Action::Respond($crate::__not_initialised()))
                }
                fn on_response(phase: $crate::ResponsePhase, resp: &$crate::ResponseHead) -> $crate::Action {
                    __with(|p| $crate::Plugin::on_response(p, phase, resp), || $crate::Action::Respond($crate::__not_initialised()))
                }
            }
            $crate::bindings::filter::__export_filter_world!(__TollgateExport with_types_in $crate::bindings::filter);
        };
    };
}

/// Exports a plugin as the `authorizer` world.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_authorizer {
    ($plugin:ty) => {
        const _: () = {
            $crate::__plugin_cell!($plugin);
            struct __TollgateExport;
            impl $crate::bindings::authorizer::Guest for __TollgateExport {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    __init(config)
                }
                fn authorize(req: &$crate::Request) -> $crate::Decision {
                    __with(|p| $crate::Plugin::authorize(p, req), || $crate::Decision::Unauthorized)
                }
            }
            $crate::bindings::authorizer::__export_authorizer_world!(__TollgateExport with_types_in $crate::bindings::authorizer);
        };
    };
}

/// Exports a plugin as the `function` world.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_function {
    ($plugin:ty) => {
        const _: () = {
            $crate::__plugin_cell!($plugin);
            struct __TollgateExport;
            impl $crate::bindings::function::Guest for __TollgateExport {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    __init(config)
                }
                fn handle(req: &$crate::Request) -> $crate::Response {
                    __with(|p| $crate::Plugin::handle(p, req), $crate::__not_initialised)
                }
            }
            $crate::bindings::function::__export_function_world!(__TollgateExport with_types_in $crate::bindings::function);
        };
    };
}

/// Exports a plugin as the `message-router` world.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_message_router {
    ($plugin:ty) => {
        const _: () = {
            $crate::__plugin_cell!($plugin);
            struct __TollgateExport;
            impl $crate::bindings::message_router::Guest for __TollgateExport {
                fn init(config: ::std::string::String) -> ::std::result::Result<(), ::std::string::String> {
                    __init(config)
                }
                fn select_route(message: $crate::Message) -> $crate::Selection {
                    __with(|p| $crate::Plugin::select_route(p, message), || $crate::Selection::Unmatched("plugin not initialised".into()))
                }
            }
            $crate::bindings::message_router::__export_message_router_world!(__TollgateExport with_types_in $crate::bindings::message_router);
        };
    };
}
