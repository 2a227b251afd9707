//! Load benchmark: Tollgate against nginx and HAProxy (and nginx + Lua, how OpenResty-based
//! gateways run plugins), in the same run, interleaved rounds. `cargo bench --bench load`
//! (uses `wrk`, `h2load`, `nginx`, `haproxy`, installed with apt-get when missing and
//! running as root; `LOAD_ROUNDS`, `LOAD_SECONDS` override 5 rounds of 10 s; `LOAD_ONLY`,
//! a comma-separated list of name parts, keeps the matching rows and their baselines). Scenarios
//! whose tools or parts are still missing are skipped with a line saying so.
//! `LOAD_TOLLGATE=PATH` measures another build of the gateway; `LOAD_AB=PATH` measures a
//! second build in the same rounds and prints the A/B table of the two instead (for a
//! change on the request path: `cargo bench --profile profiling --bench load` with
//! `LOAD_AB` naming the previous commit's binary).
//!
//! The proxies are pinned to CPU 0; the backend and the load generator share CPU 1. For
//! each run the proxy's CPU time (utime + stime from /proc) is divided by the requests
//! counted: CPU µs per request is the headline figure, since this machine's clock speed
//! drifts and only ratios within a round mean much.

mod ab;
mod backend;
mod languages;
mod setups;
mod tools;

use setups::Proxy;
use tools::{Load, Sample};

fn main() {
    if backend::side_job() {
        return;
    }
    if let Err(e) = run() {
        eprintln!("load benchmark: {e}");
        std::process::exit(1);
    }
}

/// The rows whose names contain one of the comma-separated `patterns`, with the rows they
/// are compared against (all rows without patterns).
fn only(rows: Vec<Setup>, patterns: Option<&str>) -> Vec<Setup> {
    let Some(patterns) = patterns.filter(|p| !p.trim().is_empty()) else {
        return rows;
    };
    let mut keep: Vec<bool> = rows
        .iter()
        .map(|r| patterns.split(',').any(|p| r.name.contains(p.trim())))
        .collect();
    for i in (0..rows.len()).rev() {
        let mut at = i;
        while keep[at]
            && let Some(b) = rows[at].baseline
            && !keep[b]
        {
            keep[b] = true;
            at = b;
        }
    }
    let new_index: Vec<Option<usize>> = keep
        .iter()
        .scan(0, |n, k| {
            let i = k.then_some(*n);
            *n += usize::from(*k);
            Some(i)
        })
        .collect();
    rows.into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(mut r, _)| {
            r.baseline = r.baseline.and_then(|b| new_index[b]);
            r
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One row of the table.
struct Setup {
    name: String,
    load: Load,
    /// The proxy whose CPU is measured (`None`: the backend alone).
    proxy: Option<usize>,
    /// The row this one's CPU per request is compared with, in the same round.
    baseline: Option<usize>,
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wrk(port: u16, scheme: &str, path: &str, headers: &[&str]) -> Load {
    Load::Wrk {
        url: format!("{scheme}://127.0.0.1:{port}{path}"),
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        post: None,
    }
}

/// A plain-HTTP wrk load POSTing the JSON body in the script `post`.
fn wrk_post(port: u16, path: &str, headers: &[&str], post: &std::path::Path) -> Load {
    Load::Wrk {
        url: format!("http://127.0.0.1:{port}{path}"),
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        post: Some(post.to_owned()),
    }
}

fn run() -> Result<(), String> {
    let rounds = usize::try_from(env_or("LOAD_ROUNDS", 5)).unwrap_or(5);
    let seconds = env_or("LOAD_SECONDS", 10);
    tools::install_missing();
    for tool in ["wrk", "taskset"] {
        if !tools::installed(tool) {
            return Err(format!(
                "`{tool}` is not installed (apt-get install wrk util-linux)"
            ));
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    setups::certificate(dir.path())?;
    // nginx `return 200` as the backend when nginx is there (cheaper per request than any
    // proxy under test), else this binary's own one-thread hyper server.
    let (_backend, backend, backend_kind) = if tools::installed("nginx") {
        let (p, a) = setups::nginx_backend(&dir.path().join("backend"))?;
        (p, a, "nginx `return 200`")
    } else {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let (p, a) = backend::start(&me)?;
        (p, a, "a one-thread hyper server")
    };

    let mut skipped: Vec<String> = vec![];
    let mut proxies: Vec<(&str, Proxy)> = Vec::new();
    // The gateway under test (`LOAD_TOLLGATE` names another build of it), and with
    // `LOAD_AB` a second build measured in the same rounds: the table then compares the
    // two, setup by setup (an A/B of a change against the previous commit).
    let binary = std::env::var("LOAD_TOLLGATE")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_tollgate").to_owned());
    let ab = std::env::var("LOAD_AB").ok().filter(|p| !p.is_empty());
    if let Some(base) = &ab {
        proxies.push((
            "tollgate-base",
            setups::tollgate(
                base,
                dir.path(),
                "tollgate-base",
                backend,
                tollgate_test_artifacts::TEST_FILTER,
                None,
                "",
            )?,
        ));
    }
    let nginx_dir = dir.path().join("nginx");
    let haproxy_dir = dir.path().join("haproxy");
    for d in [&nginx_dir, &haproxy_dir] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        for f in ["cert.pem", "key.pem", "combined.pem"] {
            std::fs::copy(dir.path().join(f), d.join(f)).map_err(|e| e.to_string())?;
        }
    }
    proxies.push((
        "tollgate",
        setups::tollgate(
            &binary,
            dir.path(),
            "tollgate",
            backend,
            tollgate_test_artifacts::TEST_FILTER,
            None,
            "",
        )?,
    ));
    // The plugin of `tollgate plugin new` in each language, when its rows are wanted.
    let only_rows = std::env::var("LOAD_ONLY")
        .ok()
        .filter(|o| !o.trim().is_empty());
    if only_rows.as_deref().is_none_or(|o| o.contains("language")) {
        let (built, why) = languages::build(&binary, dir.path());
        skipped.extend(why);
        if !built.is_empty() {
            proxies.push((
                "tollgate-languages",
                languages::tollgate(&binary, dir.path(), backend, &built)?,
            ));
        }
    }
    // The same gateway exporting traces (OTLP/HTTP to the backend, which answers 200 to
    // anything), sampling 1 % and 100 % of new traces.
    for (name, sampling) in [
        ("tollgate-trace-0.01", "0.01"),
        ("tollgate-trace-1.0", "1.0"),
    ] {
        let telemetry = format!(
            "telemetry: {{ tracing: {{ endpoint: \"http://{backend}/v1/traces\", protocol: http/protobuf, sampling: {sampling} }} }}"
        );
        proxies.push((
            name,
            setups::tollgate(
                &binary,
                dir.path(),
                name,
                backend,
                tollgate_test_artifacts::TEST_FILTER,
                None,
                &telemetry,
            )?,
        ));
    }
    let _redis = if tools::installed("redis-server") {
        let (redis, port) = setups::redis()?;
        proxies.push((
            "tollgate-redis",
            setups::tollgate(
                &binary,
                dir.path(),
                "tollgate-redis",
                backend,
                tollgate_test_artifacts::TEST_FILTER,
                Some(port),
                "",
            )?,
        ));
        Some(redis)
    } else {
        skipped.push(
            "Redis-backed limits: redis-server not installed (apt-get install redis-server)".into(),
        );
        None
    };
    if tools::installed("nginx") {
        proxies.push(("nginx", setups::nginx(&nginx_dir, backend)?));
    } else {
        skipped.push("nginx: not installed (apt-get install nginx-light)".into());
    }
    if tools::installed("haproxy") {
        proxies.push(("haproxy", setups::haproxy(&haproxy_dir, backend)?));
    } else {
        skipped.push("HAProxy: not installed (apt-get install haproxy)".into());
    }
    for (_, p) in &proxies {
        setups::wait_ready(p.plain)?;
        setups::wait_ready(p.tls)?;
        if let Some(l) = p.lua {
            setups::wait_ready(l)?;
        }
    }
    let find = |name: &str| proxies.iter().position(|(n, _)| *n == name);
    let (tg, nx, hp) = (find("tollgate"), find("nginx"), find("haproxy"));
    let tgr = find("tollgate-redis");
    let h2 = tools::installed("h2load");
    if !h2 {
        skipped.push("HTTP/2: h2load not installed (apt-get install nghttp2-client)".into());
    }

    let mut rows: Vec<Setup> = vec![Setup {
        name: "backend alone".into(),
        load: wrk(backend.port(), "http", "/", &[]),
        proxy: None,
        baseline: None,
    }];
    // Rows are listed by hand so that each names its baseline row by index.
    let port = |i: Option<usize>, f: fn(&Proxy) -> u16| i.map(|i| f(&proxies[i].1));
    let mut push =
        |name: &str, proxy: Option<usize>, load: Option<Load>, baseline: Option<usize>| {
            if let (Some(proxy), Some(load)) = (proxy, load) {
                rows.push(Setup {
                    name: name.to_owned(),
                    load,
                    proxy: Some(proxy),
                    baseline,
                });
                Some(rows.len() - 1)
            } else {
                None
            }
        };
    let nginx_plain = push(
        "nginx",
        nx,
        port(nx, |p| p.plain).map(|p| wrk(p, "http", "/", &[])),
        None,
    );
    let tollgate_plain = push(
        "tollgate",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/", &[])),
        nginx_plain,
    );
    push(
        "haproxy",
        hp,
        port(hp, |p| p.plain).map(|p| wrk(p, "http", "/", &[])),
        nginx_plain,
    );
    // Tracing: the plain route with one plugin, so a trace has a server, a plugin and a
    // client span; off (the `tollgate` process) against sampling 0.01 and 1.0.
    let traced = |name| find(name).map(|i| (i, proxies[i].1.plain));
    let trace_off = push(
        "tracing off (headers plugin)",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/trivial/x", &[])),
        None,
    );
    for (row, name) in [
        (
            "tracing sampling 0.01 (headers plugin)",
            "tollgate-trace-0.01",
        ),
        (
            "tracing sampling 1.0 (headers plugin)",
            "tollgate-trace-1.0",
        ),
    ] {
        let t = traced(name);
        push(
            row,
            t.map(|(i, _)| i),
            t.map(|(_, p)| wrk(p, "http", "/trivial/x", &[])),
            trace_off,
        );
    }
    let nginx_tls = push(
        "nginx TLS",
        nx,
        port(nx, |p| p.tls).map(|p| wrk(p, "https", "/", &[])),
        None,
    );
    push(
        "tollgate TLS",
        tg,
        port(tg, |p| p.tls).map(|p| wrk(p, "https", "/", &[])),
        nginx_tls,
    );
    push(
        "haproxy TLS",
        hp,
        port(hp, |p| p.tls).map(|p| wrk(p, "https", "/", &[])),
        nginx_tls,
    );
    if h2 {
        let h2url = |p: u16| Load::H2load {
            url: format!("https://127.0.0.1:{p}/"),
        };
        let haproxy_h2 = push("haproxy h2", hp, port(hp, |p| p.tls).map(h2url), None);
        push(
            "tollgate h2",
            tg,
            port(tg, |p| p.tls).map(h2url),
            haproxy_h2,
        );
        push("nginx h2", nx, port(nx, |p| p.tls).map(h2url), haproxy_h2);
    }
    let lua = nx.and_then(|i| proxies[i].1.lua);
    if lua.is_none() {
        skipped.push("nginx + Lua: libnginx-mod-http-lua not installed".into());
    }
    let nginx_lua = push(
        "nginx + Lua token check",
        nx,
        lua.map(|p| wrk(p, "http", "/", &["x-token: t"])),
        None,
    );
    push(
        "tollgate + headers plugin",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/trivial/x", &[])),
        tollgate_plain,
    );
    push(
        "tollgate + token plugin",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/token/x", &["x-token: t"])),
        nginx_lua,
    );
    let es = format!(
        "authorization: Bearer {}",
        setups::jwt("ec256", jsonwebtoken::Algorithm::ES256)?
    );
    let rs = format!(
        "authorization: Bearer {}",
        setups::jwt("rsa", jsonwebtoken::Algorithm::RS256)?
    );
    push(
        "tollgate + jwt-auth ES256",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/jwt-es/x", &[es.as_str()])),
        tollgate_plain,
    );
    push(
        "tollgate + jwt-auth ES256 cached",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/jwt-es-cached/x", &[es.as_str()])),
        tollgate_plain,
    );
    push(
        "tollgate + jwt-auth RS256",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/jwt-rs/x", &[rs.as_str()])),
        tollgate_plain,
    );

    let key = "x-api-key: bench-key-0123456789";
    let rl_local = push(
        "tollgate + rate-limit",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/rl/x", &[])),
        tollgate_plain,
    );
    push(
        "tollgate + rate-limit on Redis",
        tgr,
        port(tgr, |p| p.plain).map(|p| wrk(p, "http", "/rl/x", &[])),
        rl_local,
    );
    let api_key = push(
        "tollgate + api-key",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/key/x", &[key])),
        tollgate_plain,
    );
    let plan_local = push(
        "tollgate + api-key + usage plan",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/plan/x", &[key])),
        api_key,
    );
    push(
        "tollgate + api-key + usage plan on Redis",
        tgr,
        port(tgr, |p| p.plain).map(|p| wrk(p, "http", "/plan/x", &[key])),
        plan_local,
    );

    push(
        "tollgate + transform (headers)",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/tx-headers/x", &[])),
        tollgate_plain,
    );
    let order = dir.path().join("order.lua");
    tools::post_script(&order, &setups::order_json())?;
    let post_plain = push(
        "tollgate POST 1 KB JSON",
        tg,
        port(tg, |p| p.plain).map(|p| wrk_post(p, "/x", &[], &order)),
        tollgate_plain,
    );
    push(
        "tollgate + transform (1 KB JSON body)",
        tg,
        port(tg, |p| p.plain).map(|p| wrk_post(p, "/tx-body/x", &[], &order)),
        post_plain,
    );
    let origin = "origin: https://app.example.com";
    push(
        "tollgate default chain",
        tg,
        port(tg, |p| p.plain).map(|p| wrk(p, "http", "/chain/x", &[es.as_str(), origin])),
        tollgate_plain,
    );

    let tl = find("tollgate-languages");
    for (lang, prefix) in languages::LANGUAGES {
        let row = format!("tollgate + token plugin in {lang} (language)");
        let path = format!("{prefix}/x");
        push(
            &row,
            tl,
            port(tl, |p| p.plain).map(|p| wrk(p, "http", &path, &[languages::TOKEN])),
            tollgate_plain,
        );
    }
    for (lang, ..) in languages::EMPTY {
        let row = format!("tollgate + empty hooks in {lang} (language)");
        let path = format!("/empty-{lang}/x");
        push(
            &row,
            tl,
            port(tl, |p| p.plain).map(|p| wrk(p, "http", &path, &[])),
            tollgate_plain,
        );
    }

    if ab.is_some() {
        let base = find("tollgate-base");
        rows = ab::rows(&proxies, base, tg, h2);
    }
    let rows = only(rows, std::env::var("LOAD_ONLY").ok().as_deref());
    for row in &rows {
        tools::run(&row.load, 1, None).map_err(|e| format!("{}: {e}", row.name))?;
    }
    let mut samples: Vec<Vec<Sample>> = rows.iter().map(|_| Vec::new()).collect();
    let mut ratios: Vec<Vec<f64>> = rows.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for k in 0..rows.len() {
            let i = (k + round) % rows.len();
            let row = &rows[i];
            let pid = row.proxy.map(|p| proxies[p].1.proc_.child.id());
            let s =
                tools::run(&row.load, seconds, pid).map_err(|e| format!("{}: {e}", row.name))?;
            eprintln!(
                "round {}: {:>28}: {:>9.0} req/s  cpu {}  proxy {}  cpu1 {}",
                round + 1,
                row.name,
                s.rps,
                s.cpu_us_per_req
                    .map_or("-".into(), |c| format!("{c:.1} µs/req")),
                s.proxy_share
                    .map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
                s.cpu1_busy
                    .map_or("-".into(), |c| format!("{:.0}%", c * 100.0)),
            );
            samples[i].push(s);
        }
        for (i, row) in rows.iter().enumerate() {
            if let Some(b) = row.baseline
                && let (Some(x), Some(y)) = (
                    samples[i][round].cpu_us_per_req,
                    samples[b][round].cpu_us_per_req,
                )
            {
                ratios[i].push(x / y);
            }
        }
    }
    println!(
        "\n{rounds} rounds of {seconds} s (wrk -t1 -c64; h2load -t1 -c64 -m10); proxies on CPU 0, backend ({backend_kind}) and load generator on CPU 1\n"
    );
    println!(
        "| setup | req/s (median) | p50 ms | p99 ms | proxy CPU µs/req | CPU/req vs | proxy CPU share | CPU 1 busy |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let ms = |v: Vec<f64>| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.2}", median(v))
        }
    };
    for (i, row) in rows.iter().enumerate() {
        let s = &samples[i];
        let cpu: Vec<f64> = s.iter().filter_map(|x| x.cpu_us_per_req).collect();
        let ratio = match row.baseline {
            Some(b) => format!("{:.2}× {}", median(ratios[i].clone()), rows[b].name),
            None => "-".into(),
        };
        let share: Vec<f64> = s.iter().filter_map(|x| x.proxy_share).collect();
        let cpu1: Vec<f64> = s.iter().filter_map(|x| x.cpu1_busy).collect();
        let pct = |v: Vec<f64>| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.0}%", median(v) * 100.0)
            }
        };
        // A proxy below 90 % of its CPU was not the saturated side: the load generator or
        // the backend (CPU 1) held it back, and its CPU per request is less comparable.
        let flag = if share.is_empty() || median(share.clone()) >= 0.9 {
            ""
        } else {
            " ⚠ proxy not saturated"
        };
        println!(
            "| {}{flag} | {:.0} | {} | {} | {} | {ratio} | {} | {} |",
            row.name,
            median(s.iter().map(|x| x.rps).collect()),
            ms(s.iter().filter_map(|x| x.p50_ms).collect()),
            ms(s.iter().filter_map(|x| x.p99_ms).collect()),
            if cpu.is_empty() {
                "-".into()
            } else {
                format!("{:.1}", median(cpu))
            },
            pct(share),
            pct(cpu1),
        );
    }
    println!();
    for s in skipped {
        println!("skipped: {s}");
    }
    Ok(())
}
