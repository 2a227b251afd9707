//! The connections of managed WebSocket APIs: this node's, by id, each with a queue its
//! session drains; and, with Redis, every node's, so that a message for a connection held
//! by another node reaches it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::cluster::{Broadcast, Cluster};

/// What a session is asked to do from outside (the `@connections` API, a two-way reply).
#[derive(Clone, Debug)]
pub enum Command {
    /// Send a message.
    Send(Outgoing),
    /// Close the connection (1000, normal closure).
    Close,
}

/// A message to a client (cheap to clone: a broadcast shares one copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Outgoing {
    /// Text when the bytes are UTF-8 and `binary` is not asked for, else binary.
    pub fn from_bytes(data: Bytes, binary: bool) -> Self {
        if binary {
            return Self::Binary(data);
        }
        match Utf8Bytes::try_from(data.clone()) {
            Ok(text) => Self::Text(text),
            Err(_) => Self::Binary(data),
        }
    }
}

/// Queued messages a connection holds at most; a send to a full queue is refused.
pub const QUEUE: usize = 32;

/// What is known of a connection (`GET /@connections/{id}`), here and in Redis.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// The connection id.
    pub connection_id: String,
    /// The API and stage it connected to.
    pub api: String,
    /// The stage.
    pub stage: String,
    /// When it connected, as milliseconds since the Unix epoch.
    pub connected_at: u64,
    /// When the client last sent a frame, in milliseconds since the Unix epoch.
    pub last_active_at: u64,
    /// Who connected.
    pub identity: ConnectionIdentity,
}

/// Who holds a connection.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionIdentity {
    /// The client's address.
    pub source_ip: String,
    /// Its `User-Agent`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_agent: Option<String>,
    /// The principal the `$connect` authorizer established.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<String>,
}

/// A connection of this node.
pub struct Local {
    /// Its fixed facts.
    pub info: ConnectionInfo,
    /// Last client activity, ms since the epoch.
    pub last_active: AtomicU64,
    queue: mpsc::Sender<Command>,
}

impl Local {
    /// The facts, with the current last activity.
    pub fn snapshot(&self) -> ConnectionInfo {
        let mut info = self.info.clone();
        info.last_active_at = self.last_active.load(Ordering::Relaxed);
        info
    }

    /// A sender into the connection's queue.
    pub fn sender(&self) -> mpsc::Sender<Command> {
        self.queue.clone()
    }

    /// Records client activity now.
    pub fn touch(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A new connection id: 12 random bytes, URL-safe base64 (16 characters), as Amazon API
/// Gateway's ids look.
pub fn new_id() -> String {
    use base64::Engine as _;
    let bytes: [u8; 16] = *uuid::Uuid::new_v4().as_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..12])
}

/// Why a connection could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// No such connection, or it is closed: 410 Gone.
    #[error("no such connection, or it is closed")]
    Gone,
    /// Its queue is full: the client reads slower than it is sent to (429).
    #[error("the connection's send queue is full")]
    Full,
    /// Redis could not be asked where the connection is (503).
    #[error("the connection registry is unavailable: {0}")]
    Unavailable(String),
}

/// Which connections a list or broadcast covers.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this API's.
    pub api: Option<String>,
    /// Only this stage's.
    pub stage: Option<String>,
    /// Only this principal's.
    pub principal: Option<String>,
}

impl Filter {
    /// Whether `info` is covered.
    pub fn matches(&self, info: &ConnectionInfo) -> bool {
        self.api.as_ref().is_none_or(|a| *a == info.api)
            && self.stage.as_ref().is_none_or(|s| *s == info.stage)
            && self
                .principal
                .as_ref()
                .is_none_or(|p| info.identity.principal.as_ref() == Some(p))
    }
}

/// One page of a listing.
#[derive(Debug, Serialize)]
pub struct Page {
    /// The connections.
    pub items: Vec<ConnectionInfo>,
    /// Give it as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none", rename = "nextCursor")]
    pub next: Option<String>,
}

/// Every connection this node holds, and the cluster when there is one.
pub struct Connections {
    local: RwLock<HashMap<Arc<str>, Arc<Local>>>,
    cluster: Option<Arc<Cluster>>,
}

impl Connections {
    /// A registry for this node only.
    pub fn local_only() -> Arc<Self> {
        Arc::new(Self {
            local: RwLock::default(),
            cluster: None,
        })
    }

    /// A registry shared through Redis.
    pub fn clustered(cluster: Arc<Cluster>) -> Arc<Self> {
        Arc::new(Self {
            local: RwLock::default(),
            cluster: Some(cluster),
        })
    }

    /// Records a new connection in Redis, before it is [registered](Self::register) here.
    pub async fn announce(&self, info: &ConnectionInfo) {
        if let Some(cluster) = &self.cluster {
            cluster.announce(info).await;
        }
    }

    /// Registers a new connection of this node and returns its entry and its session's
    /// queue.
    pub fn register(&self, info: ConnectionInfo) -> (Arc<Local>, mpsc::Receiver<Command>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let local = Arc::new(Local {
            last_active: AtomicU64::new(info.connected_at),
            info,
            queue,
        });
        let id: Arc<str> = local.info.connection_id.as_str().into();
        self.local
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, Arc::clone(&local));
        metrics::gauge!("tollgate_websocket_connections").increment(1.0);
        (local, rx)
    }

    /// Forgets a connection that ended.
    pub fn unregister(&self, id: &str) {
        let removed = self
            .local
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if removed.is_some() {
            metrics::gauge!("tollgate_websocket_connections").decrement(1.0);
            if let Some(cluster) = &self.cluster {
                cluster.forget(id);
            }
        }
    }

    /// This node's connection `id`.
    pub fn local(&self, id: &str) -> Option<Arc<Local>> {
        self.local
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Every connection of this node.
    pub fn all_local(&self) -> Vec<Arc<Local>> {
        self.local
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Hands a command to this node's connection `id`.
    pub fn deliver_local(&self, id: &str, command: Command) -> Result<(), DeliveryError> {
        let local = self.local(id).ok_or(DeliveryError::Gone)?;
        local.queue.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => DeliveryError::Full,
            mpsc::error::TrySendError::Closed(_) => DeliveryError::Gone,
        })
    }

    /// Hands a command to connection `id`, wherever it is: on this node directly, on
    /// another through Redis.
    pub async fn deliver(&self, id: &str, command: Command) -> Result<(), DeliveryError> {
        match &self.cluster {
            Some(cluster) if self.local(id).is_none() => cluster.deliver(id, &command).await,
            _ => self.deliver_local(id, command),
        }
    }

    /// What is known of connection `id`, wherever it is.
    pub async fn info(&self, id: &str) -> Result<ConnectionInfo, DeliveryError> {
        if let Some(local) = self.local(id) {
            return Ok(local.snapshot());
        }
        match &self.cluster {
            Some(cluster) => cluster.info(id).await,
            None => Err(DeliveryError::Gone),
        }
    }

    /// A page of the connections `filter` covers, on every node, from `cursor`.
    pub async fn list(
        &self,
        filter: &Filter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, DeliveryError> {
        if let Some(cluster) = &self.cluster {
            return cluster.list(filter, cursor, limit).await;
        }
        let limit = limit.max(1);
        // This node only: ids in order, the cursor is the last id of the previous page.
        let mut items: Vec<ConnectionInfo> = self
            .all_local()
            .iter()
            .map(|l| l.snapshot())
            .filter(|i| filter.matches(i))
            .filter(|i| cursor.is_none_or(|c| i.connection_id.as_str() > c))
            .collect();
        items.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        let next = (items.len() > limit).then(|| items[limit - 1].connection_id.clone());
        items.truncate(limit);
        Ok(Page { items, next })
    }

    /// Sends `command` to every connection `filter` covers, on every node.
    pub async fn broadcast(
        &self,
        filter: &Filter,
        command: &Command,
    ) -> Result<Broadcast, DeliveryError> {
        let local = |id: &str| self.deliver_local(id, command.clone());
        if let Some(cluster) = &self.cluster {
            return cluster.broadcast(filter, command, local).await;
        }
        let mut outcome = Broadcast::default();
        for conn in self.all_local() {
            if filter.matches(&conn.info) {
                outcome.count(local(&conn.info.connection_id));
            }
        }
        Ok(outcome)
    }

    /// The cluster, when connections are shared through Redis.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }
}
