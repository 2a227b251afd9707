//! What a case came to, against what it expected: one line per difference.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::HeaderMap;

use super::cases::{CaseIdentity, Expect, ExpectUpstream, Outcome};
use crate::pipeline::offline::{Forwarded, Offline};
use crate::plugin::{Identity, Kind, Selection};

/// What one case came to.
pub enum Result {
    /// A request.
    Request(Box<Offline>),
    /// A message router's selection, or why the call failed.
    Message(std::result::Result<Selection, String>),
}

impl Result {
    /// The outcome, named as cases name it.
    pub fn outcome(&self, kind: Kind) -> Outcome {
        match self {
            Self::Message(Ok(Selection::Route(_))) => Outcome::Route,
            Self::Message(Ok(Selection::Unmatched(_))) => Outcome::Unmatched,
            Self::Message(Err(_)) => Outcome::Error,
            Self::Request(o) if o.error.is_some() => Outcome::Error,
            Self::Request(o) => match kind {
                Kind::Authorizer if o.identity.is_some() => Outcome::Allow,
                Kind::Authorizer if o.response.status() == http::StatusCode::FORBIDDEN => {
                    Outcome::Deny
                }
                Kind::Authorizer => Outcome::Unauthorized,
                Kind::Filter if o.forwarded.is_some() => Outcome::Continue,
                _ => Outcome::Respond,
            },
        }
    }
}

/// The differences between `result` and `expect`; empty when the case passes.
pub fn differences(expect: &Expect, result: &Result, kind: Kind) -> Vec<String> {
    let mut diffs = Vec::new();
    let outcome = result.outcome(kind);
    if let Some(want) = expect.outcome
        && want != outcome
    {
        diffs.push(format!("outcome: expected {want}, got {outcome}"));
    }
    match result {
        Result::Message(selection) => message(expect, selection, &mut diffs),
        Result::Request(offline) => request(expect, offline, &mut diffs),
    }
    diffs
}

fn message(
    expect: &Expect,
    selection: &std::result::Result<Selection, String>,
    diffs: &mut Vec<String>,
) {
    if let Some(want) = &expect.route {
        match selection {
            Ok(Selection::Route(got)) if got == want => {}
            Ok(Selection::Route(got)) => {
                diffs.push(format!("route: expected {want:?}, got {got:?}"));
            }
            Ok(Selection::Unmatched(why)) => {
                diffs.push(format!("route: expected {want:?}, got unmatched ({why})"));
            }
            Err(e) => diffs.push(format!("route: expected {want:?}, the call failed: {e}")),
        }
    }
    let error = selection.as_ref().err().map(String::as_str);
    check_error(expect, error, diffs);
}

fn request(expect: &Expect, o: &Offline, diffs: &mut Vec<String>) {
    let status = o.response.status().as_u16();
    if let Some(want) = expect.status
        && want != status
    {
        diffs.push(format!("status: expected {want}, got {status}"));
    }
    headers("header", &expect.headers, o.response.headers(), diffs);
    body(
        "body",
        (&expect.body, &expect.json, &expect.body_contains),
        o.response.body(),
        diffs,
    );
    if let Some(want) = &expect.identity {
        identity(want, o.identity.as_ref(), diffs);
    }
    if let Some(want) = &expect.upstream {
        match &o.forwarded {
            Some(f) => upstream(want, f, diffs),
            None => {
                diffs.push("upstream: expected a request to the integration, none was sent".into())
            }
        }
    }
    check_error(expect, o.error.as_deref(), diffs);
}

fn check_error(expect: &Expect, error: Option<&str>, diffs: &mut Vec<String>) {
    match (&expect.error, error) {
        (Some(want), Some(got)) if !got.contains(want.as_str()) => {
            diffs.push(format!(
                "error: expected one containing {want:?}, got {got:?}"
            ));
        }
        (Some(want), None) => {
            diffs.push(format!(
                "error: expected one containing {want:?}, there was none"
            ));
        }
        // An unexpected failure is reported whatever else the case checks.
        (None, Some(got)) if expect.outcome != Some(Outcome::Error) => {
            diffs.push(format!("error: {got}"));
        }
        _ => {}
    }
}

fn upstream(want: &ExpectUpstream, got: &Forwarded, diffs: &mut Vec<String>) {
    if let Some(m) = &want.method
        && !m.eq_ignore_ascii_case(got.parts.method.as_str())
    {
        diffs.push(format!(
            "upstream method: expected {m}, got {}",
            got.parts.method
        ));
    }
    if let Some(p) = &want.path {
        let path = got
            .path_override
            .as_deref()
            .unwrap_or_else(|| got.parts.uri.path());
        if p != path {
            diffs.push(format!("upstream path: expected {p:?}, got {path:?}"));
        }
    }
    if let Some(q) = &want.query {
        let query = got.parts.uri.query();
        if q.as_deref() != query {
            diffs.push(format!("upstream query: expected {q:?}, got {query:?}"));
        }
    }
    headers("upstream header", &want.headers, &got.parts.headers, diffs);
    body(
        "upstream body",
        (&want.body, &want.json, &None),
        &got.body,
        diffs,
    );
}

fn headers(
    what: &str,
    want: &BTreeMap<String, Option<String>>,
    got: &HeaderMap,
    diffs: &mut Vec<String>,
) {
    for (name, value) in want {
        let values: Vec<&str> = got
            .get_all(name.as_str())
            .iter()
            .map(|v| v.to_str().unwrap_or("<not text>"))
            .collect();
        match (value, values.as_slice()) {
            (None, []) => {}
            (None, present) => diffs.push(format!(
                "{what} {name}: expected absent, got {}",
                present.join(", ")
            )),
            (Some(v), [one]) if one == v => {}
            (Some(v), []) => diffs.push(format!("{what} {name}: expected {v:?}, absent")),
            (Some(v), present) => diffs.push(format!(
                "{what} {name}: expected {v:?}, got {:?}",
                present.join(", ")
            )),
        }
    }
}

type BodyExpect<'a> = (
    &'a Option<String>,
    &'a Option<serde_json::Value>,
    &'a Option<String>,
);

fn body(what: &str, (text, json, contains): BodyExpect<'_>, got: &Bytes, diffs: &mut Vec<String>) {
    let shown = String::from_utf8_lossy(got);
    if let Some(t) = text
        && t.as_bytes() != got.as_ref()
    {
        diffs.push(format!("{what}: expected {t:?}, got {shown:?}"));
    }
    if let Some(j) = json {
        match serde_json::from_slice::<serde_json::Value>(got) {
            Ok(v) if &v == j => {}
            Ok(v) => diffs.push(format!("{what}: expected JSON {j}, got {v}")),
            Err(e) => diffs.push(format!("{what}: expected JSON {j}, got {shown:?} ({e})")),
        }
    }
    if let Some(c) = contains
        && !shown.contains(c.as_str())
    {
        diffs.push(format!(
            "{what}: expected it to contain {c:?}, got {shown:?}"
        ));
    }
}

fn identity(want: &CaseIdentity, got: Option<&Identity>, diffs: &mut Vec<String>) {
    let Some(got) = got else {
        diffs.push(format!(
            "identity: expected principal {:?}, none",
            want.principal
        ));
        return;
    };
    if got.principal != want.principal {
        diffs.push(format!(
            "identity: expected principal {:?}, got {:?}",
            want.principal, got.principal
        ));
    }
    for (k, v) in &want.claims {
        let claim = got.claims.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        if claim != Some(v) {
            diffs.push(format!("identity claim {k}: expected {v:?}, got {claim:?}"));
        }
    }
}
