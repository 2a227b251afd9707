//! A real `redis-server` on a free port, without persistence, for the tests of the shared
//! state store. (`--port 0` would disable TCP, so a free port is probed first.)

use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::{DEADLINE, poll_until};

/// A running `redis-server`; killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// Its TCP port.
    pub port: u16,
    dir: tempfile::TempDir,
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}

impl RedisServer {
    /// Starts a server on a free port.
    pub async fn start() -> Self {
        for _ in 0..5 {
            let mut server = Self {
                child: None,
                port: free_port(),
                dir: tempfile::tempdir().expect("temp dir"),
            };
            if server.launch().await {
                return server;
            }
        }
        panic!("redis-server did not start (is it installed? .ci/run installs it)");
    }

    /// Starts the server again on its port (after [`RedisServer::kill`]).
    pub async fn restart(&mut self) {
        assert!(self.launch().await, "redis-server did not restart");
    }

    async fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("run redis-server (is it installed? .ci/run installs it)");
        self.child = Some(child);
        let port = self.port;
        let up = poll_until(DEADLINE, || async move { ping(port).await }).await;
        if !up {
            self.kill().await;
        }
        up
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// Whether a server on `port` answers `PING`.
async fn ping(port: u16) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).await.is_ok() && &buf == b"+PONG\r\n"
}
