//! Plugin runtime micro benchmarks (criterion): `cargo bench --bench plugins`.
//!
//! - `hook/noop_warm`: one response hook of a filter that does nothing, on a warm instance;
//! - `hook/headers_warm`: the same hook reading one header and setting another;
//! - `hook/fresh_pooled` and `hook/fresh_on_demand`: a hook on a fresh instance for every
//!   call (`isolation: request`: instantiate, `init` with the config, the hook), with the
//!   pooling allocator and with on-demand allocation;
//! - `request/plugins_{0,1,4}`: a whole keep-alive HTTP/1.1 request through an in-process
//!   gateway (mock integration) with 0, 1 and 4 trivial plugins in the transform phase. The
//!   difference per plugin is what one plugin adds to a request.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::plugin::{
    EngineOptions, Grants, Plugin, PluginEngine, PluginSettings, ResponseHandle, ResponsePhase,
    Services, Source,
};
use tollgate::state::MemoryStore;
use tollgate_test_artifacts::NOOP;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn engine(pooling: bool) -> PluginEngine {
    let services = Services::new(1 << 20, Arc::new(MemoryStore::default())).expect("services");
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
    }
}

fn response_handle() -> ResponseHandle {
    let (parts, ()) = http::Response::builder()
        .status(200)
        .header("x-in", "value")
        .body(())
        .expect("response")
        .into_parts();
    ResponseHandle { parts }
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

fn gateway_yaml(plugins: usize) -> String {
    let names: Vec<String> = (0..plugins).map(|i| format!("p{i}")).collect();
    let mut yaml = String::from(
        "version: 1\nlisteners: [{ address: \"127.0.0.1:0\" }]\nplugin_runtime: { artifact_cache: \"off\" }\n",
    );
    if plugins > 0 {
        yaml.push_str("plugins:\n");
        for n in &names {
            yaml.push_str(&format!(
                "  {n}: {{ path: \"{NOOP}\", on_request: [transform] }}\n"
            ));
        }
    }
    yaml.push_str(&format!(
        "apis:\n  - name: api\n    kind: http\n    plugins: [{}]\n    routes:\n      - path: /x\n        integration: {{ type: mock, body: ok }}\n",
        names.join(", ")
    ));
    yaml
}

fn requests(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("request");
    for plugins in [0, 1, 4] {
        let config = tollgate::config::Config::from_yaml(&gateway_yaml(plugins), "bench.yaml")
            .expect("config");
        let (url, stop) = rt.block_on(async {
            let gateway = Arc::new(
                tollgate::gateway::Gateway::new(&config)
                    .await
                    .expect("gateway"),
            );
            let server = tollgate::server::Server::bind(&config, gateway)
                .await
                .expect("bind");
            let url = format!("http://{}/x", server.listeners()[0].address);
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(server.run(async move {
                let _ = rx.await;
            }));
            (url, tx)
        });
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let uri: http::Uri = url.parse().expect("uri");
        group.bench_function(format!("plugins_{plugins}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let r = client.get(uri.clone()).await.expect("request");
                    assert_eq!(r.status(), 200);
                    http_body_util::BodyExt::collect(r.into_body())
                        .await
                        .expect("body");
                });
            });
        });
        let _ = stop.send(());
    }
    group.finish();
}

criterion_group!(benches, hooks, requests);
criterion_main!(benches);
