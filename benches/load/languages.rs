//! The plugin of `tollgate plugin new` in each language (the same token check and response
//! header in Rust, JavaScript, Python, C and AssemblyScript), built with `tollgate plugin build` when the
//! language's toolchain is installed, and served by one more Tollgate process: a route per
//! language, for rows that compare what a language costs per request. For the languages
//! that carry an interpreter, also a plugin whose hooks only continue: what entering the
//! guest costs before the plugin does anything.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setups::{self, Proxy};

/// The languages, with the route prefix of their rows.
pub const LANGUAGES: [(&str, &str); 5] = [
    ("rust", "/lang-rust"),
    ("javascript", "/lang-javascript"),
    ("python", "/lang-python"),
    ("c", "/lang-c"),
    ("assemblyscript", "/lang-assemblyscript"),
];

/// The languages with an empty-hooks variant: the source file replaced, and what it becomes.
pub const EMPTY: [(&str, &str, &str); 2] = [
    (
        "javascript",
        "plugin.js",
        "export function init(config) {}\n\
         export function onRequest(phase, req) { return { tag: \"continue\" }; }\n\
         export function onResponse(phase, resp) { return { tag: \"continue\" }; }\n",
    ),
    (
        "python",
        "app.py",
        "import wit_world\n\
         from wit_world.imports import types\n\
         CONTINUE = types.Action_Continue()\n\
         class WitWorld(wit_world.WitWorld):\n\
         \x20   def init(self, config):\n\
         \x20       pass\n\
         \x20   def on_request(self, phase, req):\n\
         \x20       return CONTINUE\n\
         \x20   def on_response(self, phase, resp):\n\
         \x20       return CONTINUE\n",
    ),
];

/// The header the plugins check.
pub const TOKEN: &str = "x-api-token: s3cret";

/// Builds each language's project in `dir` (and the empty-hooks variants); the components
/// built, each with its plugin name and route prefix (`lang-rust`, `empty-python`), and why
/// the others were not.
pub fn build(binary: &str, dir: &Path) -> (Vec<(String, PathBuf)>, Vec<String>) {
    let mut built = Vec::new();
    let mut skipped = Vec::new();
    for (lang, _) in LANGUAGES {
        let project = dir.join(format!("lang-{lang}"));
        let run = |args: &[&str], cwd: &Path| {
            Command::new(binary)
                .args(args)
                .current_dir(cwd)
                .output()
                .map_err(|e| e.to_string())
                .and_then(|o| {
                    if o.status.success() {
                        Ok(())
                    } else {
                        Err(String::from_utf8_lossy(&o.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                            .to_owned())
                    }
                })
        };
        let name = format!("lang-{lang}");
        // Tested offline first: the plugin works, and its compiled code is in the default
        // artifact cache when the gateway starts.
        let result = run(&["plugin", "new", "--lang", lang, &name], dir)
            .and_then(|()| run(&["plugin", "build"], &project))
            .and_then(|()| run(&["plugin", "test", "plugin.wasm", "cases.yaml"], &project));
        match result {
            Ok(()) => built.push((name, project.join("plugin.wasm"))),
            Err(e) => {
                skipped.push(format!("the {lang} plugin: {e}"));
                continue;
            }
        }
        let Some((_, file, source)) = EMPTY.into_iter().find(|(l, ..)| *l == lang) else {
            continue;
        };
        let name = format!("empty-{lang}");
        let empty = dir.join(&name);
        let result = run(&["plugin", "new", "--lang", lang, &name], dir)
            .and_then(|()| {
                // The packages the first project installed, not a second download.
                let modules = project.join("node_modules");
                if modules.is_dir() {
                    std::os::unix::fs::symlink(&modules, empty.join("node_modules"))
                        .map_err(|e| e.to_string())?;
                }
                std::fs::write(empty.join(file), source).map_err(|e| e.to_string())
            })
            .and_then(|()| run(&["plugin", "build"], &empty));
        match result {
            Ok(()) => built.push((name, empty.join("plugin.wasm"))),
            Err(e) => skipped.push(format!("the empty {lang} plugin: {e}")),
        }
    }
    (built, skipped)
}

/// A Tollgate process with a route per plugin built: `/<name>/...` through it (authorize
/// and response configure, as its project's gateway config).
pub fn tollgate(
    binary: &str,
    dir: &Path,
    backend: std::net::SocketAddr,
    built: &[(String, PathBuf)],
) -> Result<Proxy, String> {
    let mut plugins = String::new();
    let mut routes = String::new();
    for (name, wasm) in built {
        plugins.push_str(&format!(
            "  {name}:\n    path: \"{}\"\n    config: {{ token: s3cret }}\n    \
             on_request: [authorize]\n    on_response: [configure]\n    memory: 64MiB\n",
            wasm.display()
        ));
        routes.push_str(&format!(
            "      - path: /{name}/{{proxy+}}\n        plugins: [{name}]\n        \
             integration: {{ type: http, upstream: backend, path: \"/{{proxy}}\" }}\n"
        ));
    }
    setups::tollgate_with(
        binary,
        dir,
        "tollgate-languages",
        backend,
        &plugins,
        &routes,
    )
}
