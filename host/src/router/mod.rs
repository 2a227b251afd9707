//! Routing: host + base path + stage select an API mount; method + path template select a
//! route (literal > parameter > greedy, then `$default`). Built once per config snapshot.

mod mounts;
mod normalize;
mod path;
mod table;

pub use mounts::{ApiId, RouteMatch, Routed, Router, StageId};
pub use normalize::{NormalizedPath, PathError};
pub use path::{DEFAULT_ROUTE, RoutePath, Segment};
pub use table::{ParamValue, RouteId, RouteTable, TableMatch};
