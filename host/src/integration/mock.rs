//! The `mock` integration: a response made by the gateway from a template.

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};

use crate::body::{Body, full};
use crate::template::{Escape, Lookup, Template};

/// A compiled mock integration.
pub struct MockIntegration {
    status: StatusCode,
    headers: HeaderMap,
    body: Option<Template>,
    escape: Escape,
}

impl MockIntegration {
    /// Builds it; `headers` were validated with the config.
    pub fn new(status: StatusCode, headers: HeaderMap, body: Option<Template>) -> Self {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        Self {
            status,
            headers,
            body,
            escape: if json { Escape::Json } else { Escape::None },
        }
    }

    /// Renders the response for a request.
    pub fn respond(&self, ctx: &dyn Lookup) -> Response<Body> {
        let mut text = String::new();
        if let Some(t) = &self.body {
            t.render(ctx, self.escape, &mut text);
        }
        let mut response = Response::new(full(text));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        if !self.headers.contains_key(header::CONTENT_TYPE) && self.body.is_some() {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
        response
    }
}
