//! The admin API's JSON answers.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

/// `body` as JSON with `status`.
pub(super) fn reply(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
