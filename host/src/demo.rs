//! The built-in demo: an embedded config and a small echo backend, so that `tollgate run`
//! with no file serves something a newcomer can curl at once.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError, TargetUrl};

/// The embedded demo config.
pub const DEMO_YAML: &str = include_str!("demo.yaml");

/// The demo config with its `echo` upstream pointed at `echo`.
pub fn config(echo: SocketAddr) -> Result<Config, ConfigError> {
    let mut config = Config::from_yaml(DEMO_YAML, "<embedded demo config>")?;
    let target: Result<TargetUrl, String> = format!("http://{echo}").parse();
    if let (Some(upstream), Ok(target)) = (config.upstreams.get_mut("echo"), target) {
        upstream.targets = vec![target];
    }
    Ok(config)
}

/// Starts the echo backend on a free loopback port. It answers every request with a JSON
/// description of what it received.
pub async fn start_echo() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(tcp), service_fn(echo))
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 1 << 20).collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => "(body over 1 MiB or unreadable)".to_owned(),
    };
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let json = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": body,
    });
    let mut response = Response::new(Full::new(Bytes::from(json.to_string())));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_config_is_valid() {
        let addr = "127.0.0.1:4000".parse().expect("addr");
        let config = super::config(addr).expect("the demo config parses and validates");
        assert_eq!(
            config.upstreams["echo"].targets[0].to_string(),
            "http://127.0.0.1:4000"
        );
        assert_eq!(config.apis[0].routes.len(), 5);
    }
}
