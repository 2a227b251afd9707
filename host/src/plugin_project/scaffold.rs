//! `tollgate plugin new`: a buildable plugin project from the embedded templates, with the
//! contract (`wit/plugin.wit`), offline test cases and a gateway config to run it in. The
//! plugin's sources and helpers are those of `examples/plugins/<lang>/` (which is what this
//! writes for `<lang>-token`); `templates/plugin/` has the files that carry the project's
//! name and language.

use std::path::{Path, PathBuf};

use super::{Lang, ProjectError};

/// The contract, for the languages whose toolchains read it.
const WIT: &str = crate::plugin::contract::WIT;

macro_rules! template {
    ($path:literal) => {
        include_str!(concat!("../../../templates/plugin/", $path))
    };
}

/// A source file of the example projects, written as it is.
macro_rules! source {
    ($path:literal) => {
        include_str!(concat!("../../../examples/plugins/", $path))
    };
}

/// A file of a project: its path in the project and its text, with `{{placeholders}}`.
type File = (&'static str, &'static str);

const COMMON: &[File] = &[
    ("README.md", template!("README.md.tmpl")),
    ("cases.yaml", template!("cases.yaml.tmpl")),
    ("gateway.yaml", template!("gateway.yaml.tmpl")),
];

const RUST: &[File] = &[
    ("Cargo.toml", template!("rust/Cargo.toml.tmpl")),
    ("src/lib.rs", source!("rust/src/lib.rs")),
    (".gitignore", "/target\n/plugin.wasm\n/plugins.d\n"),
];

const JAVASCRIPT: &[File] = &[
    ("package.json", template!("javascript/package.json.tmpl")),
    (
        "package-lock.json",
        template!("javascript/package-lock.json.tmpl"),
    ),
    ("plugin.js", source!("javascript/plugin.js")),
    ("tollgate.js", source!("javascript/tollgate.js")),
    ("types.mjs", source!("javascript/types.mjs")),
    ("tsconfig.json", source!("javascript/tsconfig.json")),
    ("wit/plugin.wit", WIT),
    (
        ".gitignore",
        "/node_modules\n/types\n/plugin.wasm\n/plugins.d\n",
    ),
];

const PYTHON: &[File] = &[
    ("app.py", source!("python/app.py")),
    ("tollgate.py", source!("python/tollgate.py")),
    ("wit/plugin.wit", WIT),
    (".gitignore", "__pycache__/\n/plugin.wasm\n/plugins.d\n"),
];

const C: &[File] = &[
    ("plugin.c", source!("c/plugin.c")),
    ("tollgate.h", source!("c/tollgate.h")),
    ("tollgate.c", source!("c/tollgate.c")),
    ("filter.h", source!("c/filter.h")),
    ("filter.c", source!("c/filter.c")),
    ("wit/plugin.wit", WIT),
    (".gitignore", "/target\n/plugin.wasm\n/plugins.d\n"),
];

const ASSEMBLYSCRIPT: &[File] = &[
    (
        "package.json",
        template!("assemblyscript/package.json.tmpl"),
    ),
    (
        "package-lock.json",
        template!("assemblyscript/package-lock.json.tmpl"),
    ),
    ("asconfig.json", source!("assemblyscript/asconfig.json")),
    ("tsconfig.json", source!("assemblyscript/tsconfig.json")),
    ("plugin.ts", source!("assemblyscript/plugin.ts")),
    ("tollgate.ts", source!("assemblyscript/tollgate.ts")),
    ("exports.ts", source!("assemblyscript/exports.ts")),
    ("wit/plugin.wit", WIT),
    (
        ".gitignore",
        "/node_modules\n/target\n/plugin.wasm\n/plugins.d\n",
    ),
];

/// Files that are not text: the C bindings' component type, an object file.
const C_BINARY: &[(&str, &[u8])] = &[(
    "filter_component_type.o",
    include_bytes!("../../../examples/plugins/c/filter_component_type.o"),
)];

/// What a language's project says about itself in its README.
struct About {
    language: &'static str,
    memory: &'static str,
    files: &'static str,
    toolchain: &'static str,
}

fn about(lang: Lang) -> About {
    match lang {
        Lang::Rust => About {
            language: "Rust",
            memory: "32MiB",
            files: "| `src/lib.rs` | the plugin (`tollgate-sdk`) |\n",
            toolchain: "Needs cargo and the `wasm32-wasip2` target (`rustup target add \
                        wasm32-wasip2`); `tollgate plugin build` runs `cargo build --release \
                        --target wasm32-wasip2` and copies the component to `plugin.wasm`.",
        },
        Lang::Javascript => About {
            language: "JavaScript",
            memory: "64MiB",
            files: "| `plugin.js` | the plugin |\n| `tollgate.js` | helpers: `CONTINUE`, \
                    `respond`, `respondJson`, `response`, `parseConfig`, `allow`, `DENY`, \
                    `UNAUTHORIZED`, and the contract's types for JSDoc |\n| `types.mjs`, \
                    `tsconfig.json` | the contract's TypeScript declarations, written into \
                    `types/` (`npm run types`; every build does it), and `npm run check`: \
                    `tsc` checks the plugin against them |\n| `wit/plugin.wit` | the contract |\n",
            toolchain: "Needs Node.js 20 or later and npm; `tollgate plugin build` runs \
                        `npm ci` (componentize-js 0.23.0 and TypeScript 7.0.2, pinned in \
                        `package-lock.json`) and `npm run build`; `npm run check` type-checks \
                        the plugin. The world is `--world-name` in `package.json`'s build \
                        script (`filter`, `authorizer`, `function`, `message-router`). The \
                        JavaScript engine is inside the component: 12 MB, about 14 s to \
                        compile on first load (then cached), `memory: 64MiB`.",
        },
        Lang::C => About {
            language: "C",
            memory: "32MiB",
            files: "| `plugin.c` | the plugin |\n| `tollgate.h`, `tollgate.c` | the exports, which \
                    drop the handles the host lends, and helpers |\n| `filter.h`, `filter.c`, \
                    `filter_component_type.o` | the bindings, from `wit-bindgen c` 0.61.1 |\n\
                    | `wit/plugin.wit` | the contract |\n",
            toolchain: "Needs clang with the `wasm32-wasi` target and its libc (Debian 12: \
                        `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`; or \
                        wasi-sdk's clang on the PATH); `tollgate plugin build` compiles every \
                        `.c` file with the bindings' object into a core module, then makes it a \
                        component itself (with the WASI preview 1 adapter; no wasm-tools needed). \
                        The bindings are for the `filter` world: for another, regenerate them \
                        (`wit-bindgen c wit --world authorizer`) and write its exports as \
                        `tollgate.c` does.",
        },
        Lang::Assemblyscript => About {
            language: "AssemblyScript",
            memory: "32MiB",
            files: "| `plugin.ts` | the plugin |\n| `tollgate.ts` | helpers: `Request`, \
                    `ResponseHead`, `CONTINUE`, `respond`, `respondJson`, `log`, \
                    `jsonString`, and the host calls they make |\n| `exports.ts` | the \
                    component's exports, which call your hooks and drop the handles the host \
                    lends (the build's entry file) |\n| `asconfig.json`, `tsconfig.json` | \
                    the compiler's settings |\n| `wit/plugin.wit` | the contract |\n",
            toolchain: "Needs Node.js 20 or later and npm; `tollgate plugin build` runs \
                        `npm ci` (the AssemblyScript compiler 0.28.20, pinned in \
                        `package-lock.json`) and `npm run build` (`asc`, which writes a core \
                        module to `target/`), then gives the exports the contract's names \
                        (`on_request` becomes `on-request`), embeds the `filter` world of \
                        `wit/` and makes the component itself (no wasm-tools needed). \
                        AssemblyScript has no bindings generator for components: `tollgate.ts` \
                        and `exports.ts` are the bindings, written by hand for the `filter` \
                        world and the calls listed there.",
        },
        Lang::Python => About {
            language: "Python",
            memory: "64MiB",
            files: "| `app.py` | the plugin (class `WitWorld`) |\n| `tollgate.py` | helpers: \
                    `CONTINUE`, `respond`, `respond_json`, `config`, `allow`, `DENY`, \
                    `UNAUTHORIZED` |\n| `wit/plugin.wit` | the contract |\n",
            toolchain: "Needs componentize-py 0.25 (`pip install componentize-py==0.25.0`); \
                        `tollgate plugin build` runs `componentize-py -d wit -w filter \
                        componentize app -o plugin.wasm`, the world following the hooks \
                        `app.py` defines (`authorize`: authorizer, `handle`: function, \
                        `select_route`: message-router). CPython is inside the component: \
                        18 MB, several seconds to compile on first load (then cached), \
                        `memory: 64MiB`.",
        },
    }
}

/// Writes a new `lang` project named `name` into `dir` (which must not exist, or be
/// empty). `sdk` is the Rust SDK's folder for Rust projects; by default the one of the
/// source tree this binary was built from. Returns the files written.
pub fn new(
    lang: Lang,
    name: &str,
    dir: &Path,
    sdk: Option<&Path>,
) -> Result<Vec<PathBuf>, ProjectError> {
    check_name(name)?;
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(ProjectError::Usage(format!(
            "{} exists and is not empty; give a new folder",
            dir.display()
        )));
    }
    let sdk = match lang {
        Lang::Rust => rust_sdk(sdk)?,
        _ => String::new(),
    };
    let about = about(lang);
    let specific = match lang {
        Lang::Rust => RUST,
        Lang::Javascript => JAVASCRIPT,
        Lang::Python => PYTHON,
        Lang::C => C,
        Lang::Assemblyscript => ASSEMBLYSCRIPT,
    };
    // The demo route's body, `hello from behind NAME\n`, as the README shows it served.
    let hello_length = ("hello from behind \n".len() + name.len()).to_string();
    let mut written = Vec::new();
    for (path, text) in COMMON.iter().chain(specific) {
        let text = text
            .replace("{{name}}", name)
            .replace("{{lang}}", lang.name())
            .replace("{{language}}", about.language)
            .replace("{{memory}}", about.memory)
            .replace("{{files}}", about.files)
            .replace("{{toolchain}}", about.toolchain)
            .replace("{{sdk}}", &sdk)
            .replace("{{hello_length}}", &hello_length);
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(|e| ProjectError::io(parent, e))?;
        }
        std::fs::write(&file, text).map_err(|e| ProjectError::io(&file, e))?;
        written.push(file);
    }
    if lang == Lang::C {
        for (path, bytes) in C_BINARY {
            let file = dir.join(path);
            std::fs::write(&file, bytes).map_err(|e| ProjectError::io(&file, e))?;
            written.push(file);
        }
    }
    Ok(written)
}

/// A plugin name is used as the gateway config's plugin key, the package name and a file
/// name: lower-case letters, digits and `-`, starting with a letter.
fn check_name(name: &str) -> Result<(), ProjectError> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ProjectError::Usage(format!(
            "`{name}`: a plugin name is lower-case letters, digits and `-`, starting with a letter"
        )))
    }
}

/// The Rust SDK's folder, as a TOML string's content (forward slashes).
fn rust_sdk(given: Option<&Path>) -> Result<String, ProjectError> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("sdk");
    let sdk = match given {
        Some(p) => p.to_path_buf(),
        None if built_from.join("Cargo.toml").is_file() => built_from,
        None => {
            return Err(ProjectError::Usage(
                "a Rust plugin needs tollgate-sdk: give `--sdk PATH`, the `sdk` folder of a \
                 Tollgate source tree"
                    .into(),
            ));
        }
    };
    if !sdk.join("Cargo.toml").is_file() {
        return Err(ProjectError::Usage(format!(
            "{}: not the tollgate-sdk folder (no Cargo.toml)",
            sdk.display()
        )));
    }
    let sdk = std::path::absolute(&sdk).map_err(|e| ProjectError::io(&sdk, e))?;
    Ok(sdk.display().to_string().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The C template's bindings embed the contract they were generated from: a new
    /// contract version needs them regenerated (`wit-bindgen c wit --world filter`).
    #[test]
    fn the_c_bindings_are_for_this_contract_version() {
        let wanted = format!("tollgate:plugin/types@{}", crate::plugin::contract::VERSION);
        let (_, object) = C_BINARY[0];
        assert!(
            object.windows(wanted.len()).any(|w| w == wanted.as_bytes()),
            "examples/plugins/c/filter_component_type.o is not for {wanted}"
        );
    }
}
