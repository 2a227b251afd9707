//! `state:` — where rate-limit buckets, quotas and plugin counters live. Read at start;
//! changing it needs a restart.

use schemars::JsonSchema;
use serde::Deserialize;

use super::units::Duration;

/// The state store.
///
/// ```yaml
/// state:
///   max_keys: 1000000            # this node's memory (the whole store, or Redis's fallback)
///   redis:                       # shared by every node; leave out for memory only
///     url: redis://10.0.0.9:6379/0
///     timeout: 50ms              # longest a check waits for Redis
///     on_error: fail_open        # or fail_closed
/// ```
#[derive(Clone, Debug, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// Keys kept in this node's memory at most (default 1,000,000); idle keys expire.
    #[serde(default)]
    pub max_keys: Option<u64>,
    /// Redis, shared by every node.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
}

/// A Redis server, or a node of a Redis Cluster.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port/db` (TLS to Redis is not supported yet).
    pub url: String,
    /// The URL is a node of a Redis Cluster: the others are found from it, and each check
    /// goes to the node owning its keys' slot (its keys share one hash tag).
    #[serde(default)]
    pub cluster: bool,
    /// How long a check waits for Redis before the `on_error` rule applies. Default 50ms.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// How long connecting may take. Default 1s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Duration,
    /// What a check does while Redis fails: `fail_open` (default) counts on this node
    /// instead; `fail_closed` refuses (rate-limit: 503).
    #[serde(default)]
    pub on_error: StoreFailure,
    /// Prefix of every key. Default `tollgate`.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// How long the registry entry of a WebSocket connection outlives its node's last
    /// heartbeat (nodes refresh theirs every third of it), so the connections of a node
    /// that died are forgotten. Default 30s.
    #[serde(default = "default_connection_ttl")]
    pub connection_ttl: Duration,
}

fn default_connection_ttl() -> Duration {
    Duration::from_secs(30)
}

fn default_timeout() -> Duration {
    Duration::from_millis(50)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(1)
}
fn default_prefix() -> String {
    "tollgate".into()
}

/// What a check does while Redis fails.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StoreFailure {
    /// Count on this node's memory with the same limits.
    #[default]
    FailOpen,
    /// Refuse.
    FailClosed,
}
