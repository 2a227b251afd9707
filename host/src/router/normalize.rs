//! Request-path normalisation, applied before routing and forwarding.
//!
//! The rules (documented in `docs/routing.md`):
//! 1. The path must start with `/`; otherwise 400.
//! 2. Each segment is percent-decoded. Invalid escapes, a decoded NUL, or bytes that are not
//!    UTF-8 give 400. An encoded slash (`%2F`) stays inside its segment: it never splits one.
//! 3. Empty segments are dropped (`//a///b` is `/a/b`).
//! 4. `.` segments are dropped and `..` removes the previous segment (never above the root),
//!    also when written encoded (`%2e%2E`). So `/public/../admin` is `/admin`, and is routed
//!    and forwarded as `/admin`.
//! 5. A trailing slash is remembered for forwarding but ignored by routing.
//!
//! The router matches the decoded segments; the backend receives the normalised path,
//! re-encoded.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// A normalised request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath<'a> {
    segments: Vec<Cow<'a, str>>,
    trailing_slash: bool,
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the request path must start with `/`")]
    NotAbsolute,
    /// A `%` escape is malformed or decodes to something unusable.
    #[error("the request path has an invalid percent-encoding in segment `{0}`")]
    BadEncoding(String),
}

/// Characters re-encoded in a forwarded path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

impl<'a> NormalizedPath<'a> {
    /// Normalises the path part of a request target (no query).
    pub fn parse(raw: &'a str) -> Result<Self, PathError> {
        let Some(body) = raw.strip_prefix('/') else {
            return Err(PathError::NotAbsolute);
        };
        let mut segments: Vec<Cow<'a, str>> = Vec::new();
        for seg in body.split('/') {
            let decoded = decode(seg)?;
            match decoded.as_ref() {
                "" | "." => {}
                ".." => {
                    segments.pop();
                }
                _ => segments.push(decoded),
            }
        }
        let last = body.rsplit('/').next().unwrap_or("");
        let trailing_slash = !segments.is_empty() && (last.is_empty() || is_dot(last));
        Ok(Self {
            segments,
            trailing_slash,
        })
    }

    /// The decoded segments.
    pub fn segments(&self) -> &[Cow<'a, str>] {
        &self.segments
    }

    /// The path, re-encoded, starting at segment `from` (used to strip a mount prefix).
    pub fn encoded_from(&self, from: usize) -> String {
        let mut out = String::with_capacity(64);
        for seg in self.segments.iter().skip(from) {
            out.push('/');
            let _ = write!(out, "{}", utf8_percent_encode(seg, SEGMENT));
        }
        if out.is_empty() || self.trailing_slash {
            out.push('/');
        }
        out
    }

    /// The whole normalised path, re-encoded.
    pub fn encoded(&self) -> String {
        self.encoded_from(0)
    }
}

fn is_dot(seg: &str) -> bool {
    matches!(decode(seg).as_deref(), Ok(".") | Ok(".."))
}

fn decode(seg: &str) -> Result<Cow<'_, str>, PathError> {
    if !seg.contains('%') {
        // A raw NUL is refused like an encoded one (found by the `path_normalize` fuzz target).
        if seg.contains('\0') {
            return Err(PathError::BadEncoding(seg.to_owned()));
        }
        return Ok(Cow::Borrowed(seg));
    }
    let bytes = seg.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
            if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(PathError::BadEncoding(seg.to_owned()));
            }
        }
    }
    let decoded = percent_decode_str(seg)
        .decode_utf8()
        .map_err(|_| PathError::BadEncoding(seg.to_owned()))?;
    if decoded.contains('\0') {
        return Err(PathError::BadEncoding(seg.to_owned()));
    }
    Ok(Cow::Owned(decoded.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> Result<String, PathError> {
        NormalizedPath::parse(p).map(|n| n.encoded())
    }

    #[test]
    fn normalisation_cases() {
        let cases = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("//a///b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("/public/../admin", "/admin"),
            ("/public/%2e%2E/admin", "/admin"),
            ("/public/%2E/admin", "/public/admin"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/a/./b/.", "/a/b/"),
            ("/a%2Fb/c", "/a%2Fb/c"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/sp%20ace", "/sp%20ace"),
            ("/a/..", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input).as_deref(), Ok(want), "normalising {input}");
        }
    }

    #[test]
    fn encoded_slash_stays_in_its_segment() {
        let p = NormalizedPath::parse("/files/a%2Fb").expect("parses");
        assert_eq!(p.segments(), ["files", "a/b"]);
    }

    #[test]
    fn bad_paths_are_refused() {
        assert_eq!(norm("pets"), Err(PathError::NotAbsolute));
        assert_eq!(norm("*"), Err(PathError::NotAbsolute));
        assert!(matches!(norm("/a%zz"), Err(PathError::BadEncoding(_))));
        assert!(matches!(norm("/a%2"), Err(PathError::BadEncoding(_))));
        assert!(matches!(norm("/a%00b"), Err(PathError::BadEncoding(_))));
        assert!(matches!(norm("//\0\0"), Err(PathError::BadEncoding(_))));
        assert!(matches!(norm("/a%ff"), Err(PathError::BadEncoding(_))));
    }

    #[test]
    fn mount_prefix_can_be_stripped() {
        let p = NormalizedPath::parse("/v1/prod/pets/7").expect("parses");
        assert_eq!(p.encoded_from(2), "/pets/7");
        assert_eq!(p.encoded_from(4), "/");
    }
}
