//! A plugin hot-swapped 20 times under steady load: not one request fails, and each version
//! serves in turn. (Its latency during the swaps is measured by `cargo bench --bench
//! drills`, not asserted here.)

use super::Load;
use crate::support::{Backend, Gateway, client, one_plugin_config};
use tollgate_test_artifacts::{TEST_FILTER, VERSION_TWO};

const TOKEN: &str = "drill-admin-token-0123";

#[tokio::test]
async fn twenty_hot_swaps_under_load_fail_no_request() {
    let backend = Backend::start("b").await;
    let yaml = one_plugin_config(
        &backend,
        &format!("admin: {{ address: \"127.0.0.1:0\", token: {TOKEN} }}"),
        "    on_request: [transform]\n    config: { request_header: [x-version, one] }",
    );
    let gw = Gateway::start(&yaml).await;
    let url = format!("{}/load", gw.url());
    let load = Load::start(6, move |c, _, _| c.get(&url));
    load.wait_for(50).await;
    let versions = [
        std::fs::read(VERSION_TWO).expect("version two"),
        std::fs::read(TEST_FILTER).expect("test filter"),
    ];
    let admin = client();
    for swap in 0..20 {
        let r = admin
            .put(format!("{}/plugins/p", gw.admin_url()))
            .bearer_auth(TOKEN)
            .body(versions[swap % 2].clone())
            .send()
            .await
            .expect("hot-load");
        assert_eq!(
            r.status(),
            200,
            "swap {swap}: {}",
            r.text().await.unwrap_or_default()
        );
        // Some traffic on each version before the next swap.
        load.wait_for(20).await;
        let v: serde_json::Value = client()
            .get(format!("{}/load", gw.url()))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        let want = if swap % 2 == 0 { "two" } else { "one" };
        assert_eq!(v["headers"]["x-version"], want, "after swap {swap}");
    }
    let outcome = load.stop().await;
    assert_eq!(outcome.other_than(&[200]), 0, "{outcome:?}");
    assert!(outcome.count(200) >= 450, "{outcome:?}");
}
