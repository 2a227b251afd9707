//! Plugin runtime micro benchmarks (criterion): `cargo bench --bench plugins`.
//!
//! - `hook/noop_warm`: one response hook of a filter that does nothing, on a warm instance;
//! - `hook/headers_warm`: the same hook reading one header and setting another;
//! - `hook/fresh_pooled` and `hook/fresh_on_demand`: a hook on a fresh instance for every
//!   call (`isolation: request`: instantiate, `init` with the config, the hook), with the
//!   pooling allocator and with on-demand allocation;
//! - `request/plugins_{0,1,4}`: a whole keep-alive HTTP/1.1 request through an in-process
//!   gateway (mock integration) with 0, 1 and 4 trivial plugins in the transform phase;
//! - `request/added_per_plugin`: what one trivial plugin adds to a request, from
//!   alternating requests without and with four plugins.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::plugin::{
    BodySlot, EngineOptions, Grants, Plugin, PluginEngine, PluginSettings, ResponseHandle,
    ResponsePhase, Services, Source,
};
use tollgate::state::StateStore;
use tollgate_test_artifacts::NOOP;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn engine(pooling: bool) -> PluginEngine {
    let services = Services::new(1 << 20, Arc::new(StateStore::default())).expect("services");
    let options = EngineOptions {
        max_instances: 64,
        max_memory: 64 << 20,
        pooling,
    };
    PluginEngine::new(options, Arc::new(services), None).expect("engine")
}

fn settings(config: &str, fresh: bool) -> PluginSettings {
    PluginSettings {
        name: "noop".into(),
        config: config.into(),
        grants: Grants::default(),
        memory: 16 << 20,
        deadline: Duration::from_secs(1),
        instances: 4,
        max_uses: u64::MAX,
        fresh_per_request: fresh,
        source: Source::File(NOOP.into()),
        authorizer: Default::default(),
    }
}

fn response_handle() -> ResponseHandle {
    let (parts, ()) = http::Response::builder()
        .status(200)
        .header("x-in", "value")
        .body(())
        .expect("response")
        .into_parts();
    ResponseHandle::answering(parts, BodySlot::new(tollgate::body::empty(), 0), None)
}

fn hooks(c: &mut Criterion) {
    let rt = runtime();
    let wasm = std::fs::read(NOOP).expect("noop plugin");
    let pooled = engine(true);
    let on_demand = engine(false);
    let load = |engine: &PluginEngine, config: &str, fresh: bool| {
        rt.block_on(Plugin::load(engine, wasm.clone(), settings(config, fresh)))
            .expect("load")
    };
    let cases = [
        ("noop_warm", load(&pooled, "{}", false)),
        (
            "headers_warm",
            load(&pooled, r#"{"touch_headers":true}"#, false),
        ),
        ("fresh_pooled", load(&pooled, "{}", true)),
        ("fresh_on_demand", load(&on_demand, "{}", true)),
    ];
    let mut group = c.benchmark_group("hook");
    for (name, plugin) in &cases {
        group.bench_function(*name, |b| {
            let mut handle = Some(response_handle());
            b.iter(|| {
                let h = handle.take().unwrap_or_else(response_handle);
                let (back, result) = rt.block_on(plugin.on_response(ResponsePhase::Configure, h));
                assert!(result.is_ok());
                handle = back;
            });
        });
    }
    group.finish();
}

/// One gateway with three mock routes: `/p0` without plugins, `/p1` with one trivial
/// plugin in the transform phase, `/p4` with four.
const GATEWAY_YAML: &str = r#"
version: 1
listeners: [{ address: "127.0.0.1:0" }]
plugin_runtime: { artifact_cache: "off" }
plugins:
  a: { path: "NOOP", on_request: [transform] }
  b: { path: "NOOP", on_request: [transform] }
  c: { path: "NOOP", on_request: [transform] }
  d: { path: "NOOP", on_request: [transform] }
apis:
  - name: api
    kind: http
    routes:
      - path: /p0
        integration: { type: mock, body: ok }
      - path: /p1
        plugins: [a]
        integration: { type: mock, body: ok }
      - path: /p4
        plugins: [a, b, c, d]
        integration: { type: mock, body: ok }
"#;

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Empty<bytes::Bytes>,
>;

async fn get(client: &Client, uri: &http::Uri) {
    let r = client.get(uri.clone()).await.expect("request");
    assert_eq!(r.status(), 200);
    http_body_util::BodyExt::collect(r.into_body())
        .await
        .expect("body");
}

fn requests(c: &mut Criterion) {
    let rt = runtime();
    let yaml = GATEWAY_YAML.replace("NOOP", NOOP);
    let config = tollgate::config::Config::from_yaml(&yaml, "bench.yaml").expect("config");
    let (base, _stop) = rt.block_on(async {
        let gateway = Arc::new(
            tollgate::gateway::Gateway::new(&config)
                .await
                .expect("gateway"),
        );
        let server = tollgate::server::Server::bind(&config, gateway)
            .await
            .expect("bind");
        let base = format!("http://{}", server.listeners()[0].address);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        (base, tx)
    });
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let uri = |p: &str| -> http::Uri { format!("{base}{p}").parse().expect("uri") };
    let (p0, p1, p4) = (uri("/p0"), uri("/p1"), uri("/p4"));
    let mut group = c.benchmark_group("request");
    for (name, u) in [("plugins_0", &p0), ("plugins_1", &p1), ("plugins_4", &p4)] {
        group.bench_function(name, |b| b.iter(|| rt.block_on(get(&client, u))));
    }
    // What one plugin adds: requests to /p0 and /p4 alternate one by one, so the machine's
    // drifting clock speed affects both alike; one iteration is 16 such pairs and reports
    // (t4 - t0) / 4 / 16. (A sample where noise outweighs the difference reports 1 ns:
    // criterion refuses zero.)
    group.bench_function("added_per_plugin", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let (mut t0, mut t4) = (Duration::ZERO, Duration::ZERO);
                for _ in 0..iters * 16 {
                    let start = std::time::Instant::now();
                    get(&client, &p0).await;
                    let mid = std::time::Instant::now();
                    get(&client, &p4).await;
                    t0 += mid - start;
                    t4 += mid.elapsed();
                }
                (t4.saturating_sub(t0) / 64).max(Duration::from_nanos(1))
            })
        });
    });
    group.finish();
}

criterion_group!(benches, hooks, requests);
criterion_main!(benches);
