//! The plugin runtime end to end: hooks in every phase, fail-closed authorize, sandboxing of
//! bad plugins, capabilities, body opt-in, config and contract checks, reload.

use crate::support::{
    Backend, DEADLINE, FetchJson, Gateway, client, one_plugin_config, poll_until, post_streaming,
};
use tollgate_test_artifacts::{FUTURE_CONTRACT, TEST_FILTER};

/// A config with one plugin `p` (extra YAML lines under it) on a proxied route.
fn config(backend: &Backend, plugin: &str) -> String {
    one_plugin_config(backend, "", plugin)
}

#[tokio::test]
async fn a_request_handle_kept_past_its_call_costs_the_plugin_its_instance() {
    let backend = Backend::start("b").await;
    let plugin = "    on_response: [configure]\n    config: { keep_request: true }";
    let gw = Gateway::start(&config(&backend, plugin)).await;
    for path in ["/first", "/second", "/third"] {
        let r = client()
            .get(format!("{}{path}", gw.url()))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200, "{path}");
        // Every call ran on a fresh instance: no handle from an earlier call survived.
        assert_eq!(r.headers()["x-previous"], "none", "{path}");
    }
    gw.wait_log("kept a request handle past its call").await;
}

#[tokio::test]
async fn hooks_authorize_edit_the_request_and_the_response() {
    let backend = Backend::start("b").await;
    let plugin = r#"    on_request: [authorize, transform]
    on_response: [configure]
    config:
      require_header: x-user
      request_header: [x-added, by-plugin]
      principal_header: x-principal
      response_header: [x-plugin, seen]"#;
    let gw = Gateway::start(&config(&backend, plugin)).await;
    let c = client();

    let r = c
        .get(format!("{}/a/b", gw.url()))
        .header("x-user", "alice")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-plugin"],
        "seen",
        "response configure phase ran"
    );
    let v: serde_json::Value = r.json().await.expect("json");
    let h = &v["headers"];
    assert_eq!(h["x-added"], "by-plugin");
    assert_eq!(
        h["x-principal"], "alice",
        "identity from authorize reached transform"
    );
    assert_eq!(h["x-seen-path"], "/a/b");

    // No credentials: the authorize phase answers; the backend never sees the request.
    let before = backend.hits();
    let r = c
        .get(format!("{}/a/b", gw.url()))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Test");
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(backend.hits(), before);

    // Mock integrations get the response phases too.
    let r = c
        .get(format!("{}/mock", gw.url()))
        .header("x-user", "bob")
        .send()
        .await
        .expect("req");
    assert_eq!(r.headers()["x-plugin"], "seen");
    assert_eq!(r.text().await.expect("body"), "mocked");
}

async fn status_of(c: &reqwest::Client, url: &str, trigger: bool) -> (u16, String) {
    let mut req = c.get(url);
    if trigger {
        req = req.header("x-misbehave", "1");
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test]
async fn bad_plugins_fail_the_request_and_the_next_one_is_served() {
    let backend = Backend::start("b").await;
    for (mode, expect_log) in [
        ("loop", "deadline of 50ms exceeded"),
        ("sleep", "deadline of 50ms exceeded during a wait in WASI"),
        ("panic", "trapped"),
        (
            "memory",
            "plugin `p` failed: memory limit of 8388608 bytes reached",
        ),
        ("huge-header", "the limit is 16384"),
    ] {
        let plugin = format!(
            "    on_request: [transform]\n    deadline: 50ms\n    memory: 8MiB\n    config: {{ misbehave: {mode}, misbehave_if: x-misbehave }}"
        );
        let gw = Gateway::start(&config(&backend, &plugin)).await;
        let c = client();
        let url = format!("{}/x", gw.url());
        assert_eq!(
            status_of(&c, &url, false).await.0,
            200,
            "{mode}: healthy before"
        );
        let (status, body) = status_of(&c, &url, true).await;
        assert_eq!(status, 500, "{mode}");
        assert_eq!(
            body, r#"{"message":"Internal Server Error"}"#,
            "{mode}: no detail leaks"
        );
        for i in 0..5 {
            assert_eq!(
                status_of(&c, &url, false).await.0,
                200,
                "{mode}: request {i} after the failure"
            );
        }
        gw.wait_log(expect_log).await;
    }
}

#[tokio::test]
async fn authorize_fails_closed_and_other_phases_may_skip() {
    let backend = Backend::start("b").await;
    let closed = "    on_request: [authorize]\n    config: { misbehave: panic }";
    let gw = Gateway::start(&config(&backend, closed)).await;
    let (status, _) = status_of(&client(), &format!("{}/x", gw.url()), false).await;
    assert_eq!(status, 500);
    assert_eq!(
        backend.hits(),
        0,
        "a failing authorizer never lets the request through"
    );
    gw.wait_log("failed in the authorize phase").await;
    drop(gw);

    let skip = "    on_request: [transform]\n    on_error: skip\n    config: { misbehave: panic }";
    let gw = Gateway::start(&config(&backend, skip)).await;
    let (status, _) = status_of(&client(), &format!("{}/x", gw.url()), false).await;
    assert_eq!(status, 200, "on_error: skip goes on without the plugin");
}

#[tokio::test]
async fn capabilities_are_denied_unless_granted() {
    let backend = Backend::start("b").await;
    let denied =
        "    on_request: [transform]\n    config: { use_capabilities: true, set_forbidden: true }";
    let gw = Gateway::start(&config(&backend, denied)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(
        v["headers"]["x-clock"],
        "capability `clock` is not granted to this plugin"
    );
    assert_eq!(
        v["headers"]["x-log"],
        "capability `log` is not granted to this plugin"
    );
    assert_eq!(
        v["headers"]["x-forbidden"],
        "plugins may not set the `transfer-encoding` header"
    );
    assert_eq!(
        v["headers"]["x-random"],
        "capability `random` is not granted to this plugin"
    );
    drop(gw);

    let granted = "    on_request: [transform]\n    capabilities: [log, clock, random]\n    config: { use_capabilities: true }";
    let gw = Gateway::start(&config(&backend, granted)).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(v["headers"]["x-clock"], "ok true");
    assert_eq!(v["headers"]["x-log"], "ok");
    assert_eq!(v["headers"]["x-random"], "16 bytes, distinct true");
    gw.wait_log("hello from test-filter").await;
}

#[tokio::test]
async fn the_body_is_buffered_only_for_plugins_that_read_it() {
    let backend = Backend::start("b").await;
    let reader = "    on_request: [transform]\n    config: { read_body: true }";
    let gw = Gateway::start(&config(&backend, reader)).await;
    let v = client()
        .post(format!("{}/x", gw.url()))
        .body("twelve bytes")
        .fetch_json()
        .await;
    assert_eq!(v["headers"]["x-body-length"], "12");
    assert_eq!(
        v["body"], "twelve bytes",
        "the buffered body is still forwarded"
    );
    drop(gw);

    // A plugin that never reads the body: it still streams (the client holds back the rest
    // until the backend has the first chunk).
    let header_only = "    on_request: [transform]\n    config: { request_header: [x-a, b] }";
    let gw = Gateway::start(&config(&backend, header_only)).await;
    let v = post_streaming(&backend, format!("{}/upload", gw.url())).await;
    assert_eq!(v["body_len"], 131072);
    assert_eq!(v["headers"]["x-a"], "b");
}

#[tokio::test]
async fn bad_plugin_configs_and_contracts_stop_the_start() {
    let backend = Backend::start("b").await;
    let rejected = "    on_request: [transform]\n    config: { reject: \"api key list is empty\" }";
    let err = Gateway::start_failure(&config(&backend, rejected)).await;
    assert!(
        err.contains("plugin `p` rejected its config: api key list is empty"),
        "{err}"
    );

    let mistyped = "    on_request: [transform]\n    config: { read_body: \"yes\" }";
    let err = Gateway::start_failure(&config(&backend, mistyped)).await;
    assert!(
        err.contains(
            "plugin `p` rejected its config: invalid plugin config: read_body: invalid type"
        ),
        "{err}"
    );

    let future =
        config(&backend, "    on_request: [transform]").replace(TEST_FILTER, FUTURE_CONTRACT);
    let err = Gateway::start_failure(&future).await;
    assert!(
        err.contains(
            "was built for tollgate:plugin@1.0.0, but this gateway provides tollgate:plugin@0.1.0"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn reload_swaps_plugin_versions_and_fresh_isolation_works() {
    let backend = Backend::start("b").await;
    let v1 = "    on_request: [transform]\n    isolation: request\n    config: { request_header: [x-version, one] }";
    let gw = Gateway::start(&config(&backend, v1)).await;
    let url = format!("{}/x", gw.url());
    let v = client().get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
    gw.write_config(&config(&backend, &v1.replace("one", "two")));
    let swapped = poll_until(DEADLINE, || async {
        client().get(&url).fetch_json().await["headers"]["x-version"] == "two"
    })
    .await;
    assert!(swapped, "the reloaded plugin config serves");
    // A reload whose plugin refuses its config keeps the running version.
    gw.write_config(&config(
        &backend,
        "    on_request: [transform]\n    config: { reject: nope }",
    ));
    gw.wait_log("rejected its config: nope").await;
    let v = client().get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "two");
}
