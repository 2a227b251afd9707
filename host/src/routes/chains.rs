//! A route's plugin chains, compiled with the snapshot: which plugins run in which phase,
//! in order. `pipeline::phases` runs them.

use std::sync::Arc;

use crate::config::{OnError, RequestPhaseName, ResponsePhaseName};
use crate::plugin::PluginSlot;

/// A plugin in a chain.
#[derive(Clone)]
pub struct Attached {
    /// The plugin's slot; the running version is read once per call.
    pub slot: Arc<PluginSlot>,
    /// What its failure does (authorize: always fail).
    pub on_error: OnError,
    /// Whether it answers CORS preflights (in the configure phase).
    pub preflight: bool,
}

/// The chains of one route, compiled with the snapshot.
#[derive(Clone, Default)]
pub struct Chains {
    /// Request phases in order: authorize, configure, meter, transform, map.
    pub request: [Vec<Attached>; 5],
    /// Response phases in order: map, transform, configure.
    pub response: [Vec<Attached>; 3],
}

/// Index of a request phase in [`Chains::request`].
pub fn request_index(p: RequestPhaseName) -> usize {
    match p {
        RequestPhaseName::Authorize => 0,
        RequestPhaseName::Configure => 1,
        RequestPhaseName::Meter => 2,
        RequestPhaseName::Transform => 3,
        RequestPhaseName::Map => 4,
    }
}

/// Index of a response phase in [`Chains::response`].
pub fn response_index(p: ResponsePhaseName) -> usize {
    match p {
        ResponsePhaseName::Map => 0,
        ResponsePhaseName::Transform => 1,
        ResponsePhaseName::Configure => 2,
    }
}

impl Chains {
    /// Whether any request phase has a plugin.
    pub fn has_request(&self) -> bool {
        self.request.iter().any(|c| !c.is_empty())
    }

    /// Whether any response phase has a plugin.
    pub fn has_response(&self) -> bool {
        self.response.iter().any(|c| !c.is_empty())
    }
}
