//! The plugin of `tollgate plugin new` in each language (the same token check and response
//! header in Rust, JavaScript, Python and C), built with `tollgate plugin build` when the
//! language's toolchain is installed, and served by one more Tollgate process: a route per
//! language, for rows that compare what a language costs per request.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setups::{self, Proxy};

/// The languages, with the route prefix of their rows.
pub const LANGUAGES: [(&str, &str); 4] = [
    ("rust", "/lang-rust"),
    ("javascript", "/lang-javascript"),
    ("python", "/lang-python"),
    ("c", "/lang-c"),
];

/// The header the plugins check.
pub const TOKEN: &str = "x-api-token: s3cret";

/// Builds each language's project in `dir`; the components built, and why the others were
/// not.
pub fn build(binary: &str, dir: &Path) -> (Vec<(&'static str, PathBuf)>, Vec<String>) {
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
            Ok(()) => built.push((lang, project.join("plugin.wasm"))),
            Err(e) => skipped.push(format!("the {lang} plugin: {e}")),
        }
    }
    (built, skipped)
}

/// A Tollgate process with a route per built language: `/lang-<lang>/...` through that
/// language's plugin (authorize and response configure, as its project's gateway config).
pub fn tollgate(
    binary: &str,
    dir: &Path,
    backend: std::net::SocketAddr,
    built: &[(&'static str, PathBuf)],
) -> Result<Proxy, String> {
    let mut plugins = String::new();
    let mut routes = String::new();
    for (lang, wasm) in built {
        plugins.push_str(&format!(
            "  lang-{lang}:\n    path: \"{}\"\n    config: {{ token: s3cret }}\n    \
             on_request: [authorize]\n    on_response: [configure]\n    memory: 64MiB\n",
            wasm.display()
        ));
        routes.push_str(&format!(
            "      - path: /lang-{lang}/{{proxy+}}\n        plugins: [lang-{lang}]\n        \
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
