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
}

impl HasBody for RequestHandle {
    fn body_slot(&mut self) -> &mut BodySlot {
        &mut self.body
    }
}

impl HasBody for ResponseHandle {
    fn body_slot(&mut self) -> &mut BodySlot {
        &mut self.body
    }
}

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
        let read = until(self.deadline, "reading the body", read_all(body, limit)).await?;
        let slot = self.table.get_mut(r)?.body_slot();
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

    /// Replaces the body of `r`; a body still streaming is thrown away.
    pub(super) fn set_body_of<H: HasBody>(
        &mut self,
        r: &Resource<H>,
        body: Vec<u8>,
    ) -> wasmtime::Result<()> {
        let handle = self.table.get_mut(r)?;
        let slot = handle.body_slot();
        if let Some(stream) = slot.stream.take() {
            crate::body::discard(stream);
        }
        let len = body.len();
        slot.buffered = Some(Bytes::from(body));
        set_length(handle.headers_mut(), len);
        Ok(())
    }
}

/// Sets `Content-Length` for a replaced body.
fn set_length(headers: &mut HeaderMap, len: usize) {
    headers.remove(http::header::TRANSFER_ENCODING);
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
                    return Err(match crate::body::find_too_large(&*e) {
                        Some(limit) => BodyError::TooLarge(limit),
                        None => BodyError::Unreadable(e.to_string()),
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
