//! Built-in `ws-router`: the route selection expression of a managed WebSocket API. For
//! each client message it evaluates the expression on the message's JSON body and gives
//! the route key; a message the expression cannot be evaluated on (not JSON, a field
//! missing or not a string, number or boolean) goes to the `$default` route.
//!
//! ```yaml
//! plugins:
//!   by-action:
//!     builtin: ws-router
//!     config:
//!       expression: "$request.body.action"   # or "${request.body.service}/${request.body.action}"
//! ```
//!
//! The grammar is in [`expression`]; an expression it refuses rejects the config.

mod expression;
mod path;

use serde::Deserialize;
use tollgate_sdk::{Message, Plugin, Selection};

use expression::Expression;

/// The plugin's config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The route selection expression, e.g. `$request.body.action`.
    expression: String,
}

struct WsRouter(Expression);

#[tollgate_sdk::plugin]
impl Plugin for WsRouter {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Expression::parse(&config.expression)
            .map(Self)
            .map_err(|e| format!("expression `{}`: {e}", config.expression))
    }

    fn select_route(&self, message: Message) -> Selection {
        match self.0.evaluate(&message.data) {
            Ok(key) => Selection::Route(key),
            Err(reason) => Selection::Unmatched(reason),
        }
    }
}
