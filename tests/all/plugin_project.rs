//! A plugin project in each language, as a new user goes: `tollgate plugin new`, `tollgate
//! plugin build` with the language's real toolchain (cargo; componentize-js and the
//! AssemblyScript compiler from npm; componentize-py from PyPI; clang for wasm32-wasi:
//! `scripts/test.sh` installs them), `tollgate plugin test` on
//! the project's own cases, the project's own gateway config served, and a changed build
//! hot-loaded through the project's watched plugin folder while it serves. The project
//! `plugin new` writes is `examples/plugins/LANG`, file for file.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{Gateway, client, poll_until};

/// Compiling a JavaScript or Python component in a debug build takes 15-20 s of CPU on its
/// own, and far longer while the rest of the suite competes for the two cores.
const HOT_LOAD: Duration = Duration::from_secs(600);

fn tollgate(args: &[&str], dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(dir)
        // The suite's artifact cache: the gateway below finds the component compiled.
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .output()
        .expect("run tollgate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tollgate {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// New, build, test, serve, change, rebuild, hot-load; `source` is the file holding the
/// plugin's default `x-served-by` value, `"tollgate"`.
async fn project_lifecycle(lang: &str, source: &str) {
    let root = tempfile::tempdir().expect("temp dir");
    let name = format!("{lang}-token");
    tollgate(&["plugin", "new", "--lang", lang, &name], root.path());
    let project = root.path().join(&name);
    is_the_example(lang, &project);
    tollgate(&["plugin", "build"], &project);
    if lang == "javascript" {
        types_check_the_plugin(&project);
    }
    let report = tollgate(&["plugin", "test", "plugin.wasm", "cases.yaml"], &project);
    assert!(report.contains("3 passed, 0 failed"), "{report}");

    let gw = Gateway::start_file(&project.join("gateway.yaml"), &["--listen", "127.0.0.1:0"]).await;
    let url = format!("{}/hello", gw.url());
    let c = client();
    let r = c.get(&url).send().await.expect("request");
    assert_eq!(r.status(), 401);
    let r = c
        .get(&url)
        .header("x-api-token", "s3cret")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-served-by"], "tollgate");

    // A changed plugin, rebuilt and written into the watched folder by rename.
    let file = project.join(source);
    let text = std::fs::read_to_string(&file).expect("read source");
    assert!(text.contains("\"tollgate\""), "{source} holds the default");
    std::fs::write(&file, text.replacen("\"tollgate\"", "\"tollgate-v2\"", 1)).expect("edit");
    tollgate(&["plugin", "build"], &project);
    let folder = project.join("plugins.d");
    std::fs::create_dir_all(&folder).expect("plugins.d");
    std::fs::copy(project.join("plugin.wasm"), folder.join(".new")).expect("copy");
    std::fs::rename(folder.join(".new"), folder.join(format!("{name}.wasm"))).expect("rename");
    let swapped = poll_until(HOT_LOAD, || async {
        let r = c.get(&url).header("x-api-token", "s3cret").send().await;
        r.is_ok_and(|r| r.status() == 200 && r.headers()["x-served-by"] == "tollgate-v2")
    })
    .await;
    assert!(swapped, "the new build was not hot-loaded");
}

/// What the build, the package manager and the hot-load step leave in a project folder.
const BUILD_OUTPUTS: &[&str] = &[
    "node_modules",
    "types",
    "target",
    "__pycache__",
    "plugins.d",
    "plugin.wasm",
    "Cargo.lock",
];

/// The new project is `examples/plugins/LANG`, file for file; only the Rust SDK's path
/// differs (absolute in a new project, relative in the source tree).
fn is_the_example(lang: &str, project: &Path) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/plugins")
        .join(lang);
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk");
    let written = files(project);
    assert_eq!(
        written,
        files(&example),
        "`plugin new --lang {lang}` and examples/plugins/{lang} hold different files"
    );
    for file in &written {
        let new = std::fs::read(project.join(file)).expect("read new file");
        let new = String::from_utf8(new.clone())
            .map(|t| {
                t.replace(&*sdk.to_string_lossy(), "../../../sdk")
                    .into_bytes()
            })
            .unwrap_or(new);
        let old = std::fs::read(example.join(file)).expect("read example file");
        assert!(
            new == old,
            "examples/plugins/{lang}/{file} is not what `plugin new` writes: rewrite the example \
             with `tollgate plugin new --lang {lang} {lang}-token`"
        );
    }
}

/// The files under `dir` (relative, sorted), without build outputs.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("read folder") {
            let path = entry.expect("folder entry").path();
            let name = path.file_name().expect("file name").to_string_lossy();
            if BUILD_OUTPUTS.contains(&&*name) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under the folder");
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// The contract's TypeScript declarations check the plugin: it passes as written, and a
/// hook missing or a handle's method misspelled fails `npm run check`.
fn types_check_the_plugin(project: &Path) {
    let check = || {
        Command::new("npm")
            .args(["run", "check"])
            .current_dir(project)
            .output()
            .expect("run npm")
    };
    let out = check();
    assert!(
        out.status.success(),
        "npm run check: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let file = project.join("plugin.js");
    let text = std::fs::read_to_string(&file).expect("read plugin.js");
    for (from, to, error) in [
        (
            "req.setHeader(",
            "req.setHeadr(",
            "Property 'setHeadr' does not exist",
        ),
        (
            "export function onResponse(",
            "export function onRespond(",
            "Property 'onResponse' is missing",
        ),
    ] {
        std::fs::write(&file, text.replacen(from, to, 1)).expect("edit");
        let out = check();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success() && stdout.contains(error), "{stdout}");
    }
    std::fs::write(&file, text).expect("restore");
}

#[tokio::test]
async fn a_rust_plugin_project_is_built_tested_served_and_hot_loaded() {
    project_lifecycle("rust", "src/lib.rs").await;
}

#[tokio::test]
async fn a_javascript_plugin_project_is_built_tested_served_and_hot_loaded() {
    project_lifecycle("javascript", "plugin.js").await;
}

#[tokio::test]
async fn a_python_plugin_project_is_built_tested_served_and_hot_loaded() {
    project_lifecycle("python", "app.py").await;
}

#[tokio::test]
async fn a_c_plugin_project_is_built_tested_served_and_hot_loaded() {
    project_lifecycle("c", "plugin.c").await;
}

#[tokio::test]
async fn an_assemblyscript_plugin_project_is_built_tested_served_and_hot_loaded() {
    project_lifecycle("assemblyscript", "plugin.ts").await;
}

/// The AssemblyScript bindings (`tollgate.ts`, `exports.ts`) are written by hand: every call
/// they bind, both ways, by the plugin and cases of `tests/all/assemblyscript/`, in a 2 MiB
/// memory; and `init`'s refusal reaches the gateway.
#[test]
fn every_assemblyscript_binding_works() {
    let root = tempfile::tempdir().expect("temp dir");
    tollgate(
        &["plugin", "new", "--lang", "assemblyscript", "every"],
        root.path(),
    );
    let project = root.path().join("every");
    let given = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/assemblyscript");
    for file in ["plugin.ts", "cases.yaml"] {
        std::fs::copy(given.join(file), project.join(file)).expect("copy");
    }
    tollgate(&["plugin", "build"], &project);
    let report = tollgate(&["plugin", "test", "plugin.wasm", "cases.yaml"], &project);
    assert!(report.contains("3 passed, 0 failed"), "{report}");

    std::fs::write(project.join("empty.json"), "{}").expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plugin", "test", "plugin.wasm", "cases.yaml"])
        .args(["--config", "empty.json"])
        .current_dir(&project)
        .output()
        .expect("run tollgate");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("config: `greeting` is required"), "{err}");
}

#[test]
fn a_missing_toolchain_is_named_with_what_to_install() {
    let root = tempfile::tempdir().expect("temp dir");
    tollgate(&["plugin", "new", "--lang", "python", "p"], root.path());
    // A PATH without componentize-py.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plugin", "build", "--dir", "p"])
        .current_dir(root.path())
        .env("PATH", "/nonexistent")
        .output()
        .expect("run tollgate");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("componentize-py is needed"), "{err}");
    assert!(err.contains("pip install componentize-py==0.25.0"), "{err}");

    // Not a project; a name that cannot be a plugin's; a folder already used.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plugin", "build"])
        .current_dir(root.path())
        .output()
        .expect("run tollgate");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a plugin project"));
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plugin", "new", "--lang", "rust", "Bad_Name"])
        .current_dir(root.path())
        .output()
        .expect("run tollgate");
    assert!(String::from_utf8_lossy(&out.stderr).contains("lower-case letters"));
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["plugin", "new", "--lang", "javascript", "p"])
        .current_dir(root.path())
        .output()
        .expect("run tollgate");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}
