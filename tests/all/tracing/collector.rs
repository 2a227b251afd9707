//! An OTLP receiver for the tests, on `127.0.0.1:0`: gRPC (`TraceService` on tonic) or
//! HTTP/protobuf (`POST /v1/traces`, decoded with prost). It keeps every span it is sent
//! and the headers each export came with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;

use crate::support::{DEADLINE, poll_until};

/// `SPAN_KIND_SERVER` in OTLP.
pub const SERVER: i32 = 2;
/// `SPAN_KIND_CLIENT`.
pub const CLIENT: i32 = 3;

/// A received span, ids in lower-case hex.
#[derive(Clone, Debug)]
pub struct Span {
    /// `service.name` of its resource.
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_id: String,
    pub name: String,
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
    /// The attributes exported as integers (they are in `attributes` too, as text).
    pub int_attributes: BTreeMap<String, i64>,
    /// Start and end, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Name and attributes of each event.
    pub events: Vec<(String, BTreeMap<String, String>)>,
    /// Status `ERROR`.
    pub error: bool,
}

impl Span {
    /// An attribute's value as text.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// An attribute exported as an integer.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.int_attributes.get(key).copied()
    }

    /// How long the span lasted.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.end_ns.saturating_sub(self.start_ns))
    }
}

/// A running receiver.
#[derive(Clone)]
pub struct Collector {
    /// Where it listens.
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<Span>>>,
    headers: Arc<Mutex<Vec<http::HeaderMap>>>,
}

impl Collector {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            spans: Arc::default(),
            headers: Arc::default(),
        }
    }

    /// A gRPC receiver.
    pub async fn grpc() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let collector = Self::new(listener.local_addr().expect("addr"));
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        collector
    }

    /// An HTTP/protobuf receiver.
    pub async fn http() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let collector = Self::new(listener.local_addr().expect("addr"));
        crate::support::serve_http(listener, collector.clone(), |c, req| async move {
            c.serve_http(req).await
        });
        collector
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("lock").clone()
    }

    /// The headers (gRPC metadata) of every export so far.
    pub fn headers(&self) -> Vec<http::HeaderMap> {
        self.headers.lock().expect("lock").clone()
    }

    /// The spans of trace `trace_id` once `done` holds for them.
    pub async fn wait_trace(&self, trace_id: &str, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let of_trace = || -> Vec<Span> {
            self.spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect()
        };
        let found = poll_until(DEADLINE, || {
            let ok = done(&of_trace());
            async move { ok }
        })
        .await;
        assert!(found, "trace {trace_id} incomplete: {:#?}", self.spans());
        of_trace()
    }

    fn record(&self, headers: http::HeaderMap, request: ExportTraceServiceRequest) {
        self.headers.lock().expect("lock").push(headers);
        let mut out = Vec::new();
        for rs in request.resource_spans {
            let service = rs
                .resource
                .map(|r| attributes(r.attributes))
                .and_then(|a| a.get("service.name").cloned())
                .unwrap_or_default();
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                out.push(Span {
                    service: service.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_id: hex(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                    int_attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| match kv.value.as_ref()?.value {
                            Some(any_value::Value::IntValue(i)) => Some((kv.key.clone(), i)),
                            _ => None,
                        })
                        .collect(),
                    attributes: attributes(span.attributes),
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    events: span
                        .events
                        .into_iter()
                        .map(|e| (e.name, attributes(e.attributes)))
                        .collect(),
                    error: span.status.is_some_and(|s| s.code == 2),
                });
            }
        }
        self.spans.lock().expect("lock").extend(out);
    }

    async fn serve_http(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let decoded = ExportTraceServiceRequest::decode(body);
        let mut response = hyper::Response::new(Full::new(Bytes::new()));
        match decoded {
            Ok(request)
                if parts.method == http::Method::POST && parts.uri.path() == "/v1/traces" =>
            {
                self.record(parts.headers, request);
                *response.body_mut() =
                    Full::new(ExportTraceServiceResponse::default().encode_to_vec().into());
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/x-protobuf"),
                );
            }
            _ => *response.status_mut() = http::StatusCode::BAD_REQUEST,
        }
        response
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let (metadata, _, request) = request.into_parts();
        self.record(metadata.into_headers(), request);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(list: Vec<KeyValue>) -> BTreeMap<String, String> {
    list.into_iter()
        .map(|kv| (kv.key, kv.value.map(text).unwrap_or_default()))
        .collect()
}

fn text(value: AnyValue) -> String {
    match value.value {
        Some(any_value::Value::StringValue(s)) => s,
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}
