//! Integrations: what answers a routed request — an HTTP backend (a URL or an upstream
//! pool), a mock response, or a function plugin.

pub mod headers;
mod http;
mod mock;
pub mod upstream;

pub use self::http::{HttpIntegration, HttpTarget, Outbound};
pub use mock::MockIntegration;

/// A compiled integration.
pub enum Integration {
    /// Forward to a backend.
    Http(HttpIntegration),
    /// Answer from the gateway.
    Mock(MockIntegration),
    /// A function plugin produces the response.
    Function(std::sync::Arc<crate::plugin::PluginSlot>),
}
