//! A managed WebSocket API as a snapshot holds it: its router plugin, its limits and its
//! routes by key.

use std::collections::HashMap;

use crate::config::WebSocketSettings;
use crate::config::websocket::{CONNECT, DEFAULT, DISCONNECT};
use crate::plugin::RouterPlugin;

/// A compiled managed WebSocket API.
pub struct WsApi {
    /// The `message-router` plugin that picks each message's route.
    pub router: RouterPlugin,
    /// Connection limits.
    pub settings: WebSocketSettings,
    /// The `$connect` route (declared, or one made to accept every connection).
    pub connect: usize,
    /// The `$disconnect` route, if declared.
    pub disconnect: Option<usize>,
    /// The `$default` route, if declared.
    pub default: Option<usize>,
    /// Message routes by key.
    pub keys: HashMap<String, usize>,
}

impl WsApi {
    /// Compiles the routes' keys (route ids in order); `connect` is the id of the
    /// `$connect` route.
    pub fn new<'a>(
        router: RouterPlugin,
        settings: WebSocketSettings,
        keys: impl Iterator<Item = &'a str>,
        connect: usize,
    ) -> Self {
        let mut api = Self {
            router,
            settings,
            connect,
            disconnect: None,
            default: None,
            keys: HashMap::new(),
        };
        for (id, key) in keys.enumerate() {
            match key {
                CONNECT => {}
                DISCONNECT => api.disconnect = Some(id),
                DEFAULT => api.default = Some(id),
                other => {
                    api.keys.insert(other.to_owned(), id);
                }
            }
        }
        api
    }

    /// The route of a message whose selection expression gave `key` (`None`: it could not
    /// be evaluated): that key's route, else `$default`.
    pub fn route_for(&self, key: Option<&str>) -> Option<usize> {
        key.and_then(|k| self.keys.get(k).copied()).or(self.default)
    }
}
