//! Running the load generators and reading a process's CPU time.

use std::process::{Command, Stdio};

/// One measured run.
pub struct Sample {
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub cpu_us_per_req: Option<f64>,
    /// Share of one CPU the proxy used during the run (1.0: it was the saturated side).
    pub proxy_share: Option<f64>,
    /// Share of CPU 1 (the backend and the load generator) that was busy.
    pub cpu1_busy: Option<f64>,
}

/// Busy and total ticks of CPU `n` so far, from /proc/stat.
pub fn cpu_busy_ticks(n: usize) -> Result<(u64, u64), String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| e.to_string())?;
    let name = format!("cpu{n}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .ok_or_else(|| format!("no {name} in /proc/stat"))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Ok((total - idle, total))
}

/// The load generator of a setup.
#[derive(Clone)]
pub enum Load {
    /// `wrk -t1 -c64` (HTTP/1.1, plain or TLS), with extra headers; with `post`, a Lua
    /// script (that file) makes every request a POST of a body.
    Wrk {
        url: String,
        headers: Vec<String>,
        post: Option<std::path::PathBuf>,
    },
    /// `h2load -t1 -c64 -m10` (HTTP/2 over TLS).
    H2load { url: String },
}

/// utime + stime of a process, in clock ticks (1/100 s).
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("bad stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).ok_or("utime")?;
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).ok_or("stime")?;
    Ok(utime + stime)
}

fn parse_ms(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Some(x) = v.strip_suffix("us") {
        x.parse::<f64>().ok().map(|x| x / 1000.0)
    } else if let Some(x) = v.strip_suffix("ms") {
        x.parse().ok()
    } else if let Some(x) = v.strip_suffix('s') {
        x.parse::<f64>().ok().map(|x| x * 1000.0)
    } else {
        None
    }
}

/// Runs `load` for `seconds` on CPU 1, measuring the CPU of `pid` meanwhile.
pub fn run(load: &Load, seconds: u64, pid: Option<u32>) -> Result<Sample, String> {
    let before = pid.map(cpu_ticks).transpose()?;
    let cpu1_before = cpu_busy_ticks(1).ok();
    let started = std::time::Instant::now();
    let (text, requests, rps, p50, p99) = match load {
        Load::Wrk { url, headers, post } => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "1", "wrk", "-t1", "-c64", "--latency"])
                .arg(format!("-d{seconds}s"));
            if let Some(script) = post {
                cmd.arg("-s").arg(script);
            }
            for h in headers {
                cmd.args(["-H", h]);
            }
            let out = cmd.arg(url).output().map_err(|e| format!("wrk: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("Non-2xx") || text.contains("Socket errors") {
                return Err(format!("{url}: wrk saw errors:\n{text}"));
            }
            let mut rps = None;
            let mut requests = None;
            let (mut p50, mut p99) = (None, None);
            for line in text.lines() {
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("Requests/sec:"), Some(v)) => rps = v.parse::<f64>().ok(),
                    (Some("50%"), Some(v)) => p50 = parse_ms(v),
                    (Some("99%"), Some(v)) => p99 = parse_ms(v),
                    (Some(n), Some("requests")) => requests = n.parse::<f64>().ok(),
                    _ => {}
                }
            }
            (text, requests, rps, p50, p99)
        }
        Load::H2load { url } => {
            let out = Command::new("taskset")
                .args(["-c", "1", "h2load", "-t1", "-c64", "-m10"])
                .arg(format!("-D{seconds}"))
                .arg(url)
                .output()
                .map_err(|e| format!("h2load: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut rps = None;
            let mut requests = None;
            for line in text.lines() {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix("finished in ") {
                    rps = rest
                        .split(", ")
                        .nth(1)
                        .and_then(|v| v.strip_suffix(" req/s"))
                        .and_then(|v| v.parse::<f64>().ok());
                }
                if let Some(rest) = line.strip_prefix("requests: ") {
                    let succeeded = rest
                        .split(", ")
                        .find_map(|p| p.strip_suffix(" succeeded"))
                        .and_then(|v| v.parse::<f64>().ok());
                    let total = rest.split(' ').next().and_then(|v| v.parse::<f64>().ok());
                    if succeeded != total {
                        return Err(format!("{url}: h2load saw failures:\n{text}"));
                    }
                    requests = succeeded;
                }
            }
            (text, requests, rps, None, None)
        }
    };
    let after = pid.map(cpu_ticks).transpose()?;
    let elapsed_ticks = started.elapsed().as_secs_f64() * 100.0;
    let cpu1_busy = match (cpu1_before, cpu_busy_ticks(1).ok()) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => Some((b1 - b0) as f64 / (t1 - t0) as f64),
        _ => None,
    };
    let proxy_share = match (before, after) {
        (Some(b), Some(a)) if elapsed_ticks > 0.0 => Some((a - b) as f64 / elapsed_ticks),
        _ => None,
    };
    let requests =
        requests.ok_or_else(|| format!("cannot read the load generator's output:\n{text}"))?;
    let cpu_us_per_req = match (before, after) {
        (Some(b), Some(a)) => Some((a - b) as f64 * 10_000.0 / requests),
        _ => None,
    };
    Ok(Sample {
        rps: rps.ok_or_else(|| format!("no request rate in:\n{text}"))?,
        p50_ms: p50,
        p99_ms: p99,
        cpu_us_per_req,
        proxy_share,
        cpu1_busy,
    })
}

/// Whether `tool` is on PATH.
pub fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Debian packages the benchmark uses, each with the file that shows it is installed.
const PACKAGES: &[(&str, &str)] = &[
    ("wrk", "/usr/bin/wrk"),
    ("util-linux", "/usr/bin/taskset"),
    ("nginx-light", "/usr/sbin/nginx"),
    (
        "libnginx-mod-http-lua",
        "/usr/lib/nginx/modules/ngx_http_lua_module.so",
    ),
    ("haproxy", "/usr/sbin/haproxy"),
    ("nghttp2-client", "/usr/bin/h2load"),
    ("redis-server", "/usr/bin/redis-server"),
];

/// Installs the missing packages with apt-get when running as root (`LOAD_NO_INSTALL=1`
/// turns this off). Failures are reported and the scenarios that need the package are
/// then skipped, so a machine without network still runs what it can.
pub fn install_missing() {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, file)| !std::path::Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() || std::env::var_os("LOAD_NO_INSTALL").is_some() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root || !installed("apt-get") {
        eprintln!(
            "missing packages (not root or no apt-get): {}",
            missing.join(" ")
        );
        return;
    }
    eprintln!("installing {}", missing.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    let ok = apt(&install) || (apt(&["update"]) && apt(&install));
    if !ok {
        eprintln!("apt-get could not install {}", missing.join(" "));
    }
}

/// Writes a wrk script POSTing `body` as JSON to `path`.
pub fn post_script(path: &std::path::Path, body: &str) -> Result<(), String> {
    let quoted: String = body
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c => vec![c],
        })
        .collect();
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = \"{quoted}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    std::fs::write(path, script).map_err(|e| e.to_string())
}
