//! The session loop on an in-memory connection, on paused time.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::{Ending, Incoming, Limits, Messages, accept, run};
use crate::websocket::registry::{Command, Outgoing};

/// Echoes text messages with a prefix and records them.
#[derive(Default)]
struct Echo(Vec<Incoming>);

impl Messages for Echo {
    fn on_message(&mut self, message: Incoming) -> Option<Outgoing> {
        let text = String::from_utf8_lossy(&message.data).into_owned();
        self.0.push(message);
        Some(Outgoing::Text(format!("echo:{text}").into()))
    }
}

fn limits() -> Limits {
    Limits {
        max_frame: 32 * 1024,
        max_message: 128 * 1024,
        idle_timeout: Duration::from_secs(600),
        max_duration: Duration::from_secs(7200),
        ping_interval: Duration::ZERO,
    }
}

/// A server session on one end of a pipe, a client on the other.
async fn start(
    limits: Limits,
) -> (
    WebSocketStream<DuplexStream>,
    mpsc::Sender<Command>,
    tokio::task::JoinHandle<(Ending, Echo)>,
) {
    let (client_io, server_io) = tokio::io::duplex(256 * 1024);
    let (tx, rx) = mpsc::channel(8);
    let server = tokio::spawn(async move {
        let ws = accept(server_io, &limits).await;
        let mut echo = Echo::default();
        let ending = run(ws, rx, limits, &mut echo).await;
        (ending, echo)
    });
    let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
    (client, tx, server)
}

async fn next_close(client: &mut WebSocketStream<DuplexStream>) -> (u16, String) {
    loop {
        match client.next().await {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("client error: {e}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn idle_connections_close_with_1001_after_the_idle_timeout() {
    let started = Instant::now();
    let (mut client, _tx, server) = start(limits()).await;
    let (code, reason) = next_close(&mut client).await;
    assert_eq!(code, 1001);
    assert!(reason.contains("idle timeout"), "{reason}");
    let idle = started.elapsed();
    assert!(
        idle >= Duration::from_secs(600) && idle < Duration::from_secs(601),
        "{idle:?}"
    );
    let (ending, _) = server.await.expect("session");
    assert_eq!(ending.code, 1001);
}

#[tokio::test(start_paused = true)]
async fn client_frames_keep_a_connection_alive() {
    let started = Instant::now();
    let (mut client, _tx, _server) = start(limits()).await;
    tokio::time::sleep(Duration::from_secs(540)).await;
    client.send(Message::Text("hi".into())).await.expect("send");
    assert_eq!(
        client.next().await.expect("reply").expect("ok"),
        Message::Text("echo:hi".into())
    );
    tokio::time::sleep(Duration::from_secs(540)).await;
    client
        .send(Message::Ping(Bytes::new()))
        .await
        .expect("ping");
    let (code, _) = next_close(&mut client).await;
    assert_eq!(code, 1001);
    // Closed 10 minutes after the ping, not after the first message.
    let lived = started.elapsed();
    assert!(lived >= Duration::from_secs(1680), "{lived:?}");
}

#[tokio::test(start_paused = true)]
async fn connections_end_at_their_maximum_duration() {
    let mut l = limits();
    l.max_duration = Duration::from_secs(300);
    let started = Instant::now();
    let (mut client, _tx, _server) = start(l).await;
    let (code, reason) = next_close(&mut client).await;
    assert_eq!(code, 1001);
    assert!(reason.contains("maximum connection duration"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(301));
}

#[tokio::test(start_paused = true)]
async fn oversized_messages_and_frames_close_with_1009() {
    let mut l = limits();
    l.max_message = 1000;
    l.max_frame = 600;
    let (mut client, _tx, server) = start(l).await;
    client
        .send(Message::Text("small".into()))
        .await
        .expect("send");
    assert_eq!(
        client.next().await.expect("reply").expect("ok"),
        Message::Text("echo:small".into())
    );
    client
        .send(Message::Binary(vec![7u8; 700].into()))
        .await
        .expect("send");
    let (code, reason) = next_close(&mut client).await;
    assert_eq!(code, 1009, "{reason}");
    let (ending, echo) = server.await.expect("session");
    assert_eq!(ending.code, 1009);
    assert_eq!(echo.0.len(), 1, "the oversized message is not handled");
}

#[tokio::test(start_paused = true)]
async fn queued_commands_reach_the_client_and_close_it() {
    let (mut client, tx, server) = start(limits()).await;
    tx.send(Command::Send(Outgoing::Text("pushed".into())))
        .await
        .expect("queue");
    tx.send(Command::Send(Outgoing::Binary(vec![1, 2, 3].into())))
        .await
        .expect("queue");
    tx.send(Command::Close).await.expect("queue");
    assert_eq!(
        client.next().await.expect("one").expect("ok"),
        Message::Text("pushed".into())
    );
    assert_eq!(
        client.next().await.expect("two").expect("ok"),
        Message::Binary(vec![1, 2, 3].into())
    );
    assert_eq!(next_close(&mut client).await.0, 1000);
    assert_eq!(server.await.expect("session").0.code, 1000);
}

#[tokio::test(start_paused = true)]
async fn the_gateway_pings_and_a_client_close_ends_the_session() {
    let mut l = limits();
    l.ping_interval = Duration::from_secs(30);
    let (mut client, _tx, server) = start(l).await;
    match client.next().await.expect("ping").expect("ok") {
        Message::Ping(_) => {}
        other => panic!("expected a ping, got {other:?}"),
    }
    client.close(None).await.expect("close");
    let (ending, _) = server.await.expect("session");
    assert_eq!(ending.code, 1005);
}
