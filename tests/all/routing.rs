//! Routing: precedence, parameters, stages and stage variables, 404/405, mock, hosts,
//! path normalisation.

use crate::support::{Backend, FetchJson, Gateway, client, raw_request};

fn config(backend: &Backend) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
upstreams:
  app: {{ targets: ["{url}"] }}
apis:
  - name: shop
    kind: http
    base_path: /shop
    stages:
      $default: {{ variables: {{ color: blue }} }}
      beta: {{ variables: {{ color: green }} }}
    routes:
      - path: /items/mine
        methods: [GET]
        integration: {{ type: mock, body: "literal" }}
      - path: /items/{{id}}
        methods: [GET, DELETE]
        integration: {{ type: mock, body: "param ${{request.path.id}} ${{stageVariables.color}} ${{context.stage}}" }}
      - path: /items/{{rest+}}
        methods: [GET]
        integration: {{ type: mock, body: "greedy ${{request.path.rest}}" }}
      - path: /items
        methods: [POST]
        integration: {{ type: mock, status: 201, headers: {{ location: /shop/items/1 }}, body: "created" }}
      - path: /proxy/{{id}}
        integration: {{ type: http, url: "{url}/backend/{{id}}?color=${{stageVariables.color}}" }}
  - name: catchall
    kind: rest
    base_path: /c
    routes:
      - path: /known
        methods: [GET]
        integration: {{ type: mock, body: "known" }}
      - path: $default
        integration: {{ type: mock, status: 418, body: "default ${{context.httpMethod}} ${{context.path}}" }}
  - name: hosted
    kind: http
    hosts: [api.example.com]
    routes:
      - path: /who
        integration: {{ type: mock, body: "exact host" }}
  - name: wildcard
    kind: http
    hosts: ["*.example.com"]
    routes:
      - path: /who
        integration: {{ type: mock, body: "wildcard host" }}
  - name: files
    kind: http
    routes:
      - path: /admin
        integration: {{ type: mock, body: "admin area" }}
      - path: /public/{{file+}}
        integration: {{ type: http, upstream: app, path: "/static/{{file}}" }}
"#,
        url = backend.url()
    )
}

async fn text(c: &reqwest::Client, method: reqwest::Method, url: String) -> (u16, String) {
    let r = c.request(method, url).send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn precedence_params_and_stages() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    let u = gw.url();
    use reqwest::Method as M;
    assert_eq!(
        text(&c, M::GET, format!("{u}/shop/items/mine")).await,
        (200, "literal".into())
    );
    assert_eq!(
        text(&c, M::GET, format!("{u}/shop/items/42")).await,
        (200, "param 42 blue $default".into())
    );
    assert_eq!(
        text(&c, M::GET, format!("{u}/shop/beta/items/42")).await,
        (200, "param 42 green beta".into())
    );
    assert_eq!(
        text(&c, M::GET, format!("{u}/shop/items/a/b/c")).await,
        (200, "greedy a/b/c".into())
    );
    assert_eq!(
        text(&c, M::GET, format!("{u}/shop/items/caf%C3%A9")).await,
        (200, "param café blue $default".into())
    );
    assert_eq!(
        text(&c, M::DELETE, format!("{u}/shop/items/7")).await.0,
        200
    );
    let (status, body) = text(&c, M::POST, format!("{u}/shop/items")).await;
    assert_eq!((status, body.as_str()), (201, "created"));
}

#[tokio::test]
async fn not_found_and_method_not_allowed() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    let r = c
        .get(format!("{}/nowhere", gw.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.expect("body"), r#"{"message":"Not Found"}"#);

    let r = c
        .put(format!("{}/shop/items/7", gw.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "DELETE, GET");
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Method Not Allowed"}"#
    );
}

#[tokio::test]
async fn default_route_catches_the_rest_of_its_api() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    use reqwest::Method as M;
    assert_eq!(
        text(&c, M::GET, format!("{}/c/known", gw.url())).await,
        (200, "known".into())
    );
    assert_eq!(
        text(&c, M::POST, format!("{}/c/known", gw.url())).await,
        (418, "default POST /c/known".into())
    );
    assert_eq!(
        text(&c, M::GET, format!("{}/c/x/y", gw.url())).await,
        (418, "default GET /c/x/y".into())
    );
}

#[tokio::test]
async fn hosts_select_the_api() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    let get = |host: &'static str| {
        let c = c.clone();
        let url = format!("{}/who", gw.url());
        async move {
            let r = c
                .get(url)
                .header("host", host)
                .send()
                .await
                .expect("request");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    assert_eq!(get("api.example.com").await, (200, "exact host".into()));
    assert_eq!(
        get("API.Example.com:8080").await,
        (200, "exact host".into())
    );
    assert_eq!(get("shop.example.com").await, (200, "wildcard host".into()));
    assert_eq!(get("example.org").await.0, 404);
}

#[tokio::test]
async fn url_templates_use_params_and_stage_variables() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let r: serde_json::Value = client()
        .get(format!("{}/shop/beta/proxy/a%20b?extra=1", gw.url()))
        .fetch_json()
        .await;
    assert_eq!(r["path"], "/backend/a%20b");
    assert_eq!(r["query"], "color=green&extra=1");
}

#[tokio::test]
async fn normalised_paths_cannot_reach_other_routes() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let addr = gw.addrs[0];
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    // `..` is resolved before routing: this is /admin, so it gets the /admin route,
    // never the /public proxy with a `..` forwarded to the backend.
    for path in [
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "//public/./../admin",
    ] {
        let resp = raw_request(addr, get(path).as_bytes()).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{path}: {resp}");
        assert!(resp.ends_with("admin area"), "{path}: {resp}");
    }
    // Duplicate slashes and dot segments are removed before forwarding.
    let resp = raw_request(addr, get("/public/a/./b//c/../d").as_bytes()).await;
    assert!(resp.contains(r#""path":"/static/a/b/d""#), "{resp}");
    // An encoded slash stays data, not a separator.
    let resp = raw_request(addr, get("/public/a%2Fb").as_bytes()).await;
    assert!(resp.contains(r#""path":"/static/a%2Fb""#), "{resp}");
    // ...also inside a one-segment parameter: `..%2Fadmin` cannot climb out on the backend.
    let resp = raw_request(addr, get("/shop/proxy/..%2Fadmin").as_bytes()).await;
    assert!(resp.contains(r#""path":"/backend/..%2Fadmin""#), "{resp}");
    // Malformed escapes and NUL are refused.
    for path in ["/public/%zz", "/public/a%00b"] {
        let resp = raw_request(addr, get(path).as_bytes()).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{path}: {resp}");
    }
    assert_eq!(
        backend.hits(),
        3,
        "only the three valid proxied requests reached the backend"
    );
}
