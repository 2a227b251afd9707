//! Builds the guest plugins of `tests/plugins` for `wasm32-wasip2` into this crate's own
//! target directory (never the outer one: that would deadlock on its lock) and exports
//! their paths as constants.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let plugins = manifest_dir.join("../plugins");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = out_dir.join("guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("run cargo for the test plugins");
    assert!(
        status.success(),
        "building tests/plugins for wasm32-wasip2 failed (rustup target add wasm32-wasip2?)"
    );
    let release = target_dir.join("wasm32-wasip2/release");
    let mut consts = String::new();
    for (name, file) in [
        ("TEST_FILTER", "test_filter.wasm"),
        ("FUTURE_CONTRACT", "future_contract.wasm"),
        ("VERSION_TWO", "version_two.wasm"),
    ] {
        let path = release.join(file);
        assert!(path.exists(), "{} was not built", path.display());
        consts.push_str(&format!(
            "/// `{file}`.\npub const {name}: &str = {:?};\n",
            path.display().to_string()
        ));
    }
    std::fs::write(out_dir.join("artifacts.rs"), consts).expect("write artifacts.rs");
    println!("cargo:rerun-if-changed={}", plugins.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../../sdk").display()
    );
}
