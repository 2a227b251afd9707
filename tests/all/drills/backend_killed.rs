//! A backend killed mid-load: only the requests in flight to it fail, with 502 or 503; the
//! rest are served by the other target; and once it is back it takes traffic again, with
//! no restart of the gateway.

use super::Load;
use crate::support::{Backend, DEADLINE, Gateway, poll_until};

const WORKERS: usize = 8;

#[tokio::test]
async fn a_killed_backend_fails_only_its_requests_in_flight_and_returns() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let yaml = format!(
        r#"
version: 1
listeners: [{{ address: "127.0.0.1:0" }}]
upstreams:
  app:
    targets: ["{}", "{}"]
    retries: 1
    health: {{ consecutive_failures: 2, ejection: 1s }}
apis:
  - name: api
    kind: http
    routes:
      - path: /{{proxy+}}
        integration: {{ type: http, upstream: app }}
"#,
        a.url(),
        b.url()
    );
    let gw = Gateway::start(&yaml).await;
    let url = format!("{}/work", gw.url());
    // Each request holds its backend for 20 ms, so some are always in flight to `a`.
    let load = Load::start(WORKERS, move |c, _, _| {
        c.get(&url).header("x-test-delay-ms", "20")
    });
    load.wait_for(100).await;
    assert!(a.hits() > 0 && b.hits() > 0, "both targets served");

    a.kill();
    let at_kill = load.so_far();
    load.wait_for(200).await;
    let while_down = load.so_far();
    let failed_while_down = while_down.other_than(&[200]) - at_kill.other_than(&[200]);
    assert!(
        failed_while_down <= 2 * WORKERS,
        "more failed than were in flight to the killed target: {while_down:?}"
    );

    a.revive().await;
    let hits_back = a.hits();
    let used_again = poll_until(DEADLINE, || {
        let hits = a.hits();
        async move { hits > hits_back }
    })
    .await;
    assert!(used_again, "the revived target never got traffic again");
    load.wait_for(100).await;
    let outcome = load.stop().await;
    assert!(
        outcome.errors.is_empty(),
        "requests without an answer: {outcome:?}"
    );
    assert_eq!(
        outcome.other_than(&[200, 502, 503]),
        0,
        "failures other than 502/503: {outcome:?}"
    );
    assert!(
        outcome.other_than(&[200]) <= 2 * WORKERS,
        "only requests in flight may fail: {outcome:?}"
    );
    assert!(outcome.count(200) >= 400, "{outcome:?}");
}
