//! Built-in `request-validator` through the real binary: required and typed parameters,
//! JSON Schema (draft-04 and 2020-12) errors with the pointer of the failing field, 415 and
//! empty bodies, the AWS switches and `request_parameters` form, and validator and transform
//! chained on one route in the documented order (configure before transform).

use serde_json::{Value, json};

use crate::support::{Backend, FetchJson, Gateway, client};

fn draft4_order() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "properties": {
                        "sku": { "type": "string", "maxLength": 8 },
                        "qty": { "type": "integer", "minimum": 1 }
                    }
                }
            }
        }
    })
}

/// A gateway with validators `check` (draft-04 body, typed parameters), `check2020`
/// (2020-12 body) and `aws` (`request_parameters` only), and the transform `reshape`.
fn config(backend: &Backend) -> String {
    let check = json!({
        "body_schema": draft4_order(),
        "parameters": {
            "querystring": { "limit": { "required": true, "type": "integer", "minimum": 1, "maximum": 100 } },
            "header": { "x-tenant": { "required": true, "pattern": "^[a-z]+$" } },
            "path": { "id": { "type": "integer" } }
        }
    });
    let check2020 = json!({
        "body_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "array",
            "prefixItems": [{ "type": "string" }, { "$ref": "#/$defs/point" }],
            "$defs": { "point": { "type": "object", "required": ["x"], "properties": { "x": { "type": "number" } } } }
        }
    });
    let aws = json!({
        "validateRequestBody": false,
        "validateRequestParameters": true,
        "body_schema": { "type": "object" },
        "requestParameters": {
            "method.request.querystring.page": true,
            "method.request.header.x-opt": false
        }
    });
    let reshape = json!({
        "request": { "body": { "template": { "lines": "$request.body.items", "tenant": "$request.header.x-tenant" } } }
    });
    let url = backend.url();
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  check: {{ builtin: request-validator, on_request: [configure], config: {check} }}
  check2020: {{ builtin: request-validator, on_request: [configure], config: {check2020} }}
  aws: {{ builtin: request-validator, on_request: [configure], config: {aws} }}
  reshape: {{ builtin: transform, on_request: [transform], config: {reshape} }}
apis:
  - name: shop
    kind: http
    routes:
      - path: /orders/{{id}}
        methods: [POST]
        plugins: [reshape, check]
        integration: {{ type: http, url: "{url}/echo" }}
      - path: /points
        methods: [POST]
        plugins: [check2020]
        integration: {{ type: http, url: "{url}/echo" }}
      - path: /pages
        methods: [POST]
        plugins: [aws]
        integration: {{ type: http, url: "{url}/echo" }}
"#
    )
}

async fn refused(req: reqwest::RequestBuilder) -> (u16, Value) {
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON"))
}

fn message(v: &Value) -> &str {
    v["message"].as_str().expect("message")
}

#[tokio::test]
async fn parameters_are_required_and_typed() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let order = |path: &str| {
        client()
            .post(format!("{}{path}", gw.url()))
            .header("content-type", "application/json")
            .body(r#"{"items":[{"sku":"A","qty":1}]}"#)
    };

    let (status, v) = refused(order("/orders/1")).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&v),
        "Missing required request parameters: [limit, x-tenant]"
    );

    let (status, v) = refused(order("/orders/1?limit=abc").header("x-tenant", "acme")).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("querystring.limit"), "{v}");

    let (status, v) = refused(order("/orders/1?limit=500").header("x-tenant", "acme")).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("querystring.limit"), "{v}");

    let (status, v) = refused(order("/orders/1?limit=5").header("x-tenant", "ACME")).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("header.x-tenant"), "{v}");

    let (status, v) = refused(order("/orders/one?limit=5").header("x-tenant", "acme")).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("path.id"), "{v}");

    // A CORS preflight is not the validator's: without `cors` it is an OPTIONS the route
    // does not serve.
    let r = client()
        .request(reqwest::Method::OPTIONS, format!("{}/orders/1", gw.url()))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert_eq!(r.status(), 405);
    assert_eq!(backend.hits(), 0);

    // The AWS form: `page` required, `x-opt` optional; body validation switched off.
    let (status, v) = refused(client().post(format!("{}/pages", gw.url())).body("[]")).await;
    assert_eq!(status, 400);
    assert_eq!(message(&v), "Missing required request parameters: [page]");
    let v = client()
        .post(format!("{}/pages?page=2", gw.url()))
        .body("not even JSON")
        .fetch_json()
        .await;
    assert_eq!(v["body"], "not even JSON");
}

#[tokio::test]
async fn schema_errors_name_the_failing_field() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let order = |body: &str, content_type: &str| {
        client()
            .post(format!("{}/orders/7?limit=5", gw.url()))
            .header("x-tenant", "acme")
            .header("content-type", content_type)
            .body(body.to_owned())
    };
    let json_type = "application/json";

    let (status, v) = refused(order(r#"{"items":[{"sku":"A","qty":-1}]}"#, json_type)).await;
    assert_eq!(status, 400);
    assert_eq!(v["errors"][0]["pointer"], "/items/0/qty");
    assert!(
        message(&v).starts_with("Invalid request body: /items/0/qty"),
        "{v}"
    );

    let (status, v) = refused(order(
        r#"{"items":[{"sku":"日本語のSKUは長い","qty":1}]}"#,
        json_type,
    ))
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["errors"][0]["pointer"], "/items/0/sku");

    let (status, v) = refused(order(r#"{"other":1}"#, json_type)).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("items"), "{v}");

    let (status, _) = refused(order("items=1", "text/plain")).await;
    assert_eq!(status, 415);
    let (status, v) = refused(order("", json_type)).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("empty"), "{v}");
    let (status, v) = refused(order("{\"items\":", json_type)).await;
    assert_eq!(status, 400);
    assert!(message(&v).contains("not JSON"), "{v}");

    // 2020-12: prefixItems and $defs.
    let point = |body: &str| {
        client()
            .post(format!("{}/points", gw.url()))
            .header("content-type", json_type)
            .body(body.to_owned())
    };
    let (status, v) = refused(point(r#"["a", {"x": "far"}]"#)).await;
    assert_eq!(status, 400);
    assert_eq!(v["errors"][0]["pointer"], "/1/x");
    assert_eq!(backend.hits(), 0);
    let v = point(r#"["a", {"x": 1.5}]"#).fetch_json().await;
    assert_eq!(v["body"], r#"["a", {"x": 1.5}]"#);
}

#[tokio::test]
async fn the_validator_sees_the_clients_body_and_the_transform_maps_it_after() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    // `reshape` is listed first on the route, but configure runs before transform.
    let v = client()
        .post(format!("{}/orders/7?limit=5", gw.url()))
        .header("x-tenant", "acme")
        .header("content-type", "application/json")
        .body(r#"{"items":[{"sku":"Ünï","qty":2}]}"#)
        .fetch_json()
        .await;
    // Members keep the order written: the template's, and the client's inside copied values.
    assert_eq!(
        v["body"],
        r#"{"lines":[{"sku":"Ünï","qty":2}],"tenant":"acme"}"#
    );
}
