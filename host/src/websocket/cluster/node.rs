//! A node's two background tasks: the subscriber, which hands commands published on the
//! node's channel to its connections, and the heartbeat, which renews the node's liveness
//! key and its connections' entries and restarts the subscriber when Redis no longer counts
//! it on the channel.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt as _;
use redis::AsyncCommands as _;

use super::{Cluster, wire};
use crate::websocket::registry::Connections;

impl Cluster {
    /// Starts the subscriber and the heartbeat; both end with `connections`.
    pub fn start(self: &Arc<Self>, connections: Weak<Connections>) {
        let me = Arc::clone(self);
        let subscriber = connections.clone();
        tokio::spawn(async move { me.subscribe(subscriber).await });
        let me = Arc::clone(self);
        tokio::spawn(async move { me.heartbeat(connections).await });
    }

    /// Waits up to `within` for this node's channel to be subscribed; whether it is.
    pub async fn subscribed(&self, within: Duration) -> bool {
        let mut watch = self.subscribed.subscribe();
        matches!(
            tokio::time::timeout(within, watch.wait_for(|s| *s)).await,
            Ok(Ok(_))
        )
    }

    async fn subscribe(self: Arc<Self>, connections: Weak<Connections>) {
        let channel = self.channel(&self.node);
        let mut backoff = Duration::from_millis(50);
        while connections.strong_count() > 0 {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                    Ok(()) => {
                        backoff = Duration::from_millis(50);
                        self.subscribed.send_replace(true);
                        let mut messages = pubsub.into_on_message();
                        loop {
                            let msg = tokio::select! {
                                m = messages.next() => m,
                                () = self.resubscribe.notified() => None,
                            };
                            let Some(msg) = msg else { break };
                            let Some(connections) = connections.upgrade() else {
                                return;
                            };
                            if let Some((ids, command)) = wire::decode(msg.get_payload_bytes()) {
                                for id in ids {
                                    // Gone or full here: the sender already had its answer.
                                    let _ = connections.deliver_local(&id, command.clone());
                                }
                            }
                        }
                        self.subscribed.send_replace(false);
                        tracing::warn!("WebSocket registry: subscription lost; subscribing again");
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
            let Some(all) = connections.upgrade().map(|c| c.all_local()) else {
                return;
            };
            let mut conn = self.conn.clone();
            let alive = conn
                .set_ex::<_, _, ()>(self.node_key(&self.node), 1, self.ttl_secs())
                .await;
            if let Err(e) = alive {
                tracing::warn!(error = %e, "WebSocket registry: heartbeat failed");
                continue;
            }
            // A subscriber Redis no longer counts (a half-open connection) starts again.
            let counted: redis::RedisResult<Vec<(String, u64)>> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(self.channel(&self.node))
                .query_async(&mut conn)
                .await;
            if counted.is_ok_and(|c| c.first().is_none_or(|(_, n)| *n == 0)) {
                self.resubscribe.notify_one();
            }
            for chunk in all.chunks(500) {
                // Only entries that still exist are renewed (`XX`): an entry deleted when
                // its connection ended is not brought back. One missing for a connection
                // that is still here (expired while Redis was away) is written again.
                let mut renew = redis::pipe();
                let mut entries = Vec::with_capacity(chunk.len());
                for local in chunk {
                    let Ok(entry) = self.entry(&local.snapshot()) else {
                        continue;
                    };
                    let key = self.key(&local.info.connection_id);
                    renew
                        .cmd("SET")
                        .arg(&key)
                        .arg(&entry)
                        .arg("XX")
                        .arg("EX")
                        .arg(self.ttl_secs());
                    entries.push((local, key, entry));
                }
                let renewed: Vec<Option<String>> = match renew.query_async(&mut conn).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "WebSocket registry: heartbeat failed");
                        break;
                    }
                };
                let Some(connections) = connections.upgrade() else {
                    return;
                };
                for ((local, key, entry), done) in entries.into_iter().zip(renewed) {
                    if done.is_none() && connections.local(&local.info.connection_id).is_some() {
                        let _ = conn.set_ex::<_, _, ()>(key, entry, self.ttl_secs()).await;
                    }
                }
            }
        }
    }
}
