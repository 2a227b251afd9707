//! `cache`: a key-value cache per plugin name, shared by all instances and versions of the
//! plugin on this node, bounded in bytes, with a time to live per entry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;
use wasmtime::Result;

use super::HostState;
use super::unit::Unit;
use crate::config::Capability;
use crate::plugin::bindings::cache;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Cache,
    interfaces: &["cache"],
    link: |l| cache::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(l, |s| s),
};

/// Longest key.
const MAX_KEY: usize = 1024;
/// Largest value.
const MAX_VALUE: usize = 1 << 20;
/// Longest time to live.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

type Key = (Arc<str>, String);

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<Key, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &Key, v: &Entry, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }

    fn expire_after_update(
        &self,
        _: &Key,
        v: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// The cache behind the `cache` capability.
pub struct PluginCache {
    entries: Cache<Key, Entry>,
}

impl PluginCache {
    /// A cache holding at most about `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|k: &Key, v: &Entry| {
                    u32::try_from(k.0.len() + k.1.len() + v.value.len() + 64).unwrap_or(u32::MAX)
                })
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    fn check_key(key: &str) -> std::result::Result<(), String> {
        if key.len() > MAX_KEY {
            return Err(format!("keys are at most {MAX_KEY} bytes"));
        }
        Ok(())
    }
}

impl cache::Host for HostState {
    fn get(&mut self, key: String) -> Result<std::result::Result<Option<Vec<u8>>, String>> {
        if let Err(e) = self.grants.check(Capability::Cache) {
            return Ok(Err(e));
        }
        if let Err(e) = PluginCache::check_key(&key) {
            return Ok(Err(e));
        }
        let found = self
            .services
            .cache
            .entries
            .get(&(Arc::clone(&self.plugin), key));
        Ok(Ok(found.map(|e| e.value.to_vec())))
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: u64,
    ) -> Result<std::result::Result<(), String>> {
        if let Err(e) = self.grants.check(Capability::Cache) {
            return Ok(Err(e));
        }
        if let Err(e) = PluginCache::check_key(&key) {
            return Ok(Err(e));
        }
        if value.len() > MAX_VALUE {
            return Ok(Err(format!("values are at most {MAX_VALUE} bytes")));
        }
        if ttl_ms == 0 {
            return Ok(Err("the time to live must be at least 1 ms".into()));
        }
        let ttl = Duration::from_millis(ttl_ms).min(MAX_TTL);
        self.services.cache.entries.insert(
            (Arc::clone(&self.plugin), key),
            Entry {
                value: value.into(),
                ttl,
            },
        );
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> Result<std::result::Result<(), String>> {
        if let Err(e) = self.grants.check(Capability::Cache) {
            return Ok(Err(e));
        }
        self.services
            .cache
            .entries
            .invalidate(&(Arc::clone(&self.plugin), key));
        Ok(Ok(()))
    }
}
