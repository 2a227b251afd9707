//! Amazon API Gateway HTTP API parameter-mapping lines, as written there:
//! `append:header.x-id`, `overwrite:querystring.page`, `remove:header.x-debug`,
//! `overwrite:path` (request) and `overwrite:statuscode` (response).

use serde_json::Value;

use crate::status::is_status;
use crate::template::{Piece, Side, Text};

/// What a line does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `append:`: adds a value, keeping the others.
    Append,
    /// `overwrite:`: replaces every value.
    Overwrite,
    /// `remove:`: removes every value.
    Remove,
}

/// What a line changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `header.<name>`: a header (lower-case name, checked by the caller).
    Header(String),
    /// `querystring.<name>`: a query parameter (request).
    Query(String),
    /// `path` (request).
    Path,
    /// `statuscode` (response).
    StatusCode,
}

/// One line: what it does, to what, with which value (`None` for `remove:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The action.
    pub op: Op,
    /// What it changes.
    pub target: Target,
    /// The value template.
    pub value: Option<Text>,
}

/// Parses one line on `side`. The error does not name the line; the caller does.
pub fn parse(key: &str, value: &Value, side: Side) -> Result<Line, String> {
    let (op, target) = key.split_once(':').ok_or_else(|| {
        "not a mapping line; write `append:`, `overwrite:` or `remove:` and what to change, \
         e.g. `overwrite:header.x-id`"
            .to_owned()
    })?;
    let op = match op {
        "append" => Op::Append,
        "overwrite" => Op::Overwrite,
        "remove" => Op::Remove,
        other => {
            return Err(format!(
                "`{other}:` is not supported; use `append:`, `overwrite:` or `remove:`"
            ));
        }
    };
    let target = if let Some(name) = target.strip_prefix("header.") {
        Target::Header(name.to_owned())
    } else if let Some(name) = target.strip_prefix("querystring.") {
        Target::Query(name.to_owned())
    } else {
        match target {
            "path" => Target::Path,
            "statuscode" => Target::StatusCode,
            _ => {
                return Err(format!(
                    "`{target}` cannot be mapped; use header.NAME, querystring.NAME, path or statuscode"
                ));
            }
        }
    };
    let allowed = match (&target, side) {
        (Target::Header(_), _) | (Target::Query(_), Side::Request) => true,
        (Target::Path, Side::Request) | (Target::StatusCode, Side::Response) => op == Op::Overwrite,
        _ => false,
    };
    if !allowed {
        let on = match side {
            Side::Request => "request",
            Side::Response => "response",
        };
        return Err(format!(
            "`{key}` is not supported on the {on} side{}",
            hint(&target, side)
        ));
    }
    if let Target::Header(name) | Target::Query(name) = &target
        && name.is_empty()
    {
        return Err("the name is empty".to_owned());
    }
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("the value must be a string".to_owned()),
    };
    if op == Op::Remove {
        return if matches!(text.as_str(), "''" | "") {
            Ok(Line {
                op,
                target,
                value: None,
            })
        } else {
            Err(format!(
                "a `remove:` line takes the value `''`, not `{text}`"
            ))
        };
    }
    let template = Text::parse(&text, side)?;
    if target == Target::StatusCode
        && let Some(lit) = template.literal()
        && !lit.trim().parse::<u64>().is_ok_and(is_status)
    {
        return Err(format!("`{lit}` is not a status code (100 to 599)"));
    }
    if target == Target::Path {
        check_path(&template)?;
    }
    Ok(Line {
        op,
        target,
        value: Some(template),
    })
}

/// Refuses a path template that does not start with `/` or a variable.
pub fn check_path(template: &Text) -> Result<(), String> {
    match template.pieces.first() {
        Some(Piece::Var(_)) => Ok(()),
        Some(Piece::Lit(l)) if l.starts_with('/') => Ok(()),
        _ => Err("the path must start with `/`".to_owned()),
    }
}

/// What to use instead of a line the side does not support.
fn hint(target: &Target, side: Side) -> &'static str {
    match (target, side) {
        (Target::StatusCode, Side::Request) => " (status codes are mapped on the response)",
        (Target::Path, Side::Response) => " (paths are mapped on the request)",
        (Target::Query(_), Side::Response) => " (query strings are mapped on the request)",
        _ => " (only `overwrite:` applies to it)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Var;
    use serde_json::json;

    fn ok(key: &str, value: &str, side: Side) -> Line {
        parse(key, &json!(value), side).expect(key)
    }

    #[test]
    fn accepts_aws_lines() {
        let l = ok(
            "append:header.x-id",
            "$request.header.x-request-id",
            Side::Request,
        );
        assert_eq!(
            (l.op, l.target),
            (Op::Append, Target::Header("x-id".into()))
        );
        assert_eq!(
            l.value.and_then(|v| v.whole().cloned()),
            Some(Var::Header("x-request-id".into()))
        );
        let l = ok("remove:querystring.y", "''", Side::Request);
        assert_eq!(
            (l.op, l.target, l.value),
            (Op::Remove, Target::Query("y".into()), None)
        );
        assert_eq!(ok("remove:header.x", "", Side::Response).value, None);
        assert_eq!(
            ok("overwrite:path", "/v2$request.path", Side::Request).target,
            Target::Path
        );
        assert_eq!(
            ok("overwrite:path", "$request.path", Side::Request).target,
            Target::Path
        );
        assert_eq!(
            ok("overwrite:statuscode", "204", Side::Response).target,
            Target::StatusCode
        );
        assert_eq!(
            parse("overwrite:statuscode", &json!(204), Side::Response).map(|l| l.target),
            Ok(Target::StatusCode)
        );
        ok(
            "overwrite:statuscode",
            "$response.header.x-status",
            Side::Response,
        );
        ok("append:querystring.t", "v", Side::Request);
        ok(
            "overwrite:header.x-order",
            "$response.body.id",
            Side::Response,
        );
    }

    #[test]
    fn refuses() {
        for (key, value, side, want) in [
            (
                "rename:header.a",
                "b",
                Side::Request,
                "`rename:` is not supported",
            ),
            ("header.a", "b", Side::Request, "not a mapping line"),
            (
                "overwrite:statuscode",
                "204",
                Side::Request,
                "not supported on the request side (status",
            ),
            (
                "overwrite:path",
                "/x",
                Side::Response,
                "not supported on the response side (paths",
            ),
            (
                "append:querystring.a",
                "x",
                Side::Response,
                "not supported on the response side",
            ),
            ("append:path", "/x", Side::Request, "only `overwrite:`"),
            ("remove:path", "''", Side::Request, "only `overwrite:`"),
            (
                "overwrite:body",
                "x",
                Side::Request,
                "`body` cannot be mapped",
            ),
            ("overwrite:header.", "x", Side::Request, "the name is empty"),
            (
                "remove:header.x",
                "x",
                Side::Request,
                "takes the value `''`",
            ),
            (
                "overwrite:statuscode",
                "700",
                Side::Response,
                "`700` is not a status code",
            ),
            (
                "overwrite:statuscode",
                "ok",
                Side::Response,
                "`ok` is not a status code",
            ),
            (
                "overwrite:path",
                "v2/x",
                Side::Request,
                "must start with `/`",
            ),
            (
                "overwrite:path",
                "v2$request.path",
                Side::Request,
                "must start with `/`",
            ),
            ("overwrite:path", "", Side::Request, "must start with `/`"),
            (
                "append:header.x",
                "$requst.x",
                Side::Request,
                "unknown variable `$requst.x`",
            ),
        ] {
            let e = parse(key, &json!(value), side).expect_err(key);
            assert!(e.contains(want), "{key}: {e}");
        }
        let e = parse("append:header.x", &json!(true), Side::Request).expect_err("bool");
        assert!(e.contains("must be a string"), "{e}");
    }
}
