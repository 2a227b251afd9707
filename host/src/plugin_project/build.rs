//! `tollgate plugin build`: the toolchain of the project's language, run in its folder,
//! leaves the component in `plugin.wasm`. A missing toolchain is named with what to
//! install, before anything runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Lang, ProjectError};

/// The component a build leaves in the project's folder.
pub const OUTPUT: &str = "plugin.wasm";

/// The componentize-py release the Python template is written for.
const COMPONENTIZE_PY: &str = "0.25.0";

/// Builds the project in `dir`; returns the component's path.
pub fn build(dir: &Path) -> Result<PathBuf, ProjectError> {
    let lang = Lang::of(dir).ok_or_else(|| {
        ProjectError::Usage(format!(
            "{}: not a plugin project (no Cargo.toml, asconfig.json, package.json, app.py or \
             tollgate.c); make one with `tollgate plugin new`",
            dir.display()
        ))
    })?;
    let out = dir.join(OUTPUT);
    match lang {
        Lang::Rust => rust(dir, &out)?,
        Lang::Javascript => javascript(dir)?,
        Lang::Python => python(dir)?,
        Lang::C => c(dir, &out)?,
        Lang::Assemblyscript => assemblyscript(dir, &out)?,
    }
    if !out.is_file() {
        return Err(ProjectError::Usage(format!(
            "the build ran but left no {}",
            out.display()
        )));
    }
    Ok(out)
}

fn rust(dir: &Path, out: &Path) -> Result<(), ProjectError> {
    need(
        "cargo",
        "rust",
        "install Rust with rustup (https://rustup.rs)",
    )?;
    if let Ok(o) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .output()
        && o.status.success()
        && !String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|t| t.trim() == "wasm32-wasip2")
    {
        return Err(ProjectError::Missing {
            tool: "the wasm32-wasip2 target",
            lang: "rust",
            install: "rustup target add wasm32-wasip2".into(),
        });
    }
    run(Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(dir))?;
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| ProjectError::io(&manifest, e))?;
    let name = package_name(&text)
        .ok_or_else(|| ProjectError::Usage(format!("{}: no [package] name", manifest.display())))?;
    let built = target_dir(dir)
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::copy(&built, out).map_err(|e| ProjectError::io(&built, e))?;
    Ok(())
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else the project's `target`.
fn target_dir(dir: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => dir.join(t),
        None => dir.join("target"),
    }
}

/// The `name` of the `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name")
            && let Some(value) = value.trim_start().strip_prefix('=')
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

fn javascript(dir: &Path) -> Result<(), ProjectError> {
    npm_ci(dir, "javascript", "componentize-js")?;
    run(Command::new("npm").args(["run", "build"]).current_dir(dir))
}

/// The AssemblyScript compiler (`npm run build`: `asc`, pinned in `package-lock.json`)
/// writes a core module; its exports are given the canonical ABI's names and the `filter`
/// world of `wit/` is embedded before it is made a component.
fn assemblyscript(dir: &Path, out: &Path) -> Result<(), ProjectError> {
    npm_ci(dir, "assemblyscript", "the AssemblyScript compiler")?;
    run(Command::new("npm").args(["run", "build"]).current_dir(dir))?;
    let core = dir.join("target/plugin.core.wasm");
    let module = std::fs::read(&core).map_err(|e| ProjectError::io(&core, e))?;
    let component =
        super::componentize::componentize_for_world(&module, &dir.join("wit"), "filter").map_err(
            |e| {
                ProjectError::Usage(format!(
                    "{}: cannot be made a component: {e}",
                    core.display()
                ))
            },
        )?;
    std::fs::write(out, component).map_err(|e| ProjectError::io(out, e))
}

/// Node.js 20 or later and npm, and the project's packages installed (`npm ci` when it has
/// a lock file).
fn npm_ci(dir: &Path, lang: &'static str, tool: &str) -> Result<(), ProjectError> {
    let install = "install Node.js 20 or later with npm (Debian: apt-get install nodejs npm; \
                   or https://nodejs.org)";
    need("node", lang, install)?;
    need("npm", lang, install)?;
    let version = Command::new("node").arg("--version").output().ok();
    let major = version
        .as_ref()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .strip_prefix('v')
                .map(str::to_owned)
        })
        .and_then(|v| v.split('.').next().and_then(|m| m.parse::<u32>().ok()));
    if major.is_some_and(|m| m < 20) {
        return Err(ProjectError::Missing {
            tool: "Node.js 20 or later",
            lang,
            install: format!(
                "this is Node.js {}; {tool} needs 20 or later",
                major.unwrap_or_default()
            ),
        });
    }
    if !dir.join("node_modules").is_dir() {
        let install = if dir.join("package-lock.json").is_file() {
            "ci"
        } else {
            "install"
        };
        run(Command::new("npm").arg(install).current_dir(dir))?;
    }
    Ok(())
}

fn c(dir: &Path, out: &Path) -> Result<(), ProjectError> {
    let install = "clang with the wasm32-wasi target and its libc (Debian 12: apt-get install \
                   clang lld wasi-libc libclang-rt-14-dev-wasm32; or wasi-sdk's clang)";
    need("clang", "c", install)?;
    let mut inputs: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| ProjectError::io(dir, e))?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| f.ends_with(".c") || f.ends_with("_component_type.o"))
        .collect();
    inputs.sort();
    let target = dir.join("target");
    std::fs::create_dir_all(&target).map_err(|e| ProjectError::io(&target, e))?;
    let core = target.join("plugin.core.wasm");
    run(Command::new("clang")
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-Wall",
            "-o",
        ])
        .arg(&core)
        .args(&inputs)
        .current_dir(dir))
    .map_err(|e| match e {
        ProjectError::Failed { command, status } => ProjectError::Failed {
            command,
            status: format!("{status}; a missing header or library means: {install}"),
        },
        other => other,
    })?;
    let module = std::fs::read(&core).map_err(|e| ProjectError::io(&core, e))?;
    let component = super::componentize::componentize(&module).map_err(|e| {
        ProjectError::Usage(format!(
            "{}: cannot be made a component: {e}",
            core.display()
        ))
    })?;
    std::fs::write(out, component).map_err(|e| ProjectError::io(out, e))
}

fn python(dir: &Path) -> Result<(), ProjectError> {
    need(
        "componentize-py",
        "python",
        &format!("pip install componentize-py=={COMPONENTIZE_PY}"),
    )?;
    let app = dir.join("app.py");
    let source = std::fs::read_to_string(&app).map_err(|e| ProjectError::io(&app, e))?;
    run(Command::new("componentize-py")
        .args(["-d", "wit", "-w", python_world(&source)])
        .args(["componentize", "app", "-o", OUTPUT])
        .current_dir(dir))
}

/// The world a Python plugin implements, by the hooks it defines (as the Rust SDK picks it).
fn python_world(source: &str) -> &'static str {
    let defines = |hook: &str| source.contains(&format!("def {hook}("));
    if defines("authorize") {
        "authorizer"
    } else if defines("handle") {
        "function"
    } else if defines("select_route") {
        "message-router"
    } else {
        "filter"
    }
}

/// Fails with what to install when `program` is not on the `PATH`.
fn need(program: &'static str, lang: &'static str, install: &str) -> Result<(), ProjectError> {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()));
    if found {
        Ok(())
    } else {
        Err(ProjectError::Missing {
            tool: program,
            lang,
            install: install.to_owned(),
        })
    }
}

/// Runs `command`, its output going to the terminal.
fn run(command: &mut Command) -> Result<(), ProjectError> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    eprintln!("running: {shown}");
    let status = command.status().map_err(|e| ProjectError::Failed {
        command: shown.clone(),
        status: e.to_string(),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(ProjectError::Failed {
            command: shown,
            status: status.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_name_is_read_from_the_package_table() {
        let manifest =
            "[workspace]\nname = \"no\"\n[package]\nname = \"my-plugin\"\nversion = \"0.1.0\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("my-plugin"));
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
    }

    #[test]
    fn a_python_plugins_world_follows_its_hooks() {
        assert_eq!(python_world("def on_request(self, p, r):"), "filter");
        assert_eq!(python_world("    def authorize(self, req):"), "authorizer");
        assert_eq!(python_world("    def handle(self, req):"), "function");
        assert_eq!(
            python_world("    def select_route(self, m):"),
            "message-router"
        );
    }
}
