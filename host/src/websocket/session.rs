//! One client connection of a managed WebSocket API, after the switch: reads frames under
//! the size limits, hands each message to a [`Messages`] handler, writes what the registry
//! queues for it, pings, and closes on idle timeout, maximum duration or a limit.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::registry::{Command, Outgoing};
use crate::config::WebSocketSettings;

/// Longest a write to the client may take; a client that stops reading is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes a connection's read buffer starts with (it grows for larger frames): small, so an
/// idle connection costs little.
const READ_BUFFER: usize = 2048;

/// The limits a session enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest frame.
    pub max_frame: usize,
    /// Largest message.
    pub max_message: usize,
    /// Closes after this long without a frame from the client.
    pub idle_timeout: Duration,
    /// Closes after this long in any case.
    pub max_duration: Duration,
    /// Ping period; none when zero.
    pub ping_interval: Duration,
}

impl From<&WebSocketSettings> for Limits {
    fn from(s: &WebSocketSettings) -> Self {
        let size = |b: crate::config::ByteSize| usize::try_from(b.get()).unwrap_or(usize::MAX);
        Self {
            max_frame: size(s.max_frame),
            max_message: size(s.max_message),
            idle_timeout: s.idle_timeout.get(),
            max_duration: s.max_duration.get(),
            ping_interval: s.ping_interval.get(),
        }
    }
}

/// A message a client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// Sent in binary frames.
    pub binary: bool,
    /// The message.
    pub data: Bytes,
}

/// What a session does with client messages.
pub trait Messages: Send {
    /// Handles one message; what it returns is sent to the client at once (an error
    /// message). Work that takes time is the handler's to spawn.
    fn on_message(&mut self, message: Incoming) -> Option<Outgoing>;
    /// Notes client activity (any frame).
    fn on_activity(&mut self) {}
}

/// How a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ending {
    /// The close code sent or received (1006 when the connection just dropped).
    pub code: u16,
    /// Why.
    pub reason: String,
}

/// Wraps a switched connection as the server side of a WebSocket with `limits`.
pub async fn accept<S>(io: S, limits: &Limits) -> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_frame_size(Some(limits.max_frame))
        .max_message_size(Some(limits.max_message));
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await
}

/// Runs the connection until it ends, and says how.
pub async fn run<S, M>(
    mut ws: WebSocketStream<S>,
    mut commands: mpsc::Receiver<Command>,
    limits: Limits,
    handler: &mut M,
) -> Ending
where
    S: AsyncRead + AsyncWrite + Unpin,
    M: Messages,
{
    let end_of_life = after(limits.max_duration);
    let mut idle_until = after(limits.idle_timeout);
    let pings = !limits.ping_interval.is_zero();
    let mut next_ping = after(limits.ping_interval);
    loop {
        tokio::select! {
            () = sleep_until(end_of_life) => {
                return close(&mut ws, CloseCode::Away, "Going away: maximum connection duration").await;
            }
            () = sleep_until(idle_until) => {
                return close(&mut ws, CloseCode::Away, "Going away: idle timeout").await;
            }
            () = sleep_until(next_ping), if pings => {
                next_ping = after(limits.ping_interval);
                if !send(&mut ws, Message::Ping(Bytes::new())).await {
                    return dropped("ping failed");
                }
            }
            command = commands.recv() => match command {
                Some(Command::Send(out)) => {
                    if !send(&mut ws, to_message(out)).await {
                        return dropped("send failed");
                    }
                }
                Some(Command::Close) | None => {
                    return close(&mut ws, CloseCode::Normal, "Closed by the gateway").await;
                }
            },
            frame = ws.next() => {
                let message = match frame {
                    None => return dropped("the client went away"),
                    Some(Err(WsError::Capacity(e))) => {
                        let reason = match e {
                            CapacityError::MessageTooLong { size, max_size } => {
                                format!("Message too big: {size} bytes, the limit is {max_size}")
                            }
                            other => format!("Message too big: {other}"),
                        };
                        return close(&mut ws, CloseCode::Size, &reason).await;
                    }
                    // RFC 6455 §7.1.7: a protocol violation or a text message that is not
                    // UTF-8 is failed with a Close frame (1002, 1007) before the TCP close.
                    Some(Err(WsError::Protocol(e))) => {
                        return close(&mut ws, CloseCode::Protocol, &format!("Protocol error: {e}")).await;
                    }
                    Some(Err(WsError::Utf8(_))) => {
                        return close(&mut ws, CloseCode::Invalid, "Invalid payload: text message is not UTF-8").await;
                    }
                    Some(Err(e)) => return dropped(&e.to_string()),
                    Some(Ok(m)) => m,
                };
                idle_until = after(limits.idle_timeout);
                handler.on_activity();
                let reply = match message {
                    Message::Text(text) => handler.on_message(Incoming {
                        binary: false,
                        data: Bytes::from(text),
                    }),
                    Message::Binary(data) => handler.on_message(Incoming { binary: true, data }),
                    Message::Close(frame) => {
                        // tungstenite answers the close; the stream then ends.
                        let _ = ws.flush().await;
                        return Ending {
                            code: frame.as_ref().map_or(1005, |f| u16::from(f.code)),
                            reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                        };
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
                };
                if let Some(out) = reply
                    && !send(&mut ws, to_message(out)).await
                {
                    return dropped("send failed");
                }
            }
        }
    }
}

/// `d` from now (a far future when that overflows).
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

/// Sends within [`SEND_TIMEOUT`]; false when the client is gone or not reading.
async fn send<S>(ws: &mut WebSocketStream<S>, message: Message) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, ws.send(message)).await,
        Ok(Ok(()))
    )
}

fn to_message(out: Outgoing) -> Message {
    match out {
        Outgoing::Text(t) => Message::Text(t),
        Outgoing::Binary(b) => Message::Binary(b),
    }
}

fn dropped(why: &str) -> Ending {
    Ending {
        code: 1006,
        reason: why.to_owned(),
    }
}

async fn close<S>(ws: &mut WebSocketStream<S>, code: CloseCode, reason: &str) -> Ending
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    };
    // The client's answer is not waited for long: the gateway is done with it.
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(frame))).await;
    Ending {
        code: u16::from(code),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests;
