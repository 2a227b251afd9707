//! Helpers for answers and decisions.

use crate::{Action, Decision, Grant, Response};

/// A response with `status`, `headers` and `body`.
pub fn text_response(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: body.into(),
    }
}

/// A JSON response.
pub fn json_response(status: u16, value: &serde_json::Value) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: value.to_string().into_bytes(),
    }
}

/// Answers now with `status`, `headers` and `body`.
pub fn respond(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Action {
    Action::Respond(Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.into(),
    })
}

/// Answers now with `status` and a JSON body.
pub fn respond_json(status: u16, value: &serde_json::Value) -> Action {
    Action::Respond(json_response(status, value))
}

/// Allows the request as `principal` with `context` (passed on as identity claims).
pub fn allow(principal: impl Into<String>, context: &[(&str, &str)]) -> Decision {
    Decision::Allow(Grant {
        principal: principal.into(),
        context: context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        usage_key: None,
    })
}
