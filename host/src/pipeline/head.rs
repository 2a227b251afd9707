//! What the pipeline reads from a request head before routing: its id, the host it is for,
//! and whether its `Host` is well-formed (RFC 9112 §3.2).

use http::{HeaderValue, Request, header};

use crate::error::RequestError;
use crate::request::REQUEST_ID;

/// The client's `x-request-id` when it is sane (1-200 visible ASCII characters), else a new
/// UUID. A header value either way, so that setting it on the request and the response
/// shares one buffer.
pub(super) fn request_id<B>(req: &Request<B>) -> HeaderValue {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let v = v.as_bytes();
            !v.is_empty() && v.len() <= 200 && v.iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(|| {
            let mut buf = [0_u8; uuid::fmt::Hyphenated::LENGTH];
            let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
            HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
        })
}

/// RFC 9112 §3.2: a request with more than one `Host`, an HTTP/1.1 request without one, or
/// one whose `Host` is not an authority, is answered 400 (an absolute-form target still
/// needs the header, though routing uses the target's authority).
pub(super) fn check_host(parts: &http::request::Parts) -> Result<(), RequestError> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(RequestError::BadRequest(
            "the request has more than one Host header".into(),
        ));
    }
    match first {
        None if parts.version == http::Version::HTTP_11 => Err(RequestError::BadRequest(
            "an HTTP/1.1 request needs a Host header".into(),
        )),
        Some(v)
            if v.to_str()
                .ok()
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
                .is_none_or(|a| a.as_str().contains('@')) =>
        {
            Err(RequestError::BadRequest(
                "the Host header is not a host[:port]".into(),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(version: http::Version, hosts: &[&str]) -> http::request::Parts {
        let mut b = http::Request::get("/").version(version);
        for h in hosts {
            b = b.header(header::HOST, *h);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn host_rules() {
        use http::Version;
        let (v10, v11, v2) = (Version::HTTP_10, Version::HTTP_11, Version::HTTP_2);
        assert!(check_host(&head(v11, &["a.test"])).is_ok());
        assert!(check_host(&head(v11, &["a.test:8080"])).is_ok());
        assert!(check_host(&head(v10, &[])).is_ok());
        assert!(check_host(&head(v2, &[])).is_ok());
        assert!(check_host(&head(v11, &[])).is_err());
        assert!(check_host(&head(v11, &["a.test", "b.test"])).is_err());
        assert!(check_host(&head(v2, &["a.test", "a.test"])).is_err());
        assert!(check_host(&head(v11, &["a b"])).is_err());
        assert!(check_host(&head(v11, &["user@a.test"])).is_err());
    }
}
