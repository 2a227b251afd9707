//! How plugin code gets in: the on-disk artifact cache, the watched plugin folder, and
//! hot-loads that must keep the plugin's world.

use crate::support::{
    Backend, DEADLINE, FetchJson, Gateway, client, one_plugin_config, poll_until,
};
use tollgate_test_artifacts::{TEST_AUTHORIZER, TEST_FILTER, VERSION_TWO};

fn config(backend: &Backend, runtime: &str) -> String {
    let top = format!("admin: {{ address: \"127.0.0.1:0\" }}\nplugin_runtime: {{ {runtime} }}");
    let plugin = "    on_request: [transform]\n    config: { request_header: [x-version, one] }";
    one_plugin_config(backend, &top, plugin)
}

/// The test filter's config with the artifact cache in `cache`.
fn cached_config(backend: &Backend, cache: &std::path::Path) -> String {
    config(backend, &format!("artifact_cache: \"{}\"", cache.display()))
}

async fn plugin_info(gw: &Gateway) -> serde_json::Value {
    let v = client()
        .get(format!("{}/plugins", gw.admin_url()))
        .fetch_json()
        .await;
    v["plugins"][0].clone()
}

#[tokio::test]
async fn compiled_plugins_are_cached_on_disk_and_corrupt_entries_ignored() {
    let backend = Backend::start("b").await;
    let cache = tempfile::tempdir().expect("dir");
    let yaml = cached_config(&backend, cache.path());
    let gw = Gateway::start(&yaml).await;
    assert_eq!(plugin_info(&gw).await["from_artifact_cache"], false);
    assert_eq!(plugin_info(&gw).await["machine_code"], "compiled");
    drop(gw);
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let gw = Gateway::start(&yaml).await;
    assert_eq!(plugin_info(&gw).await["from_artifact_cache"], true);
    assert_eq!(plugin_info(&gw).await["machine_code"], "artifact_cache");
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
    drop(gw);

    // Flip a byte of the machine code: the entry is refused and the plugin recompiled.
    let mut bytes = std::fs::read(&files[0]).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&files[0], bytes).expect("write");
    let gw = Gateway::start(&yaml).await;
    assert_eq!(plugin_info(&gw).await["from_artifact_cache"], false);
    gw.wait_log("corrupt compiled plugin ignored").await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
}

/// A component with one import and nothing else (a valid component).
fn component_importing(name: &str) -> Vec<u8> {
    use wasm_encoder::{
        Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection, InstanceType,
    };
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    let mut imports = ComponentImportSection::new();
    imports.import(name, ComponentTypeRef::Instance(0));
    let mut component = Component::new();
    component.section(&types).section(&imports);
    component.finish()
}

/// A component importing something the host does not link is refused before it is
/// compiled, with the import named and what to do; nothing reaches the artifact cache.
#[tokio::test]
async fn components_with_imports_the_host_lacks_are_refused_before_compiling() {
    let backend = Backend::start("b").await;
    let cache = tempfile::tempdir().expect("dir");
    let dir = tempfile::tempdir().expect("dir");
    let wasm = dir.path().join("js-default.wasm");
    std::fs::write(
        &wasm,
        component_importing("wasi:keyvalue/store@0.2.0-draft"),
    )
    .expect("write");
    let yaml = cached_config(&backend, cache.path()).replacen(
        &format!("path: \"{}\"", TEST_FILTER),
        &format!("path: \"{}\"", wasm.display()),
        1,
    );
    let err = Gateway::start_failure(&yaml).await;
    assert!(
        err.contains(
            "imports `wasi:keyvalue/store@0.2.0-draft`, which this gateway does not provide"
        ),
        "{err}"
    );
    assert!(err.contains("wasi:http/outgoing-handler"), "{err}");
    let cached = std::fs::read_dir(cache.path()).map_or(0, |d| d.count());
    assert_eq!(cached, 0, "nothing compiled, nothing cached");

    std::fs::write(&wasm, component_importing("acme:kv/store@1.0.0")).expect("write");
    let err = Gateway::start_failure(&yaml).await;
    assert!(err.contains("imports `acme:kv/store@1.0.0`"), "{err}");

    // wasi:http (as componentize-js's default build imports it) is linked: this one gets
    // past its imports and is refused only for implementing none of the plugin worlds.
    std::fs::write(&wasm, component_importing("wasi:http/types@0.2.3")).expect("write");
    let err = Gateway::start_failure(&yaml).await;
    assert!(err.contains("exports none of the worlds"), "{err}");
}

/// A built-in plugin loads from the machine code embedded at build time: nothing is
/// compiled and nothing written to the artifact cache, and the plugin works.
#[tokio::test]
async fn builtin_plugins_load_from_embedded_machine_code() {
    let backend = Backend::start("b").await;
    let cache = tempfile::tempdir().expect("dir");
    let yaml = cached_config(&backend, cache.path())
        .replacen(
            &format!("path: \"{}\"", TEST_FILTER),
            "builtin: transform",
            1,
        )
        .replacen(
            "config: { request_header: [x-version, one] }",
            "config: { request: { headers: { set: { x-version: one } } } }",
            1,
        );
    let gw = Gateway::start(&yaml).await;
    let info = plugin_info(&gw).await;
    assert_eq!(info["source"], "builtin:transform");
    assert_eq!(info["machine_code"], "embedded", "{info}");
    assert_eq!(info["from_artifact_cache"], false);
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
    let cached = std::fs::read_dir(cache.path()).expect("cache dir").count();
    assert_eq!(cached, 0, "a built-in was compiled and cached");
}

/// Where the instance pool cannot reserve its address space up front (here a 64 GiB
/// `ulimit -v`, against the pool's terabytes), plugins still load and run: instances are
/// allocated on demand, and the log says so.
#[tokio::test]
async fn plugins_run_where_the_instance_pool_cannot_reserve_its_memory() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start_with_address_space(&config(&backend, ""), 64).await;
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
    assert!(
        gw.logs().contains("allocating instances on demand"),
        "{}",
        gw.logs()
    );
}

#[tokio::test]
async fn the_plugin_folder_hot_loads_and_reverts() {
    let backend = Backend::start("b").await;
    let folder = tempfile::tempdir().expect("dir");
    let yaml = config(
        &backend,
        &format!("plugin_dir: \"{}\"", folder.path().display()),
    );
    let gw = Gateway::start(&yaml).await;
    let url = format!("{}/x", gw.url());
    let version =
        || async { client().get(&url).fetch_json().await["headers"]["x-version"].clone() };
    assert_eq!(version().await, "one");

    // Written by rename, as deploy tools do.
    let tmp = folder.path().join("p.wasm.tmp");
    std::fs::copy(VERSION_TWO, &tmp).expect("copy");
    std::fs::rename(&tmp, folder.path().join("p.wasm")).expect("rename");
    assert!(
        poll_until(DEADLINE, || async { version().await == "two" }).await,
        "the folder's version never served"
    );
    assert_eq!(plugin_info(&gw).await["origin"], "folder");

    // A broken file keeps the running version.
    std::fs::write(folder.path().join("p.wasm"), b"not wasm").expect("write");
    gw.wait_log("hot-load refused; the running version stays")
        .await;
    assert_eq!(version().await, "two");

    std::fs::remove_file(folder.path().join("p.wasm")).expect("remove");
    assert!(
        poll_until(DEADLINE, || async { version().await == "one" }).await,
        "removing the file never went back to the config's version"
    );
    assert_eq!(plugin_info(&gw).await["origin"], "config");
}

#[tokio::test]
async fn a_hot_load_cannot_change_the_world() {
    let backend = Backend::start("b").await;
    let gw = Gateway::start(&config(&backend, "")).await;
    let r = client()
        .put(format!("{}/plugins/p", gw.admin_url()))
        .body(std::fs::read(TEST_AUTHORIZER).expect("read"))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.expect("json");
    assert!(
        v["message"].as_str().unwrap_or_default().contains(
            "the running version implements the filter world and this one the authorizer world"
        ),
        "{v}"
    );
    let v = client().get(format!("{}/x", gw.url())).fetch_json().await;
    assert_eq!(v["headers"]["x-version"], "one");
}
