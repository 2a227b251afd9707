//! `outbound`: HTTP from a plugin to allow-listed hosts. The request runs on the host's
//! runtime (the worker serves other requests meanwhile), bounded by the grant's timeout,
//! the plugin call's deadline and a response size cap.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Uri};
use http_body_util::BodyExt;
use wasmtime::Result;

use super::{HostState, denied, until};
use crate::client::{ClientCache, ClientKey, HttpClient};
use crate::plugin::bindings::outbound;

/// A host a plugin may call: `api.example.com`, `*.example.com` (subdomains), either with
/// `:port` to allow only that port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses a pattern.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a host name, `*.domain` or `host:port`");
        let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (h, Some(port(p)?)),
                None if after.is_empty() => (h, None),
                None => return Err(bad()),
            }
        } else if let Some((h, p)) = s.rsplit_once(':') {
            (h, Some(port(p)?))
        } else {
            (s, None)
        };
        let bare = host.strip_prefix("*.").unwrap_or(host);
        if bare.is_empty() || bare.contains(['*', '/', ' ', ':']) && !s.starts_with('[') {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    pub(super) fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
            None => self.host == host,
        }
    }
}

/// What a plugin granted `http` may do.
#[derive(Clone, Debug)]
pub struct HttpGrant {
    /// Hosts it may call.
    pub allow: Vec<HostPattern>,
    /// Longest a call may take (also bounded by the plugin call's deadline).
    pub timeout: Duration,
    /// Largest response body.
    pub max_response: u64,
    /// Client settings (connect timeout, extra CA).
    pub client: ClientKey,
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
        let Some(grant) = self.grants.http.clone() else {
            return Ok(Err(denied("http")));
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

#[cfg(test)]
mod tests {
    use super::HostPattern;

    #[test]
    fn patterns_match_hosts_and_ports() {
        let p = HostPattern::parse("api.example.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(p.matches("api.example.com", 443));
        assert!(!p.matches("x.api.example.com", 443));
        let w = HostPattern::parse("*.example.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(w.matches("a.example.com", 80));
        assert!(!w.matches("example.com", 80));
        assert!(!w.matches("badexample.com", 80));
        let port = HostPattern::parse("127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        assert!(port.matches("127.0.0.1", 8080));
        assert!(!port.matches("127.0.0.1", 8081));
        assert!(HostPattern::parse("").is_err());
        assert!(HostPattern::parse("a/b").is_err());
        assert!(HostPattern::parse("host:notaport").is_err());
    }
}
