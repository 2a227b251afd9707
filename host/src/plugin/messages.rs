//! What a message router (the `message-router` world) is given and answers: one client
//! message of a managed WebSocket API in, the route key its route selection expression
//! gives out.

use super::bindings::messages;
use super::host::HostState;

/// One message a client sent on a managed WebSocket API connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterMessage {
    /// The connection's id.
    pub connection_id: String,
    /// Whether it came in binary frames (else text, valid UTF-8).
    pub binary: bool,
    /// The message.
    pub data: Vec<u8>,
}

/// What a message router's route selection expression gave for a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// The route key, to be matched against the API's routes.
    Route(String),
    /// The expression could not be evaluated for this message (not JSON, a field missing
    /// or not a scalar); the reason. The message goes to the `$default` route.
    Unmatched(String),
}

/// The interface holds types only: the host has nothing to implement.
impl messages::Host for HostState {}

impl From<RouterMessage> for messages::Message {
    fn from(m: RouterMessage) -> Self {
        Self {
            connection_id: m.connection_id,
            binary: m.binary,
            data: m.data,
        }
    }
}

impl From<messages::Selection> for Selection {
    fn from(s: messages::Selection) -> Self {
        match s {
            messages::Selection::Route(key) => Self::Route(key),
            messages::Selection::Unmatched(reason) => Self::Unmatched(reason),
        }
    }
}
