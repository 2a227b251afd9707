//! Reload (file watch and SIGHUP, valid and invalid files) and graceful shutdown.

use crate::support::{Backend, DEADLINE, Gateway, client, poll_until};

fn mock_config(body: &str) -> String {
    format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
apis:
  - name: api
    kind: http
    routes:
      - path: /version
        integration: {{ type: mock, body: "{body}" }}
"#
    )
}

async fn body_of(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn file_changes_reload_and_invalid_files_keep_the_old_config() {
    let gw = Gateway::start(&mock_config("v1")).await;
    let url = format!("{}/version", gw.url());
    assert_eq!(body_of(&url).await, "v1");

    gw.write_config(&mock_config("v2"));
    assert!(
        poll_until(DEADLINE, || async { body_of(&url).await == "v2" }).await,
        "reloaded on file change"
    );

    gw.write_config("version: 1\nlisteners: [{ address: \"127.0.0.1:0\" }]\napis:\n  - name: api\n    kind: nope\n");
    gw.wait_log("config reload failed; the running config stays")
        .await;
    gw.wait_log("kind").await;
    assert_eq!(body_of(&url).await, "v2", "the valid config keeps serving");

    gw.write_config(&mock_config("v3"));
    assert!(
        poll_until(DEADLINE, || async { body_of(&url).await == "v3" }).await,
        "recovers after a fix"
    );
}

#[tokio::test]
async fn sighup_reloads() {
    let gw = Gateway::start_with(&mock_config("one"), &["--no-watch"], |_| {}).await;
    let url = format!("{}/version", gw.url());
    gw.write_config(&mock_config("two"));
    assert_eq!(
        body_of(&url).await,
        "one",
        "no reload without the signal when not watching"
    );
    gw.signal("HUP");
    assert!(
        poll_until(DEADLINE, || async { body_of(&url).await == "two" }).await,
        "reloaded on SIGHUP"
    );
    gw.wait_log("config reloaded").await;
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests() {
    let backend = Backend::start("b").await;
    let yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
limits: {{ drain_timeout: 15s }}
apis:
  - name: api
    kind: http
    routes:
      - path: /slow
        integration: {{ type: http, url: "{}/slow" }}
"#,
        backend.url()
    );
    let mut gw = Gateway::start(&yaml).await;
    let arrived = backend.arrived.notified();
    let in_flight = {
        let url = format!("{}/slow", gw.url());
        tokio::spawn(async move {
            client()
                .get(url)
                .header("x-test-delay-ms", "1500")
                .send()
                .await
        })
    };
    tokio::time::timeout(DEADLINE, arrived)
        .await
        .expect("request reached the backend");
    gw.signal("TERM");
    gw.wait_log("shutting down").await;
    // New connections are refused once shutdown started...
    let refused = poll_until(DEADLINE, || async {
        tokio::net::TcpStream::connect(gw.addrs[0]).await.is_err()
    })
    .await;
    assert!(refused, "listener closed");
    // ...while the request in flight completes.
    let r = in_flight
        .await
        .expect("task")
        .expect("in-flight request completed");
    assert_eq!(r.status(), 200);
    let status = gw.wait_exit().await;
    assert!(status.success(), "clean exit: {status:?}");
    assert!(gw.logs().contains("all connections drained"));
}

#[tokio::test]
async fn workers_share_each_listener_and_a_taken_port_is_refused() {
    let backend = Backend::start("b").await;
    let yaml = format!(
        r#"
version: 1
workers: 3
listeners: [{{ address: "127.0.0.1:0" }}]
apis:
  - name: api
    kind: http
    routes:
      - path: /{{proxy+}}
        integration: {{ type: http, url: "{}/{{proxy}}" }}
"#,
        backend.url()
    );
    let gw = Gateway::start(&yaml).await;
    gw.wait_log("workers=3").await;
    // Connections the kernel spreads over the workers' sockets are all served.
    let mut calls = Vec::new();
    for i in 0..24 {
        let url = format!("{}/n/{i}", gw.url());
        calls.push(tokio::spawn(async move {
            // A client per call: a connection per call.
            reqwest::Client::new().get(url).send().await
        }));
    }
    for call in calls {
        let r = call.await.expect("task").expect("request");
        assert_eq!(r.status(), 200);
    }
    // A second gateway on the same port does not quietly share it.
    let taken = format!(
        r#"
version: 1
workers: 2
listeners: [{{ address: "{}" }}]
"#,
        gw.addrs[0]
    );
    let stderr = Gateway::start_failure(&taken).await;
    assert!(
        stderr.contains("cannot bind") && stderr.contains("in use"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("in use").count(),
        1,
        "the cause once: {stderr}"
    );
}
