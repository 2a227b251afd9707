//! Bodies through the plugin handles: read (buffered on first call, up to the slot's limit)
//! and replaced, with `Content-Length` kept true.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use wasmtime::component::Resource;

use super::{HasHeaders, HostState, until};
use crate::plugin::handles::{BodyError, BodySlot, RequestHandle, ResponseHandle};

/// A handle with a body.
pub(super) trait HasBody: HasHeaders {
    fn body_slot(&mut self) -> &mut BodySlot;

    /// Why the body may not be replaced, if it may not.
    fn body_refused(&self) -> Option<String>;
}

impl HasBody for RequestHandle {
    fn body_slot(&mut self) -> &mut BodySlot {
        &mut self.body
    }

    fn body_refused(&self) -> Option<String> {
        self.header_log
            .as_ref()
            .map(|_| CACHED_AUTHORIZER.to_owned())
    }
}

impl HasBody for ResponseHandle {
    fn body_slot(&mut self) -> &mut BodySlot {
        &mut self.body
    }

    fn body_refused(&self) -> Option<String> {
        let status = self.parts.status;
        let bodiless = status.is_informational()
            || status == http::StatusCode::NO_CONTENT
            || status == http::StatusCode::NOT_MODIFIED;
        bodiless.then(|| format!("a {status} response has no body"))
    }
}

/// Why a cached authorizer may not edit more than headers.
pub(super) const CACHED_AUTHORIZER: &str = "an authorizer whose decisions are cached may only edit \
     headers (they are replayed on cache hits); set `result_ttl: 0s` to rewrite more";

impl HostState {
    /// The whole body of `r`, buffered on first call. A failure is kept on the slot so the
    /// pipeline answers for it (413 for a request over its limit).
    pub(super) async fn read_body_of<H: HasBody>(
        &mut self,
        r: &Resource<H>,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let slot = self.table.get_mut(r)?.body_slot();
        if let Some(e) = &slot.error {
            return Ok(Err(e.to_string()));
        }
        if let Some(b) = &slot.buffered {
            return Ok(Ok(b.to_vec()));
        }
        let Some(body) = slot.stream.take() else {
            return Ok(Ok(Vec::new()));
        };
        let limit = slot.limit;
        let read = until(self.deadline, "reading the body", read_all(body, limit)).await;
        let slot = self.table.get_mut(r)?.body_slot();
        let read = match read {
            Ok(read) => read,
            Err(deadline) => {
                // The stream is gone: whatever the plugin's `on_error`, the pipeline must
                // not send on an empty body in its place.
                slot.error = Some(BodyError::Unreadable(
                    "the plugin's deadline passed while the body was read".into(),
                ));
                return Err(deadline);
            }
        };
        Ok(match read {
            Ok(bytes) => {
                let out = bytes.to_vec();
                slot.buffered = Some(bytes);
                Ok(out)
            }
            Err(e) => {
                let message = e.to_string();
                slot.buffered = Some(Bytes::new());
                slot.error = Some(e);
                Err(message)
            }
        })
    }

    /// Replaces the body of `r`; a body still streaming is thrown away. A response that
    /// may not have a body (1xx, 204, 304) keeps none, and the plugin is told.
    pub(super) fn set_body_of<H: HasBody>(
        &mut self,
        r: &Resource<H>,
        body: Vec<u8>,
    ) -> wasmtime::Result<Result<(), String>> {
        let handle = self.table.get_mut(r)?;
        if let Some(refused) = handle.body_refused() {
            return Ok(Err(refused));
        }
        let slot = handle.body_slot();
        if let Some(stream) = slot.stream.take() {
            crate::body::discard(stream);
        }
        let len = body.len();
        slot.buffered = Some(Bytes::from(body));
        describe_new_body(handle.headers_mut(), len);
        Ok(Ok(()))
    }
}

/// Headers that describe a body's bytes, void once it is replaced (a mapped JSON body is no
/// longer gzip, nor the entity its validator or digest named).
const BODY_HEADERS: [&str; 7] = [
    "content-encoding",
    "content-range",
    "content-md5",
    "digest",
    "content-digest",
    "repr-digest",
    "etag",
];

/// Fixes the headers of a replaced body: its length, and nothing that described the old one.
fn describe_new_body(headers: &mut HeaderMap, len: usize) {
    headers.remove(http::header::TRANSFER_ENCODING);
    for name in BODY_HEADERS {
        headers.remove(name);
    }
    headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
}

/// Reads a whole body up to `limit` bytes.
fn read_all(
    body: crate::body::Body,
    limit: u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Bytes, BodyError>> + Send>> {
    Box::pin(async move {
        let limit_bytes = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut body = body;
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    use crate::body::{ClientBodyError, find_client_body_error, find_too_large};
                    return Err(match (find_too_large(&*e), find_client_body_error(&*e)) {
                        (Some(limit), _) => BodyError::TooLarge(limit),
                        (None, Some(&ClientBodyError::Timeout(d))) => BodyError::Stalled(d),
                        _ => BodyError::Unreadable(e.to_string().into()),
                    });
                }
            };
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit_bytes {
                    crate::body::discard(body);
                    return Err(BodyError::TooLarge(limit));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    })
}
