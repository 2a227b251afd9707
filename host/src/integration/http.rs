//! The `http` integration: forward the request to a backend and stream the answer back.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, Uri, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use tracing::Instrument as _;

use super::headers::{Forwarded, set_forwarded, strip_hop_by_hop};
use super::upstream::UpstreamPool;
use crate::body::{Body, BodyProgress, Guarded, empty, find_client_body_error, find_too_large};
use crate::client::HttpClient;
use crate::error::{ErrorSource, RequestError};
use crate::telemetry::traces;
use crate::template::{Escape, Lookup, Template};

/// Where an http integration sends requests.
pub enum HttpTarget {
    /// A URL template; the host may come from stage variables.
    Url {
        /// The template.
        template: Template,
        /// The client (boxed: it is large and this variant is the rarer one).
        client: Box<HttpClient>,
    },
    /// A named pool.
    Upstream {
        /// The pool.
        pool: Arc<UpstreamPool>,
        /// The path template; `None` forwards the request path below the API mount.
        path: Option<Template>,
    },
}

/// A compiled http integration.
pub struct HttpIntegration {
    /// Where to.
    pub target: HttpTarget,
    /// Response timeout.
    pub timeout: Duration,
    /// Keep the client's `Host`.
    pub preserve_host: bool,
}

/// The parts of the client request the integration forwards.
pub struct Outbound<'a> {
    /// Request head (headers already carry `x-request-id`).
    pub parts: http::request::Parts,
    /// Request body (size-limited).
    pub body: Body,
    /// Forwarding facts.
    pub forwarded: Forwarded<'a>,
    /// A WebSocket upgrade passed through: `Upgrade` and `Connection` go to the backend.
    pub upgrade: bool,
    /// How long the body has kept the call waiting for the client (`None` for a request
    /// without a body): that time is not the backend's and does not count against its
    /// timeout.
    pub progress: Option<Arc<BodyProgress>>,
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

fn with_query(mut url: String, query: Option<&str>) -> String {
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(q);
    }
    url
}

impl HttpIntegration {
    /// Renders where the request goes: the full URL for a `url` target, the path for an
    /// upstream target (`path_below_mount` when the route sets no path template).
    pub fn render_target(&self, ctx: &dyn Lookup, path_below_mount: String) -> String {
        let template = match &self.target {
            HttpTarget::Url { template, .. } => template,
            HttpTarget::Upstream { path: Some(t), .. } => t,
            HttpTarget::Upstream { path: None, .. } => return path_below_mount,
        };
        let mut out = String::with_capacity(128);
        template.render(ctx, Escape::Url, &mut out);
        out
    }

    /// Where the request goes when a plugin set its path (`set-path`): that path, on a
    /// `url` target's scheme and host (its query kept).
    pub fn target_with_path(&self, ctx: &dyn Lookup, path: &str) -> String {
        match &self.target {
            HttpTarget::Url { template, .. } => {
                let mut url = String::with_capacity(128);
                template.render(ctx, Escape::Url, &mut url);
                replace_path(&url, path)
            }
            HttpTarget::Upstream { .. } => path.to_owned(),
        }
    }

    /// Forwards the request to `rendered` (from [`Self::render_target`]) and returns the
    /// backend's response, in a client span whose context the backend gets.
    pub async fn call(
        &self,
        rendered: String,
        out: Outbound<'_>,
    ) -> Result<Response<Body>, RequestError> {
        let span = traces::client(&out.parts.method);
        // Boxed: the forwarding future is kilobytes; inline, it would be copied with every
        // future that holds it.
        Box::pin(self.forward(rendered, out)).instrument(span).await
    }

    async fn forward(
        &self,
        rendered: String,
        out: Outbound<'_>,
    ) -> Result<Response<Body>, RequestError> {
        let Outbound {
            mut parts,
            body,
            forwarded,
            upgrade,
            progress,
        } = out;
        let progress = progress.as_deref();
        strip_hop_by_hop(&mut parts.headers, true);
        set_forwarded(&mut parts.headers, forwarded);
        traces::inject(
            &mut parts.headers,
            parts.extensions.get::<traces::Unsampled>(),
        );
        parts.version = Version::HTTP_11;
        // `ws://` URLs (WebSocket routes) are spoken as `http://`, upgrade or not.
        let with_client_query = super::upgrade::http_url(with_query(rendered, parts.uri.query()));
        if upgrade {
            super::upgrade::mark_upgrade(&mut parts.headers);
        }
        match &self.target {
            HttpTarget::Url { client, .. } => {
                let uri: Uri = with_client_query.parse().map_err(|e| {
                    RequestError::Internal(format!(
                        "integration URL `{with_client_query}` is invalid: {e}"
                    ))
                })?;
                let target = uri.authority().map(ToString::to_string).unwrap_or_default();
                self.set_host(&mut parts.headers, uri.authority());
                traces::client_target(&uri);
                parts.uri = uri;
                let response = send(
                    client,
                    Request::from_parts(parts, body),
                    self.timeout,
                    &target,
                    progress,
                )
                .await?;
                Ok(finish(response, ()))
            }
            HttpTarget::Upstream { pool, .. } => {
                let path_and_query: http::uri::PathAndQuery =
                    with_client_query.parse().map_err(|e| {
                        RequestError::Internal(format!(
                            "upstream path `{with_client_query}` is invalid: {e}"
                        ))
                    })?;
                let retry =
                    is_idempotent(&parts.method) && body.is_end_stream() && pool.retries > 0;
                let attempts = if retry { 1 + pool.retries as usize } else { 1 };
                let mut body = Some(body);
                let mut head = Some(parts);
                let mut tried: Vec<usize> = Vec::new();
                loop {
                    let index = pool
                        .pick(&tried)
                        .or_else(|| pool.pick(&[]))
                        .ok_or_else(|| {
                            RequestError::Internal(format!("upstream {} has no targets", pool.name))
                        })?;
                    tried.push(index);
                    if tried.len() > 1 {
                        traces::client_resend(tried.len() - 1);
                    }
                    let last_attempt = tried.len() >= attempts;
                    let Some(mut parts) = (if last_attempt {
                        head.take()
                    } else {
                        head.clone()
                    }) else {
                        return Err(RequestError::Internal("request head already sent".into()));
                    };
                    let target = &pool.target(index).url;
                    parts.uri = Uri::from_parts({
                        let mut u = http::uri::Parts::default();
                        u.scheme = Some(target.scheme.clone());
                        u.authority = Some(target.authority.clone());
                        u.path_and_query = Some(path_and_query.clone());
                        u
                    })
                    .map_err(|e| {
                        RequestError::Internal(format!("cannot build upstream URI: {e}"))
                    })?;
                    self.set_host(&mut parts.headers, Some(&target.authority));
                    traces::client_target(&parts.uri);
                    let attempt_body = body.take().unwrap_or_else(empty);
                    let guard = pool.start(index);
                    let result = send(
                        &pool.client,
                        Request::from_parts(parts, attempt_body),
                        self.timeout,
                        target,
                        progress,
                    )
                    .await;
                    match result {
                        Ok(response) => {
                            if matches!(response.status().as_u16(), 502..=504) {
                                pool.record_failure(index);
                            } else {
                                pool.record_success(index);
                            }
                            return Ok(finish(response, guard));
                        }
                        Err(err) => {
                            if err.source_kind() == ErrorSource::Upstream {
                                pool.record_failure(index);
                            }
                            if matches!(err, RequestError::UpstreamConnect { .. }) && !last_attempt
                            {
                                tracing::debug!(upstream = %pool.name, %target, "connect failed, retrying");
                                continue;
                            }
                            return Err(err);
                        }
                    }
                }
            }
        }
    }

    fn set_host(&self, headers: &mut http::HeaderMap, authority: Option<&http::uri::Authority>) {
        if self.preserve_host {
            return;
        }
        match authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            Some(v) => {
                headers.insert(header::HOST, v);
            }
            None => {
                headers.remove(header::HOST);
            }
        }
    }
}

async fn send(
    client: &HttpClient,
    request: Request<Body>,
    timeout: Duration,
    target: &(dyn std::fmt::Display + Sync),
    progress: Option<&BodyProgress>,
) -> Result<Response<hyper::body::Incoming>, RequestError> {
    let call = client.request(request);
    let answered = match progress {
        None => tokio::time::timeout(timeout, call).await.ok(),
        Some(progress) => backend_timeout(timeout, progress, call).await,
    };
    let result = match answered {
        None => Err(RequestError::UpstreamTimeout {
            target: target.to_string(),
            timeout,
        }),
        Some(Ok(response)) => Ok(response),
        Some(Err(err)) => {
            if let Some(client_side) = find_client_body_error(&err) {
                Err(RequestError::ClientBody(Box::new(client_side.detached())))
            } else if let Some(limit) = find_too_large(&err) {
                Err(RequestError::PayloadTooLarge { limit })
            } else if err.is_connect() {
                Err(RequestError::UpstreamConnect {
                    target: target.to_string(),
                    source: Box::new(err),
                })
            } else {
                Err(RequestError::UpstreamProtocol {
                    target: target.to_string(),
                    source: Box::new(err),
                })
            }
        }
    };
    traces::client_status(match &result {
        Ok(response) => Ok(response.status().as_u16()),
        Err(RequestError::UpstreamTimeout { .. }) => Err("timeout"),
        Err(RequestError::UpstreamConnect { .. }) => Err("connect"),
        Err(RequestError::PayloadTooLarge { .. }) => Err("payload_too_large"),
        Err(RequestError::ClientBody(_)) => Err("client_body"),
        Err(_) => Err("protocol"),
    });
    result
}

/// Runs `call` until it answers or the backend has used `timeout` of its own time: time
/// the request body spent waiting for the client is given back (a client that uploads
/// slowly is not the backend being slow; the body's own timeout bounds that wait).
/// `None` when the backend's time ran out.
async fn backend_timeout<F: std::future::Future>(
    timeout: Duration,
    progress: &BodyProgress,
    call: F,
) -> Option<F::Output> {
    tokio::pin!(call);
    let started = tokio::time::Instant::now();
    let mut deadline = started + timeout;
    loop {
        tokio::select! {
            out = &mut call => return Some(out),
            () = tokio::time::sleep_until(deadline) => {
                let charged = started.elapsed().saturating_sub(progress.waited());
                if charged >= timeout {
                    return None;
                }
                deadline = tokio::time::Instant::now() + (timeout - charged);
            }
        }
    }
}

/// Strips hop-by-hop headers from the backend response and keeps `guard` alive while the
/// body streams.
fn finish<G: Unpin + Send + 'static>(
    response: Response<hyper::body::Incoming>,
    guard: G,
) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let body = Guarded::new(body, guard).map_err(Into::into).boxed_unsync();
    Response::from_parts(parts, body)
}

/// `url` with its path replaced by `path`; scheme, authority and query kept.
fn replace_path(url: &str, path: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let authority_end = after_scheme + rest.find(['/', '?']).unwrap_or(rest.len());
    let query = url[authority_end..]
        .find('?')
        .map(|i| &url[authority_end + i..]);
    format!("{}{path}{}", &url[..authority_end], query.unwrap_or(""))
}

#[cfg(test)]
mod path_tests {
    use super::replace_path;

    #[test]
    fn replaces_only_the_path() {
        assert_eq!(
            replace_path("http://b:8080/a/b?x=1", "/v2/c"),
            "http://b:8080/v2/c?x=1"
        );
        assert_eq!(replace_path("http://b:8080", "/v2"), "http://b:8080/v2");
        assert_eq!(replace_path("https://b?q", "/p"), "https://b/p?q");
    }
}
