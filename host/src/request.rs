//! What every part of the gateway reads from an HTTP request the same way: its id header
//! and its query parameters.

use std::borrow::Cow;

use http::header::HeaderName;
use percent_encoding::percent_decode_str;

/// The header carrying the request id both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The first parameter `name` of a raw query string, decoded (`+` is a space).
pub fn query_param<'a>(query: &str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            let v = v.replace('+', " ");
            Cow::Owned(percent_decode_str(&v).decode_utf8_lossy().into_owned())
        })
    })
}

/// The host the client asked for: lower case, without port.
pub fn request_host(req: &http::request::Parts) -> Option<String> {
    let raw = req
        .uri
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            let h = req.headers.get(http::header::HOST)?.to_str().ok()?;
            let h: http::uri::Authority = h.parse().ok()?;
            Some(h.host().to_owned())
        })?;
    Some(raw.trim_end_matches('.').to_ascii_lowercase())
}
