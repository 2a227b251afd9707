//! The admin API's guard and its HTTP manners: an empty or short token is refused alike by
//! `validate` and `run`; a wrong method is 405 with `Allow`, an oversized upload 413.

use std::process::Stdio;

use tokio::process::Command;

use crate::support::{Backend, DEADLINE, Gateway, client, one_plugin_config, raw_request};

const TOKEN: &str = "admin-token-0123456789";

/// Runs `tollgate <command> -c gateway.yaml` on `yaml` with `env`; its status and stderr.
async fn tollgate(command: &str, yaml: &str, env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("gateway.yaml"), yaml).expect("write config");
    std::fs::write(dir.path().join("empty.token"), "\n").expect("write token");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg(command)
        .arg("-c")
        .arg(dir.path().join("gateway.yaml"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("tollgate exits")
        .expect("run tollgate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_empty_or_short_token_is_refused_by_validate_and_run_alike() {
    let cases = [
        // An inline empty token on a public address: once it disabled authentication.
        ("token: \"\"", vec![], "the admin token is empty"),
        // An empty variable, through `token_env` and through `$env`.
        (
            "token_env: TOLLGATE_TEST_ADMIN_TOKEN",
            vec![("TOLLGATE_TEST_ADMIN_TOKEN", "")],
            "the admin token is empty",
        ),
        (
            "token: { $env: TOLLGATE_TEST_ADMIN_TOKEN }",
            vec![("TOLLGATE_TEST_ADMIN_TOKEN", "")],
            "the admin token is empty",
        ),
        (
            "token_env: TOLLGATE_TEST_ADMIN_TOKEN_UNSET",
            vec![],
            "`TOLLGATE_TEST_ADMIN_TOKEN_UNSET` is not set",
        ),
        (
            "token: { $file: empty.token }",
            vec![],
            "the admin token is empty",
        ),
        ("token: short", vec![], "it needs at least 16"),
    ];
    for (token, env, expected) in cases {
        let yaml = format!(
            "version: 1\nlisteners: [{{ address: \"127.0.0.1:0\" }}]\nadmin: {{ address: \"0.0.0.0:0\", {token} }}\n"
        );
        let (valid, validate_err) = tollgate("validate", &yaml, &env).await;
        let (ran, run_err) = tollgate("run", &yaml, &env).await;
        assert!(!valid && !ran, "{token}: validate ok {valid}, run ok {ran}");
        assert!(
            validate_err.contains(expected),
            "{token}: validate said {validate_err}"
        );
        // The same line, but for the temporary folder each run had.
        let line = |s: &str| {
            s.lines()
                .find(|l| l.contains("error"))
                .and_then(|l| l.split_once("gateway.yaml"))
                .map(|(_, rest)| rest.to_owned())
        };
        assert_eq!(
            line(&validate_err),
            line(&run_err),
            "{token}: validate and run disagree"
        );
    }
    // A real token passes both ways.
    let yaml = "version: 1\nlisteners: [{ address: \"127.0.0.1:0\" }]\nadmin: { address: \"0.0.0.0:0\", token: { $env: T } }\n";
    let (valid, err) = tollgate("validate", yaml, &[("T", TOKEN)]).await;
    assert!(valid, "{err}");
}

#[tokio::test]
async fn the_token_from_a_reference_guards_the_api() {
    let backend = Backend::start("b").await;
    let yaml = one_plugin_config(
        &backend,
        "admin: { address: \"127.0.0.1:0\", token: { $env: TOLLGATE_TEST_ADMIN } }",
        "    on_request: [transform]\n    config: { request_header: [x-a, b] }",
    );
    let gw = Gateway::start_with_env(&yaml, &[("TOLLGATE_TEST_ADMIN", TOKEN)]).await;
    let url = format!("{}/plugins", gw.admin_url());
    let c = client();
    assert_eq!(c.get(&url).send().await.expect("req").status(), 401);
    assert_eq!(
        c.get(&url)
            .bearer_auth("")
            .send()
            .await
            .expect("req")
            .status(),
        401
    );
    assert_eq!(
        c.get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("req")
            .status(),
        200
    );
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_big_uploads_413() {
    let backend = Backend::start("b").await;
    let yaml = one_plugin_config(
        &backend,
        &format!("admin: {{ address: \"127.0.0.1:0\", token: {TOKEN} }}"),
        "    on_request: [transform]\n    config: { request_header: [x-a, b] }",
    );
    let gw = Gateway::start(&yaml).await;
    let c = client();
    let admin = gw.admin_url();
    for (method, path, allow) in [
        (reqwest::Method::POST, "/healthz", "GET"),
        (reqwest::Method::DELETE, "/readyz", "GET"),
        (reqwest::Method::DELETE, "/plugins", "GET"),
        (reqwest::Method::POST, "/metrics", "GET"),
        (reqwest::Method::GET, "/config/reload", "POST"),
        (reqwest::Method::POST, "/plugins/p", "PUT, DELETE"),
        (reqwest::Method::PUT, "/usage/plan/key", "GET, DELETE"),
        (reqwest::Method::PUT, "/@connections", "GET, POST"),
        (
            reqwest::Method::PUT,
            "/@connections/abc",
            "GET, POST, DELETE",
        ),
    ] {
        let r = c
            .request(method.clone(), format!("{admin}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("admin answers");
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
    }
    // Unknown paths stay 404; without the token a guarded path stays 401.
    let r = c
        .get(format!("{admin}/nothing"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 404);
    let r = c
        .delete(format!("{admin}/plugins"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    // An upload past the limit: 413, whether its length is declared or streamed.
    let addr: std::net::SocketAddr = admin
        .trim_start_matches("http://")
        .parse()
        .expect("admin address");
    let head = format!(
        "PUT /plugins/p HTTP/1.1\r\nhost: a\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        (64 << 20) + 1
    );
    let answer = raw_request(addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let chunk = bytes::Bytes::from(vec![0u8; 1 << 20]);
    let chunks = (0..65).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let r = c
        .put(format!("{admin}/plugins/p"))
        .bearer_auth(TOKEN)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 413);
}
