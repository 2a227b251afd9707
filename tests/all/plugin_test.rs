//! `tollgate plugin test`: plugins of each world run offline against files of cases, through
//! the real binary; passing and failing cases, the exit status, the differences printed,
//! and cases files that are wrong.

use std::process::{Command, Output};

use tollgate_test_artifacts::{TEST_AUTHORIZER, TEST_FILTER, TEST_FUNCTION};

/// Runs `tollgate plugin test WASM CASES [extra…]` with `cases` written to a file.
fn plugin_test(wasm: &str, cases: &str, extra: &[&str]) -> (Output, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("cases.yaml");
    std::fs::write(&file, cases).expect("write cases");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plugin", "test", wasm])
        .arg(&file)
        .args(extra)
        .output()
        .expect("run tollgate plugin test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn a_function_plugin_is_tested_with_route_stage_and_body() {
    let cases = r#"
stages:
  prod: { variables: { color: green } }
cases:
  - name: path parameter, query, body and stage variable reach the function
    request:
      method: POST
      route: "POST /items/{id}"
      path: /prod/items/42?verbose=1
      body: hello
      client_ip: 203.0.113.9
    expect:
      outcome: respond
      status: 200
      headers: { x-function: test-function, content-type: application/json }
      json:
        method: POST
        path: /prod/items/42
        query: verbose=1
        id: "42"
        color: green
        identity: null
        client_ip: 203.0.113.9
        body: hello
  - name: the $default stage has no color
    request: { route: "POST /items/{id}", method: POST, path: /items/7 }
    expect:
      body_contains: '"color":null'
"#;
    let (out, stdout, stderr) = plugin_test(TEST_FUNCTION, cases, &[]);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("a function plugin"), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("ok    path parameter, query, body and stage variable reach the function"),
        "{stdout}"
    );
}

#[test]
fn an_authorizer_is_tested_and_a_failing_case_is_reported_with_its_differences() {
    let cases = r#"
cases:
  - name: an allowed caller reaches the integration as itself
    request: { headers: { x-token: allow-alice } }
    expect:
      outcome: allow
      identity: { principal: alice, claims: { role: tester } }
      upstream: { headers: { x-token: allow-alice } }
  - name: deny is 403
    request: { headers: { x-token: deny } }
    expect: { outcome: deny, status: 403 }
  - name: this expectation is wrong
    request: { headers: { x-token: nonsense } }
    expect: { outcome: allow, status: 200 }
"#;
    let (out, stdout, _) = plugin_test(TEST_AUTHORIZER, cases, &[]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("an authorizer plugin"), "{stdout}");
    assert!(stdout.contains("ok    deny is 403"), "{stdout}");
    assert!(
        stdout.contains("FAIL  this expectation is wrong"),
        "{stdout}"
    );
    assert!(
        stdout.contains("outcome: expected allow, got unauthorized"),
        "{stdout}"
    );
    assert!(stdout.contains("status: expected 200, got 401"), "{stdout}");
    assert!(stdout.contains("2 passed, 1 failed"), "{stdout}");
}

#[test]
fn the_config_flag_replaces_the_cases_files_plugin_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{ "header": "x-other" }"#).expect("write config");
    let cases = r#"
plugin:
  config: { header: x-token }
cases:
  - name: the token is read from the header --config names
    request: { headers: { x-other: allow-bob } }
    expect: { outcome: allow, identity: { principal: bob } }
"#;
    let config = config.to_string_lossy().into_owned();
    let (out, stdout, stderr) = plugin_test(TEST_AUTHORIZER, cases, &["--config", &config]);
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[test]
fn a_filter_runs_in_the_phases_given_and_its_edits_are_checked() {
    let cases = r#"
plugin:
  config:
    require_header: x-user
    principal_header: x-principal
    response_header: [x-served-by, test]
  on_request: [authorize, transform]
  on_response: [configure]
cases:
  - name: a request with the header goes on, marked, and the response is stamped
    request: { path: /a?b=c, headers: { x-user: carol } }
    response: { status: 201, json: { ok: true } }
    expect:
      outcome: continue
      status: 201
      headers: { x-served-by: test }
      json: { ok: true }
      upstream: { path: /a, query: b=c, headers: { x-principal: carol } }
  - name: without it the filter answers 401, still stamped by the response phase
    expect:
      outcome: respond
      status: 401
      headers: { www-authenticate: Test, x-served-by: test }
      body: no credentials
"#;
    let (out, stdout, stderr) = plugin_test(TEST_FILTER, cases, &[]);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Each case lists the calls it made, phase by phase.
    assert!(stdout.contains("authorize: continue"), "{stdout}");
    assert!(stdout.contains("response-configure: continue"), "{stdout}");
}

#[test]
fn a_plugin_failure_is_an_outcome_a_case_can_expect() {
    let cases = r#"
plugin:
  config: { misbehave: panic }
  on_request: [transform]
cases:
  - name: a panic fails the request with 500
    expect: { outcome: error, status: 500, error: trapped }
"#;
    let (out, stdout, stderr) = plugin_test(TEST_FILTER, cases, &[]);
    assert!(out.status.success(), "{stdout}\n{stderr}");
}

#[test]
fn a_message_router_is_tested_with_messages() {
    let cases = r#"
plugin:
  config: { expression: "$request.body.action" }
cases:
  - name: the action is the route
    message: { data: '{"action":"join"}' }
    expect: { outcome: route, route: join }
  - name: text that is not JSON is unmatched
    message: { data: hello }
    expect: { outcome: unmatched }
"#;
    let (out, stdout, stderr) = plugin_test("builtin:ws-router", cases, &[]);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_wrong_cases_file_names_line_and_field_and_exits_2() {
    let cases = "cases:\n  - name: typo\n    expect: { statuss: 200 }\n";
    let (out, _, stderr) = plugin_test(TEST_FILTER, cases, &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cases.yaml:3:"), "{stderr}");
    assert!(stderr.contains("cases[0].expect"), "{stderr}");
    assert!(stderr.contains("did you mean `status`"), "{stderr}");

    // The plugin section is checked as the gateway checks a plugin entry.
    let cases = "plugin: { on_requst: [transform] }\ncases: []\n";
    let (out, _, stderr) = plugin_test(TEST_FILTER, cases, &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("field `plugin.on_requst`"), "{stderr}");
    assert!(stderr.contains("did you mean `on_request`"), "{stderr}");

    // A config the plugin refuses is its own error.
    let cases = "plugin: { config: { reject: no thanks } }\ncases: []\n";
    let (out, _, stderr) = plugin_test(TEST_FILTER, cases, &[]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rejected its config: no thanks"),
        "{stderr}"
    );
}

#[test]
fn a_case_whose_path_is_off_its_route_fails_alone() {
    let cases = r#"
cases:
  - name: off the route
    request: { route: "GET /orders/{id}", path: /customers/1 }
    expect: { outcome: continue }
  - name: on it
    request: { route: "GET /orders/{id}", path: /orders/1, headers: { x-token: allow-x } }
    expect: { outcome: allow }
"#;
    let (out, stdout, _) = plugin_test(TEST_AUTHORIZER, cases, &[]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("GET /customers/1 matches no route, not `GET /orders/{id}`"),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
}
