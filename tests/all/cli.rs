//! The command line: the demo, `validate`, `schema`.

use std::process::Command;

use crate::support::{FetchJson, Gateway, client};

#[tokio::test]
async fn demo_serves_mocks_stages_and_the_echo_backend() {
    let gw = Gateway::start_demo().await;
    let c = client();
    let v: serde_json::Value = c.get(format!("{}/hello", gw.url())).fetch_json().await;
    assert_eq!(v["message"], "Hello from Tollgate");
    let v: serde_json::Value = c.get(format!("{}/beta/hello", gw.url())).fetch_json().await;
    assert_eq!(v["stage"], "beta");
    let v: serde_json::Value = c.get(format!("{}/pets/42", gw.url())).fetch_json().await;
    assert_eq!(v["id"], "42");
    let v: serde_json::Value = c
        .post(format!("{}/echo/anything?x=1", gw.url()))
        .body("hello")
        .fetch_json()
        .await;
    assert_eq!(
        (v["method"].as_str(), v["path"].as_str(), v["body"].as_str()),
        (Some("POST"), Some("/anything"), Some("hello"))
    );
    // The built-in `headers` plugin stamps both directions.
    assert_eq!(v["headers"]["x-forwarded-by"], "tollgate-demo");
    let r = c
        .get(format!("{}/hello", gw.url()))
        .send()
        .await
        .expect("demo answers");
    assert_eq!(r.headers()["x-powered-by"], "tollgate");

    // Orders: validated, then mapped; a bad one names the field.
    let v = c
        .post(format!("{}/orders", gw.url()))
        .header("content-type", "application/json")
        .body(r#"{"items":[{"sku":"A-1","qty":2}]}"#)
        .fetch_json()
        .await;
    assert_eq!(v["path"], "/orders");
    let sent: serde_json::Value =
        serde_json::from_str(v["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(sent["lines"][0]["sku"], "A-1");
    assert_eq!(sent["stage"], "$default");
    let r = c
        .post(format!("{}/orders", gw.url()))
        .header("content-type", "application/json")
        .header("origin", "http://localhost:3000")
        .body(r#"{"items":[{"sku":"A-1","qty":0}]}"#)
        .send()
        .await
        .expect("order");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let v: serde_json::Value = r.json().await.expect("JSON");
    assert_eq!(v["errors"][0]["pointer"], "/items/0/qty");
}

fn tollgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .output()
        .expect("run tollgate")
}

#[test]
fn validate_reports_ok_or_the_error() {
    let out = tollgate(&["validate", "-c", "examples/quickstart/gateway.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tollgate(&[
        "validate",
        "-c",
        "tests/config_errors/unknown_upstream.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tests/config_errors/unknown_upstream.yaml:"),
        "{err}"
    );
    assert!(err.contains("unknown upstream"), "{err}");
    let out = tollgate(&["validate", "-c", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config file"));
}

#[test]
fn schema_is_json_schema_of_the_config() {
    let out = tollgate(&["schema"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v["properties"]["listeners"].is_object());
    assert!(v["properties"]["apis"].is_object());
    assert_eq!(v["required"], serde_json::json!(["version", "listeners"]));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let yaml = "version: 1\nlisteners: [{ address: \"127.0.0.1:0\" }]\napis: []\n";
    let gw = Gateway::start_with(yaml, &["--log-format", "json"], |_| {}).await;
    gw.signal("TERM");
    gw.wait_log("all connections drained").await;
    let logs = gw.logs();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "all connections drained" && l["level"] == "INFO"),
        "{logs}"
    );
}

#[tokio::test]
async fn demo_serves_a_managed_websocket_api() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let gw = Gateway::start_demo().await;
    let url = crate::websocket::ws_url(&gw, "/ws");
    let mut ws = crate::websocket::connect(&url, None)
        .await
        .expect("connected");
    ws.send(Message::text(r#"{"action":"echo","text":"hi"}"#))
        .await
        .expect("send");
    let v = crate::websocket::next_json(&mut ws).await;
    assert_eq!(v["path"], "/ws/echo");
    assert_eq!(v["body"], r#"{"action":"echo","text":"hi"}"#);
    let id = v["headers"]["x-connection-id"]
        .as_str()
        .expect("id")
        .to_owned();
    ws.send(Message::text(r#"{"action":"dance"}"#))
        .await
        .expect("send");
    let v = crate::websocket::next_json(&mut ws).await;
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown action")),
        "{v}"
    );
    assert_eq!(v["connectionId"], id.as_str());
}
