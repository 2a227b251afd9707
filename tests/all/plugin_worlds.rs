//! The worlds of the contract: an authorizer deciding allow / deny / unauthorized with its
//! identity seen downstream, a function plugin as the integration, the built-in message
//! router `ws-router` run in process through the plugin engine, and plugins used where
//! their world does not fit.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{Backend, FetchJson, Gateway, client};
use tollgate::plugin::{
    EngineOptions, Grants, Kind, Origin, Plugin, PluginEngine, PluginError, PluginSettings,
    PluginSlot, RouterMessage, RouterPlugin, Selection, Services, Source,
};
use tollgate::state::StateStore;
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
    let router_in_chain = base.replace(
        "  fn:\n",
        "  route:\n    builtin: ws-router\n    on_request: [transform]\n    \
         config: { expression: \"$request.body.action\" }\n  fn:\n",
    );
    let router_in_chain = router_in_chain.replace("plugins: [who]", "plugins: [who, route]");
    let err = Gateway::start_failure(&router_in_chain).await;
    assert!(
        err.contains("plugin `route`: a message-router plugin is the `router` of a WebSocket API"),
        "{err}"
    );
    let router_as_function = router_in_chain.replace(
        "integration: { type: function, plugin: fn }",
        "integration: { type: function, plugin: route }",
    );
    let router_as_function = router_as_function.replace("plugins: [who, route]", "plugins: [who]");
    let err = Gateway::start_failure(&router_as_function).await;
    assert!(
        err.contains("plugin `route`: a message-router plugin cannot be an integration"),
        "{err}"
    );
}

/// Loads `wasm` in an engine of its own, the way the gateway does.
async fn load(wasm: Vec<u8>, source: Source, config: &str) -> Result<Arc<Plugin>, PluginError> {
    let services = Services::new(1 << 20, Arc::new(StateStore::default())).expect("services");
    let options = EngineOptions {
        max_instances: 8,
        max_memory: 64 << 20,
        pooling: false,
    };
    let engine = PluginEngine::new(options, Arc::new(services), None).expect("engine");
    let settings = PluginSettings {
        name: "router".into(),
        config: config.into(),
        grants: Grants::default(),
        memory: 16 << 20,
        deadline: Duration::from_secs(5),
        instances: 1,
        max_uses: u64::MAX,
        fresh_per_request: false,
        source,
        authorizer: Default::default(),
    };
    Plugin::load(&engine, wasm, settings).await
}

async fn ws_router(expression: &str) -> Result<Arc<Plugin>, PluginError> {
    let wasm = tollgate::builtins::get("ws-router").expect("ws-router is built in");
    let config = serde_json::json!({ "expression": expression }).to_string();
    load(wasm.to_vec(), Source::Builtin("ws-router".into()), &config).await
}

/// A message-router handle on a slot of its own holding `plugin`.
fn router(plugin: &Arc<Plugin>) -> Result<RouterPlugin, tollgate::plugin::WrongWorld> {
    RouterPlugin::new(plugin, || {
        Arc::new(PluginSlot::new(Arc::clone(plugin), Origin::Config, 0))
    })
}

async fn select(plugin: &Arc<Plugin>, binary: bool, data: &str) -> Selection {
    let message = RouterMessage {
        connection_id: "c1".into(),
        binary,
        data: data.as_bytes().to_vec(),
    };
    router(plugin)
        .expect("a message router")
        .select_route(message)
        .await
        .expect("select-route")
}

#[tokio::test]
async fn the_builtin_ws_router_selects_routes() {
    let route = |key: &str| Selection::Route(key.into());
    let by_action = ws_router("$request.body.action").await.expect("loads");
    assert_eq!(by_action.kind(), Kind::MessageRouter);
    assert_eq!(by_action.kind().to_string(), "message-router");
    let body = r#"{"action":"join","meta":{"type":"chat"},"room":7}"#;
    assert_eq!(select(&by_action, false, body).await, route("join"));
    assert_eq!(
        select(&by_action, true, body).await,
        route("join"),
        "binary JSON is read too"
    );
    let Selection::Unmatched(why) = select(&by_action, false, "not json").await else {
        panic!("invalid JSON selects no route");
    };
    assert!(why.starts_with("body is not JSON"), "{why}");
    assert_eq!(
        select(&by_action, false, r#"{"room":7}"#).await,
        Selection::Unmatched("$request.body.action is missing".into())
    );

    let nested = ws_router("$request.body.meta.type").await.expect("loads");
    assert_eq!(select(&nested, false, body).await, route("chat"));
    let template = ws_router("${request.body.meta.type}/${request.body.room}")
        .await
        .expect("loads");
    assert_eq!(select(&template, false, body).await, route("chat/7"));
    let default = ws_router(r"\$default").await.expect("loads");
    assert_eq!(select(&default, true, "\u{1}").await, route("$default"));
}

#[tokio::test]
async fn a_bad_selection_expression_fails_at_load() {
    let Err(e) = ws_router("$request.header.x").await else {
        panic!("a header selector loads");
    };
    let e = e.to_string();
    assert!(
        e.contains("plugin `router` rejected its config")
            && e.contains("`$request.header.x` is not a supported selector"),
        "{e}"
    );
    let Err(e) = ws_router("a-${request.body.x").await else {
        panic!("an unclosed selector loads");
    };
    assert!(e.to_string().contains("`${` is not closed by `}`"), "{e}");
}

#[tokio::test]
async fn only_a_message_router_selects_routes() {
    let wasm = std::fs::read(TEST_FILTER).expect("test filter");
    let filter = load(wasm, Source::File(TEST_FILTER.into()), "{}")
        .await
        .expect("loads");
    let Err(e) = router(&filter) else {
        panic!("a filter became a message router");
    };
    assert_eq!(
        e.to_string(),
        "a filter plugin cannot route WebSocket messages; build it for the `message-router` world"
    );
}
