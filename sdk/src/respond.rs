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

/// `{"message": "..."}`: the body of the gateway's own error answers (Amazon API Gateway's
/// shape), for a plugin's refusals to look the same.
pub fn message_body(message: &str) -> String {
    serde_json::json!({ "message": message }).to_string()
}

/// Answers now with `status`, a `{"message": ...}` JSON body and `headers` besides its
/// `content-type`.
pub fn respond_message(status: u16, message: &str, headers: &[(&str, &str)]) -> Action {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    respond(status, &all, message_body(message))
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
