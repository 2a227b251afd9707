//! Formatting access log lines.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::Format;
use crate::telemetry::record::{PluginTiming, Record};

fn record() -> Record {
    let head = http::Request::post("/v1/pets?x=1")
        .header("user-agent", "curl/8.5")
        .body(())
        .expect("req")
        .into_parts()
        .0;
    let observed =
        crate::telemetry::Observed::new("req-1", &head, "203.0.113.9".parse().expect("ip"), true);
    observed.update(|r| {
        r.request_time = UNIX_EPOCH + Duration::from_secs(1_765_004_400);
        r.route = Some(("shop".into(), "$default".into(), "POST /pets".into()));
        r.status = 201;
        r.response_length = 42;
        r.latency = Duration::from_millis(12);
        r.integration = Some(Duration::from_millis(9));
        r.principal = Some("alice".into());
        r.plugins.push(PluginTiming {
            plugin: Arc::from("keys"),
            phase: "authorize",
            took: Duration::from_micros(1500),
            outcome: "continue",
        });
    });
    observed.snapshot()
}

#[test]
fn templates_render_amazon_api_gateway_variables() {
    let f = Format::parse(
        "$context.requestId $context.identity.sourceIp [$context.requestTime] \
         \"$context.httpMethod $context.routeKey $context.protocol\" $context.status \
         $context.responseLength $context.responseLatency $context.integration.latency \
         $context.authorizer.latency $context.authorizer.principalId $context.error.message.",
    )
    .expect("valid");
    assert_eq!(
        f.line(&record()),
        "req-1 203.0.113.9 [06/Dec/2025:07:00:00 +0000] \"POST POST /pets HTTP/1.1\" 201 42 12 9 1 alice -."
    );
}

#[test]
fn json_lines_carry_every_known_field_and_plugin_timings() {
    let line = Format::Json.line(&record());
    let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(v["requestId"], "req-1");
    assert_eq!(v["identity.sourceIp"], "203.0.113.9");
    assert_eq!(v["identity.userAgent"], "curl/8.5");
    assert_eq!(v["status"], 201);
    assert_eq!(v["routeKey"], "POST /pets");
    assert_eq!(v["apiName"], "shop");
    assert_eq!(v["responseLatency"], 12);
    assert_eq!(v["integration.latency"], 9);
    assert_eq!(v["authorizer.latency"], 1);
    assert_eq!(v["plugins"][0]["plugin"], "keys");
    assert_eq!(v["plugins"][0]["us"], 1500);
    assert!(
        v.get("error.message").is_none(),
        "absent values are left out"
    );
}

#[test]
fn unknown_variables_are_refused_by_name() {
    let err = Format::parse("$context.requestId $context.bogus").expect_err("unknown");
    assert!(err.contains("`$context.bogus`"), "{err}");
    assert_eq!(Format::parse("json"), Ok(Format::Json));
}
