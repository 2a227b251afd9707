//! Connections across nodes, through Redis. Each connection has an entry
//! `<prefix>:ws:c:<id>` naming its node, with a TTL that the node's heartbeat renews, so
//! the entries of a node that died expire. Each node subscribes to its own channel
//! `<prefix>:ws:node:<node>`; a command for a connection held elsewhere is published there
//! and the owning node hands it to the session.

use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt as _;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use super::registry::{
    Command, ConnectionInfo, Connections, DeliveryError, Filter, Outgoing, Page,
};
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
}

/// A registry entry.
#[derive(Serialize, Deserialize)]
struct Entry {
    node: String,
    info: ConnectionInfo,
}

/// A command on the wire between nodes.
#[derive(Serialize, Deserialize)]
struct Wire {
    id: String,
    /// `send` or `close`.
    op: String,
    #[serde(default)]
    binary: bool,
    /// Text as it is, binary as base64.
    #[serde(default)]
    data: String,
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
        }))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn key(&self, id: &str) -> String {
        format!("{}:ws:c:{id}", self.prefix)
    }

    fn channel(&self, node: &str) -> String {
        format!("{}:ws:node:{node}", self.prefix)
    }

    fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs().max(1)
    }

    /// Starts the subscriber (commands for this node's connections) and the heartbeat
    /// (renewing this node's entries every third of the TTL). Both end with `connections`.
    pub fn start(self: &Arc<Self>, connections: Weak<Connections>) {
        let me = Arc::clone(self);
        let subscriber_connections = connections.clone();
        tokio::spawn(async move { me.subscribe(subscriber_connections).await });
        let me = Arc::clone(self);
        tokio::spawn(async move { me.heartbeat(connections).await });
    }

    async fn subscribe(self: Arc<Self>, connections: Weak<Connections>) {
        let channel = self.channel(&self.node);
        let mut backoff = Duration::from_millis(50);
        while connections.strong_count() > 0 {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                    Ok(()) => {
                        backoff = Duration::from_millis(50);
                        let mut messages = pubsub.into_on_message();
                        while let Some(msg) = messages.next().await {
                            let Some(connections) = connections.upgrade() else {
                                return;
                            };
                            let payload: Vec<u8> = msg.get_payload_bytes().to_vec();
                            if let Some((id, command)) = decode(&payload) {
                                // Gone or full here: the sender already had its answer.
                                let _ = connections.deliver_local(&id, command);
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "WebSocket registry: subscribe failed"),
                },
                Err(e) => tracing::warn!(error = %e, "WebSocket registry: cannot connect to Redis"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn heartbeat(self: Arc<Self>, connections: Weak<Connections>) {
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(connections) = connections.upgrade() else {
                return;
            };
            let all = connections.all_local();
            drop(connections);
            for chunk in all.chunks(500) {
                let mut pipe = redis::pipe();
                for local in chunk {
                    if let Ok(entry) = self.entry(&local.snapshot()) {
                        pipe.set_ex(self.key(&local.info.connection_id), entry, self.ttl_secs())
                            .ignore();
                    }
                }
                let mut conn = self.conn.clone();
                if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                    tracing::warn!(error = %e, "WebSocket registry: heartbeat failed");
                }
            }
        }
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

    /// Sends `command` to the node holding connection `id`.
    pub async fn deliver(&self, id: &str, command: &Command) -> Result<(), DeliveryError> {
        let entry = self.lookup(id).await?;
        let payload = encode(id, command);
        let mut conn = self.conn.clone();
        let receivers: u64 = timed(conn.publish(self.channel(&entry.node), payload)).await?;
        if receivers == 0 {
            // Its node is gone; the entry is stale.
            let _ = timed::<()>(conn.del(self.key(id))).await;
            return Err(DeliveryError::Gone);
        }
        Ok(())
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
        let items = if keys.is_empty() {
            Vec::new()
        } else {
            let values: Vec<Option<String>> = timed(conn.mget(&keys)).await?;
            values
                .into_iter()
                .flatten()
                .filter_map(|v| serde_json::from_str::<Entry>(&v).ok())
                .map(|e| e.info)
                .filter(|i| filter.matches(i))
                .collect()
        };
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

fn encode(id: &str, command: &Command) -> String {
    let (op, binary, data) = match command {
        Command::Close => ("close", false, String::new()),
        Command::Send(Outgoing::Text(t)) => ("send", false, t.clone()),
        Command::Send(Outgoing::Binary(b)) => (
            "send",
            true,
            base64::engine::general_purpose::STANDARD.encode(b),
        ),
    };
    serde_json::to_string(&Wire {
        id: id.to_owned(),
        op: op.to_owned(),
        binary,
        data,
    })
    .unwrap_or_default()
}

fn decode(payload: &[u8]) -> Option<(String, Command)> {
    let wire: Wire = serde_json::from_slice(payload).ok()?;
    let command = match (wire.op.as_str(), wire.binary) {
        ("close", _) => Command::Close,
        ("send", false) => Command::Send(Outgoing::Text(wire.data)),
        ("send", true) => Command::Send(Outgoing::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(wire.data)
                .ok()?
                .into(),
        )),
        _ => return None,
    };
    Some((wire.id, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_survive_the_wire() {
        let cases = [
            Command::Close,
            Command::Send(Outgoing::Text("héllo {\"a\":1}".into())),
            Command::Send(Outgoing::Binary(vec![0, 159, 255].into())),
        ];
        for command in cases {
            let (id, back) = decode(encode("abc", &command).as_bytes()).expect("decodes");
            assert_eq!(id, "abc");
            assert_eq!(format!("{back:?}"), format!("{command:?}"));
        }
        assert!(decode(b"{\"id\":\"x\",\"op\":\"explode\"}").is_none());
        assert!(decode(b"not json").is_none());
    }
}
