//! The admin API: health, auth, plugin listing, hot-load under load, revert, config reload.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::support::{
    Backend, DEADLINE, FetchJson, Gateway, client, one_plugin_config, poll_until,
};
use tollgate_test_artifacts::{FUTURE_CONTRACT, VERSION_TWO};

fn config(backend: &Backend, version: &str) -> String {
    let plugin = format!(
        "    on_request: [transform]\n    config: {{ request_header: [x-version, {version}] }}"
    );
    one_plugin_config(
        backend,
        "admin: { address: \"127.0.0.1:0\", token: s3cret-admin-token }",
        &plugin,
    )
}

fn admin(gw: &Gateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    client()
        .request(method, format!("{}{path}", gw.admin_url()))
        .bearer_auth("s3cret-admin-token")
}

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_token() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend, "one")).await;
    let c = client();
    assert_eq!(
        c.get(format!("{}/healthz", gw.admin_url()))
            .send()
            .await
            .expect("req")
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{}/readyz", gw.admin_url()))
            .send()
            .await
            .expect("req")
            .status(),
        200
    );
    let r = c
        .get(format!("{}/plugins", gw.admin_url()))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let r = c
        .get(format!("{}/plugins", gw.admin_url()))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let v = admin(&gw, reqwest::Method::GET, "/plugins")
        .fetch_json()
        .await;
    assert_eq!(v["plugins"][0]["name"], "p");
    assert_eq!(v["plugins"][0]["origin"], "config");
    assert_eq!(v["plugins"][0]["contract"], "tollgate:plugin@0.1.0");
}

#[tokio::test]
async fn hot_load_under_load_drops_no_request() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend, "one")).await;
    let url = format!("{}/load", gw.url());
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, saw_two) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (url, stop, ok, failed, saw_two) = (
            url.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
            saw_two.clone(),
        );
        workers.push(tokio::spawn(async move {
            let c = client();
            // Bounded: stops when told, or after 20 000 requests at most.
            for _ in 0..20_000 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match c.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        if v["headers"]["x-version"] == "two" {
                            saw_two.fetch_add(1, Ordering::SeqCst);
                        }
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    assert!(
        poll_until(DEADLINE, || async { ok.load(Ordering::SeqCst) > 100 }).await,
        "load is flowing"
    );

    // A broken upload is refused and the running version keeps serving.
    let r = admin(&gw, reqwest::Method::PUT, "/plugins/p")
        .body(std::fs::read(FUTURE_CONTRACT).expect("wasm"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let msg = r.text().await.expect("body");
    assert!(msg.contains("was built for tollgate:plugin@1.0.0"), "{msg}");
    let r = admin(&gw, reqwest::Method::PUT, "/plugins/p")
        .body("not wasm")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let r = admin(&gw, reqwest::Method::PUT, "/plugins/nope")
        .body(std::fs::read(VERSION_TWO).expect("wasm"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 404);

    // The new version goes in while requests flow.
    let r = admin(&gw, reqwest::Method::PUT, "/plugins/p")
        .body(std::fs::read(VERSION_TWO).expect("wasm"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let before = ok.load(Ordering::SeqCst);
    assert!(
        poll_until(DEADLINE, || async {
            saw_two.load(Ordering::SeqCst) > 100 && ok.load(Ordering::SeqCst) > before + 100
        })
        .await,
        "the new version serves"
    );
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.expect("worker");
    }
    eprintln!(
        "hot-load under load: {} requests ok ({} on the new version), {} failed",
        ok.load(Ordering::SeqCst),
        saw_two.load(Ordering::SeqCst),
        failed.load(Ordering::SeqCst)
    );
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request failed during the hot-load ({} ok)",
        ok.load(Ordering::SeqCst)
    );
    let v = admin(&gw, reqwest::Method::GET, "/plugins")
        .fetch_json()
        .await;
    assert_eq!(v["plugins"][0]["origin"], "admin");

    // DELETE goes back to the version the config names.
    let r = admin(&gw, reqwest::Method::DELETE, "/plugins/p")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let v = client().get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
}

#[tokio::test]
async fn config_reload_through_the_admin_api() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start_with(&config(&backend, "one"), &["--no-watch"], |_| {}).await;
    let url = format!("{}/r", gw.url());
    gw.write_config(&config(&backend, "three"));
    let r = admin(&gw, reqwest::Method::POST, "/config/reload")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({ "status": "reloaded", "needs_restart": [] })
    );
    let v = client().get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "three");

    // Settings only a restart applies are named; the rest of the file is applied.
    let plugin = "    on_request: [transform]\n    config: { request_header: [x-version, four] }";
    let top = "admin: { address: \"127.0.0.1:0\", token: s3cret-admin-token }\n\
               limits: { idle_timeout: 5s }\n\
               telemetry: { tracing: { endpoint: \"http://127.0.0.1:9/v1/traces\" } }";
    gw.write_config(&one_plugin_config(&backend, top, plugin));
    let r = admin(&gw, reqwest::Method::POST, "/config/reload")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        body["needs_restart"],
        serde_json::json!(["limits.idle_timeout", "telemetry"])
    );
    let v = client().get(&url).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "four");
    gw.wait_log("take effect after a restart").await;
    gw.write_config(&config(&backend, "three"));
    let r = admin(&gw, reqwest::Method::POST, "/config/reload")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);

    gw.write_config(
        "version: 1\nlisteners: [{ address: \"127.0.0.1:0\" }]\nlimits: { idle_timeout: 5 }\n",
    );
    let r = admin(&gw, reqwest::Method::POST, "/config/reload")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 400);
    let msg = r.text().await.expect("body");
    assert!(
        msg.contains("gateway.yaml:3:") && msg.contains("has no unit"),
        "{msg}"
    );
    let v = client().get(&url).fetch_json().await;
    assert_eq!(
        v["headers"]["x-version"], "three",
        "the running config stays"
    );
}
