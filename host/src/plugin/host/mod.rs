//! The host side of the plugin imports: the request and response handles every plugin
//! has, and the capabilities, one unit each (`capability.rs`), each checked against what
//! the plugin was granted; a denied one returns an error to the plugin, never a trap.

mod body;
mod cache;
pub(super) mod capability;
mod clock;
pub(super) mod edits;
mod jwt;
mod log;
mod metrics;
mod outbound;
mod random;
mod request;
mod state;
mod trace;
mod unit;
mod wasi_http;

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use cache::PluginCache;
pub use capability::Grants;
pub use jwt::VerifierHandle;
pub use log::LOG_TARGET;
pub use outbound::{HttpGrant, OutboundClient};
pub use trace::CallBudget;
pub use wasi_http::WasiHttp;

use super::handles::{RequestHandle, ResponseHandle};
// Headers a plugin may not set (hop-by-hop and framing), as in wasi-http.
use crate::plugin::contract::FORBIDDEN_HEADERS as FORBIDDEN;
use crate::state::StateStore;

/// What all plugins share: the cache, the state store, the outbound HTTP client.
pub struct Services {
    /// Per-plugin key-value cache.
    pub cache: PluginCache,
    /// Counters and token buckets.
    pub state: Arc<StateStore>,
    /// Outbound HTTP.
    pub http: OutboundClient,
    /// JWT verifiers, shared by settings.
    pub jwt: crate::jwt::Verifiers,
}

impl Services {
    /// Services with a cache of at most `cache_bytes`.
    pub fn new(cache_bytes: u64, state: Arc<StateStore>) -> Result<Self, String> {
        Ok(Self {
            cache: PluginCache::new(cache_bytes),
            state,
            http: OutboundClient::new()?,
            jwt: crate::jwt::Verifiers::default(),
        })
    }
}

/// Per-instance host state.
pub struct HostState {
    /// Resource handles.
    pub table: ResourceTable,
    /// WASI: no preopened files, no network, no environment.
    pub wasi: WasiCtx,
    /// Memory cap, and the memory in use.
    pub limits: crate::plugin::memory::MemoryLimiter,
    /// The plugin's name, for logs and namespaces.
    pub plugin: Arc<str>,
    /// What it may use.
    pub grants: Grants,
    /// Shared services.
    pub services: Arc<Services>,
    /// When the current call must end; asynchronous host calls stop there.
    pub deadline: Instant,
    /// Request handles lent to the guest during the call (`response-head.request`) and not
    /// dropped yet. One kept past the call would reach another call's request: the
    /// instance is then discarded.
    pub lent: u32,
    /// The per-instance state of the capabilities that have one, each its unit's type:
    /// `trace`'s calls left in the current call,
    pub trace: CallBudget,
    /// and `http`'s `wasi:http` requests (through the grant).
    pub wasi_http: WasiHttp,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A host call ran into the plugin call's deadline: the call fails (the instance is
/// discarded), as when the guest itself overruns.
#[derive(Debug, thiserror::Error)]
#[error("the deadline passed during {0}")]
pub struct HostDeadline(pub &'static str);

/// Runs a host future until the call's deadline: the tokio side of the per-call deadline
/// (epoch interruption only stops code running inside the guest). Past the deadline the
/// call traps.
async fn until<T>(
    deadline: Instant,
    what: &'static str,
    fut: impl Future<Output = T>,
) -> wasmtime::Result<T> {
    tokio::time::timeout_at(deadline.into(), fut)
        .await
        .map_err(|_| wasmtime::Error::new(HostDeadline(what)))
}

/// Largest header value a plugin may set: larger ones are refused before they reach a
/// backend or client that would reject the whole message.
pub const MAX_HEADER_VALUE: usize = 16 * 1024;

/// A header a plugin may set, or why not.
pub fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a header name"))?;
    if value.len() > MAX_HEADER_VALUE {
        return Err(format!(
            "the value for `{name}` is {} bytes; the limit is {MAX_HEADER_VALUE}",
            value.len()
        ));
    }
    if FORBIDDEN.contains(&name.as_str()) {
        return Err(format!("plugins may not set the `{name}` header"));
    }
    let value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for `{name}`"))?;
    Ok((name, value))
}

/// A handle whose headers plugins edit.
trait HasHeaders: Send + 'static {
    fn headers_mut(&mut self) -> &mut HeaderMap;
}

impl HasHeaders for RequestHandle {
    fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.parts.headers
    }
}

impl HasHeaders for ResponseHandle {
    fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.parts.headers
    }
}

/// Applies `edit` to the headers of the handle `r`.
fn edit_headers<H: HasHeaders, T>(
    table: &mut ResourceTable,
    r: &Resource<H>,
    edit: impl FnOnce(&mut HeaderMap) -> T,
) -> wasmtime::Result<T> {
    Ok(edit(table.get_mut(r)?.headers_mut()))
}

/// A header a plugin may edit on a request or response handle: not a forbidden one, and not
/// `Content-Length`, which the host keeps true to the body (`set-body`).
pub fn edit_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (n, v) = header_pair(name, value)?;
    if n == http::header::CONTENT_LENGTH {
        return Err("plugins may not set `content-length`; `set-body` keeps it true".into());
    }
    Ok((n, v))
}

/// Sets a header unless plugins may not.
pub(super) fn set(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let (n, v) = edit_pair(name, value)?;
    headers.insert(n, v);
    Ok(())
}

/// Appends a header value unless plugins may not set the header.
pub(super) fn append(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), String> {
    let (n, v) = edit_pair(name, value)?;
    headers.append(n, v);
    Ok(())
}

/// Removes a header unless it is one plugins may not touch.
pub(super) fn remove(headers: &mut HeaderMap, name: &str) {
    if let Ok(n) = HeaderName::from_bytes(name.as_bytes())
        && !FORBIDDEN.contains(&n.as_str())
    {
        headers.remove(n);
    }
}

/// Every value of a header that is text, in order.
fn all_values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name.to_ascii_lowercase())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn first(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name.to_ascii_lowercase())
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
