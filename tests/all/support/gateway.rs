//! Runs the real `tollgate` binary on a config written to a temporary folder.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{DEADLINE, poll_until};

/// A running gateway process; killed on drop, its log printed if the test failed.
pub struct Gateway {
    child: Child,
    /// One URL per listener, in config order.
    pub urls: Vec<String>,
    /// Bound addresses, in config order.
    pub addrs: Vec<std::net::SocketAddr>,
    /// The admin API, when it started.
    pub admin: Option<String>,
    logs: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
}

impl Gateway {
    /// Writes `yaml` as `gateway.yaml` in a fresh folder and starts the gateway on it.
    pub async fn start(yaml: &str) -> Self {
        Self::start_with(yaml, &[], |_| {}).await
    }

    /// Like [`Gateway::start`], with extra CLI arguments and a hook to put files (certs)
    /// into the folder first.
    pub async fn start_with(yaml: &str, args: &[&str], prepare: impl FnOnce(&Path)) -> Self {
        Self::start_full(yaml, args, &[], prepare).await
    }

    /// Like [`Gateway::start`], with environment variables set for the process.
    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Self {
        Self::start_full(yaml, &[], env, |_| {}).await
    }

    async fn start_full(
        yaml: &str,
        args: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&Path),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        prepare(dir.path());
        std::fs::write(dir.path().join("gateway.yaml"), yaml).expect("write config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.arg("run")
            .arg("-c")
            .arg(dir.path().join("gateway.yaml"))
            .args(args)
            .envs(env.iter().copied());
        Self::spawn(cmd, dir).await
    }

    /// Like [`Gateway::start`], in a process whose address space is capped at `gib` GiB
    /// (`ulimit -v`, as some hosts and valgrind impose).
    pub async fn start_with_address_space(yaml: &str, gib: u64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("gateway.yaml"), yaml).expect("write config");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", gib << 20))
            .arg(env!("CARGO_BIN_EXE_tollgate"))
            .arg("run")
            .arg("-c")
            .arg(dir.path().join("gateway.yaml"));
        Self::spawn(cmd, dir).await
    }

    /// Runs the gateway on `yaml`, expecting it to refuse to start; returns its stderr.
    pub async fn start_failure(yaml: &str) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("gateway.yaml"), yaml).expect("write config");
        let out = tokio::time::timeout(
            DEADLINE,
            Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .arg("run")
                .arg("-c")
                .arg(dir.path().join("gateway.yaml"))
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("tollgate exits")
        .expect("run tollgate");
        assert!(
            !out.status.success(),
            "tollgate should have refused to start"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Starts the gateway on the config file `config` where it is (paths in it are relative
    /// to its folder), with extra CLI arguments.
    pub async fn start_file(config: &Path, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.arg("run").arg("-c").arg(config).args(args);
        Self::spawn(cmd, dir).await
    }

    /// Starts the built-in demo.
    pub async fn start_demo() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.args(["run", "--listen", "127.0.0.1:0"]);
        Self::spawn(cmd, dir).await
    }

    async fn spawn(mut cmd: Command, dir: tempfile::TempDir) -> Self {
        // One artifact cache for the whole suite: each plugin is compiled once.
        cmd.env("RUST_LOG", "info,tollgate=debug")
            .env(
                "XDG_CACHE_HOME",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn tollgate");
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&logs);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut l = sink.lock().expect("logs");
                l.push_str(&line);
                l.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut urls = Vec::new();
        let mut addrs = Vec::new();
        let mut admin = None;
        let ready = tokio::time::timeout(DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                match v["event"].as_str() {
                    Some("listening") if v["listener"] == "admin" => {
                        admin = v["url"].as_str().map(str::to_owned);
                    }
                    Some("listening") => {
                        urls.push(v["url"].as_str().unwrap_or_default().to_owned());
                        addrs.push(
                            v["address"]
                                .as_str()
                                .unwrap_or_default()
                                .parse()
                                .expect("address"),
                        );
                    }
                    Some("ready") => return true,
                    _ => {}
                }
            }
            false
        })
        .await;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        if ready != Ok(true) {
            let status = child.try_wait().ok().flatten();
            let out = logs.lock().expect("logs").clone();
            panic!("tollgate did not become ready (exit: {status:?}); its log:\n{out}");
        }
        Self {
            child,
            urls,
            addrs,
            admin,
            logs,
            dir,
        }
    }

    /// The URL of the first listener.
    pub fn url(&self) -> &str {
        &self.urls[0]
    }

    /// The admin API's URL.
    pub fn admin_url(&self) -> &str {
        self.admin.as_deref().expect("the admin API is running")
    }

    /// The Prometheus text of the admin API's `/metrics`.
    pub async fn metrics(&self) -> String {
        super::client()
            .get(format!("{}/metrics", self.admin_url()))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// The config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("gateway.yaml")
    }

    /// Replaces the config file (atomically, by rename, as deploy tools do).
    pub fn write_config(&self, yaml: &str) {
        let tmp = self.dir.path().join(".gateway.yaml.tmp");
        std::fs::write(&tmp, yaml).expect("write config");
        std::fs::rename(&tmp, self.config_path()).expect("rename config");
    }

    /// Everything the process logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Sends a signal (`"HUP"`, `"TERM"`, ...).
    pub fn signal(&self, name: &str) {
        let pid = self.pid();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, with the suite's deadline.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("tollgate did not exit; log:\n{}", self.logs()))
            .expect("wait")
    }

    /// Waits until the log contains `needle` at least `times` times.
    pub async fn wait_log_count(&self, needle: &str, times: usize) {
        let found = poll_until(DEADLINE, || async {
            self.logs().matches(needle).count() >= times
        })
        .await;
        assert!(
            found,
            "log never contained {needle:?} {times} times; log:\n{}",
            self.logs()
        );
    }

    /// Waits until the log contains `needle`.
    pub async fn wait_log(&self, needle: &str) {
        let found = poll_until(DEADLINE, || async { self.logs().contains(needle) }).await;
        assert!(
            found,
            "log never contained {needle:?}; log:\n{}",
            self.logs()
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- tollgate log ----\n{}", self.logs());
        }
        let _ = self.child.start_kill();
    }
}
