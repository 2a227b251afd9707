//! The messages of one managed connection: the per-connection rate limit, then, in order on
//! a worker task, the router plugin picks the route and the route's integration is called;
//! a two-way route's answer goes back to the client. Errors reach the client as Amazon API
//! Gateway sends them: `{"message": ..., "connectionId": ..., "requestId": ...}`.

use std::sync::Arc;

use http::HeaderMap;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::calls::{Event, EventType, Origin, read_body};
use super::registry::{Command, Local, Outgoing};
use super::session::{Incoming, Messages};
use crate::plugin::{RouterMessage, Selection};
use crate::telemetry::traces;

/// Messages waiting for the worker at most; more get "Too Many Requests".
const BACKLOG: usize = 64;

/// The handler of one connection's messages.
pub struct Router {
    origin: Arc<Origin>,
    local: Arc<Local>,
    replies: mpsc::Sender<Command>,
    worker: Option<(mpsc::Sender<Incoming>, tokio::task::JoinHandle<()>)>,
    bucket: Option<Bucket>,
}

impl Router {
    /// A handler for the connection; `replies` is the connection's own queue.
    pub fn new(origin: Arc<Origin>, local: Arc<Local>, replies: mpsc::Sender<Command>) -> Self {
        let api = &origin.snapshot.apis[origin.api];
        let bucket = api
            .websocket
            .as_ref()
            .and_then(|ws| ws.settings.messages_per_second)
            .map(Bucket::new);
        Self {
            origin,
            local,
            replies,
            worker: None,
            bucket,
        }
    }

    fn error(&self, message: &str) -> Outgoing {
        error_message(&self.origin, message, &uuid::Uuid::new_v4().to_string())
    }
}

impl Messages for Router {
    fn on_message(&mut self, message: Incoming) -> Option<Outgoing> {
        metrics::counter!("tollgate_websocket_messages_total", "api" => self.origin.info.api.clone(), "direction" => "in").increment(1);
        if let Some(bucket) = &mut self.bucket
            && !bucket.take()
        {
            return Some(self.error("Too Many Requests"));
        }
        let (worker, _) = self.worker.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel(BACKLOG);
            // In the connection's span, the parent of each message's.
            let task = tokio::spawn(
                work(Arc::clone(&self.origin), rx, self.replies.clone()).in_current_span(),
            );
            (tx, task)
        });
        match worker.try_send(message) {
            Ok(()) => None,
            Err(_) => Some(self.error("Too Many Requests")),
        }
    }

    fn on_activity(&mut self) {
        self.local.touch();
    }
}

impl Drop for Router {
    /// The connection ended: messages still waiting or with their integration are
    /// dropped, so none reaches a backend after `$disconnect`.
    fn drop(&mut self) {
        if let Some((_, task)) = &self.worker {
            task.abort();
        }
    }
}

/// An error message as Amazon API Gateway sends it.
pub fn error_message(origin: &Origin, message: &str, request_id: &str) -> Outgoing {
    Outgoing::Text(
        serde_json::json!({
            "message": message,
            "connectionId": origin.info.connection_id,
            "requestId": request_id,
        })
        .to_string()
        .into(),
    )
}

/// Routes and calls integrations for the connection's messages, in order.
async fn work(
    origin: Arc<Origin>,
    mut inbox: mpsc::Receiver<Incoming>,
    replies: mpsc::Sender<Command>,
) {
    while let Some(message) = inbox.recv().await {
        let request_id = uuid::Uuid::new_v4().to_string();
        // Boxed as `Send` here: proving it for the inferred future trips a compiler
        // limitation (higher-ranked lifetimes through the integration call).
        let span = traces::message(&origin.info.connection_id, &request_id);
        let handled: std::pin::Pin<Box<dyn Future<Output = Option<Outgoing>> + Send + '_>> =
            Box::pin(handle(&origin, message, &request_id).instrument(span));
        if let Some(reply) = handled.await {
            metrics::counter!("tollgate_websocket_messages_total", "api" => origin.info.api.clone(), "direction" => "out").increment(1);
            // The session drains its queue by itself, so this wait ends.
            if replies.send(Command::Send(reply)).await.is_err() {
                return;
            }
        }
    }
}

async fn handle(origin: &Origin, message: Incoming, request_id: &str) -> Option<Outgoing> {
    let api = &origin.snapshot.apis[origin.api];
    let ws = api.websocket.as_ref()?;
    let selected = ws
        .router
        .select_route(RouterMessage {
            connection_id: origin.info.connection_id.clone(),
            binary: message.binary,
            data: message.data.to_vec(),
        })
        .await;
    let key = match &selected {
        Ok(Selection::Route(key)) => Some(key.as_str()),
        Ok(Selection::Unmatched(why)) => {
            tracing::debug!(connection = %origin.info.connection_id, reason = %why, "no route key");
            None
        }
        Err(e) => {
            tracing::error!(connection = %origin.info.connection_id, error = %e, "message router failed");
            traces::message_outcome("router_error");
            return Some(error_message(origin, "Internal server error", request_id));
        }
    };
    let Some(route) = ws.route_for(key) else {
        traces::message_outcome("unrouted");
        return Some(error_message(origin, "Forbidden", request_id));
    };
    traces::message_routed(&api.routes[route].key);
    let mut headers = HeaderMap::new();
    let content_type = if message.binary {
        "application/octet-stream"
    } else {
        "application/json"
    };
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    let event = Event {
        kind: EventType::Message,
        route,
        request_id: request_id.to_owned(),
        body: message.data,
        headers,
    };
    let started = Instant::now();
    let result = origin.call(event).await;
    let route = &api.routes[route];
    metrics::histogram!("tollgate_websocket_integration_seconds", "api" => origin.info.api.clone())
        .record(started.elapsed().as_secs_f64());
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(connection = %origin.info.connection_id, route = %route.key, error = %e, "WebSocket integration failed");
            traces::message_outcome("integration_error");
            return Some(error_message(origin, "Internal server error", request_id));
        }
    };
    traces::message_outcome("sent");
    if !route.two_way {
        crate::body::discard(response.into_body());
        return None;
    }
    let limit = ws.settings.max_message.get();
    match read_body(response, limit).await {
        Ok(body) if body.is_empty() => None,
        Ok(body) => Some(Outgoing::from_bytes(body, false)),
        Err(e) => {
            tracing::warn!(connection = %origin.info.connection_id, error = %e, "two-way answer unreadable");
            traces::message_outcome("integration_error");
            Some(error_message(origin, "Internal server error", request_id))
        }
    }
}

/// Messages per second for one connection, with as much burst.
struct Bucket {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Self {
            rate,
            tokens: rate,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.rate);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Bucket;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_its_rate_with_as_much_burst() {
        let mut b = Bucket::new(5);
        assert_eq!((0..10).filter(|_| b.take()).count(), 5);
        tokio::time::advance(Duration::from_millis(400)).await;
        assert_eq!((0..10).filter(|_| b.take()).count(), 2);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!((0..10).filter(|_| b.take()).count(), 5);
    }
}
