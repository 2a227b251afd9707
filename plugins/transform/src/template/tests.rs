//! Tests of template parsing, checking and rendering.

use super::fake::{self, Fake};
use super::*;
use serde_json::json;

fn req(s: &str) -> Text {
    Text::parse(s, Side::Request).expect(s)
}

fn resp(s: &str) -> Text {
    Text::parse(s, Side::Response).expect(s)
}

fn text(t: &Text) -> Option<String> {
    t.render_text(&Fake::default()).expect("renders")
}

#[test]
fn parses_pieces() {
    let t = req("/v2/orders/${request.path.id}/items");
    assert_eq!(
        t.pieces,
        vec![
            Piece::Lit("/v2/orders/".into()),
            Piece::Var(Var::PathParam("id".into())),
            Piece::Lit("/items".into()),
        ]
    );
    let t = req("Bearer $request.header.X-Token.");
    assert_eq!(t.pieces[1], Piece::Var(Var::Header("x-token".into())));
    assert_eq!(
        t.pieces[2],
        Piece::Lit(".".into()),
        "a trailing dot is text"
    );
    let t = req("$request.body.items[0]['a.b'].c!");
    assert_eq!(
        t.pieces[0],
        Piece::Var(Var::RequestBody(
            JsonPath::parse("items[0]['a.b'].c").expect("path")
        ))
    );
    assert_eq!(req("${ request.path }").whole(), Some(&Var::RequestPath));
    assert!(req("${request.body['}']}").whole().is_some());
    assert_eq!(
        req("costs \\$5 \\n").literal().as_deref(),
        Some("costs $5 \\n")
    );
    assert_eq!(req("").pieces, vec![]);
    assert_eq!(req("plain").literal().as_deref(), Some("plain"));
    assert!(req("a$request.path").whole().is_none());
}

#[test]
fn parses_every_variable() {
    let cases: [(&str, Var); 24] = [
        ("$request.body", Var::RequestBody(JsonPath::default())),
        (
            "$request.body.a[1]",
            Var::RequestBody(JsonPath::parse("a[1]").expect("path")),
        ),
        ("$request.path", Var::RequestPath),
        ("$request.path.id", Var::PathParam("id".into())),
        ("$request.querystring.q", Var::Query("q".into())),
        (
            "$request.multivaluequerystring.q",
            Var::MultiQuery("q".into()),
        ),
        ("$request.header.X-A", Var::Header("x-a".into())),
        (
            "$request.multivalueheader.x-a",
            Var::MultiHeader("x-a".into()),
        ),
        ("$request.header.x.y", Var::Header("x.y".into())),
        ("$request.header['x.y']", Var::Header("x.y".into())),
        ("$stageVariables.name", Var::StageVariable("name".into())),
        ("$context.requestId", Var::Context(Ctx::RequestId)),
        ("$context.httpMethod", Var::Context(Ctx::HttpMethod)),
        ("$context.path", Var::Context(Ctx::Path)),
        ("$context.routeKey", Var::Context(Ctx::RouteKey)),
        ("$context.stage", Var::Context(Ctx::Stage)),
        ("$context.apiName", Var::Context(Ctx::ApiName)),
        ("$context.identity.sourceIp", Var::Context(Ctx::SourceIp)),
        ("$context.identity.userAgent", Var::Context(Ctx::UserAgent)),
        (
            "$context.authorizer.principalId",
            Var::Context(Ctx::PrincipalId),
        ),
        ("$context.authorizer.claims.sub", Var::Claim("sub".into())),
        (
            "$context.authorizer.claims['cognito:groups']",
            Var::Claim("cognito:groups".into()),
        ),
        ("$context.authorizer.tenant", Var::Claim("tenant".into())),
        ("$response.statuscode", Var::StatusCode),
    ];
    for (src, want) in cases {
        assert_eq!(resp_or_req(src).whole(), Some(&want), "{src}");
    }
    assert_eq!(
        resp("$response.header.Server").whole(),
        Some(&Var::ResponseHeader("server".into()))
    );
    assert_eq!(
        resp("$response.multivalueheader.set-cookie").whole(),
        Some(&Var::ResponseMultiHeader("set-cookie".into()))
    );
    assert_eq!(
        resp("$response.body.id").whole(),
        Some(&Var::ResponseBody(JsonPath::parse("id").expect("path")))
    );
}

fn resp_or_req(s: &str) -> Text {
    if s.starts_with("$response") {
        resp(s)
    } else {
        req(s)
    }
}

#[test]
fn refuses_bad_templates() {
    for (side, bad, want) in [
        (
            Side::Request,
            "$requst.header.x",
            "unknown variable `$requst.header.x`",
        ),
        (
            Side::Request,
            "$request.heder.x",
            "unknown variable `$request.heder.x`",
        ),
        (
            Side::Request,
            "$context.foo",
            "unknown variable `$context.foo`: context values",
        ),
        (Side::Request, "$context.identity.ip", "unknown variable"),
        (Side::Request, "$context.requestId.x", "unknown variable"),
        (Side::Request, "$context.authorizer", "needs a name"),
        (Side::Request, "$context.authorizer.claims", "needs a name"),
        (
            Side::Request,
            "$request.header",
            "needs a name, e.g. `$request.header.x-tag`",
        ),
        (Side::Request, "$request.querystring", "needs a name"),
        (Side::Request, "$stageVariables", "needs a name"),
        (
            Side::Request,
            "$request.header['a b']",
            "`a b` is not a header name",
        ),
        (Side::Request, "$request.header['']", "empty name"),
        (
            Side::Request,
            "$request.path.id[0]",
            "a name cannot have an index",
        ),
        (
            Side::Request,
            "${request.body.a..b}",
            "bad variable `$request.body.a..b`",
        ),
        (Side::Request, "${request.path.id", "unclosed `${`"),
        (Side::Request, "$request.body.a[0", "unclosed `[`"),
        (Side::Request, "cost $5", "`$` does not start a variable"),
        (Side::Request, "end $", "`$` does not start a variable"),
        (Side::Request, "${}", "bad variable `$`: empty path"),
        (
            Side::Request,
            "$response.statuscode",
            "only available on the response side",
        ),
        (
            Side::Response,
            "$request.body.x",
            "not available on the response side",
        ),
        (Side::Response, "$response.statuscode.x", "unknown variable"),
        (Side::Response, "$response.cookie", "unknown variable"),
        (Side::Request, "$ctx.x", "variables start with"),
    ] {
        let e = Text::parse(bad, side).expect_err(bad);
        assert!(e.contains(want), "{bad}: {e}");
    }
}

#[test]
fn renders_every_source() {
    for (t, want) in [
        ("$request.path", Some("/orders/42")),
        ("$request.path.id", Some("42")),
        ("$request.path.nope", None),
        ("$request.querystring.q", Some("a b")),
        ("$request.querystring.tag", Some("x")),
        ("$request.multivaluequerystring.tag", Some("x,y z")),
        ("$request.multivaluequerystring.none", None),
        ("$request.header.x-tag", Some("t1")),
        ("$request.multivalueheader.x-tag", Some("t1,t2")),
        ("$request.header.absent", None),
        ("$stageVariables.name", Some("prod")),
        ("$context.requestId", Some("req-1")),
        ("$context.httpMethod", Some("POST")),
        ("$context.path", Some("/orders/42")),
        ("$context.routeKey", Some("POST /orders/{id}")),
        ("$context.stage", Some("v1")),
        ("$context.apiName", Some("shop")),
        ("$context.identity.sourceIp", Some("203.0.113.9")),
        ("$context.identity.userAgent", Some("curl/8")),
        ("$context.authorizer.principalId", Some("alice")),
        ("$context.authorizer.claims.sub", Some("u-1")),
        ("$context.authorizer.scope", Some("read")),
        ("$context.authorizer.claims.none", None),
        ("$request.body.user.name", Some("Zoë")),
        ("$request.body.items", Some(r#"[{"sku":"a","secret":1}]"#)),
        ("$request.body.none", None),
    ] {
        assert_eq!(text(&req(t)).as_deref(), want, "{t}");
    }
    for (t, want) in [
        ("$response.header.server", Some("backend/1")),
        ("$response.multivalueheader.set-cookie", Some("a=1,b=2")),
        ("$response.statuscode", Some("404")),
        ("$response.body.id", Some("7")),
        ("$response.body.none", None),
        ("$request.header.x-tag", Some("t1")),
    ] {
        assert_eq!(text(&resp(t)).as_deref(), want, "{t}");
    }
    let anonymous = Fake {
        request: fake::request(fake::TARGET, false),
        ..Fake::default()
    };
    assert_eq!(
        req("$context.authorizer.principalId")
            .render_text(&anonymous)
            .expect("renders"),
        None
    );
}

#[test]
fn whole_values_keep_their_type() {
    let f = Fake::default();
    assert_eq!(
        req("$request.body.items[0]").render_json(&f),
        Ok(json!({"sku": "a", "secret": 1}))
    );
    assert_eq!(resp("$response.statuscode").render_json(&f), Ok(json!(404)));
    assert_eq!(resp("$response.body.ok").render_json(&f), Ok(json!(true)));
    assert_eq!(req("$request.body.none").render_json(&f), Ok(Value::Null));
    assert_eq!(req("${request.path.id}").render_json(&f), Ok(json!("42")));
    assert_eq!(
        req("n=$request.body.items[0].secret, u=${request.body.user}, x=[$request.body.none]")
            .render_json(&f),
        Ok(json!(r#"n=1, u={"name":"Zoë"}, x=[]"#)),
        "interpolation writes compact JSON and empty for missing"
    );
    assert_eq!(
        req("$request.path.none").render_text(&f),
        Ok(None),
        "a missing whole value is not set"
    );
    assert_eq!(
        req("id-${request.path.none}").render_text(&f),
        Ok(Some("id-".into()))
    );
    let empty = Fake {
        body: Ok(Value::Null),
        ..Fake::default()
    };
    assert_eq!(
        req("$request.body").render_text(&empty),
        Ok(None),
        "null is missing"
    );
    assert_eq!(req("$request.body.a").render_json(&empty), Ok(Value::Null));
}

#[test]
fn json_templates() {
    let tpl = json!({
        "orderId": "$request.path.id",
        "items": "$request.body.items",
        "user": "$context.authorizer.claims.sub",
        "source": "web",
        "tags": ["a", "$request.header.x-tag"],
        "n": 3,
        "none": "$request.body.missing",
        "nested": {"ok": null, "ü": "${request.querystring.q}!"}
    });
    let node = Node::parse(&tpl, Side::Request, "request.body.template").expect("parses");
    assert_eq!(node.vars().len(), 6);
    assert_eq!(
        node.render(&Fake::default()),
        Ok(json!({
            "orderId": "42",
            "items": [{"sku": "a", "secret": 1}],
            "user": "u-1",
            "source": "web",
            "tags": ["a", "t1"],
            "n": 3,
            "none": null,
            "nested": {"ok": null, "ü": "a b!"}
        }))
    );
    let e = Node::parse(
        &json!({"a": [1, {"b c": "$requst.x"}]}),
        Side::Request,
        "request.body.template",
    )
    .expect_err("bad");
    assert!(
        e.starts_with("request.body.template.a[1]['b c']: unknown variable `$requst.x`"),
        "{e}"
    );
}

#[test]
fn body_errors_pass_through() {
    let f = Fake {
        body: Err(Answer {
            status: 415,
            message: "no".into(),
        }),
        ..Fake::default()
    };
    assert_eq!(
        req("$request.body.a").render_text(&f).map_err(|a| a.status),
        Err(415)
    );
}
