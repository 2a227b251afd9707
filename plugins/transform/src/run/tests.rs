//! Tests of what plans do to requests and responses.

use std::cell::RefCell;

use serde_json::json;

use super::*;
use crate::config::Plan;
use crate::template::fake::{self, Fake};

/// Records what a plan does.
#[derive(Default)]
struct Out {
    headers: RefCell<Vec<(String, String)>>,
    log: RefCell<Vec<String>>,
    query: RefCell<Option<Option<String>>>,
    path: RefCell<Option<String>>,
    status: RefCell<Option<u16>>,
    body: RefCell<Option<Value>>,
    raw_body: RefCell<Vec<u8>>,
    refuse: Option<&'static str>,
}

impl Out {
    fn with_headers(headers: &[(&str, &str)]) -> Self {
        let out = Self::default();
        *out.headers.borrow_mut() = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        out
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.headers
            .borrow()
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn check(&self, name: &str) -> Result<(), String> {
        match self.refuse {
            Some(n) if n == name => Err(format!("`{name}` refused")),
            _ => Ok(()),
        }
    }
}

impl Target for Out {
    fn header(&self, name: &str) -> Option<String> {
        self.values(name).into_iter().next()
    }
    fn set_header(&self, name: &str, value: &str) -> Result<(), String> {
        self.check(name)?;
        self.remove_header(name);
        self.headers.borrow_mut().push((name.into(), value.into()));
        self.log.borrow_mut().push(format!("set {name}: {value}"));
        Ok(())
    }
    fn append_header(&self, name: &str, value: &str) -> Result<(), String> {
        self.check(name)?;
        self.headers.borrow_mut().push((name.into(), value.into()));
        self.log
            .borrow_mut()
            .push(format!("append {name}: {value}"));
        Ok(())
    }
    fn remove_header(&self, name: &str) {
        self.headers.borrow_mut().retain(|(k, _)| k != name);
    }
    fn set_query(&self, query: Option<&str>) -> Result<(), String> {
        *self.query.borrow_mut() = Some(query.map(str::to_owned));
        Ok(())
    }
    fn set_path(&self, path: &str) -> Result<(), String> {
        self.check("path")?;
        *self.path.borrow_mut() = Some(path.into());
        Ok(())
    }
    fn set_status(&self, status: u16) -> Result<(), String> {
        *self.status.borrow_mut() = Some(status);
        Ok(())
    }
    fn set_body(&self, body: Vec<u8>) -> Result<(), String> {
        *self.body.borrow_mut() = serde_json::from_slice(&body).ok();
        *self.raw_body.borrow_mut() = body;
        Ok(())
    }
}

fn plan(config: Value) -> Plan {
    Plan::parse(config).expect("valid config")
}

/// A plan from JSON text, maps in the order written.
fn plan_text(text: &str) -> Plan {
    Plan::parse(serde_json::from_str(text).expect("json")).expect("valid config")
}

fn fake_out(f: &Fake) -> Out {
    let headers = f.request.headers();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Out::with_headers(&pairs)
}

#[test]
fn request_headers_in_order_from_the_incoming_request() {
    let p = plan(json!({"request": {"headers": {
        "rename": {"x-tag": "x-label"},
        "remove": ["user-agent"],
        "set": {"x-user": "$context.authorizer.principalId", "x-copy": "$request.header.x-tag",
                "x-none": "$request.header.absent", "x-empty": "[${request.header.absent}]"},
        "append": {"x-label": "extra"}
    }}}));
    let f = Fake::default();
    let out = fake_out(&f);
    request(&p.request, &f, &out).expect("runs");
    assert_eq!(
        out.values("x-label"),
        vec!["t1", "t2", "extra"],
        "every value moves"
    );
    assert!(out.values("x-tag").is_empty());
    assert!(out.values("user-agent").is_empty());
    assert_eq!(out.values("x-user"), vec!["alice"]);
    assert_eq!(out.values("x-copy"), vec!["t1"], "read before the rename");
    assert!(
        out.values("x-none").is_empty(),
        "a missing whole value is not set"
    );
    assert_eq!(out.values("x-empty"), vec!["[]"]);
}

#[test]
fn request_query_lines_and_path() {
    let p = plan_text(
        r#"{"request": {
        "query": {"rename": {"q": "search"}, "set": {"version": 2}, "append": {"tag": "$request.header.x-tag"}},
        "parameter_mapping": {
            "append:header.x-id": "$request.header.x-request-id",
            "overwrite:header.x-stage": "$stageVariables.name",
            "remove:header.x-tag": "''",
            "overwrite:querystring.page": "$request.querystring.p",
            "remove:querystring.tag": "''",
            "append:querystring.t": "a b",
            "overwrite:path": "/v2$request.path/${request.path.id}/${request.querystring.q}"
        }
    }}"#,
    );
    let f = Fake {
        request: fake::request("/orders/42?q=a%2Fb+c&tag=x&p=3", true),
        ..Fake::default()
    };
    let out = fake_out(&f);
    request(&p.request, &f, &out).expect("runs");
    assert_eq!(out.values("x-id"), vec!["req-1"]);
    assert_eq!(out.values("x-stage"), vec!["prod"]);
    assert!(out.values("x-tag").is_empty());
    assert_eq!(
        out.query.borrow().clone(),
        Some(Some("search=a%2Fb+c&p=3&version=2&page=3&t=a%20b".into())),
        "the tag appended by `query` is removed by the later line"
    );
    assert_eq!(
        out.path.borrow().as_deref(),
        Some("/v2/orders/42/42/a%2Fb%20c"),
        "$request.path as is, values as segments"
    );
}

#[test]
fn path_rewrites() {
    let f = Fake {
        request: fake::request(fake::TARGET, true)
            .with_route("ANY /files/{proxy+}", &[])
            .with_path_param("proxy", "a b/c")
            .with_path_param("id", "x/y"),
        ..Fake::default()
    };
    let run = |path: &str| {
        let p = plan(json!({"request": {"path": path}}));
        let out = Out::default();
        request(&p.request, &f, &out).map(|()| out.path.borrow().clone())
    };
    assert_eq!(
        run("/s3/${request.path.proxy}"),
        Ok(Some("/s3/a%20b/c".into())),
        "greedy keeps `/`"
    );
    assert_eq!(run("/i/$request.path.id"), Ok(Some("/i/x%2Fy".into())));
    assert_eq!(
        run("/ü x/$request.path.none/"),
        Ok(Some("/%C3%BC%20x//".into()))
    );
    assert_eq!(
        run("$request.header.x-path"),
        Ok(None),
        "a missing whole value keeps the path"
    );
    assert_eq!(
        run("$stageVariables.name").map_err(|a| a.status),
        Err(500),
        "`prod` is not a path"
    );
}

#[test]
fn request_body_mapping() {
    let p = plan(json!({"request": {"body": {
        "template": {"orderId": "$request.path.id", "items": "$request.body.items",
                     "user": "$request.body.user", "tags": ["a", "$request.header.x-tag"], "n": 3},
        "set": {"meta.by": "$context.identity.sourceIp", "meta.count": "$request.body.items[0].secret"},
        "rename": {"user.name": "user.fullName"},
        "remove": ["items[0].secret", "password"]
    }}}));
    let f = Fake::default();
    let out = Out::with_headers(&[("content-type", "text/plain")]);
    request(&p.request, &f, &out).expect("runs");
    assert_eq!(
        out.body.borrow().clone(),
        Some(json!({
            "orderId": "42", "items": [{"sku": "a"}], "user": {"fullName": "Zoë"},
            "tags": ["a", "t1"], "n": 3, "meta": {"by": "203.0.113.9", "count": 1}
        }))
    );
    assert_eq!(out.values("content-type"), vec!["application/json"]);
    let out = Out::with_headers(&[("content-type", "application/vnd.api+json")]);
    request(&p.request, &f, &out).expect("runs");
    assert_eq!(
        out.values("content-type"),
        vec!["application/vnd.api+json"],
        "JSON already"
    );
}

#[test]
fn unicode_round_trips() {
    let p = plan(json!({"request": {"body": {"set": {"['ключ']": "$request.header.x-name"}}}}));
    let f = Fake {
        request: fake::request(fake::TARGET, true).with_header("x-name", "名前 😀"),
        body: Ok(json!({"café": "Zoë \u{1F600}"})),
        ..Fake::default()
    };
    let out = Out::default();
    request(&p.request, &f, &out).expect("runs");
    let raw = String::from_utf8(out.raw_body.borrow().clone()).expect("UTF-8");
    assert_eq!(
        raw, "{\"café\":\"Zoë \u{1F600}\",\"ключ\":\"名前 😀\"}",
        "written as UTF-8, not escaped"
    );
}

#[test]
fn body_problems_answer_before_any_edit() {
    let p = plan(json!({"request": {
        "headers": {"set": {"x-a": "b"}},
        "body": {"remove": ["password"]}
    }}));
    let f = Fake {
        body: Err(Answer {
            status: 415,
            message: crate::body::UNSUPPORTED.into(),
        }),
        ..Fake::default()
    };
    let out = Out::default();
    assert_eq!(
        request(&p.request, &f, &out).map_err(|a| a.status),
        Err(415)
    );
    assert!(out.log.borrow().is_empty(), "nothing edited");
    let f = Fake {
        body: Ok(Value::Null),
        ..Fake::default()
    };
    let out = Out::default();
    request(&p.request, &f, &out).expect("an empty body is null");
    assert_eq!(out.body.borrow().clone(), Some(Value::Null));
}

#[test]
fn control_characters_from_the_request_are_400_and_refused_edits_500() {
    let p = plan(json!({"request": {"headers": {"set": {"x-a": "$request.body.text"}}}}));
    let f = Fake {
        body: Ok(json!({"text": "line\nbreak"})),
        ..Fake::default()
    };
    let e = request(&p.request, &f, &Out::default()).expect_err("control characters");
    assert_eq!(
        (e.status, e.message.as_str()),
        (
            400,
            "Bad Request: the value mapped to header `x-a` contains control characters"
        )
    );
    let f = Fake {
        body: Ok(json!({"text": "clean"})),
        ..Fake::default()
    };
    let out = Out {
        refuse: Some("x-a"),
        ..Out::default()
    };
    let e = request(&p.request, &f, &out).expect_err("refused");
    assert_eq!(
        (e.status, e.message.as_str()),
        (500, "transform: `x-a` refused")
    );
}

#[test]
fn responses() {
    let p = plan(json!({"response": {
        "status": [{"when": "404", "set": 200}, {"when": "5xx", "set": 502}],
        "headers": {"rename": {"server": "x-server"}, "set": {"x-status": "$response.statuscode",
                    "x-path": "$request.path", "x-user": "$context.authorizer.claims.sub"}},
        "parameter_mapping": {
            "append:header.x-backend": "$response.header.server",
            "overwrite:header.x-order": "$response.body.id",
            "remove:header.set-cookie": "''"
        },
        "body": {"template": {"data": "$response.body", "code": "$response.statuscode"}, "remove": ["data.ok"]}
    }}));
    let f = Fake::default();
    let pairs: Vec<(&str, &str)> = f
        .response_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let out = Out::with_headers(&pairs);
    response(&p.response, &f, &out).expect("runs");
    assert_eq!(*out.status.borrow(), Some(200));
    assert_eq!(out.values("x-server"), vec!["backend/1"]);
    assert!(out.values("server").is_empty());
    assert!(out.values("set-cookie").is_empty());
    assert_eq!(out.values("x-status"), vec!["404"], "the status as it came");
    assert_eq!(out.values("x-path"), vec!["/orders/42"]);
    assert_eq!(out.values("x-user"), vec!["u-1"]);
    assert_eq!(out.values("x-backend"), vec!["backend/1"]);
    assert_eq!(out.values("x-order"), vec!["7"]);
    assert_eq!(
        out.body.borrow().clone(),
        Some(json!({"data": {"id": 7}, "code": 404}))
    );
    assert_eq!(out.values("content-type"), vec!["application/json"]);
}

#[test]
fn response_status_lines() {
    let run = |config: Value, f: &Fake| {
        let p = plan(json!({"response": config}));
        let out = Out::default();
        response(&p.response, f, &out).map(|()| *out.status.borrow())
    };
    let f = Fake::default();
    let rules = json!([{"when": "4xx", "set": 400}]);
    assert_eq!(run(json!({"status": rules}), &f), Ok(Some(400)));
    assert_eq!(
        run(
            json!({"status": rules, "parameter_mapping": {"overwrite:statuscode": "204"}}),
            &f
        ),
        Ok(Some(204)),
        "the line comes after the rules"
    );
    assert_eq!(
        run(
            json!({"parameter_mapping": {"overwrite:statuscode": "$response.header.none"}}),
            &f
        ),
        Ok(None)
    );
    assert_eq!(
        run(
            json!({"parameter_mapping": {"overwrite:statuscode": "$response.header.server"}}),
            &f
        )
        .map_err(|a| a.status),
        Err(500)
    );
    assert_eq!(
        run(json!({"status": [{"when": "200", "set": 201}]}), &f),
        Ok(None)
    );
    let bad = Fake {
        response_body: Err(Answer {
            status: 502,
            message: crate::body::NOT_JSON.into(),
        }),
        ..Fake::default()
    };
    assert_eq!(
        run(json!({"body": {"remove": ["a"]}}), &bad).map_err(|a| a.status),
        Err(502)
    );
}
