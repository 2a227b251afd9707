//! Connections across nodes, through Redis. Each connection has an entry
//! `<prefix>:ws:c:<id>` naming its node, and each node a liveness key
//! `<prefix>:ws:n:<node>`, both with a TTL that the node's heartbeat renews ([`node`]), so
//! the entries of a node that died expire. Each node subscribes to its own channel
//! `<prefix>:ws:node:<node>`; a command for a connection held elsewhere is published there
//! ([`wire`]) and the owning node hands it to the session.

mod node;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::registry::{Command, ConnectionInfo, DeliveryError, Filter, Page};
use crate::config::RedisConfig;

/// Longest wait for Redis on an admin call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// This node's share of the connection registry in Redis.
pub struct Cluster {
    node: String,
    prefix: String,
    ttl: Duration,
    client: redis::Client,
    conn: ConnectionManager,
    /// Tells the subscriber to subscribe again.
    resubscribe: tokio::sync::Notify,
    /// Whether this node's channel is subscribed: until it is, commands other nodes
    /// publish for its connections reach nobody.
    subscribed: tokio::sync::watch::Sender<bool>,
}

/// A registry entry.
#[derive(Serialize, Deserialize)]
struct Entry {
    node: String,
    info: ConnectionInfo,
}

/// Why the cluster could not be joined.
#[derive(Debug, thiserror::Error)]
#[error("WebSocket connection registry on Redis: {0}")]
pub struct ClusterError(String);

impl Cluster {
    /// Connects to Redis as a new node.
    pub async fn connect(config: &RedisConfig) -> Result<Arc<Self>, ClusterError> {
        let client =
            redis::Client::open(config.url.as_str()).map_err(|e| ClusterError(e.to_string()))?;
        let conn = tokio::time::timeout(
            config.connect_timeout.get(),
            client.get_connection_manager(),
        )
        .await
        .map_err(|_| {
            ClusterError(format!(
                "no connection within {:?}",
                config.connect_timeout.get()
            ))
        })?
        .map_err(|e| ClusterError(e.to_string()))?;
        Ok(Arc::new(Self {
            node: uuid::Uuid::new_v4().simple().to_string(),
            prefix: config.key_prefix.clone(),
            ttl: config.connection_ttl.get().max(Duration::from_secs(1)),
            client,
            conn,
            resubscribe: tokio::sync::Notify::new(),
            subscribed: tokio::sync::watch::Sender::new(false),
        }))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn key(&self, id: &str) -> String {
        format!("{}:ws:c:{id}", self.prefix)
    }

    fn node_key(&self, node: &str) -> String {
        format!("{}:ws:n:{node}", self.prefix)
    }

    fn channel(&self, node: &str) -> String {
        format!("{}:ws:node:{node}", self.prefix)
    }

    fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs().max(1)
    }

    fn entry(&self, info: &ConnectionInfo) -> Result<String, serde_json::Error> {
        serde_json::to_string(&Entry {
            node: self.node.clone(),
            info: info.clone(),
        })
    }

    /// Records a new connection of this node.
    pub async fn announce(&self, info: &ConnectionInfo) {
        let Ok(entry) = self.entry(info) else {
            return;
        };
        let mut conn = self.conn.clone();
        let set = conn.set_ex::<_, _, ()>(self.key(&info.connection_id), entry, self.ttl_secs());
        if let Err(e) = timed(set).await {
            tracing::warn!(error = %e, "WebSocket registry: cannot record a connection");
        }
    }

    /// Removes the entry of a connection that ended (in the background).
    pub fn forget(self: &Arc<Self>, id: &str) {
        let key = self.key(id);
        let mut conn = self.conn.clone();
        tokio::spawn(async move {
            let _ = conn.del::<_, ()>(key).await;
        });
    }

    async fn lookup(&self, id: &str) -> Result<Entry, DeliveryError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = timed(conn.get(self.key(id))).await?;
        raw.and_then(|r| serde_json::from_str(&r).ok())
            .ok_or(DeliveryError::Gone)
    }

    /// Sends `command` to the node holding connection `id`. Answered 200 once that node
    /// has it; whether the connection is still open there is that node's to find.
    pub async fn deliver(&self, id: &str, command: &Command) -> Result<(), DeliveryError> {
        let entry = self.lookup(id).await?;
        self.publish(&entry.node, &[id], command).await
    }

    /// Publishes `command` for `ids` on `node`'s channel. Nobody listening: the node is
    /// gone (its liveness key expired) and so are the connections, or it is subscribing
    /// again (503).
    async fn publish(
        &self,
        node: &str,
        ids: &[&str],
        command: &Command,
    ) -> Result<(), DeliveryError> {
        let mut conn = self.conn.clone();
        let payload = wire::encode(ids, command);
        let receivers: u64 = timed(conn.publish(self.channel(node), payload)).await?;
        if receivers > 0 {
            return Ok(());
        }
        let alive: bool = timed(conn.exists(self.node_key(node))).await?;
        if alive {
            return Err(DeliveryError::Unavailable(format!(
                "node {node} is not listening right now"
            )));
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key(id)).collect();
        let _ = timed::<()>(conn.del(keys)).await;
        Err(DeliveryError::Gone)
    }

    /// Sends `command` to every connection `filter` covers: this node's through `local`,
    /// the others' with one publish per node.
    pub async fn broadcast(
        &self,
        filter: &Filter,
        command: &Command,
        local: impl Fn(&str) -> Result<(), DeliveryError>,
    ) -> Result<Broadcast, DeliveryError> {
        let mut by_node: HashMap<String, Vec<String>> = HashMap::new();
        let mut cursor = 0u64;
        let mut conn = self.conn.clone();
        loop {
            let (next, keys): (u64, Vec<String>) = timed(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}:ws:c:*", self.prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn),
            )
            .await?;
            for entry in self.entries(&keys).await? {
                if filter.matches(&entry.info) {
                    by_node
                        .entry(entry.node)
                        .or_default()
                        .push(entry.info.connection_id);
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let mut outcome = Broadcast::default();
        for (node, mut ids) in by_node {
            // `SCAN` may return a key twice.
            ids.sort_unstable();
            ids.dedup();
            if node == self.node {
                for id in &ids {
                    outcome.count(local(id));
                }
                continue;
            }
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let n = ids.len() as u64;
            match self.publish(&node, &refs, command).await {
                Ok(()) => outcome.sent += n,
                Err(DeliveryError::Gone) => outcome.gone += n,
                Err(e) => return Err(e),
            }
        }
        Ok(outcome)
    }

    async fn entries(&self, keys: &[String]) -> Result<Vec<Entry>, DeliveryError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let values: Vec<Option<String>> = timed(conn.mget(keys)).await?;
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_str::<Entry>(&v).ok())
            .collect())
    }

    /// What the registry knows of connection `id` (its last activity as of its node's last
    /// heartbeat).
    pub async fn info(&self, id: &str) -> Result<ConnectionInfo, DeliveryError> {
        Ok(self.lookup(id).await?.info)
    }

    /// A page of the registry (a Redis `SCAN`); the cursor is the scan's.
    pub async fn list(
        &self,
        filter: &Filter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, DeliveryError> {
        let start: u64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let mut conn = self.conn.clone();
        let (next, keys): (u64, Vec<String>) = timed(
            redis::cmd("SCAN")
                .arg(start)
                .arg("MATCH")
                .arg(format!("{}:ws:c:*", self.prefix))
                .arg("COUNT")
                .arg(limit.max(1))
                .query_async(&mut conn),
        )
        .await?;
        let items = self
            .entries(&keys)
            .await?
            .into_iter()
            .map(|e| e.info)
            .filter(|i| filter.matches(i))
            .collect();
        Ok(Page {
            items,
            next: (next != 0).then(|| next.to_string()),
        })
    }
}

async fn timed<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, DeliveryError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(DeliveryError::Unavailable(e.to_string())),
        Err(_) => Err(DeliveryError::Unavailable(format!(
            "no answer within {CALL_TIMEOUT:?}"
        ))),
    }
}

/// What a broadcast reached.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Broadcast {
    /// Connections sent to (on other nodes: handed to their node).
    pub sent: u64,
    /// Connections found gone.
    pub gone: u64,
    /// Connections whose send queue was full.
    pub queue_full: u64,
}

impl Broadcast {
    /// Counts one delivery's outcome.
    pub fn count(&mut self, result: Result<(), DeliveryError>) {
        match result {
            Ok(()) => self.sent += 1,
            Err(DeliveryError::Full) => self.queue_full += 1,
            Err(_) => self.gone += 1,
        }
    }
}
