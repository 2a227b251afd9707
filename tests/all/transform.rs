//! Built-in `transform` through the real binary: every mapping source and operation on the
//! request, status, header and body mapping on the response, Amazon API Gateway mapping
//! lines, body errors (415, 400, 413), unicode and large bodies, streaming when no body is
//! mapped, and templates refused at load time.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::support::backend::fnv;
use crate::support::{Backend, FetchJson, Gateway, client, post_streaming};

const KEY: &str = "acme-key-0123456789abcdef";

/// A gateway: api-key `keys`, a transform `reshape` with `config` (JSON), on routes of an
/// API with stage variable `tier: gold`; `routes` are YAML items at route indentation.
fn config(transform: &Value, routes: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  keys:
    builtin: api-key
    config: {{ keys: [{{ consumer: acme, id: acme-1, key: {KEY} }}] }}
  reshape:
    builtin: transform
    on_request: [transform]
    on_response: [transform]
    # A megabyte of JSON in a debug build on a busy CI machine: not a test of speed.
    deadline: 5s
    config: {transform}
apis:
  - name: shop
    kind: http
    stages: {{ $default: {{ variables: {{ tier: gold }} }} }}
    routes:
{routes}
"#
    )
}

/// A route `methods path` with `plugins`, proxied to the backend's `url_path`.
fn route(methods: &str, path: &str, plugins: &str, backend: &Backend, extra: &str) -> String {
    format!(
        "      - path: {path}\n        methods: [{methods}]\n        plugins: [{plugins}]\n{extra}        \
         integration: {{ type: http, url: \"{}/echo\" }}\n",
        backend.url()
    )
}

fn header(v: &Value, name: &str) -> Value {
    v["headers"][name].clone()
}

#[tokio::test]
async fn request_mapping_reads_every_source_and_applies_every_operation() {
    let backend = Backend::start("b").await;
    let transform = json!({
        "request": {
            "headers": {
                "set": {
                    "x-user": "$context.authorizer.principalId",
                    "x-tier": "${stageVariables.tier}-tier",
                    "x-route": "$context.routeKey",
                },
                "append": { "x-via": "tollgate" },
                "remove": ["x-debug"],
                "rename": { "x-old": "x-new" },
            },
            "query": {
                "set": { "version": "2" },
                "append": { "tag": "$request.header.x-tag" },
                "remove": ["debug"],
                "rename": { "q": "search" },
            },
            "path": "/v2/orders/${request.path.id}/items",
            "body": {
                "template": {
                    "orderId": "$request.path.id",
                    "items": "$request.body.items",
                    "firstSku": "$request.body.items[0].sku",
                    "user": "$context.authorizer.consumer",
                    "keyId": "$context.authorizer.claims.api_key_id",
                    "ip": "$context.identity.sourceIp",
                    "method": "$context.httpMethod",
                    "tier": "$stageVariables.tier",
                    "search": "$request.querystring.q",
                    "source": "web",
                    "n": 3,
                    "tags": ["a", "$request.header.x-tag"],
                    "greeting": "hello ${request.body.name}!",
                    "missing": "$request.body.nope",
                },
                "set": { "meta.requestId": "$context.requestId" },
                "rename": { "items": "lines" },
                "remove": ["lines[0].secret"],
            },
        }
    });
    let routes = route("POST", "/orders/{id}", "keys, reshape", &backend, "");
    let gw = Gateway::start(&config(&transform, &routes)).await;

    let v = client()
        .post(format!("{}/orders/42?q=shoes&debug=1&keep=yes", gw.url()))
        .header("x-api-key", KEY)
        .header("x-request-id", "req-123")
        .header("x-tag", "blue")
        .header("x-via", "client")
        .header("x-debug", "1")
        .header("x-old", "moved")
        .header("content-type", "application/json")
        .body(
            r#"{"name":"Zoë","items":[{"sku":"A-1","qty":2,"secret":"s"},{"sku":"B-2","qty":1}]}"#,
        )
        .fetch_json()
        .await;

    assert_eq!(v["path"], "/v2/orders/42/items");
    let query = v["query"].as_str().expect("query");
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["keep=yes", "search=shoes", "tag=blue", "version=2"]);

    assert_eq!(header(&v, "x-user"), "acme");
    assert_eq!(header(&v, "x-tier"), "gold-tier");
    assert_eq!(header(&v, "x-route"), "POST /orders/{id}");
    assert_eq!(header(&v, "x-via"), "client, tollgate");
    assert_eq!(header(&v, "x-new"), "moved");
    assert_eq!(header(&v, "x-old"), Value::Null);
    assert_eq!(header(&v, "x-debug"), Value::Null);
    assert_eq!(header(&v, "content-type"), "application/json");

    let body: Value = serde_json::from_str(v["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(
        body,
        json!({
            "orderId": "42",
            "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
            "firstSku": "A-1",
            "user": "acme",
            "keyId": "acme-1",
            "ip": "127.0.0.1",
            "method": "POST",
            "tier": "gold",
            "search": "shoes",
            "source": "web",
            "n": 3,
            "tags": ["a", "blue"],
            "greeting": "hello Zoë!",
            "missing": null,
            "meta": {"requestId": "req-123"},
        })
    );
    let sent = v["body"].as_str().expect("body").len();
    assert_eq!(v["body_len"], sent, "Content-Length follows the new body");
}

#[tokio::test]
async fn aws_parameter_mapping_lines_are_accepted_as_they_are() {
    let backend = Backend::start("b").await;
    let transform = json!({
        "request": {
            "parameter_mapping": {
                "append:header.x-id": "$request.header.x-request-id",
                "overwrite:header.x-stage": "$stageVariables.tier",
                "remove:header.x-debug": "''",
                "overwrite:querystring.page": "$request.querystring.p",
                "remove:querystring.p": "''",
                "append:querystring.t": "v",
                "overwrite:path": "/aws$request.path",
            }
        },
        "response": {
            "parameter_mapping": {
                "overwrite:statuscode": "201",
                "append:header.x-backend-method": "$response.body.method",
                "overwrite:header.x-kind": "$response.header.content-type",
                "remove:header.x-remove-me": "''",
            }
        }
    });
    let routes = route("GET", "/items/{id}", "reshape", &backend, "");
    let gw = Gateway::start(&config(&transform, &routes)).await;

    let r = client()
        .get(format!("{}/items/7?p=3", gw.url()))
        .header("x-request-id", "abc")
        .header("x-debug", "1")
        .header("x-test-respond-header", "x-remove-me: yes")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 201);
    let h = |n: &str| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().expect("text").to_owned())
    };
    assert_eq!(h("x-backend-method").as_deref(), Some("GET"));
    assert_eq!(h("x-kind").as_deref(), Some("application/json"));
    assert_eq!(h("x-remove-me"), None);
    let v: Value = r.json().await.expect("JSON");
    assert_eq!(v["path"], "/aws/items/7");
    let mut pairs: Vec<&str> = v["query"].as_str().expect("query").split('&').collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["page=3", "t=v"]);
    assert_eq!(header(&v, "x-id"), "abc");
    assert_eq!(header(&v, "x-stage"), "gold");
    assert_eq!(header(&v, "x-debug"), Value::Null);
}

#[tokio::test]
async fn responses_are_mapped_by_status_headers_and_body() {
    let backend = Backend::start("b").await;
    let transform = json!({
        "response": {
            "status": [
                { "when": "404", "set": 200 },
                { "when": "5xx", "set": 502 },
                { "when": "4\\d{2}", "set": 400 },
            ],
            "headers": {
                "set": { "x-seen-path": "$response.body.path" },
                "rename": { "x-up": "x-down" },
            },
            "body": {
                "template": {
                    "path": "$response.body.path",
                    "status": "$response.statuscode",
                    "agent": "$context.identity.userAgent",
                    "asked": "$request.querystring.q",
                    "route": "$context.routeKey",
                }
            }
        }
    });
    let routes = route("GET", "/s", "reshape", &backend, "");
    let gw = Gateway::start(&config(&transform, &routes)).await;
    let get = |status: &'static str| {
        client()
            .get(format!("{}/s?q=é", gw.url()))
            .header("user-agent", "tester/1.0")
            .header("x-test-status", status)
            .header("x-test-respond-header", "x-up: 1")
            .header("x-test-respond-header", "etag: \"v1\"")
    };

    for (backend_status, want) in [("404", 200), ("503", 502), ("418", 400), ("201", 201)] {
        let r = get(backend_status).send().await.expect("request");
        assert_eq!(r.status(), want, "backend {backend_status}");
        assert_eq!(r.headers()["x-seen-path"], "/echo");
        assert_eq!(r.headers()["x-down"], "1");
        assert!(r.headers().get("x-up").is_none());
        assert!(
            r.headers().get("etag").is_none(),
            "a mapped body drops what described the old one"
        );
        let len: usize = r.headers()["content-length"]
            .to_str()
            .expect("text")
            .parse()
            .expect("number");
        let bytes = r.bytes().await.expect("body");
        assert_eq!(bytes.len(), len);
        let v: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(
            v,
            json!({
                "path": "/echo",
                "status": backend_status.parse::<u16>().expect("status"),
                "agent": "tester/1.0",
                "asked": "é",
                "route": "GET /s",
            })
        );
    }

    // A 204 keeps no body: the mapping is skipped, and nothing is sent.
    let r = get("204").send().await.expect("request");
    assert_eq!(r.status(), 204);
    assert!(r.headers().get("content-length").is_none());
    assert!(r.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn body_mapping_refuses_what_is_not_json_and_what_is_too_large() {
    let backend = Backend::start("b").await;
    let transform = json!({
        "request": { "body": { "template": { "a": "$request.body.a" } } }
    });
    let routes = route(
        "POST",
        "/m",
        "reshape",
        &backend,
        "        max_body: 1KiB\n",
    );
    let gw = Gateway::start(&config(&transform, &routes)).await;
    let url = format!("{}/m", gw.url());

    let r = client()
        .post(&url)
        .header("content-type", "text/plain")
        .body("a=1")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 415);
    let v: Value = r.json().await.expect("JSON");
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("Unsupported Media Type"),
        "{v}"
    );

    let r = client()
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"a\": ")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("JSON");
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .starts_with("Invalid JSON body"),
        "{v}"
    );

    // Over the route's limit, sent without a length (chunked): the plugin's read fails and
    // the gateway answers 413 whatever the plugin does.
    let chunks = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 512]))),
    );
    let r = client()
        .post(&url)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 413);
    assert_eq!(backend.hits(), 0, "no refused request reaches the backend");

    let v = client()
        .post(&url)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"a":[1,2]}"#)
        .fetch_json()
        .await;
    assert_eq!(v["body"], r#"{"a":[1,2]}"#);
}

#[tokio::test]
async fn unicode_and_large_bodies_round_trip() {
    let backend = Backend::start("b").await;
    let transform = json!({
        "request": { "body": { "template": { "items": "$request.body.items" } } }
    });
    let routes = route(
        "POST",
        "/big",
        "reshape",
        &backend,
        "        max_body: 4MiB\n",
    );
    let gw = Gateway::start(&config(&transform, &routes)).await;

    let items: Vec<Value> = (0..25_000)
        .map(|i| json!({ "v": format!("héllo wörld 🚀 日本語 #{i}") }))
        .collect();
    let items = Value::Array(items);
    let sent = serde_json::to_string(&json!({ "items": items, "dropped": "x" })).expect("json");
    assert!(sent.len() > 1 << 20, "over a megabyte: {}", sent.len());
    let expected = format!(
        "{{\"items\":{}}}",
        serde_json::to_string(&items).expect("json")
    );

    let v = client()
        .post(format!("{}/big", gw.url()))
        .header("content-type", "application/json")
        .body(sent)
        .fetch_json()
        .await;
    assert_eq!(v["body_len"], expected.len());
    assert_eq!(v["body_hash"], fnv(expected.as_bytes()));
}

#[tokio::test]
async fn a_header_only_transform_leaves_the_body_streaming() {
    let backend = Backend::start("b").await;
    let transform = json!({ "request": { "headers": { "set": { "x-a": "b" } } } });
    let routes = route("POST", "/upload", "reshape", &backend, "");
    let gw = Gateway::start(&config(&transform, &routes)).await;

    let v = post_streaming(&backend, format!("{}/upload", gw.url())).await;
    assert_eq!(v["body_len"], 131072);
    assert_eq!(header(&v, "x-a"), "b");
}

#[tokio::test]
async fn templates_are_checked_when_the_config_loads() {
    let backend = Backend::start("b").await;
    let routes = route("GET", "/x", "reshape", &backend, "");
    let cases = [
        (
            json!({ "request": { "headers": { "set": { "x-a": "$requst.header.x" } } } }),
            "request.headers.set.`x-a`",
        ),
        (
            json!({ "request": { "parameter_mapping": { "overwrite:statuscode": "200" } } }),
            "overwrite:statuscode",
        ),
        (
            json!({ "request": { "parameter_mapping": { "rename:header.x": "y" } } }),
            "rename:header.x",
        ),
        (
            json!({ "response": { "body": { "template": { "a": "$request.body.a" } } } }),
            "response.body",
        ),
        (
            json!({ "response": { "status": [{ "when": "5xx", "set": 700 }] } }),
            "response.status[0]",
        ),
        (
            json!({ "request": { "headers": { "set": { "connection": "close" } } } }),
            "connection",
        ),
    ];
    for (transform, needle) in cases {
        let err = Gateway::start_failure(&config(&transform, &routes)).await;
        assert!(
            err.contains("plugin `reshape` rejected its config") && err.contains(needle),
            "{transform}: {err}"
        );
    }
}

#[tokio::test]
async fn control_characters_mapped_from_the_request_are_the_clients_error() {
    let backend = Backend::start("b").await;
    let transform = json!({
        "request": { "headers": { "set": { "x-name": "$request.querystring.name" } } },
    });
    let routes = route("GET", "/who", "reshape", &backend, "");
    let gw = Gateway::start(&config(&transform, &routes)).await;
    let c = client();
    // An encoded CR LF in the query would split the header it is mapped into.
    let r = c
        .get(format!("{}/who?name=a%0d%0aInjected:%20yes", gw.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("JSON");
    let message = v["message"].as_str().expect("message");
    assert!(message.contains("x-name"), "{message}");
    assert_eq!(backend.hits(), 0, "nothing reached the backend");
    gw.wait_log("plugin answered").await;
    // A clean value still goes through.
    let v = c
        .get(format!("{}/who?name=ada", gw.url()))
        .fetch_json()
        .await;
    assert_eq!(header(&v, "x-name"), "ada");
}
