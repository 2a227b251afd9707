//! Builds the guest plugins of `tests/plugins` and the example plugin of
//! `examples/hmac-authorizer` for `wasm32-wasip2` into this crate's own target directory
//! and exports their paths as constants.

use std::path::PathBuf;

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let plugins = manifest_dir.join("../plugins");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let release = tollgate_guest_build::build(&plugins.join("Cargo.toml"), &out_dir.join("guest"));
    let mut consts = String::new();
    for (name, krate) in [
        ("TEST_FILTER", "test-filter"),
        ("FUTURE_CONTRACT", "future-contract"),
        ("VERSION_TWO", "version-two"),
        ("TEST_AUTHORIZER", "test-authorizer"),
        ("TEST_FUNCTION", "test-function"),
        ("NOOP", "noop"),
    ] {
        let path = tollgate_guest_build::wasm_file(&release, krate);
        assert!(path.exists(), "{} was not built", path.display());
        consts.push_str(&format!(
            "/// The `{krate}` test plugin.\npub const {name}: &str = {:?};\n",
            path.display().to_string()
        ));
    }

    // The example plugin of `examples/hmac-authorizer`, its own workspace.
    let example = manifest_dir.join("../../examples/hmac-authorizer");
    let release =
        tollgate_guest_build::build(&example.join("Cargo.toml"), &out_dir.join("examples"));
    let path = tollgate_guest_build::wasm_file(&release, "hmac-authorizer");
    assert!(path.exists(), "{} was not built", path.display());
    consts.push_str(&format!(
        "/// The `examples/hmac-authorizer` example plugin.\npub const HMAC_AUTHORIZER: &str = {:?};\n",
        path.display().to_string()
    ));

    std::fs::write(out_dir.join("artifacts.rs"), consts).expect("write artifacts.rs");
    println!("cargo:rerun-if-changed={}", plugins.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../../sdk").display()
    );
    // Not the whole folder: its `target/` changes whenever the example is built by hand.
    for part in ["src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", example.join(part).display());
    }
}
