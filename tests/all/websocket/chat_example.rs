//! `examples/websocket-chat`, run as its README runs it: the example's own `backend.py`
//! (Python 3, standard library) and its own `gateway.yaml` with only the addresses changed.
//! A message is broadcast to everyone, `whoami` answers on the socket, an unknown action
//! gets the `$default` mock, a client without a key is refused, and a user who leaves is
//! announced to the others and gone from `@connections`.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use futures_util::SinkExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::{Error, Message};

use super::{Client, connect_with, next_json, ws_url};
use crate::support::{DEADLINE, Gateway};

/// The example's config, as its README runs it.
const EXAMPLE_CONFIG: &str = include_str!("../../../examples/websocket-chat/gateway.yaml");
/// The example's backend.
const BACKEND: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/websocket-chat/backend.py"
);
/// The admin token `gateway.yaml` sets.
const TOKEN: &str = "change-me-chat-admin-token";
const ALICE_KEY: &str = "alice-key-0123456789";
const BOB_KEY: &str = "bob-key-0123456789";

/// Replaces `from` (which must occur) with `to`.
fn edit(yaml: &str, from: &str, to: &str) -> String {
    assert!(
        yaml.contains(from),
        "the example's gateway.yaml no longer contains {from:?}"
    );
    yaml.replace(from, to)
}

/// The example's config with the listener on a free port, the admin API on `admin_port`
/// and the integrations on the backend's port.
fn config(admin_port: u16, backend_port: u16) -> String {
    assert!(
        EXAMPLE_CONFIG.contains(&format!("token: {TOKEN}")),
        "the example's admin token is no longer {TOKEN:?}"
    );
    let yaml = edit(
        EXAMPLE_CONFIG,
        "address: 127.0.0.1:8080",
        "address: \"127.0.0.1:0\"",
    );
    let yaml = edit(
        &yaml,
        "address: 127.0.0.1:9901",
        &format!("address: \"127.0.0.1:{admin_port}\""),
    );
    edit(
        &yaml,
        "http://127.0.0.1:9000/",
        &format!("http://127.0.0.1:{backend_port}/"),
    )
}

/// `backend.py` on a free port; killed on drop, its output printed if the test failed.
struct ChatBackend {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl ChatBackend {
    /// Starts it against the admin API at `admin` and waits for its `listening on` line.
    async fn start(admin: &str) -> Self {
        let mut child = Command::new("python3")
            .arg(BACKEND)
            .args(["--port", "0", "--admin", admin, "--token", TOKEN])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `python3` ({e}): the websocket-chat example's backend needs \
                     Python 3 on PATH (CI installs it)"
                )
            });
        let output = Arc::new(Mutex::new(String::new()));
        let (ready, port) = tokio::sync::oneshot::channel();
        collect(child.stdout.take().expect("stdout"), &output, Some(ready));
        collect(child.stderr.take().expect("stderr"), &output, None);
        let port = tokio::time::timeout(DEADLINE, port).await;
        let Ok(Ok(port)) = port else {
            let status = child.try_wait().ok().flatten();
            let out = output.lock().expect("output").clone();
            panic!("backend.py did not say `listening on` (exit: {status:?}); its output:\n{out}");
        };
        Self {
            child,
            port,
            output,
        }
    }
}

/// Appends every line of `stream` to `output`; the port of a `listening on 127.0.0.1:PORT`
/// line goes to `ready`.
fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    output: &Arc<Mutex<String>>,
    mut ready: Option<tokio::sync::oneshot::Sender<u16>>,
) {
    let output = Arc::clone(output);
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(port) = line
                .strip_prefix("listening on 127.0.0.1:")
                .and_then(|p| p.trim().parse().ok())
                && let Some(tx) = ready.take()
            {
                let _ = tx.send(port);
            }
            let mut out = output.lock().expect("output");
            out.push_str(&line);
            out.push('\n');
        }
    });
}

impl Drop for ChatBackend {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let out = self.output.lock().map(|o| o.clone()).unwrap_or_default();
            eprintln!("---- backend.py output ----\n{out}");
        }
        let _ = self.child.start_kill();
    }
}

/// A `GET` of the admin API with the example's token.
async fn admin_get(gw: &Gateway, path: &str) -> serde_json::Value {
    let r = crate::support::client()
        .get(format!("{}{path}", gw.admin_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("admin call");
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.expect("JSON")
}

async fn send(ws: &mut Client, text: &str) {
    ws.send(Message::text(text)).await.expect("send");
}

#[tokio::test]
async fn the_chat_example_broadcasts_answers_and_announces_who_left() {
    // The backend must know the admin API's URL before the gateway starts, and the
    // gateway the backend's port: the admin API gets a port found free just before.
    let admin_port = crate::support::dead_port();
    let backend = ChatBackend::start(&format!("http://127.0.0.1:{admin_port}")).await;
    let gw = Gateway::start(&config(admin_port, backend.port)).await;
    let url = ws_url(&gw, "/chat");

    // No key: the api-key authorizer refuses the upgrade.
    match connect_with(&url, &[]).await {
        Err(Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a connection")),
    }

    // Alice with the header; Bob as a browser would, with `?key=` and a display name.
    let mut alice = connect_with(&url, &[("x-api-key", ALICE_KEY)])
        .await
        .expect("alice connects");
    let mut bob = connect_with(&format!("{url}?key={BOB_KEY}&name=Bobby"), &[])
        .await
        .expect("bob connects");

    // `sendmessage` is one-way: the backend broadcasts it to both through `@connections`.
    send(&mut alice, r#"{"action":"sendmessage","text":"hello bob"}"#).await;
    let said = json!({"from": "alice", "text": "hello bob"});
    assert_eq!(next_json(&mut alice).await, said);
    assert_eq!(next_json(&mut bob).await, said);
    send(&mut bob, r#"{"action":"sendmessage","text":"hi alice"}"#).await;
    let said = json!({"from": "bob", "text": "hi alice", "name": "Bobby"});
    assert_eq!(next_json(&mut alice).await, said);
    assert_eq!(next_json(&mut bob).await, said);

    // `whoami` is two-way: the answer comes back on Bob's socket, with his real id.
    send(&mut bob, r#"{"action":"whoami"}"#).await;
    let me = next_json(&mut bob).await;
    assert_eq!(me["principal"], "bob", "{me}");
    let bobs = admin_get(&gw, "/@connections?api=chat&principal=bob").await;
    assert_eq!(
        bobs["items"][0]["connectionId"], me["connectionId"],
        "{bobs}"
    );

    // Anything else: the `$default` mock.
    send(&mut alice, r#"{"action":"dance"}"#).await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"error": "unknown action; use sendmessage or whoami"})
    );

    // Bob leaves: `$disconnect` tells the others, and only Alice is still connected.
    bob.close(None).await.expect("close");
    assert_eq!(next_json(&mut alice).await, json!({"system": "bob left"}));
    let left = admin_get(&gw, "/@connections?api=chat").await;
    let items = left["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{left}");
    assert_eq!(items[0]["identity"]["principal"], "alice", "{left}");
}
