//! For build scripts: builds a workspace of plugin crates for `wasm32-wasip2` with a nested
//! cargo into a target directory of its own (never the outer one, whose lock the outer
//! build holds) and tells where the `.wasm` files are.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the workspace at `manifest` in release mode into `target_dir` and returns the
/// folder holding the `.wasm` files. Panics with a clear message on failure: this runs in
/// build scripts, where a panic is how an error is reported.
#[expect(clippy::panic, reason = "build scripts report errors by panicking")]
pub fn build(manifest: &Path, target_dir: &Path) -> PathBuf {
    if target_missing() {
        add_target();
    }
    if target_missing() {
        panic!(
            "the wasm32-wasip2 target is not installed for this Rust toolchain, and the \
             built-in plugins are built for it: run `rustup target add wasm32-wasip2`, then \
             build again (the README's commands do this first)"
        );
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    if !status.success() {
        panic!(
            "building {} for wasm32-wasip2 failed; is the target installed? \
             (`rustup target add wasm32-wasip2`)",
            manifest.display()
        );
    }
    target_dir.join("wasm32-wasip2/release")
}

/// Whether the toolchain building us plainly lacks the `wasm32-wasip2` standard library
/// (checked in its sysroot, so a missing target fails the build in seconds, before the
/// nested build). `false` when that cannot be told: the nested build then reports it.
fn target_missing() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    out.status.success()
        && !sysroot.is_empty()
        && !Path::new(&sysroot)
            .join("lib/rustlib/wasm32-wasip2")
            .exists()
}

/// Adds the target to the rustup toolchain building us, as `rust-toolchain.toml` asks (rustup
/// does not add targets to a toolchain that is already installed). Nothing without rustup.
fn add_target() {
    let Some(toolchain) = std::env::var_os("RUSTUP_TOOLCHAIN") else {
        return;
    };
    println!(
        "cargo:warning=adding the wasm32-wasip2 target to the {} toolchain (rustup target add)",
        toolchain.to_string_lossy()
    );
    let _ = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2", "--toolchain"])
        .arg(&toolchain)
        .status();
}

/// The `.wasm` file a cdylib crate named `crate_name` builds to.
pub fn wasm_file(release: &Path, crate_name: &str) -> PathBuf {
    release.join(format!("{}.wasm", crate_name.replace('-', "_")))
}
