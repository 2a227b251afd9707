//! The worlds of the contract a plugin can implement.

/// Which world of the contract a plugin implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Request and response hooks.
    Filter,
    /// An authorize-phase decision.
    Authorizer,
    /// The integration of a route.
    Function,
    /// The route of each message of a managed WebSocket API.
    MessageRouter,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Filter => "filter",
            Self::Authorizer => "authorizer",
            Self::Function => "function",
            Self::MessageRouter => "message-router",
        })
    }
}
