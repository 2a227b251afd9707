//! Routing: host + base path + stage select an API mount; method + path template select a
//! route (literal > parameter > greedy, then `$default`). Built once per config snapshot.

mod mounts;
mod normalize;
mod table;

/// Route path templates are config syntax; the router matches them.
pub use crate::config::{DEFAULT_ROUTE, RoutePath, Segment};
pub use mounts::{ApiId, RouteMatch, Routed, Router, StageId};
pub use normalize::{NormalizedPath, PathError};
pub use table::{ParamValue, RouteId, RouteTable, TableMatch};
