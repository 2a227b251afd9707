//! RFC 6455 §7.1.7: a managed connection that breaks the protocol, or sends a text message
//! that is not UTF-8, gets a Close frame (1002, 1007) before the TCP close, and its
//! `$disconnect` still runs.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Events, managed};
use crate::support::{DEADLINE, Gateway};

const KEY: &str = "ws-key-0123456789abcdef";

/// Opens `/chat` by hand, so that frames no client library would send can be sent.
async fn handshake(gw: &Gateway) -> TcpStream {
    let mut tcp = TcpStream::connect(gw.addrs[0]).await.expect("connect");
    let upgrade = format!(
        "GET /chat HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\
         x-api-key: {KEY}\r\n\r\n"
    );
    tcp.write_all(upgrade.as_bytes()).await.expect("upgrade");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(DEADLINE, tcp.read(&mut byte))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(n, 1, "closed during the handshake: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// A client frame: `first` byte (FIN, RSV, opcode), masked unless `unmasked`.
fn frame(first: u8, payload: &[u8], unmasked: bool) -> Vec<u8> {
    let len = u8::try_from(payload.len()).expect("short payload");
    if unmasked {
        let mut out = vec![first, len];
        out.extend_from_slice(payload);
        return out;
    }
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut out = vec![first, 0x80 | len];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Everything the gateway sends until it closes the TCP connection.
async fn until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut out)).await;
    out
}

/// The close code of the first frame in `bytes`, if it is a Close frame.
fn close_code(bytes: &[u8]) -> Option<u16> {
    match bytes {
        [0x88, len, hi, lo, ..] if *len >= 2 => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

#[tokio::test]
async fn protocol_errors_get_a_close_frame_before_the_connection_ends() {
    let events = Events::start().await;
    let gw = Gateway::start(&managed::config(&events, "p")).await;
    let cases: [(&str, Vec<u8>, u16); 6] = [
        ("RSV1 without an extension", frame(0xC1, b"hi", false), 1002),
        ("an unmasked client frame", frame(0x81, b"hi", true), 1002),
        ("a reserved opcode", frame(0x83, b"", false), 1002),
        (
            "a one-byte close payload",
            frame(0x88, &[0x03], false),
            1002,
        ),
        ("an orphan continuation", frame(0x80, b"hi", false), 1002),
        (
            "text that is not UTF-8",
            frame(0x81, &[0xce, 0xff, 0xfe], false),
            1007,
        ),
    ];
    for (what, bytes, want) in cases {
        let mut tcp = handshake(&gw).await;
        tcp.write_all(&bytes).await.expect("send the frame");
        let answer = until_closed(&mut tcp).await;
        assert_eq!(close_code(&answer), Some(want), "{what}: got {answer:?}");
    }
    // Each connection's `$disconnect` ran, with the code it was closed with.
    let disconnects = |code: &str| {
        events
            .calls()
            .into_iter()
            .filter(|c| c.event == "DISCONNECT" && c.body.contains(code))
            .count()
    };
    let all = crate::support::poll_until(DEADLINE, || {
        let done = disconnects("1002") == 5 && disconnects("1007") == 1;
        async move { done }
    })
    .await;
    assert!(all, "{:#?}", events.calls());
}
