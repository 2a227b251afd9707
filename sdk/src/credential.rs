//! Where a plugin looks for a credential (an API key, a token) in a request, as its config
//! names the places: `header:NAME`, `query:NAME`, `cookie:NAME`.

use crate::http::{cookie, is_token};
use crate::query::query_param;
use crate::view::{RequestEdit, RequestView};

/// A place a credential is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A request header (the name in lower case).
    Header(String),
    /// A query parameter, percent-decoded.
    Query(String),
    /// A cookie of the `Cookie` header.
    Cookie(String),
}

impl Source {
    /// Parses `header:NAME`, `query:NAME` or `cookie:NAME`; `field` names the setting in
    /// errors.
    ///
    /// ```
    /// use tollgate_sdk::credential::Source;
    /// assert_eq!(Source::parse("header:X-Api-Key", "key_from"), Ok(Source::Header("x-api-key".into())));
    /// assert_eq!(
    ///     Source::parse("body:key", "key_from").expect_err("refused"),
    ///     "key_from: `body:key` is not `header:NAME`, `query:NAME` or `cookie:NAME`"
    /// );
    /// ```
    pub fn parse(s: &str, field: &str) -> Result<Self, String> {
        let wrong =
            || format!("{field}: `{s}` is not `header:NAME`, `query:NAME` or `cookie:NAME`");
        let (kind, name) = s.split_once(':').ok_or_else(wrong)?;
        if name.is_empty() {
            return Err(format!("{field}: `{s}` names nothing"));
        }
        match kind {
            "header" if is_token(name) => Ok(Self::Header(name.to_ascii_lowercase())),
            "header" => Err(format!("{field}: `{name}` is not a header name")),
            "query" => Ok(Self::Query(name.to_owned())),
            "cookie" => Ok(Self::Cookie(name.to_owned())),
            _ => Err(wrong()),
        }
    }

    /// Parses a list of places, tried in order; it must name at least one.
    pub fn parse_list(list: &[String], field: &str) -> Result<Vec<Self>, String> {
        if list.is_empty() {
            return Err(format!("{field}: give at least one place to look"));
        }
        list.iter().map(|s| Self::parse(s, field)).collect()
    }

    /// The value at this place in `req`, if present.
    pub fn read(&self, req: &impl RequestView) -> Option<String> {
        match self {
            Self::Header(name) => req.header(name),
            Self::Query(name) => query_param(&req.query()?, name),
            Self::Cookie(name) => cookie(&req.header("cookie")?, name),
        }
    }

    /// Keeps the credential from the integration (`hide_credentials`): a header is removed;
    /// a query parameter or a cookie is left as it is, as Kong does.
    pub fn hide(&self, req: &impl RequestEdit) {
        if let Self::Header(name) = self {
            req.remove_header(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_parsed_with_the_setting_named_in_errors() {
        assert_eq!(
            Source::parse("query:api_key", "f"),
            Ok(Source::Query("api_key".into()))
        );
        assert_eq!(
            Source::parse("cookie:session", "f"),
            Ok(Source::Cookie("session".into()))
        );
        assert_eq!(
            Source::parse("header:", "f").expect_err("refused"),
            "f: `header:` names nothing"
        );
        assert_eq!(
            Source::parse("header:a b", "f").expect_err("refused"),
            "f: `a b` is not a header name"
        );
        assert!(Source::parse("x-api-key", "f").is_err());
    }

    #[test]
    fn a_credential_is_read_from_its_place_and_hidden() {
        use crate::testing::FakeRequest;
        let req = FakeRequest::new("GET", "/x?api_key=q%2B1")
            .with_header("X-Api-Key", "h1")
            .with_header("cookie", "theme=dark; session=\"c1\"");
        let read = |s: &str| Source::parse(s, "f").expect("place").read(&req);
        assert_eq!(read("header:x-api-key").as_deref(), Some("h1"));
        assert_eq!(read("query:api_key").as_deref(), Some("q+1"));
        assert_eq!(read("cookie:session").as_deref(), Some("c1"));
        assert_eq!(read("cookie:none"), None);
        Source::parse("header:X-Api-Key", "f")
            .expect("place")
            .hide(&req);
        assert_eq!(req.header("x-api-key"), None);
        Source::parse("query:api_key", "f")
            .expect("place")
            .hide(&req);
        assert!(req.query().is_some(), "a query credential stays");
        assert_eq!(
            Source::parse_list(&[], "f").expect_err("refused"),
            "f: give at least one place to look"
        );
    }
}
