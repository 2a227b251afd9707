//! Shared state for rate limits, quotas and plugin counters. In memory on this node; the
//! throttling work adds Redis behind the same operations.

mod memory;

pub use memory::{MemoryStore, Taken};

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
