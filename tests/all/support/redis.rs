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
    cluster: bool,
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
        Self::start_as(false).await
    }

    /// Starts a one-node Redis Cluster (every slot on this node): it refuses multi-key
    /// commands whose keys are in different slots (`CROSSSLOT`), as a real cluster does.
    pub async fn start_cluster() -> Self {
        let server = Self::start_as(true).await;
        let port = server.port;
        let reply = command(port, "CLUSTER ADDSLOTSRANGE 0 16383").await;
        assert_eq!(reply, "+OK", "CLUSTER ADDSLOTSRANGE");
        let ok = poll_until(DEADLINE, || async move {
            command(port, "CLUSTER INFO")
                .await
                .contains("cluster_state:ok")
        })
        .await;
        assert!(ok, "the one-node cluster did not come up");
        server
    }

    async fn start_as(cluster: bool) -> Self {
        for _ in 0..5 {
            let mut server = Self {
                child: None,
                port: free_port(),
                dir: tempfile::tempdir().expect("temp dir"),
                cluster,
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
            .args(if self.cluster {
                &["--cluster-enabled", "yes"][..]
            } else {
                &[]
            })
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

    /// How many keys the server holds (`DBSIZE`); 0 when it does not answer.
    pub async fn keys(&self) -> u64 {
        command(self.port, "DBSIZE")
            .await
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap_or(0)
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
    command(port, "PING").await == "+PONG"
}

/// Sends one inline command and returns the start of the reply (empty on failure).
async fn command(port: u16, line: &str) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    if s.write_all(format!("{line}\r\n").as_bytes()).await.is_err() {
        return String::new();
    }
    let mut buf = vec![0u8; 4096];
    match s.read(&mut buf).await {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).trim_end().to_owned(),
        Err(_) => String::new(),
    }
}
