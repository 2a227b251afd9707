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
