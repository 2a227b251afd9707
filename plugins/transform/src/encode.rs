//! Percent-encoding for rewritten paths and query strings, and decoding of query text.

use std::fmt::Write as _;

/// Unreserved characters (RFC 3986), never encoded.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters a path segment may hold as they are (`pchar` without `%`).
fn pchar(b: u8) -> bool {
    unreserved(b) || b"!$&'()*+,;=:@".contains(&b)
}

fn push_escaped(out: &mut String, b: u8) {
    let _ = write!(out, "%{b:02X}");
}

/// Whether `bytes` starts with `%` and two hex digits.
fn is_escape(bytes: &[u8]) -> bool {
    matches!(bytes, [b'%', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
}

/// A query name or value: everything but unreserved characters is encoded (space `%20`).
pub fn query_component(text: &str, out: &mut String) {
    for b in text.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            push_escaped(out, b);
        }
    }
}

/// One path segment: a `/` in it becomes `%2F`, a `%` becomes `%25`.
pub fn path_segment(text: &str, out: &mut String) {
    for b in text.bytes() {
        if pchar(b) {
            out.push(char::from(b));
        } else {
            push_escaped(out, b);
        }
    }
}

/// Path text: `/` and existing `%XX` escapes stay; what a path cannot hold is encoded.
pub fn path_text(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if pchar(b) || b == b'/' || (b == b'%' && is_escape(&bytes[i..])) {
            out.push(char::from(b));
        } else {
            push_escaped(out, b);
        }
    }
}

/// Decodes query text: `+` is a space, `%XX` a byte; a `%` not followed by two hex digits
/// stays, and bytes that are not UTF-8 become U+FFFD.
pub fn decode_query(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' if is_escape(&bytes[i..]) => {
                let hex = |c: u8| char::from(c).to_digit(16).unwrap_or(0) as u8;
                out.push((hex(bytes[i + 1]) << 4) | hex(bytes[i + 2]));
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&str, &mut String), s: &str) -> String {
        let mut out = String::new();
        f(s, &mut out);
        out
    }

    #[test]
    fn query_components() {
        assert_eq!(
            run(query_component, "a b&c=d+e/ü~"),
            "a%20b%26c%3Dd%2Be%2F%C3%BC~"
        );
        assert_eq!(run(query_component, "Az09-._~"), "Az09-._~");
    }

    #[test]
    fn path_segments_and_text() {
        assert_eq!(run(path_segment, "a/b c%?#é"), "a%2Fb%20c%25%3F%23%C3%A9");
        assert_eq!(run(path_segment, "x:y@z;v=1"), "x:y@z;v=1");
        assert_eq!(
            run(path_text, "/a b/%2F/%zz/ü?"),
            "/a%20b/%2F/%25zz/%C3%BC%3F"
        );
        assert_eq!(
            run(path_text, "/caf%C3%A9/x"),
            "/caf%C3%A9/x",
            "an encoded path stays"
        );
    }

    #[test]
    fn decodes() {
        assert_eq!(decode_query("a+b%20c%2B%C3%BC"), "a b c+ü");
        assert_eq!(decode_query("100%"), "100%");
        assert_eq!(decode_query("%zz%4"), "%zz%4");
        assert_eq!(decode_query("%FF"), "\u{FFFD}");
        for s in ["a b&c=d", "ü€😀", "%", "+"] {
            assert_eq!(decode_query(&run(query_component, s)), s, "round trip {s}");
        }
    }
}
