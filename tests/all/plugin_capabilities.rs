//! Host capabilities granted in config: the per-plugin cache (shared by instances, with
//! TTL), counters and token buckets, metrics at the admin API, and outbound HTTP bounded
//! by an allow-list and the plugin's deadline.

use crate::support::{
    Backend, DEADLINE, FetchJson, Gateway, client, one_plugin_config, poll_until,
};

/// One plugin `p` with `extra` YAML lines, fresh instance per request (so anything shared
/// is shared by the host, not kept in one instance), and the admin API.
fn config(backend: &Backend, extra: &str) -> String {
    let plugin = format!("    on_request: [meter, transform]\n    isolation: request\n{extra}");
    one_plugin_config(backend, "admin: { address: \"127.0.0.1:0\" }", &plugin)
}

#[tokio::test]
async fn the_cache_is_shared_by_instances_and_expires() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(
        &backend,
        "    capabilities: [cache]\n    config: { cache_ops: true }",
    ))
    .await;
    let c = client();
    let url = format!("{}/x", gw.url());
    let v = c.get(&url).header("x-cache-set", "k=v1").fetch_json().await;
    assert!(v["headers"]["x-cache-error"].is_null(), "{v}");
    let v = c.get(&url).header("x-cache-get", "k").fetch_json().await;
    assert_eq!(
        v["headers"]["x-cache-value"], "v1",
        "another instance sees it"
    );
    let v = c
        .get(&url)
        .header("x-cache-set", "short=v2;100")
        .header("x-cache-get", "short")
        .fetch_json()
        .await;
    assert_eq!(v["headers"]["x-cache-value"], "v2");
    let expired = poll_until(DEADLINE, || async {
        let v = c
            .get(&url)
            .header("x-cache-get", "short")
            .fetch_json()
            .await;
        v["headers"]["x-cache-value"] == "(none)"
    })
    .await;
    assert!(expired, "the entry outlived its TTL");
}

#[tokio::test]
async fn counters_buckets_and_metrics() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(
        &backend,
        "    capabilities: [state, metrics]\n    config: { counter: true, metric: true, bucket: [2, 0.001] }",
    ))
    .await;
    let c = client();
    let url = format!("{}/counted", gw.url());
    let v = c.get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-count"], "1");
    assert_eq!(v["headers"]["x-remaining"], "1");
    assert_eq!(v["headers"]["x-metric"], "ok");
    let v = c.get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-count"], "2");
    let r = c.get(&url).send().await.expect("req");
    assert_eq!(r.status(), 429, "the bucket of 2 is empty");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(
        retry > 100,
        "refilling one token at 0.001/s takes long: {retry}"
    );
    assert_eq!(backend.hits(), 2);

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"tollgate_plugin_requests{plugin="p",path="/counted"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn outbound_http_reaches_only_allowed_hosts() {
    let backend = Backend::start("b").await;
    let other = Backend::start("idp").await;
    let allowed = format!(
        "    capabilities: [http]\n    http: {{ allow: [\"{}\"] }}\n    config: {{ fetch: \"{}/token?x=1\" }}",
        other.url().trim_start_matches("http://"),
        other.url()
    );
    let gw = Gateway::start(&config(&backend, &allowed)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    let fetched = v["headers"]["x-fetch"].as_str().unwrap_or_default();
    assert!(fetched.starts_with("200 "), "{fetched}");
    assert!(fetched.contains(r#""backend":"idp""#), "{fetched}");
    assert!(fetched.contains(r#""x-from":"test-filter""#), "{fetched}");
    assert_eq!(other.hits(), 1);
    drop(gw);

    // Same port, another host name: refused before any connection.
    let elsewhere = allowed.replace(
        "config: { fetch: \"http://127.0.0.1",
        "config: { fetch: \"http://localhost",
    );
    let gw = Gateway::start(&config(&backend, &elsewhere)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    let fetched = v["headers"]["x-fetch"].as_str().unwrap_or_default();
    assert!(
        fetched.contains("is not in this plugin's http allow-list"),
        "{fetched}"
    );
    assert_eq!(other.hits(), 1);
    drop(gw);

    // Not granted: an error to the plugin.
    let denied = format!("    config: {{ fetch: \"{}/\" }}", other.url());
    let gw = Gateway::start(&config(&backend, &denied)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(
        v["headers"]["x-fetch"],
        "error: capability `http` is not granted to this plugin"
    );
}

/// `wasi:http`, as plugins from other toolchains make requests (componentize-js's
/// `fetch()`): the same `http` grant decides, and the same response cap holds.
#[tokio::test]
async fn wasi_http_requests_pass_the_http_capability() {
    let backend = Backend::start("b").await;
    let other = Backend::start("idp").await;
    let authority = other.url().trim_start_matches("http://").to_owned();
    let allowed = format!(
        "    capabilities: [http]\n    http: {{ allow: [\"{authority}\"] }}\n    config: {{ wasi_fetch: \"{}/token?x=1\" }}",
        other.url()
    );
    let gw = Gateway::start(&config(&backend, &allowed)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    let fetched = v["headers"]["x-wasi-fetch"].as_str().unwrap_or_default();
    assert!(fetched.starts_with("200 "), "{fetched}");
    assert!(fetched.contains(r#""backend":"idp""#), "{fetched}");
    assert!(fetched.contains(r#""path":"/token""#), "{fetched}");
    assert_eq!(other.hits(), 1);
    drop(gw);

    // A response over the grant's cap fails the body read.
    let capped = allowed.replace("http: { allow:", "http: { max_response: 16, allow:");
    let gw = Gateway::start(&config(&backend, &capped)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    let fetched = v["headers"]["x-wasi-fetch"].as_str().unwrap_or_default();
    assert!(fetched.starts_with("error: body"), "{fetched}");
    assert_eq!(other.hits(), 2);
    drop(gw);

    // Another host on the same port: refused before any connection.
    let elsewhere = allowed.replace(
        "wasi_fetch: \"http://127.0.0.1",
        "wasi_fetch: \"http://localhost",
    );
    let gw = Gateway::start(&config(&backend, &elsewhere)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(
        v["headers"]["x-wasi-fetch"],
        "error: ErrorCode::HttpRequestDenied"
    );
    drop(gw);

    // Not granted: refused too.
    let denied = format!("    config: {{ wasi_fetch: \"{}/\" }}", other.url());
    let gw = Gateway::start(&config(&backend, &denied)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(
        v["headers"]["x-wasi-fetch"],
        "error: ErrorCode::HttpRequestDenied"
    );
    assert_eq!(other.hits(), 2);
}

#[tokio::test]
async fn a_slow_outbound_call_is_cut_at_the_plugin_deadline() {
    let backend = Backend::start("b").await;
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let extra = format!(
        "    deadline: 300ms\n    capabilities: [http]\n    http: {{ allow: [\"{silent}\"], timeout: 10s }}\n    config: {{ fetch: \"http://{silent}/\" }}"
    );
    let gw = Gateway::start(&config(&backend, &extra)).await;
    let r = client()
        .get(format!("{}/x", gw.url()))
        .send()
        .await
        .expect("req");
    // The host call ends at the deadline and the plugin, back in wasm past its deadline,
    // is interrupted: the call fails like any other overrun.
    let status = r.status();
    assert_eq!(status, 500, "{}", r.text().await.unwrap_or_default());
    gw.wait_log("deadline of 300ms exceeded").await;
    assert_eq!(backend.hits(), 0);
    hold.abort();
}

/// A `wasi:http` response whose body stalls: the guest waits on it in a host call, where
/// the epoch deadline cannot stop it, so the body itself ends at the plugin's deadline.
#[tokio::test]
async fn a_stalled_wasi_http_body_ends_at_the_plugin_deadline() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let backend = Backend::start("b").await;
    // Reads the request head, answers the head and 5 of the 100 bytes it announces, then
    // holds the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let stalling = listener.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello")
                .await;
            held.push(tcp);
        }
    });
    let extra = format!(
        "    deadline: 300ms\n    capabilities: [http]\n    http: {{ allow: [\"{stalling}\"], timeout: 10s }}\n    config: {{ wasi_fetch: \"http://{stalling}/\" }}"
    );
    let gw = Gateway::start(&config(&backend, &extra)).await;
    let r = client()
        .get(format!("{}/x", gw.url()))
        // Without the deadline on the body, the call would wait for ever.
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .expect("req");
    // The read fails at the deadline with `HTTP-response-timeout`. The plugin, back in wasm
    // past its deadline, either reports it before the next epoch check or is interrupted.
    if r.status() == 200 {
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(
            v["headers"]["x-wasi-fetch"],
            "error: body: HTTP response timeout"
        );
    } else {
        assert_eq!(r.status(), 500);
        gw.wait_log("deadline of 300ms exceeded").await;
    }
    hold.abort();
}
