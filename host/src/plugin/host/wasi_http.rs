//! `wasi:http` for plugins whose toolchain speaks it (componentize-js's `fetch()`, the
//! `wasi` crate, componentize-py's `poll_loop`): outgoing requests pass the same gate as the
//! contract's `outbound` interface — the `http` capability's allow-list, its timeout (and
//! the plugin call's deadline), its response size cap — and go out on the gateway's pooled
//! clients. Without the capability, or to a host off the allow-list, a request is refused
//! with `HTTP-request-denied`. Incoming requests (`wasi:http/incoming-handler`) are not
//! served to plugins.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use super::outbound::{HttpGrant, allowed};
use super::{HostState, Services};
use crate::error::BoxError;

/// A plugin's `wasi:http` state: its gate and wasmtime's context.
pub struct WasiHttp {
    gate: WasiHttpGate,
    ctx: WasiHttpCtx,
}

/// What a plugin's `wasi:http` requests may do: its `http` grant, if any.
struct WasiHttpGate {
    grant: Option<Arc<HttpGrant>>,
    services: Arc<Services>,
    /// The current plugin call's deadline, set each time the guest reaches `wasi:http`.
    deadline: Instant,
}

impl WasiHttp {
    /// The state of a plugin granted `grant`.
    pub fn new(grant: Option<Arc<HttpGrant>>, services: Arc<Services>) -> Self {
        Self {
            gate: WasiHttpGate {
                grant,
                services,
                deadline: Instant::now(),
            },
            ctx: WasiHttpCtx::new(),
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let http = &mut self.wasi_http;
        http.gate.deadline = self.deadline;
        WasiHttpCtxView {
            ctx: &mut http.ctx,
            hooks: &mut http.gate,
            table: &mut self.table,
        }
    }
}

/// The response's future, and the future that reports errors of the response body (none
/// beyond the body's own).
type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for WasiHttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let grant = self.grant.clone();
        let services = Arc::clone(&self.services);
        let deadline = self.deadline;
        Box::new(async move {
            let Some(grant) = grant else {
                return Err(Error::HttpRequestDenied);
            };
            allowed(&grant, request.uri()).map_err(|_| Error::HttpRequestDenied)?;
            let client = services
                .http
                .client(&grant)
                .map_err(|e| Error::InternalError(Some(e)))?;
            let request =
                request.map(|body| body.map_err(|e| Box::new(e) as BoxError).boxed_unsync());
            let wait = grant
                .timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            let response = match tokio::time::timeout(wait, client.request(request)).await {
                Err(_) => return Err(Error::HttpResponseTimeout),
                Ok(Err(e)) => return Err(client_error(&e)),
                Ok(Ok(response)) => response,
            };
            let limit = grant.max_response;
            let response = response.map(|body| {
                let capped = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
                    .map_err(move |e| body_error(e, limit));
                Until::new(capped, deadline).boxed_unsync()
            });
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// A response body that fails once the plugin call's deadline has passed: a guest waiting
/// on it (`pollable.block`) runs no code the epoch deadline could stop.
struct Until<B> {
    body: B,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> Until<B> {
    fn new(body: B, deadline: Instant) -> Self {
        Self {
            body,
            deadline: Box::pin(tokio::time::sleep_until(deadline.into())),
        }
    }
}

impl<B> http_body::Body for Until<B>
where
    B: http_body::Body<Error = Error> + Unpin,
{
    type Data = B::Data;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Error::HttpResponseTimeout))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The `wasi:http` error code of a failed send.
fn client_error(e: &hyper_util::client::legacy::Error) -> Error {
    if e.is_connect() {
        Error::ConnectionRefused
    } else {
        Error::InternalError(Some(e.to_string()))
    }
}

/// The `wasi:http` error code of a failed response body read.
fn body_error(e: BoxError, limit: u64) -> Error {
    if e.is::<LengthLimitError>() {
        return Error::HttpResponseBodySize(Some(limit));
    }
    match e.downcast::<hyper::Error>() {
        Ok(e) => Error::Hyper(*e),
        Err(e) => Error::InternalError(Some(e.to_string())),
    }
}
