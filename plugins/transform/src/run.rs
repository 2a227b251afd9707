//! Running a plan: every value is computed from the request (or response) as it came in,
//! then the edits are made, so the order of edits never changes what a template reads.
//!
//! Request: headers (rename, remove, set, append) → query (the same) → parameter-mapping
//! lines in order → path → body. Response: status → headers → parameter-mapping lines →
//! body.

use serde_json::Value;

use crate::body::is_json;
use crate::config::{BodyPlan, Edits, RequestPlan, ResponsePlan};
use crate::encode;
use crate::mapping::{Line, Op, Target as LineTarget};
use crate::query::{Query, QueryEdit};
use crate::status;
use crate::template::{Answer, Source, Text, Var};

/// What a plan edits: the request or the response on its way.
pub trait Target {
    /// The first value of a header, edits included.
    fn header(&self, name: &str) -> Option<String>;
    /// Replaces a header's values.
    fn set_header(&self, name: &str, value: &str) -> Result<(), String>;
    /// Adds a header value.
    fn append_header(&self, name: &str, value: &str) -> Result<(), String>;
    /// Removes a header.
    fn remove_header(&self, name: &str);
    /// Replaces the query string (request).
    fn set_query(&self, query: Option<&str>) -> Result<(), String>;
    /// Replaces the path (request).
    fn set_path(&self, path: &str) -> Result<(), String>;
    /// Replaces the status (response).
    fn set_status(&self, status: u16) -> Result<(), String>;
    /// Replaces the body.
    fn set_body(&self, body: Vec<u8>) -> Result<(), String>;
}

/// A header edit, computed.
#[derive(Debug, PartialEq, Eq)]
enum HeaderEdit {
    Remove(String),
    Set(String, String),
    Append(String, String),
}

/// Header edits of `edits`; `values` reads the headers being edited.
fn header_edits(
    edits: &Edits,
    src: &dyn Source,
    values: &dyn Fn(&str) -> Vec<String>,
    out: &mut Vec<HeaderEdit>,
) -> Result<(), Answer> {
    for (from, to) in &edits.rename {
        let moved = values(from);
        if moved.is_empty() {
            continue;
        }
        out.push(HeaderEdit::Remove(from.clone()));
        out.push(HeaderEdit::Remove(to.clone()));
        out.extend(moved.into_iter().map(|v| HeaderEdit::Append(to.clone(), v)));
    }
    out.extend(edits.remove.iter().cloned().map(HeaderEdit::Remove));
    for (name, t) in &edits.set {
        if let Some(v) = t.render_text(src)? {
            out.push(HeaderEdit::Set(name.clone(), v));
        }
    }
    for (name, t) in &edits.append {
        if let Some(v) = t.render_text(src)? {
            out.push(HeaderEdit::Append(name.clone(), v));
        }
    }
    Ok(())
}

fn query_edits(edits: &Edits, src: &dyn Source, out: &mut Vec<QueryEdit>) -> Result<(), Answer> {
    out.extend(
        edits
            .rename
            .iter()
            .map(|(f, t)| QueryEdit::Rename(f.clone(), t.clone())),
    );
    out.extend(edits.remove.iter().cloned().map(QueryEdit::Remove));
    for (name, t) in &edits.set {
        if let Some(v) = t.render_text(src)? {
            out.push(QueryEdit::Set(name.clone(), v));
        }
    }
    for (name, t) in &edits.append {
        if let Some(v) = t.render_text(src)? {
            out.push(QueryEdit::Append(name.clone(), v));
        }
    }
    Ok(())
}

/// Renders a path template: literal text and `$request.path` keep `/` and `%XX`; other
/// values are encoded as one segment, except a greedy parameter (`{proxy+}` in the route
/// key), whose `/`s stay.
fn render_path(t: &Text, src: &dyn Source) -> Result<Option<String>, Answer> {
    let route_key = if t.vars().any(|v| matches!(v, Var::PathParam(_))) {
        src.request().route_key()
    } else {
        String::new()
    };
    t.render_with(src, encode::path_text, |var, value, out| match var {
        Var::RequestPath => encode::path_text(value, out),
        Var::PathParam(name) if route_key.contains(&format!("{{{name}+}}")) => {
            for (i, seg) in value.split('/').enumerate() {
                if i > 0 {
                    out.push('/');
                }
                encode::path_segment(seg, out);
            }
        }
        _ => encode::path_segment(value, out),
    })
}

/// The body after a mapping; `original` reads the body received.
fn map_body<'s>(
    plan: &BodyPlan,
    src: &'s dyn Source,
    original: impl Fn() -> Result<&'s Value, Answer>,
) -> Result<Value, Answer> {
    let mut body = match &plan.template {
        Some(t) => t.render(src)?,
        None => original()?.clone(),
    };
    let set = plan
        .set
        .iter()
        .map(|(p, n)| Ok((p, n.render(src)?)))
        .collect::<Result<Vec<_>, Answer>>()?;
    for (path, value) in set {
        path.set(&mut body, value);
    }
    for (from, to) in &plan.rename {
        from.rename(to, &mut body);
    }
    for path in &plan.remove {
        path.remove(&mut body);
    }
    Ok(body)
}

/// Which side's data a header value was mapped from, to answer for a value no header can
/// carry: the client's request (400) or the backend's response (502).
#[derive(Clone, Copy)]
enum Side {
    Request,
    Response,
}

/// A mapped value with CR, LF or another control character (HTAB aside) came from the data
/// it was mapped from, not from the gateway: it is answered as that side's error.
fn check_value(name: &str, value: &str, side: Side) -> Result<(), Answer> {
    if !value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Ok(());
    }
    Err(match side {
        Side::Request => Answer {
            status: 400,
            message: format!(
                "Bad Request: the value mapped to header `{name}` contains control characters"
            ),
        },
        Side::Response => Answer {
            status: 502,
            message: format!(
                "Bad Gateway: the value mapped to header `{name}` contains control characters"
            ),
        },
    })
}

fn apply_headers(edits: Vec<HeaderEdit>, out: &dyn Target, side: Side) -> Result<(), Answer> {
    for edit in &edits {
        if let HeaderEdit::Set(n, v) | HeaderEdit::Append(n, v) = edit {
            check_value(n, v, side)?;
        }
    }
    for edit in edits {
        match edit {
            HeaderEdit::Remove(n) => out.remove_header(&n),
            HeaderEdit::Set(n, v) => out.set_header(&n, &v).map_err(|e| Answer::internal(&e))?,
            HeaderEdit::Append(n, v) => out
                .append_header(&n, &v)
                .map_err(|e| Answer::internal(&e))?,
        }
    }
    Ok(())
}

fn apply_body(body: Option<Value>, out: &dyn Target) -> Result<(), Answer> {
    let Some(body) = body else {
        return Ok(());
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| Answer::internal(&e.to_string()))?;
    out.set_body(bytes).map_err(|e| Answer::internal(&e))?;
    if !out.header("content-type").is_some_and(|ct| is_json(&ct)) {
        out.set_header("content-type", "application/json")
            .map_err(|e| Answer::internal(&e))?;
    }
    Ok(())
}

/// A line's value; `None` for `remove:` or a missing whole value.
fn line_value(line: &Line, src: &dyn Source) -> Result<Option<String>, Answer> {
    match &line.value {
        Some(t) if line.target == LineTarget::Path => render_path(t, src),
        Some(t) => t.render_text(src),
        None => Ok(None),
    }
}

/// Runs `plan` on a request.
pub fn request(plan: &RequestPlan, src: &dyn Source, out: &dyn Target) -> Result<(), Answer> {
    // Compute. A body that is needed and not JSON is answered before anything else.
    if plan.reads_body {
        src.request_body()?;
    }
    let mut headers = Vec::new();
    header_edits(
        &plan.headers,
        src,
        &|n| src.request().header_values(n),
        &mut headers,
    )?;
    let mut query = Vec::new();
    query_edits(&plan.query, src, &mut query)?;
    let mut path = match &plan.path {
        Some(t) => render_path(t, src)?,
        None => None,
    };
    for line in &plan.lines {
        let value = line_value(line, src)?;
        match (&line.target, line.op, value) {
            (LineTarget::Header(n), Op::Remove, _) => headers.push(HeaderEdit::Remove(n.clone())),
            (LineTarget::Header(n), Op::Overwrite, Some(v)) => {
                headers.push(HeaderEdit::Set(n.clone(), v))
            }
            (LineTarget::Header(n), Op::Append, Some(v)) => {
                headers.push(HeaderEdit::Append(n.clone(), v))
            }
            (LineTarget::Query(n), Op::Remove, _) => query.push(QueryEdit::Remove(n.clone())),
            (LineTarget::Query(n), Op::Overwrite, Some(v)) => {
                query.push(QueryEdit::Set(n.clone(), v))
            }
            (LineTarget::Query(n), Op::Append, Some(v)) => {
                query.push(QueryEdit::Append(n.clone(), v))
            }
            (LineTarget::Path, _, Some(v)) => path = Some(v),
            _ => {}
        }
    }
    if let Some(p) = path.as_deref().filter(|p| !p.starts_with('/')) {
        return Err(Answer::internal(&format!(
            "the rewritten path `{p}` does not start with `/`"
        )));
    }
    let body = plan
        .body
        .as_ref()
        .map(|b| map_body(b, src, || src.request_body()))
        .transpose()?;
    // Edit.
    apply_headers(headers, out, Side::Request)?;
    if !query.is_empty() {
        let mut q = Query::parse(&src.request().query().unwrap_or_default());
        for edit in &query {
            q.apply(edit);
        }
        out.set_query(q.encode().as_deref())
            .map_err(|e| Answer::internal(&e))?;
    }
    if let Some(p) = path {
        out.set_path(&p).map_err(|e| Answer::internal(&e))?;
    }
    apply_body(body, out)
}

/// Runs `plan` on a response.
pub fn response(plan: &ResponsePlan, src: &dyn Source, out: &dyn Target) -> Result<(), Answer> {
    // Compute.
    if plan.reads_body {
        src.response_body()?;
    }
    let mut status = if plan.status.is_empty() {
        None
    } else {
        status::map(&plan.status, src.status())
    };
    let mut headers = Vec::new();
    header_edits(
        &plan.headers,
        src,
        &|n| src.response_header_values(n),
        &mut headers,
    )?;
    for line in &plan.lines {
        let value = line_value(line, src)?;
        match (&line.target, line.op, value) {
            (LineTarget::Header(n), Op::Remove, _) => headers.push(HeaderEdit::Remove(n.clone())),
            (LineTarget::Header(n), Op::Overwrite, Some(v)) => {
                headers.push(HeaderEdit::Set(n.clone(), v))
            }
            (LineTarget::Header(n), Op::Append, Some(v)) => {
                headers.push(HeaderEdit::Append(n.clone(), v))
            }
            (LineTarget::StatusCode, _, Some(v)) => {
                let code = v
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|c| status::is_status(u64::from(*c)))
                    .ok_or_else(|| {
                        Answer::internal(&format!(
                            "`{v}` is not a status code (overwrite:statuscode)"
                        ))
                    })?;
                status = Some(code);
            }
            _ => {}
        }
    }
    // A response that ends up 1xx, 204 or 304 has no body to map.
    let bodiless = matches!(
        status.unwrap_or_else(|| src.status()),
        100..=199 | 204 | 304
    );
    let body = plan
        .body
        .as_ref()
        .filter(|_| !bodiless)
        .map(|b| map_body(b, src, || src.response_body()))
        .transpose()?;
    // Edit.
    if let Some(code) = status {
        out.set_status(code).map_err(|e| Answer::internal(&e))?;
    }
    apply_headers(headers, out, Side::Response)?;
    apply_body(body, out)
}

#[cfg(test)]
mod tests;
