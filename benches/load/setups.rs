//! The proxies under test, each one process pinned to CPU 0 serving every scenario of its
//! kind on its own ports: Tollgate, nginx (with the Lua module when installed) and HAProxy,
//! with equivalent settings (upstream keep-alive, one worker, no access log).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
pub struct Proc {
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Waits until `port` accepts connections.
pub fn wait_ready(port: u16) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{addr} did not start listening"))
}

fn spawn_pinned(program: &str, args: &[&str]) -> Result<Proc, String> {
    spawn_on("0", program, args)
}

fn spawn_on(cpu: &str, program: &str, args: &[&str]) -> Result<Proc, String> {
    let child = Command::new("taskset")
        .args(["-c", cpu, program])
        .args(args)
        .env("RUST_LOG", "warn,rustls=error")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    Ok(Proc { child })
}

/// A running proxy and its ports.
pub struct Proxy {
    pub proc_: Proc,
    pub plain: u16,
    pub tls: u16,
    /// nginx: the port of the Lua server, when the module is installed.
    pub lua: Option<u16>,
}

/// The test keys the JWT scenarios sign and verify with.
pub const JWT_KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

/// A token valid for a day, signed with the fixture key `kid` (`ec256` or `rsa`).
pub fn jwt(kid: &str, alg: jsonwebtoken::Algorithm) -> Result<String, String> {
    let pem = std::fs::read(format!("{JWT_KEYS}/{kid}.pem")).map_err(|e| e.to_string())?;
    let key = match alg {
        jsonwebtoken::Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(&pem),
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(&pem),
    }
    .map_err(|e| e.to_string())?;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs()
        + 86_400;
    let claims = serde_json::json!({ "sub": "bench", "exp": exp });
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).map_err(|e| e.to_string())
}

/// The `plugins:` entries of the default chain (`jwt-es-cached`, `limiter`, `tx-headers`,
/// `cors`), shared with the drills benchmark and the memory drill.
pub fn default_chain() -> String {
    include_str!("../../tests/fixtures/default-chain.yaml").replace("{keys}", JWT_KEYS)
}

/// A 1 KB JSON order, the body of the body-mapping rows.
pub fn order_json() -> String {
    let items: Vec<String> = (0..14)
        .map(|i| {
            format!(
                r#"{{"sku":"SKU-{i:04}","qty":{i},"price":{}.99,"note":"gift wrap"}}"#,
                i * 3
            )
        })
        .collect();
    format!(
        r#"{{"id":"ord-0001","customer":{{"id":"c-42","name":"Zoë Example","email":"zoe@example.com"}},"items":[{}]}}"#,
        items.join(",")
    )
}

/// Tollgate: `/{proxy+}` proxied; `/trivial/...` through one built-in `headers` plugin;
/// `/token/...` through a plugin checking `x-token` and setting a response header (what
/// the nginx Lua reference does); `/jwt-es/...` and `/jwt-rs/...` through `jwt-auth` with
/// an ES256 or RS256 key, verifying every request; `/jwt-es-cached/...` with the
/// verified-token cache on (the default); `/rl/...` through `rate-limit` (by client IP,
/// never refusing); `/key/...` through `api-key`, and `/plan/...` through `api-key` and a
/// usage plan (throttle and daily quota, never refusing); `/tx-headers/...` through a
/// header-only `transform` both ways, `/tx-body/...` through a JSON body mapping, and
/// `/chain/...` through the default chain (jwt-auth, rate-limit, transform, cors). With `redis` (a port), the
/// state store is that Redis server. `telemetry` is a top-level `telemetry:` section, or
/// empty.
pub fn tollgate(
    binary: &str,
    dir: &Path,
    name: &str,
    backend: SocketAddr,
    token_plugin: &str,
    redis: Option<u16>,
    telemetry: &str,
) -> Result<Proxy, String> {
    let (plain, tls) = (free_port(), free_port());
    let d = dir.display();
    let keys = JWT_KEYS;
    let chain = default_chain();
    let state = redis.map_or(String::new(), |p| {
        format!("state: {{ redis: {{ url: \"redis://127.0.0.1:{p}/0\" }} }}")
    });
    let cfg = format!(
        r#"version: 1
{state}
{telemetry}
usage_plans:
  bench:
    apis: [metered]
    consumers: [bench]
    throttle: {{ rate: 1000000000, burst: 1000000000 }}
    quota: {{ limit: 1000000000000, period: DAY }}
listeners:
  - {{ address: "127.0.0.1:{plain}" }}
  - {{ address: "127.0.0.1:{tls}", tls: {{ cert: "{d}/cert.pem", key: "{d}/key.pem" }} }}
plugin_runtime: {{ artifact_cache: "{d}/artifacts" }}
upstreams:
  backend: {{ targets: ["http://{backend}"] }}
plugins:
{chain}
  trivial:
    builtin: headers
    on_response: [configure]
    config: {{ response: {{ set: {{ x-served-by: tollgate }} }} }}
  token:
    path: "{token_plugin}"
    on_request: [authorize]
    on_response: [configure]
    config: {{ require_header: x-token, response_header: [x-served-by, tollgate] }}
  jwt-es:
    builtin: jwt-auth
    capabilities: [jwt]
    on_request: [authorize]
    config: {{ public_keys: {{ $file: "{keys}/ec256.pub.pem" }}, algorithms: [ES256], token_cache_ttl: 0s }}
  jwt-rs:
    builtin: jwt-auth
    capabilities: [jwt]
    on_request: [authorize]
    config: {{ public_keys: {{ $file: "{keys}/rsa.pub.pem" }}, algorithms: [RS256], token_cache_ttl: 0s }}
  keys:
    builtin: api-key
    config: {{ keys: [{{ consumer: bench, key: bench-key-0123456789 }}] }}
  tx-body:
    builtin: transform
    on_request: [transform]
    config:
      request:
        body:
          template: {{ order: "$request.body.id", customer: "$request.body.customer", lines: "$request.body.items", via: "$context.stage" }}
apis:
  - name: metered
    kind: http
    base_path: /plan
    plugins: [keys]
    routes:
      - path: /{{proxy+}}
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
  - name: bench
    kind: http
    routes:
      - path: /
        integration: {{ type: http, upstream: backend }}
      - path: /{{proxy+}}
        integration: {{ type: http, upstream: backend }}
      - path: /trivial/{{proxy+}}
        plugins: [trivial]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /token/{{proxy+}}
        plugins: [token]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /jwt-es/{{proxy+}}
        plugins: [jwt-es]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /jwt-es-cached/{{proxy+}}
        plugins: [jwt-es-cached]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /jwt-rs/{{proxy+}}
        plugins: [jwt-rs]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /rl/{{proxy+}}
        plugins: [limiter]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /key/{{proxy+}}
        plugins: [keys]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /tx-headers/{{proxy+}}
        plugins: [tx-headers]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /tx-body/{{proxy+}}
        plugins: [tx-body]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
      - path: /chain/{{proxy+}}
        plugins: [jwt-es-cached, limiter, tx-headers, cors]
        integration: {{ type: http, upstream: backend, path: "/{{proxy}}" }}
"#
    );
    start(binary, dir, name, &cfg, (plain, tls))
}

/// A Tollgate process serving only `routes` (YAML list items of one HTTP API) with
/// `plugins` (YAML entries of `plugins:`), on plain and TLS ports like [`tollgate`], with
/// the default artifact cache (where `tollgate plugin test` left the plugins compiled).
pub fn tollgate_with(
    binary: &str,
    dir: &Path,
    name: &str,
    backend: SocketAddr,
    plugins: &str,
    routes: &str,
) -> Result<Proxy, String> {
    let (plain, tls) = (free_port(), free_port());
    let d = dir.display();
    let cfg = format!(
        r#"version: 1
listeners:
  - {{ address: "127.0.0.1:{plain}" }}
  - {{ address: "127.0.0.1:{tls}", tls: {{ cert: "{d}/cert.pem", key: "{d}/key.pem" }} }}
upstreams:
  backend: {{ targets: ["http://{backend}"] }}
plugins:
{plugins}
apis:
  - name: bench
    kind: http
    routes:
{routes}
"#
    );
    start(binary, dir, name, &cfg, (plain, tls))
}

/// Writes `cfg` as `<name>.yaml` in `dir` and runs Tollgate on it, pinned to CPU 0.
fn start(
    binary: &str,
    dir: &Path,
    name: &str,
    cfg: &str,
    (plain, tls): (u16, u16),
) -> Result<Proxy, String> {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
    let path = path.display().to_string();
    let proc_ = spawn_pinned(binary, &["run", "--no-watch", "-c", &path])?;
    Ok(Proxy {
        proc_,
        plain,
        tls,
        lua: None,
    })
}

/// `redis-server` on a free port, without persistence, on CPU 1 (with the backend and the
/// load generator: its CPU is not counted as the proxy's).
pub fn redis() -> Result<(Proc, u16), String> {
    let port = free_port();
    let child = Command::new("taskset")
        .args(["-c", "1", "redis-server", "--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))?;
    let proc_ = Proc { child };
    wait_ready(port)?;
    Ok((proc_, port))
}

/// nginx: `proxy_pass` with upstream keep-alive (`proxy_http_version 1.1`, empty
/// `Connection`, raised `keepalive_requests`); TLS with HTTP/2; with the Lua module, a
/// server whose access phase checks `x-token` and whose header filter sets a header.
/// The backend every proxy forwards to: nginx answering 200 "hello" (`return`), one worker
/// on CPU 1 (with the load generator), keep-alive without a request limit. It is cheaper
/// per request than any proxy under test, so the proxy, not the backend, is what saturates.
pub fn nginx_backend(dir: &Path) -> Result<(Proc, SocketAddr), String> {
    let port = free_port();
    let d = dir.display();
    let cfg = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/backend.pid;
error_log stderr error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} reuseport;
    keepalive_requests 1000000;
    location / {{ return 200 "hello"; }}
  }}
}}
"#
    );
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("backend.conf");
    std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
    let prefix = d.to_string();
    let path = path.display().to_string();
    let proc_ = spawn_on("1", "nginx", &["-p", &prefix, "-c", &path])?;
    wait_ready(port)?;
    Ok((proc_, SocketAddr::from(([127, 0, 0, 1], port))))
}

pub fn nginx(dir: &Path, backend: SocketAddr) -> Result<Proxy, String> {
    let (plain, tls, lua_port) = (free_port(), free_port(), free_port());
    let d = dir.display();
    let lua_module = Path::new("/usr/lib/nginx/modules/ngx_http_lua_module.so").exists();
    let (modules, lua_server) = if lua_module {
        (
            "load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_lua_module.so;\n".to_owned(),
            format!(
                r#"  server {{
    listen 127.0.0.1:{lua_port};
    keepalive_requests 1000000;
    location / {{
      access_by_lua_block {{ if ngx.var.http_x_token == nil then return ngx.exit(401) end }}
      header_filter_by_lua_block {{ ngx.header["x-served-by"] = "nginx" }}
      proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
    }}
  }}
"#
            ),
        )
    } else {
        (String::new(), String::new())
    };
    let cfg = format!(
        r#"{modules}daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr error;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  upstream backend {{ server {backend}; keepalive 128; keepalive_requests 1000000; }}
  server {{
    listen 127.0.0.1:{plain};
    keepalive_requests 1000000;
    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
  server {{
    listen 127.0.0.1:{tls} ssl http2;
    ssl_certificate {d}/cert.pem;
    ssl_certificate_key {d}/key.pem;
    keepalive_requests 1000000;
    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
{lua_server}}}
"#
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
    let prefix = d.to_string();
    let path = path.display().to_string();
    let proc_ = spawn_pinned("nginx", &["-p", &prefix, "-c", &path])?;
    Ok(Proxy {
        proc_,
        plain,
        tls,
        lua: lua_module.then_some(lua_port),
    })
}

/// HAProxy: one thread, server-side keep-alive (`http-reuse always`), TLS with ALPN h2.
pub fn haproxy(dir: &Path, backend: SocketAddr) -> Result<Proxy, String> {
    let (plain, tls) = (free_port(), free_port());
    let d = dir.display();
    let cfg = format!(
        r#"global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend plain
  bind 127.0.0.1:{plain}
  default_backend be
frontend tls
  bind 127.0.0.1:{tls} ssl crt {d}/combined.pem alpn h2,http/1.1
  default_backend be
backend be
  server s1 {backend}
"#
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
    let path = path.display().to_string();
    let proc_ = spawn_pinned("haproxy", &["-db", "-f", &path])?;
    Ok(Proxy {
        proc_,
        plain,
        tls,
        lua: None,
    })
}

/// A self-signed certificate for 127.0.0.1: `cert.pem`, `key.pem` and (for HAProxy)
/// `combined.pem`.
pub fn certificate(dir: &Path) -> Result<(), String> {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| e.to_string())?;
    let (cert, key) = (ck.cert.pem(), ck.signing_key.serialize_pem());
    std::fs::write(dir.join("cert.pem"), &cert).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("key.pem"), &key).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("combined.pem"), format!("{cert}{key}")).map_err(|e| e.to_string())
}
