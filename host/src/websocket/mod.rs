//! WebSocket APIs, in two modes (`docs/websocket.md`).
//!
//! - **Pass-through** ([`crate::integration::upgrade`]): a route with `websocket: true` proxies the upgrade
//!   to a WebSocket backend and pipes frames both ways.
//! - **Managed** (`kind: websocket`), as Amazon API Gateway's: the gateway holds the client
//!   connection. The upgrade runs the request phases and the `$connect` integration
//!   ([`connect`]); the [`session`] reads messages under the API's limits; each message is
//!   routed by the API's `message-router` plugin and sent to its route's integration
//!   ([`messages`], [`calls`]); backends push through the `@connections` admin API, which
//!   finds the connection in the [`registry`], on this node or, through Redis, on another
//!   ([`cluster`]).

pub mod calls;
pub mod cluster;
pub mod connect;
pub mod messages;
pub mod registry;
pub mod session;

pub use registry::Connections;
