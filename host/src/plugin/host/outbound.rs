//! The `http` capability: HTTP from a plugin to allow-listed hosts, through the contract's
//! `outbound` interface or `wasi:http` (`wasi_http.rs`). The request runs on the host's
//! runtime (the worker serves other requests meanwhile), bounded by the grant's timeout,
//! the plugin call's deadline and a response size cap.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::BodyExt;
use wasmtime::Result;

use super::unit::Unit;
use super::{HostState, until};
use crate::client::{ClientCache, ClientKey, HttpClient};
use crate::config::{AllowedHost, Capability, HttpCapability, UpstreamProtocol};
use crate::plugin::bindings::outbound;

pub(super) const UNIT: Unit = Unit {
    capability: Capability::Http,
    interfaces: &["outbound"],
    link: |l| {
        outbound::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(l, |s| s)?;
        // `wasi:http`'s outgoing requests pass the same grant (`wasi_http.rs`).
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)
    },
};

/// What a plugin granted `http` may do.
#[derive(Clone, Debug)]
pub struct HttpGrant {
    /// Hosts it may call.
    pub allow: Vec<AllowedHost>,
    /// Longest a call may take (also bounded by the plugin call's deadline).
    pub timeout: Duration,
    /// Largest response body.
    pub max_response: u64,
    /// Client settings (connect timeout, extra CA).
    pub client: ClientKey,
}

impl HttpGrant {
    /// The grant a plugin's `http:` settings describe; an error names a bad host pattern.
    pub fn from_config(http: &HttpCapability) -> std::result::Result<Self, String> {
        Ok(Self {
            allow: http
                .allow
                .iter()
                .map(|p| AllowedHost::parse(p))
                .collect::<std::result::Result<_, _>>()?,
            timeout: http.timeout.get(),
            max_response: http.max_response.get(),
            client: ClientKey {
                protocol: UpstreamProtocol::Auto,
                connect_timeout: http.timeout.get(),
                ca: http.ca.clone(),
            },
        })
    }
}

/// The pooled clients behind `outbound`.
#[derive(Default)]
pub struct OutboundClient {
    clients: ClientCache,
}

impl OutboundClient {
    /// A client set.
    pub fn new() -> Result<Self, String> {
        Ok(Self::default())
    }

    /// The pooled client for `grant`'s settings.
    pub(super) fn client(&self, grant: &HttpGrant) -> Result<HttpClient, String> {
        self.clients.get(&grant.client).map_err(|e| e.to_string())
    }
}

/// Whether `grant` lets a plugin call `uri` (an http or https URL to an allow-listed host
/// and port).
pub(super) fn allowed(grant: &HttpGrant, uri: &Uri) -> Result<(), String> {
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err(format!("`{uri}`: only http and https URLs")),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("`{uri}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(default_port);
    if !grant.allow.iter().any(|p| p.matches(&host, port)) {
        return Err(format!(
            "`{host}:{port}` is not in this plugin's http allow-list"
        ));
    }
    Ok(())
}

fn check(grant: &HttpGrant, req: &outbound::OutboundRequest) -> Result<(Method, Uri), String> {
    let method = Method::from_bytes(req.method.as_bytes())
        .map_err(|_| format!("`{}` is not a method", req.method))?;
    let uri: Uri = req
        .url
        .parse()
        .map_err(|_| format!("`{}` is not a URL", req.url))?;
    allowed(grant, &uri)?;
    Ok((method, uri))
}

async fn send(
    clients: &OutboundClient,
    grant: &HttpGrant,
    req: outbound::OutboundRequest,
) -> Result<outbound::OutboundResponse, String> {
    let (method, uri) = check(grant, &req)?;
    let client = clients.client(grant)?;
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in &req.headers {
        let (n, v) = super::header_pair(name, value)?;
        builder = builder.header(n, v);
    }
    let request = builder
        .body(crate::body::full(Bytes::from(req.body)))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        message
    })?;
    let (parts, body) = response.into_parts();
    let limit = usize::try_from(grant.max_response).unwrap_or(usize::MAX);
    let body = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                format!("the response body is larger than {limit} bytes")
            } else {
                format!("reading the response: {e}")
            }
        })?
        .to_bytes();
    Ok(outbound::OutboundResponse {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    })
}

impl outbound::Host for HostState {
    async fn send(
        &mut self,
        request: outbound::OutboundRequest,
    ) -> Result<std::result::Result<outbound::OutboundResponse, String>> {
        if let Err(e) = self.grants.check(Capability::Http) {
            return Ok(Err(e));
        }
        let Some(grant) = self.grants.http.clone() else {
            return Ok(Err("the `http` capability has no settings".into()));
        };
        let services = std::sync::Arc::clone(&self.services);
        let fut = tokio::time::timeout(grant.timeout, send(&services.http, &grant, request));
        Ok(
            match until(self.deadline, "an outbound HTTP request", fut).await? {
                Ok(result) => result,
                Err(_) => Err(format!("no response within {:?}", grant.timeout)),
            },
        )
    }
}
