//! Pieces of HTTP syntax that plugins check their configs and requests with.

/// Whether `s` is an HTTP token (RFC 9110, section 5.6.2): what a method or a header name
/// is made of.
///
/// ```
/// assert!(tollgate_sdk::http::is_token("x-api-key"));
/// assert!(!tollgate_sdk::http::is_token("x api key"));
/// assert!(!tollgate_sdk::http::is_token(""));
/// ```
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The value of the cookie `name` in a `Cookie` header (RFC 6265, section 4.2.1), without
/// the quotes a value may have.
///
/// ```
/// let header = "theme=dark; session=\"abc\"";
/// assert_eq!(tollgate_sdk::http::cookie(header, "session").as_deref(), Some("abc"));
/// assert_eq!(tollgate_sdk::http::cookie(header, "sess"), None);
/// ```
pub fn cookie(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.trim_matches('"').to_owned())
    })
}

/// The token of a `Bearer` credential (RFC 6750, section 2.1; the scheme in any case), or
/// `None` for another scheme or an empty token.
///
/// ```
/// assert_eq!(tollgate_sdk::http::bearer_token("bearer abc.def"), Some("abc.def"));
/// assert_eq!(tollgate_sdk::http::bearer_token("Basic dXNlcg=="), None);
/// assert_eq!(tollgate_sdk::http::bearer_token("Bearer "), None);
/// ```
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}
