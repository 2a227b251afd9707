//! Reading a body as JSON, and the answer when it is not: 415 or 400 for a request body,
//! 502 for an integration's response body.

use serde_json::Value;

use crate::template::{Answer, Side};

/// The 415 message.
pub const UNSUPPORTED: &str =
    "Unsupported Media Type: the body mapping needs a JSON body (content-type: application/json)";

/// The 502 message.
pub const NOT_JSON: &str = "Bad Gateway: the integration response is not JSON";

/// Whether a `content-type` value is JSON: `application/json` or any `type/subtype+json`.
pub fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json"
        || media
            .split_once('/')
            .is_some_and(|(t, sub)| !t.is_empty() && sub.len() > 5 && sub.ends_with("+json"))
}

/// The body as JSON: empty (or only white space) is `null`; a `content-type` other than
/// JSON, JSON that does not parse or a body that could not be read gets the side's answer.
pub fn parse(
    content_type: Option<&str>,
    read: Result<Vec<u8>, String>,
    side: Side,
) -> Result<Value, Answer> {
    let answer = |status: u16, message: String| Answer { status, message };
    let bad_gateway = || answer(502, NOT_JSON.to_owned());
    let bytes = match (read, side) {
        (Ok(b), _) => b,
        (Err(e), Side::Request) => {
            return Err(answer(400, format!("Could not read the request body: {e}")));
        }
        (Err(e), Side::Response) => {
            return Err(answer(
                502,
                format!("Bad Gateway: could not read the integration response: {e}"),
            ));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    if content_type.is_some_and(|ct| !is_json(ct)) {
        return Err(match side {
            Side::Request => answer(415, UNSUPPORTED.to_owned()),
            Side::Response => bad_gateway(),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| match side {
        Side::Request => answer(400, format!("Invalid JSON body: {e}")),
        Side::Response => bad_gateway(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(ct: Option<&str>, body: &str) -> Result<Value, (u16, String)> {
        parse(ct, Ok(body.as_bytes().to_vec()), Side::Request).map_err(|a| (a.status, a.message))
    }

    #[test]
    fn json_media_types() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
            "application/problem+json;q=1",
            " application/merge-patch+json ",
        ] {
            assert!(is_json(ct), "{ct}");
        }
        for ct in [
            "text/plain",
            "application/jsonx",
            "+json",
            "application/+json",
            "json",
            "",
        ] {
            assert!(!is_json(ct), "{ct}");
        }
    }

    #[test]
    fn request_bodies() {
        assert_eq!(
            req(Some("application/json"), r#"{"a":"ü😀"}"#),
            Ok(json!({"a": "ü😀"}))
        );
        assert_eq!(
            req(None, "[1]"),
            Ok(json!([1])),
            "no content-type: try JSON"
        );
        assert_eq!(
            req(Some("text/plain"), ""),
            Ok(Value::Null),
            "empty is null"
        );
        assert_eq!(req(None, " \n"), Ok(Value::Null));
        assert_eq!(req(Some("application/json"), r#""\u00fc""#), Ok(json!("ü")));
        assert_eq!(
            req(Some("text/plain"), "{}"),
            Err((415, UNSUPPORTED.to_owned()))
        );
        let (status, message) = req(Some("application/json"), "{oops").expect_err("invalid");
        assert_eq!(status, 400);
        assert!(
            message.starts_with("Invalid JSON body: key must be a string"),
            "{message}"
        );
        let (status, message) = req(None, "a=1").expect_err("not JSON");
        assert_eq!(status, 400, "{message}");
        let e = parse(None, Err("the body is over 1 MiB".into()), Side::Request).expect_err("read");
        assert_eq!(e.status, 400);
        assert!(e.message.ends_with("the body is over 1 MiB"));
    }

    #[test]
    fn response_bodies() {
        let resp = |ct: Option<&str>, body: &str| {
            parse(ct, Ok(body.as_bytes().to_vec()), Side::Response).map_err(|a| a.status)
        };
        assert_eq!(
            resp(Some("application/json"), r#"{"id":1}"#),
            Ok(json!({"id": 1}))
        );
        assert_eq!(resp(Some("text/html"), "<html>"), Err(502));
        assert_eq!(resp(Some("application/json"), "<html>"), Err(502));
        assert_eq!(resp(Some("text/html"), ""), Ok(Value::Null));
        assert_eq!(
            parse(None, Err("boom".into()), Side::Response).map_err(|a| a.status),
            Err(502)
        );
    }
}
