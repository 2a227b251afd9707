//! Typed handles on a plugin slot for the worlds whose calls only they can take: a
//! function (the integration that answers) and a message router (a WebSocket API's
//! `select-route`). One is made only for a plugin of its world, and a slot keeps its world
//! across hot-loads (a version of another world is refused), so handing a request to a
//! filter as if it were a function cannot be written. Filters and authorizers share the
//! phases' chains, where a plugin's world decides which phases it takes part in.

use std::ops::Deref;
use std::sync::Arc;

use super::bindings::Response;
use super::handles::RequestHandle;
use super::kind::Kind;
use super::messages::{RouterMessage, Selection};
use super::runtime::{Plugin, PluginError};
use super::slot::PluginSlot;

/// A plugin was named for a role its world does not have.
#[derive(Debug, thiserror::Error)]
#[error("a {found} plugin cannot {role}; build it for the `{wanted}` world")]
pub struct WrongWorld {
    /// The plugin's world.
    pub found: Kind,
    /// The world the role needs.
    pub wanted: Kind,
    /// The role, as in "cannot be an integration".
    pub role: &'static str,
}

fn expect(plugin: &Plugin, wanted: Kind, role: &'static str) -> Result<(), WrongWorld> {
    let found = plugin.kind();
    if found == wanted {
        Ok(())
    } else {
        Err(WrongWorld {
            found,
            wanted,
            role,
        })
    }
}

/// A function plugin's slot.
#[derive(Clone)]
pub struct FunctionPlugin(Arc<PluginSlot>);

impl FunctionPlugin {
    /// A handle on the slot `slot` makes, for `version` (the plugin going into it), which
    /// must be a function; the slot is made only then.
    pub fn new(
        version: &Plugin,
        slot: impl FnOnce() -> Arc<PluginSlot>,
    ) -> Result<Self, WrongWorld> {
        expect(version, Kind::Function, "be an integration")?;
        Ok(Self(slot()))
    }

    /// The running version; a request finishes on the version it started with.
    pub fn current(&self) -> Function {
        Function(self.0.plugin())
    }
}

/// The running version of a function plugin.
pub struct Function(Arc<Plugin>);

impl Function {
    /// Runs `handle`: the function produces the response. The request's handle comes back,
    /// even when the call fails.
    pub async fn handle(
        &self,
        handle: RequestHandle,
    ) -> (Option<RequestHandle>, Result<Response, PluginError>) {
        self.0.handle(handle).await
    }
}

impl Deref for Function {
    type Target = Plugin;

    fn deref(&self) -> &Plugin {
        &self.0
    }
}

/// A message router's slot.
#[derive(Clone)]
pub struct RouterPlugin(Arc<PluginSlot>);

impl RouterPlugin {
    /// A handle on the slot `slot` makes, for `version` (the plugin going into it), which
    /// must be a message router; the slot is made only then.
    pub fn new(
        version: &Plugin,
        slot: impl FnOnce() -> Arc<PluginSlot>,
    ) -> Result<Self, WrongWorld> {
        expect(version, Kind::MessageRouter, "route WebSocket messages")?;
        Ok(Self(slot()))
    }

    /// Runs the running version's `select-route` on one message.
    pub async fn select_route(&self, message: RouterMessage) -> Result<Selection, PluginError> {
        self.0.plugin().select_route(message).await
    }
}
