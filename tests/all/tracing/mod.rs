//! OpenTelemetry traces through the real binary into an OTLP receiver of the test's own
//! (gRPC and HTTP/protobuf): a request's span tree and parent links, the context its
//! backend gets, sampling, a collector that is down, the `trace` plugin capability, and
//! managed WebSocket connections.

mod collector;
mod conventions;
mod websocket;

use std::time::Duration;

use crate::support::{Backend, Gateway, client, dead_port};
use collector::{CLIENT, Collector, SERVER, Span};

/// The client's trace and span.
pub const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const PARENT: &str = "00f067aa0ba902b7";

pub fn traceparent(trace: &str, flags: &str) -> String {
    format!("00-{trace}-{PARENT}-{flags}")
}

/// A gateway exporting to `endpoint` (`tracing` adds lines under `telemetry.tracing`):
/// `GET /pets/{id}` through the `stamp` plugin (a request and a response phase) to
/// `backend`; `/traced` through `traced` (granted `trace`) and `untraced` (not granted),
/// which report their `trace` calls in `x-traced` and `x-untraced`.
fn config(backend: &Backend, endpoint: &str, tracing: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
telemetry:
  tracing:
    endpoint: "{endpoint}"
    batch_delay: 100ms
    service_name: edge
    headers: {{ x-collector-key: secret }}
{tracing}
plugins:
  stamp:
    path: "{filter}"
    on_request: [transform]
    on_response: [configure]
    config: {{ request_header: [x-stamped, "1"] }}
  traced:
    path: "{filter}"
    on_request: [transform]
    capabilities: [trace]
    config: {{ trace: x-traced }}
  untraced:
    path: "{filter}"
    on_request: [transform]
    config: {{ trace: x-untraced }}
apis:
  - name: pets
    kind: http
    routes:
      - path: /pets/{{id}}
        methods: [GET]
        plugins: [stamp]
        integration: {{ type: http, url: "{backend}/pets/{{id}}" }}
      - path: /traced
        plugins: [traced, untraced]
        integration: {{ type: http, url: "{backend}/traced" }}
"#,
        filter = tollgate_test_artifacts::TEST_FILTER,
        backend = backend.url(),
    )
}

/// The one span matching `pred`.
pub fn one<'a>(spans: &'a [Span], what: &str, pred: impl Fn(&Span) -> bool) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| pred(s)).collect();
    assert_eq!(found.len(), 1, "one {what} span expected in {spans:#?}");
    found[0]
}

/// The `traceparent` the backend echoed, as (trace id, parent id, flags).
fn sent_traceparent(echoed: &serde_json::Value) -> (String, String, String) {
    let value = echoed["headers"]["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("no traceparent sent: {echoed}"));
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

/// A request carrying the client's sampled `traceparent`: a server span under the client's
/// span, the plugin's two calls and the upstream call under it, and the backend sees the
/// upstream call's span as its parent.
async fn request_tree(gw: &Gateway, collector: &Collector, backend_port: u16) {
    let r = client()
        .get(format!("{}/pets/42?color=brown&size=2", gw.url()))
        .header("traceparent", traceparent(TRACE, "01"))
        .header("tracestate", "vendor=1")
        .header("user-agent", "tollgate-tests/1.0")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let request_id = r.headers()["x-request-id"].to_str().expect("id").to_owned();
    let echoed: serde_json::Value = r.json().await.expect("JSON");
    let spans = collector
        .wait_trace(TRACE, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.iter().any(|s| s.kind == CLIENT) && s.len() >= 6
        })
        .await;
    // The request, two phases with a plugin call each, and the upstream call.
    assert_eq!(spans.len(), 6, "{spans:#?}");

    let server = one(&spans, "server", |s| s.kind == SERVER);
    assert_eq!(server.parent_id, PARENT);
    assert_eq!(server.name, "GET /pets/{id}");
    assert_eq!(server.service, "edge");
    assert!(!server.error);
    assert_eq!(
        server.attr("target"),
        None,
        "no attributes of the tracing callsite"
    );
    let gateway_port = gw.addrs[0].port().to_string();
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.scheme", "http"),
        ("url.path", "/pets/42"),
        ("url.query", "color=brown&size=2"),
        ("http.route", "/pets/{id}"),
        ("http.response.status_code", "200"),
        ("server.address", "127.0.0.1"),
        ("server.port", gateway_port.as_str()),
        ("client.address", "127.0.0.1"),
        ("user_agent.original", "tollgate-tests/1.0"),
        ("network.protocol.name", "http"),
        ("network.protocol.version", "1.1"),
        ("tollgate.api", "pets"),
        ("tollgate.stage", "$default"),
        ("tollgate.request_id", request_id.as_str()),
    ] {
        assert_eq!(server.attr(key), Some(value), "{key} in {server:#?}");
    }
    // The semantic conventions' numbers are integers, not text.
    assert_eq!(server.int("http.response.status_code"), Some(200));
    assert_eq!(
        server.int("server.port"),
        Some(i64::from(gw.addrs[0].port()))
    );
    assert!(server.int("client.port").is_some(), "{server:#?}");
    assert_eq!(server.attr("error.type"), None);

    // Each phase with plugins is a child of the request; each plugin call, of its phase.
    let mut phases: Vec<&str> = spans
        .iter()
        .filter(|s| s.name == "plugin stamp")
        .map(|s| {
            let phase = s.attr("tollgate.phase").expect("phase");
            let parent = one(&spans, "phase span", |p| p.span_id == s.parent_id);
            assert_eq!(parent.name, format!("phase {phase}"), "{s:#?}");
            assert_eq!(parent.parent_id, server.span_id, "{parent:#?}");
            assert_eq!(s.attr("tollgate.plugin"), Some("stamp"));
            assert_eq!(s.attr("tollgate.outcome"), Some("continue"));
            s.attr("tollgate.phase").expect("phase")
        })
        .collect();
    phases.sort_unstable();
    assert_eq!(phases, ["response-configure", "transform"]);

    let upstream = one(&spans, "client", |s| s.kind == CLIENT);
    assert_eq!(upstream.parent_id, server.span_id);
    assert_eq!(upstream.name, "GET");
    assert_eq!(upstream.attr("server.address"), Some("127.0.0.1"));
    assert_eq!(upstream.int("server.port"), Some(i64::from(backend_port)));
    assert_eq!(upstream.int("http.response.status_code"), Some(200));
    assert_eq!(upstream.attr("url.scheme"), Some("http"));
    assert_eq!(upstream.attr("http.request.method"), Some("GET"));
    let url = upstream.attr("url.full").expect("url.full");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/pets/42?color=brown&size=2"),
        "{url}"
    );

    let (trace, parent, flags) = sent_traceparent(&echoed);
    assert_eq!((trace.as_str(), flags.as_str()), (TRACE, "01"));
    assert_eq!(
        parent, upstream.span_id,
        "the backend's parent is the client span"
    );
    assert_eq!(echoed["headers"]["tracestate"], "vendor=1");

    assert!(
        collector
            .headers()
            .iter()
            .all(|h| h.get("x-collector-key").is_some_and(|v| v == "secret")),
        "the configured headers go with every export"
    );
}

#[tokio::test]
async fn grpc_export_has_the_request_span_tree() {
    let collector = Collector::grpc().await;
    let backend = Backend::start("pets").await;
    let gw = Gateway::start(&config(&backend, &collector.url(), "")).await;
    request_tree(&gw, &collector, backend.addr.port()).await;
}

#[tokio::test]
async fn http_protobuf_export_has_the_request_span_tree() {
    let collector = Collector::http().await;
    let backend = Backend::start("pets").await;
    let yaml = config(&backend, &collector.url(), "    protocol: http/protobuf");
    let gw = Gateway::start(&yaml).await;
    request_tree(&gw, &collector, backend.addr.port()).await;
}

#[tokio::test]
async fn sampling_zero_records_only_traces_whose_parent_was_sampled() {
    let collector = Collector::grpc().await;
    let backend = Backend::start("pets").await;
    let gw = Gateway::start(&config(&backend, &collector.url(), "    sampling: 0.0")).await;
    let url = format!("{}/pets/1", gw.url());
    // A new trace: not sampled, but its context still goes to the backend.
    let echoed: serde_json::Value = client()
        .get(&url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let (_, _, flags) = sent_traceparent(&echoed);
    assert_eq!(flags, "00");
    // A parent that was not sampled: not recorded either.
    let other = "11111111111111111111111111111111";
    let r = client()
        .get(&url)
        .header("traceparent", traceparent(other, "00"))
        .send()
        .await
        .expect("request");
    let echoed: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(sent_traceparent(&echoed).0, other);
    // A sampled parent is followed.
    let r = client()
        .get(&url)
        .header("traceparent", traceparent(TRACE, "01"))
        .send()
        .await
        .expect("request");
    let _ = r.bytes().await;
    collector
        .wait_trace(TRACE, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.len() >= 4
        })
        .await;
    // The earlier requests' spans ended first, so they would have been sent by now.
    let others: Vec<Span> = collector
        .spans()
        .into_iter()
        .filter(|s| s.trace_id != TRACE)
        .collect();
    assert!(others.is_empty(), "unsampled spans exported: {others:#?}");
}

#[tokio::test]
async fn a_collector_that_is_down_does_not_slow_requests() {
    let backend = Backend::start("pets").await;
    let endpoint = format!("http://127.0.0.1:{}", dead_port());
    for protocol in ["grpc", "http/protobuf"] {
        let tracing = format!("    protocol: {protocol}\n    timeout: 1s");
        let mut gw = Gateway::start(&config(&backend, &endpoint, &tracing)).await;
        for _ in 0..5 {
            let r = tokio::time::timeout(
                Duration::from_secs(5),
                client()
                    .get(format!("{}/pets/7", gw.url()))
                    .header("traceparent", traceparent(TRACE, "01"))
                    .send(),
            )
            .await
            .expect("the request is not held up by the exporter")
            .expect("request");
            assert_eq!(r.status(), 200);
        }
        gw.wait_log("trace export failed").await;
        // Shutdown gives up on the last batch in time.
        gw.signal("TERM");
        assert!(gw.wait_exit().await.success(), "{protocol}: {}", gw.logs());
    }
}

#[tokio::test]
async fn a_plugin_granted_trace_adds_attributes_and_events_to_its_span() {
    let collector = Collector::grpc().await;
    let backend = Backend::start("pets").await;
    let gw = Gateway::start(&config(&backend, &collector.url(), "")).await;
    let trace = "22222222222222222222222222222222";
    let echoed: serde_json::Value = client()
        .get(format!("{}/traced", gw.url()))
        .header("traceparent", traceparent(trace, "01"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(echoed["headers"]["x-traced"], "ok");
    let denied = echoed["headers"]["x-untraced"].as_str().expect("reported");
    assert!(denied.contains("`trace` is not granted"), "{denied}");
    let spans = collector
        .wait_trace(trace, |s| {
            s.iter().any(|s| s.kind == SERVER) && s.len() >= 4
        })
        .await;
    let traced = one(&spans, "traced plugin", |s| s.name == "plugin traced");
    assert_eq!(traced.attr("test.key"), Some("test-value"));
    let (name, attributes) = traced.events.first().expect("an event");
    assert_eq!(name, "test.event");
    assert_eq!(attributes.get("detail").map(String::as_str), Some("yes"));
    let untraced = one(&spans, "untraced plugin", |s| s.name == "plugin untraced");
    assert_eq!(untraced.attr("test.key"), None);
    assert!(untraced.events.is_empty());
}

#[tokio::test]
async fn without_tracing_the_clients_trace_context_is_forwarded_untouched() {
    let backend = Backend::start("pets").await;
    let yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
apis:
  - name: pets
    kind: http
    routes:
      - path: /pets/{{id}}
        integration: {{ type: http, url: "{}/pets/{{id}}" }}
"#,
        backend.url()
    );
    let gw = Gateway::start(&yaml).await;
    let sent = traceparent(TRACE, "01");
    let echoed: serde_json::Value = client()
        .get(format!("{}/pets/3", gw.url()))
        .header("traceparent", &sent)
        .header("tracestate", "vendor=1")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(echoed["headers"]["traceparent"], sent.as_str());
    assert_eq!(echoed["headers"]["tracestate"], "vendor=1");
}
