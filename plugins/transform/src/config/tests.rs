//! Tests of config checking and the errors naming the field.

use super::*;
use crate::mapping::Op;
use serde_json::json;

fn parse(v: Value) -> Result<Plan, String> {
    Plan::parse(v)
}

#[test]
fn maps_apply_in_the_order_written() {
    let text = r#"{"request": {
        "headers": {"rename": {"b": "c", "a": "b"}, "set": {"z": "1", "y": "2"}},
        "body": {"set": {"m": 1, "k": 2}, "rename": {"q": "p", "o": "n"}},
        "parameter_mapping": {"remove:header.x": "''", "overwrite:header.x": "v", "append:header.x": "w"}
    }}"#;
    let plan = Plan::parse(serde_json::from_str(text).expect("json")).expect("valid");
    let r = &plan.request;
    let names = |list: &[(String, Text)]| list.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(r.headers.rename[0].0, "b");
    assert_eq!(names(&r.headers.set), vec!["z", "y"]);
    let ops: Vec<Op> = r.lines.iter().map(|l| l.op).collect();
    assert_eq!(ops, vec![Op::Remove, Op::Overwrite, Op::Append]);
    let body = r.body.as_ref().expect("body");
    assert_eq!(body.set[0].0.to_string(), "m");
    assert_eq!(body.rename[0].0.to_string(), "q");
}

#[test]
fn the_documented_example() {
    let plan = parse(json!({
        "request": {
            "headers": {
                "set": {"x-user": "$context.authorizer.principalId"},
                "append": {"x-via": "tollgate"},
                "remove": ["x-debug"],
                "rename": {"X-Old": "x-new"}
            },
            "query": {
                "set": {"version": 2},
                "append": {"tag": "$request.header.x-tag"},
                "remove": ["debug"],
                "rename": {"q": "search"}
            },
            "path": "/v2/orders/${request.path.id}",
            "body": {
                "template": {"orderId": "$request.path.id", "items": "$request.body.items",
                             "tags": ["a", "$request.header.x-tag"], "n": 3},
                "set": {"meta.by": "$context.identity.sourceIp"},
                "rename": {"user.name": "user.fullName"},
                "remove": ["password", "items[0].secret"]
            },
            "parameter_mapping": {
                "append:header.x-id": "$request.header.x-request-id",
                "overwrite:header.x-stage": "$stageVariables.name",
                "remove:header.x-debug": "''",
                "overwrite:querystring.page": "$request.querystring.p",
                "remove:querystring.y": "''",
                "append:querystring.t": "v"
            }
        },
        "response": {
            "status": [{"when": "404", "set": 200}, {"when": "5xx", "set": 502}, {"when": 418, "set": 200}],
            "headers": {"set": {"x-a": "b"}},
            "body": {"template": {"data": "$response.body", "status": "$response.statuscode"}},
            "parameter_mapping": {
                "overwrite:statuscode": "204",
                "append:header.x-backend": "$response.header.server",
                "overwrite:header.x-order": "$response.body.id",
                "remove:header.server": "''"
            }
        }
    }))
    .expect("valid");
    let r = &plan.request;
    assert_eq!(
        r.headers.rename,
        vec![("x-old".to_owned(), "x-new".to_owned())]
    );
    assert_eq!(r.query.set[0].1.literal().as_deref(), Some("2"));
    assert_eq!(r.lines.len(), 6);
    assert!(
        r.lines
            .iter()
            .any(|l| l.target == Target::Query("t".into()))
    );
    assert!(r.reads_body, "$request.body.items is read");
    assert_eq!(plan.response.status.len(), 3);
    assert!(plan.response.reads_body);
    assert!(!r.is_empty() && !plan.response.is_empty());
}

#[test]
fn reads_the_body_only_when_needed() {
    let reads = |v: Value| parse(v).map(|p| (p.request.reads_body, p.response.reads_body));
    assert_eq!(reads(json!({})), Ok((false, false)));
    assert_eq!(
        reads(json!({"request": {"body": {"template": {"id": "$request.path.id"}}}})),
        Ok((false, false)),
        "a new body from other values does not read the old one"
    );
    assert_eq!(
        reads(json!({"request": {"body": {"remove": ["a"]}}})),
        Ok((true, false))
    );
    assert_eq!(
        reads(json!({"request": {"headers": {"set": {"x-a": "$request.body.a"}}}})),
        Ok((true, false))
    );
    assert_eq!(
        reads(
            json!({"response": {"parameter_mapping": {"overwrite:header.x": "$response.body.id"}}})
        ),
        Ok((false, true))
    );
    assert_eq!(
        reads(json!({"response": {"body": {"set": {"a": 1}}}})),
        Ok((false, true))
    );
    assert!(parse(json!(null)).expect("empty").request.is_empty());
}

#[test]
fn errors_name_the_field() {
    for (config, want) in [
        (json!({"requst": {}}), "unknown field `requst`"),
        (
            json!({"request": {"header": {}}}),
            "request: unknown field `header`",
        ),
        (
            json!({"request": {"headers": {"sett": {}}}}),
            "request.headers: unknown field `sett`",
        ),
        (
            json!({"request": {"headers": {"remove": "x"}}}),
            "request.headers: invalid type",
        ),
        (
            json!({"request": {"headers": {"set": {"x-user": "$requst.x"}}}}),
            "request.headers.set.`x-user`: unknown variable `$requst.x`",
        ),
        (
            json!({"request": {"headers": {"set": {"x y": "a"}}}}),
            "request.headers.set.`x y`: `x y` is not a header name",
        ),
        (
            json!({"request": {"headers": {"append": {"Connection": "close"}}}}),
            "request.headers.append.`Connection`: `Connection` is a hop-by-hop header",
        ),
        (
            json!({"request": {"headers": {"remove": ["x", "proxy-authorization"]}}}),
            "request.headers.remove[1]: `proxy-authorization` is a hop-by-hop header",
        ),
        (
            json!({"request": {"headers": {"rename": {"a": "Host"}}}}),
            "request.headers.rename.`a`: `Host` is set by the gateway",
        ),
        (
            json!({"response": {"headers": {"set": {"content-length": "1"}}}}),
            "response.headers.set.`content-length`: `content-length` is set by the gateway",
        ),
        (
            json!({"request": {"headers": {"rename": {"a": "A"}}}}),
            "request.headers.rename.`a`: renames `a` to itself",
        ),
        (
            json!({"request": {"headers": {"set": {"x": ["a"]}}}}),
            "request.headers.set.`x`: expected a string",
        ),
        (
            json!({"request": {"query": {"remove": [""]}}}),
            "request.query.remove[0]: empty parameter name",
        ),
        (
            json!({"request": {"query": {"append": {"tag": "$response.header.x"}}}}),
            "request.query.append.`tag`: `$response.header.x`: response values are only available on the response side",
        ),
        (
            json!({"request": {"path": "v2/x"}}),
            "request.path: the path must start with `/`",
        ),
        (
            json!({"request": {"path": 3}}),
            "request.path: expected a path template",
        ),
        (
            json!({"request": {"path": "/x", "parameter_mapping": {"overwrite:path": "/y"}}}),
            "request.path: `overwrite:path` in request.parameter_mapping",
        ),
        (
            json!({"request": {"body": {"templat": {}}}}),
            "request.body: unknown field `templat`",
        ),
        (
            json!({"request": {"body": {"template": {"a": ["$request.bdy"]}}}}),
            "request.body.template.a[0]: unknown variable `$request.bdy`",
        ),
        (
            json!({"request": {"body": {"set": {"a..b": 1}}}}),
            "request.body.set.`a..b`: `a..b`",
        ),
        (
            json!({"request": {"body": {"set": {"a": "$x.y"}}}}),
            "request.body.set.`a`: unknown variable",
        ),
        (
            json!({"request": {"body": {"rename": {"a": "b["}}}}),
            "request.body.rename.`a`: `b[`: unclosed",
        ),
        (
            json!({"request": {"body": {"remove": ["ok", "x[y]"]}}}),
            "request.body.remove[1]: `x[y]`",
        ),
        (
            json!({"response": {"body": {"template": "$request.body"}}}),
            "response.body.template: `$request.body`: the request body is not available on the response side",
        ),
        (
            json!({"request": {"parameter_mapping": {"append:header.x-id": "$requst.header.x"}}}),
            "request.parameter_mapping.`append:header.x-id`: unknown variable `$requst.header.x`",
        ),
        (
            json!({"request": {"parameter_mapping": {"overwrite:statuscode": "204"}}}),
            "request.parameter_mapping.`overwrite:statuscode`: `overwrite:statuscode` is not supported on the request side",
        ),
        (
            json!({"request": {"parameter_mapping": {"rename:header.a": "b"}}}),
            "request.parameter_mapping.`rename:header.a`: `rename:` is not supported",
        ),
        (
            json!({"response": {"parameter_mapping": {"overwrite:path": "/x"}}}),
            "response.parameter_mapping.`overwrite:path`: `overwrite:path` is not supported on the response side",
        ),
        (
            json!({"response": {"parameter_mapping": {"overwrite:header.te": "x"}}}),
            "response.parameter_mapping.`overwrite:header.te`: `te` is a hop-by-hop header",
        ),
        (
            json!({"response": {"status": [{"when": "404", "set": 200}, {"when": "5(", "set": 502}]}}),
            "response.status[1].when: `5(` is not a valid pattern",
        ),
        (
            json!({"response": {"status": [{"when": "404", "set": 700}]}}),
            "response.status[0].set: `700` is not a status code",
        ),
        (
            json!({"response": {"status": [{"when": "404", "set": "200"}]}}),
            "response.status[0].set: `\"200\"` is not a status code",
        ),
        (
            json!({"response": {"status": [{"when": true, "set": 200}]}}),
            "response.status[0].when: expected a code",
        ),
        (
            json!({"response": {"status": [{"when": "404"}]}}),
            "response.status: missing field `set`",
        ),
        (
            json!({"response": {"status": {"when": "404"}}}),
            "response.status: invalid type",
        ),
    ] {
        let e = parse(config.clone()).expect_err(&config.to_string());
        assert!(e.starts_with(want), "{config}:\n  got  {e}\n  want {want}");
    }
}
