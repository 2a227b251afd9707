//! Checking a request against the [`Settings`]: parameters first, then the body; the first
//! problem found is the answer.

use serde_json::{Value, json};

use crate::config::Settings;
use crate::params::{Location, Lookup, Param, query_value};

/// Most body failures listed in `errors`.
const MAX_ERRORS: usize = 10;

/// What the checks read of a request (the host's `Request`, or a test's fake).
pub trait Inbound {
    /// The method.
    fn method(&self) -> String;
    /// The first value of a header.
    fn header(&self, name: &str) -> Option<String>;
    /// The raw query string.
    fn query(&self) -> Option<String>;
    /// A path parameter of the matched route.
    fn path_param(&self, name: &str) -> Option<String>;
    /// The body (read and buffered on the first call).
    fn body(&self) -> Result<Vec<u8>, String>;
}

/// A refusal: the status and the JSON body to answer with.
#[derive(Debug, PartialEq)]
pub struct Rejection {
    /// 400 or 415.
    pub status: u16,
    /// `{"message": ..., "errors": [...]}`.
    pub body: Value,
}

fn reject(status: u16, message: String, errors: Option<Vec<Value>>) -> Rejection {
    let body = match errors {
        Some(errors) => json!({ "message": message, "errors": errors }),
        None => json!({ "message": message }),
    };
    Rejection { status, body }
}

/// Whether a `Content-Type` is JSON: `application/json` or any `+json` type.
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && sub.ends_with("+json"))
}

impl Settings {
    /// Checks `req`: `Ok` lets it through, `Err` is the answer.
    pub fn check(&self, req: &impl Inbound) -> Result<(), Rejection> {
        if req.method().eq_ignore_ascii_case("OPTIONS")
            && req.header("access-control-request-method").is_some()
        {
            return Ok(());
        }
        self.check_params(req)?;
        if self.body.is_some() {
            self.check_body(req)?;
        }
        Ok(())
    }

    /// Required parameters first (all the missing ones listed), then each present
    /// parameter's value.
    fn check_params(&self, req: &impl Inbound) -> Result<(), Rejection> {
        let mut query: Option<Option<String>> = None;
        let mut missing: Vec<&Param> = Vec::new();
        let mut invalid: Vec<(&Param, String)> = Vec::new();
        for p in &self.params {
            let found = match p.location {
                Location::Querystring => {
                    query_value(query.get_or_insert_with(|| req.query()).as_deref(), &p.name)
                }
                Location::Header => req.header(&p.name).map_or(Lookup::Absent, Lookup::Present),
                Location::Path => req
                    .path_param(&p.name)
                    .map_or(Lookup::Absent, Lookup::Present),
            };
            match found {
                // A blank value counts as absent, as in Amazon API Gateway.
                Lookup::Present(v) if !v.trim().is_empty() => {
                    if let Err(e) = p.check(&v) {
                        invalid.push((p, e));
                    }
                }
                Lookup::Undecodable => {
                    invalid.push((p, "the value is not UTF-8 once percent-decoded".to_owned()))
                }
                _ if p.required => missing.push(p),
                _ => {}
            }
        }
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
            let errors = missing
                .iter()
                .map(|p| json!({ "location": p.location.as_str(), "name": p.name, "message": "missing" }))
                .collect();
            return Err(reject(
                400,
                format!(
                    "Missing required request parameters: [{}]",
                    names.join(", ")
                ),
                Some(errors),
            ));
        }
        if let Some((first, why)) = invalid.first() {
            let message = format!("Invalid request parameter {}: {why}", first.label());
            let errors = invalid
                .iter()
                .map(|(p, why)| json!({ "location": p.location.as_str(), "name": p.name, "message": why }))
                .collect();
            return Err(reject(400, message, Some(errors)));
        }
        Ok(())
    }

    /// The body: JSON by `Content-Type` (when sent), not empty, parsed, valid.
    fn check_body(&self, req: &impl Inbound) -> Result<(), Rejection> {
        let Some(schema) = &self.body else {
            return Ok(());
        };
        if let Some(ct) = req.header("content-type")
            && !is_json(&ct)
        {
            return Err(reject(
                415,
                "Unsupported Media Type: expected application/json".to_owned(),
                None,
            ));
        }
        let bytes = req
            .body()
            .map_err(|e| reject(400, format!("Invalid request body: {e}"), None))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(reject(
                400,
                "Invalid request body: the body is empty".to_owned(),
                None,
            ));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| reject(400, format!("Invalid request body: not JSON: {e}"), None))?;
        let failures = schema.validate(&value);
        let Some(first) = failures.first() else {
            return Ok(());
        };
        let at = if first.pointer.is_empty() {
            "/"
        } else {
            &first.pointer
        };
        let message = format!("Invalid request body: {at}: {}", first.message);
        let errors = failures
            .iter()
            .take(MAX_ERRORS)
            .map(|f| json!({ "pointer": f.pointer, "message": f.message }))
            .collect();
        Err(reject(400, message, Some(errors)))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;

    use super::*;

    struct Fake {
        method: String,
        headers: HashMap<String, String>,
        query: Option<String>,
        path: HashMap<String, String>,
        body: Result<Vec<u8>, String>,
        body_reads: Cell<u32>,
    }

    impl Inbound for Fake {
        fn method(&self) -> String {
            self.method.clone()
        }
        fn header(&self, name: &str) -> Option<String> {
            self.headers.get(&name.to_ascii_lowercase()).cloned()
        }
        fn query(&self) -> Option<String> {
            self.query.clone()
        }
        fn path_param(&self, name: &str) -> Option<String> {
            self.path.get(name).cloned()
        }
        fn body(&self) -> Result<Vec<u8>, String> {
            self.body_reads.set(self.body_reads.get() + 1);
            self.body.clone()
        }
    }

    fn request(query: &str, headers: &[(&str, &str)], body: &str) -> Fake {
        Fake {
            method: "POST".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            query: (!query.is_empty()).then(|| query.to_owned()),
            path: HashMap::from([("id".to_owned(), "42".to_owned())]),
            body: Ok(body.as_bytes().to_vec()),
            body_reads: Cell::new(0),
        }
    }

    fn settings(json: Value) -> Settings {
        Settings::parse(json).unwrap_or_else(|e| panic!("{e}"))
    }

    fn params() -> Settings {
        settings(json!({
            "parameters": {
                "querystring": {
                    "limit": { "required": true, "type": "integer", "minimum": 1, "maximum": 100 },
                    "sort": { "enum": ["asc", "desc"] }
                },
                "header": { "x-tenant": { "required": true, "pattern": "^[a-z]+$" } },
                "path": { "id": { "type": "integer" } }
            }
        }))
    }

    fn order() -> Settings {
        settings(json!({
            "body_schema": {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "qty": { "type": "integer", "minimum": 1 },
                                "name": { "type": "string", "maxLength": 8 }
                            }
                        }
                    }
                }
            }
        }))
    }

    fn message(r: &Result<(), Rejection>) -> String {
        match r {
            Ok(()) => "ok".to_owned(),
            Err(r) => r.body["message"].as_str().unwrap_or_default().to_owned(),
        }
    }

    #[test]
    fn parameters_pass() {
        let s = params();
        let ok = request("limit=10&sort=asc", &[("X-Tenant", "acme")], "");
        assert_eq!(s.check(&ok), Ok(()));
        assert_eq!(ok.body_reads.get(), 0, "no body read without a body schema");
    }

    #[test]
    fn missing_parameters_listed_in_config_order() {
        let s = params();
        let r = s.check(&request("sort=asc", &[], ""));
        assert_eq!(
            r,
            Err(Rejection {
                status: 400,
                body: json!({
                    "message": "Missing required request parameters: [limit, x-tenant]",
                    "errors": [
                        { "location": "querystring", "name": "limit", "message": "missing" },
                        { "location": "header", "name": "x-tenant", "message": "missing" }
                    ]
                })
            })
        );
        // Blank counts as missing; missing wins over invalid.
        let r = s.check(&request("limit=&sort=up", &[("x-tenant", " ")], ""));
        assert_eq!(
            message(&r),
            "Missing required request parameters: [limit, x-tenant]"
        );
    }

    #[test]
    fn invalid_parameters() {
        let s = params();
        for (query, tenant, want) in [
            (
                "limit=abc",
                "acme",
                "Invalid request parameter querystring.limit: `abc` is not an integer",
            ),
            (
                "limit=0",
                "acme",
                "Invalid request parameter querystring.limit: `0` is less than the minimum of 1",
            ),
            (
                "limit=101",
                "acme",
                "Invalid request parameter querystring.limit: `101` is greater than the maximum of 100",
            ),
            (
                "limit=5&sort=up",
                "acme",
                "Invalid request parameter querystring.sort: `up` is not one of [asc, desc]",
            ),
            (
                "limit=5",
                "ACME",
                "Invalid request parameter header.x-tenant: `ACME` does not match the pattern `^[a-z]+$`",
            ),
            (
                "limit=%FF",
                "acme",
                "Invalid request parameter querystring.limit: the value is not UTF-8 once percent-decoded",
            ),
            (
                "limit=%E6%97%A5",
                "acme",
                "Invalid request parameter querystring.limit: `日` is not an integer",
            ),
        ] {
            let r = s.check(&request(query, &[("x-tenant", tenant)], ""));
            assert_eq!(message(&r), want, "{query}");
            assert_eq!(r.as_ref().map_err(|r| r.status), Err(400));
        }
        let r = s.check(&request("limit=abc&sort=up", &[("x-tenant", "acme")], ""));
        let Err(r) = r else { panic!("refused") };
        assert_eq!(r.body["errors"].as_array().map(Vec::len), Some(2));
        assert_eq!(r.body["errors"][1]["name"], "sort");

        let mut bad_path = request("limit=5", &[("x-tenant", "acme")], "");
        bad_path.path.insert("id".into(), "x1".into());
        assert_eq!(
            message(&s.check(&bad_path)),
            "Invalid request parameter path.id: `x1` is not an integer"
        );
    }

    #[test]
    fn aws_request_parameters() {
        let s = settings(json!({
            "request_parameters": {
                "method.request.querystring.q": true,
                "method.request.header.x-opt": false,
                "method.request.path.id": true
            }
        }));
        assert_eq!(s.check(&request("q=1", &[], "")), Ok(()));
        assert_eq!(
            message(&s.check(&request("", &[], ""))),
            "Missing required request parameters: [q]"
        );
    }

    #[test]
    fn body_checks() {
        let s = order();
        let json_ct = [("content-type", "application/json; charset=utf-8")];
        for (headers, body, status, want) in [
            (&json_ct[..], r#"{"items":[{"qty":1}]}"#, 0, "ok"),
            (&[][..], r#"{"items":[]}"#, 0, "ok"),
            (
                &[("content-type", "application/vnd.api+json")][..],
                r#"{"items":[]}"#,
                0,
                "ok",
            ),
            (
                &[("content-type", "text/plain")][..],
                r#"{"items":[]}"#,
                415,
                "Unsupported Media Type: expected application/json",
            ),
            (
                &[("content-type", "application/jsonx")][..],
                "{}",
                415,
                "Unsupported Media Type: expected application/json",
            ),
            (
                &json_ct[..],
                "",
                400,
                "Invalid request body: the body is empty",
            ),
            (
                &json_ct[..],
                " \n",
                400,
                "Invalid request body: the body is empty",
            ),
            (
                &json_ct[..],
                "{\"items\":",
                400,
                "Invalid request body: not JSON: EOF while parsing a value at line 1 column 9",
            ),
            (
                &json_ct[..],
                r#"{"items":[{"qty":1},{"qty":-1}]}"#,
                400,
                "Invalid request body: /items/1/qty: -1 is less than the minimum of 1",
            ),
            (
                &json_ct[..],
                r#"{"other":1}"#,
                400,
                "Invalid request body: /: missing required property \"items\"",
            ),
            (
                &json_ct[..],
                r#"{"items":[{"name":"日本語日本語日本語"}]}"#,
                400,
                "Invalid request body: /items/0/name: \"日本語日本語日本語\" is longer than 8 characters",
            ),
            (
                &json_ct[..],
                r#"{"items":[{"name":"日本語日本語日本"}]}"#,
                0,
                "ok",
            ),
        ] {
            let r = s.check(&request("", headers, body));
            assert_eq!(message(&r), want, "{body}");
            assert_eq!(r.map_err(|r| r.status).err().unwrap_or(0), status, "{body}");
        }
    }

    #[test]
    fn body_errors_list_pointers() {
        let s = order();
        let items: Vec<Value> = (0..15).map(|_| json!({ "qty": 0 })).collect();
        let body = json!({ "items": items }).to_string();
        let Err(r) = s.check(&request("", &[], &body)) else {
            panic!("refused")
        };
        assert_eq!(
            r.body["message"],
            "Invalid request body: /items/0/qty: 0 is less than the minimum of 1"
        );
        let errors = r.body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 10);
        assert_eq!(errors[9]["pointer"], "/items/9/qty");
        assert_eq!(errors[0]["message"], "0 is less than the minimum of 1");
    }

    #[test]
    fn body_read_error() {
        let s = order();
        let mut r = request("", &[], "");
        r.body = Err("the body could not be read: connection reset".into());
        assert_eq!(
            message(&s.check(&r)),
            "Invalid request body: the body could not be read: connection reset"
        );
    }

    #[test]
    fn parameters_before_body() {
        let s = settings(json!({
            "body_schema": { "type": "object" },
            "parameters": { "querystring": { "a": { "required": true } } }
        }));
        let r = request("", &[], "not json");
        assert_eq!(
            message(&s.check(&r)),
            "Missing required request parameters: [a]"
        );
        assert_eq!(r.body_reads.get(), 0);
        let off = settings(json!({
            "body_schema": { "type": "object" },
            "validate_request_body": false,
            "parameters": { "querystring": { "a": { "required": true } } }
        }));
        let r = request("a=1", &[], "not json");
        assert_eq!(off.check(&r), Ok(()));
        assert_eq!(
            r.body_reads.get(),
            0,
            "no body read when body validation is off"
        );
    }

    #[test]
    fn preflights_pass() {
        let s = params();
        let mut r = request("", &[("access-control-request-method", "POST")], "");
        r.method = "OPTIONS".into();
        assert_eq!(s.check(&r), Ok(()));
        r.headers.clear();
        assert!(s.check(&r).is_err(), "a plain OPTIONS is checked");
    }

    #[test]
    fn unicode_body() {
        let s = settings(json!({
            "body_schema": {
                "type": "object",
                "properties": { "name": { "type": "string", "pattern": "^\\p{L}+$", "maxLength": 4 } },
                "additionalProperties": false
            }
        }));
        assert_eq!(s.check(&request("", &[], r#"{"name":"Zoë"}"#)), Ok(()));
        assert_eq!(
            s.check(&request("", &[], r#"{"name":"\u65e5\u672c"}"#)),
            Ok(())
        );
        assert_eq!(
            message(&s.check(&request("", &[], r#"{"name":"Zoë!"}"#))),
            "Invalid request body: /name: \"Zoë!\" does not match the pattern \"^\\\\p{L}+$\""
        );
        assert_eq!(
            message(&s.check(&request("", &[], r#"{"ключ":1}"#))),
            "Invalid request body: /ключ: property \"ключ\" is not allowed"
        );
        // Not UTF-8.
        let mut r = request("", &[], "");
        r.body = Ok(vec![b'"', 0xff, b'"']);
        assert!(message(&s.check(&r)).starts_with("Invalid request body: not JSON: "));
    }

    #[test]
    fn large_body() {
        let s = settings(json!({
            "body_schema": {
                "type": "object",
                "properties": { "blob": { "type": "string", "minLength": 1 }, "n": { "type": "integer" } }
            }
        }));
        let blob = "é".repeat(512 * 1024);
        let body = json!({ "blob": blob, "n": 1 }).to_string();
        assert!(body.len() >= 1024 * 1024);
        assert_eq!(s.check(&request("", &[], &body)), Ok(()));
        let body = json!({ "blob": blob, "n": "x" }).to_string();
        assert_eq!(
            message(&s.check(&request("", &[], &body))),
            "Invalid request body: /n: \"x\" is not of type integer"
        );
    }

    #[test]
    fn media_types() {
        for ct in [
            "application/json",
            "Application/JSON",
            "application/json;charset=utf-8",
            "application/problem+json",
            "application/merge-patch+json ",
        ] {
            assert!(is_json(ct), "{ct}");
        }
        for ct in [
            "",
            "text/json",
            "application/jsonl",
            "json",
            "+json",
            "/+json",
            "multipart/form-data",
        ] {
            assert!(!is_json(ct), "{ct}");
        }
    }
}
