//! The three worlds of the contract end to end: an authorizer deciding allow / deny /
//! unauthorized with its identity seen downstream, a function plugin as the integration,
//! and plugins used where their world does not fit.

use crate::support::{Backend, FetchJson, Gateway, client};
use tollgate_test_artifacts::{TEST_AUTHORIZER, TEST_FILTER, TEST_FUNCTION};

fn config(backend: &Backend) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
plugins:
  auth:
    path: "{TEST_AUTHORIZER}"
    capabilities: [state]
    config: {{ count: true }}
  who:
    path: "{TEST_FILTER}"
    on_request: [transform]
    config: {{ principal_header: x-principal }}
  fn:
    path: "{TEST_FUNCTION}"
apis:
  - name: api
    kind: http
    stages:
      prod: {{ variables: {{ color: blue }} }}
    plugins: [auth]
    routes:
      - path: /proxy/{{rest+}}
        plugins: [who]
        integration: {{ type: http, url: "{}/{{rest}}" }}
      - path: /fn/{{id}}
        integration: {{ type: function, plugin: fn }}
"#,
        backend.url()
    )
}

#[tokio::test]
async fn an_authorizer_allows_denies_and_refuses() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let c = client();
    let url = format!("{}/prod/proxy/x", gw.url());

    let r = c.get(&url).send().await.expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"message":"Unauthorized"}"#
    );
    let r = c
        .get(&url)
        .header("x-token", "deny")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.expect("body"), r#"{"message":"Forbidden"}"#);
    assert_eq!(
        backend.hits(),
        0,
        "refused requests never reach the backend"
    );

    let v = c
        .get(&url)
        .header("x-token", "allow-alice")
        .fetch_json()
        .await;
    assert_eq!(
        v["headers"]["x-principal"], "alice",
        "the authorizer's principal reaches later phases"
    );
}

#[tokio::test]
async fn a_function_plugin_is_the_integration() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend)).await;
    let r = client()
        .post(format!("{}/prod/fn/42?q=1", gw.url()))
        .header("x-token", "allow-bob")
        .body("payload")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-function"], "test-function");
    assert!(r.headers().contains_key("x-request-id"));
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/prod/fn/42");
    assert_eq!(v["query"], "q=1");
    assert_eq!(v["id"], "42");
    assert_eq!(v["color"], "blue");
    assert_eq!(v["identity"], "bob");
    assert_eq!(v["client_ip"], "127.0.0.1");
    assert_eq!(v["body"], "payload");
    assert_eq!(backend.hits(), 0);
}

#[tokio::test]
async fn plugins_used_outside_their_world_stop_the_start() {
    let backend = Backend::start("b").await;
    let base = config(&backend);
    let filter_as_function = base.replace(
        "integration: { type: function, plugin: fn }",
        "integration: { type: function, plugin: who }",
    );
    let err = Gateway::start_failure(&filter_as_function).await;
    assert!(
        err.contains("plugin `who`: a filter plugin cannot be an integration"),
        "{err}"
    );
    let function_in_chain = base.replace("plugins: [auth]", "plugins: [auth, fn]");
    let err = Gateway::start_failure(&function_in_chain).await;
    assert!(
        err.contains("plugin `fn`: a function plugin is an integration"),
        "{err}"
    );
    let authorizer_elsewhere = base.replace(
        "    config: { count: true }",
        "    config: { count: true }\n    on_request: [transform]",
    );
    let err = Gateway::start_failure(&authorizer_elsewhere).await;
    assert!(
        err.contains("an authorizer runs in the authorize phase only"),
        "{err}"
    );
}
