//! Builds the guest plugins of `tests/plugins` and the example plugins of `examples/`
//! (`hmac-authorizer`, `introspection-authorizer`) for `wasm32-wasip2` into this crate's
//! own target directory and exports their paths as constants.

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

    // The example plugins of `examples/`, each its own workspace, sharing one target folder.
    let examples = manifest_dir.join("../../examples");
    for (name, krate) in [
        ("HMAC_AUTHORIZER", "hmac-authorizer"),
        ("INTROSPECTION_AUTHORIZER", "introspection-authorizer"),
    ] {
        let example = examples.join(krate);
        let release =
            tollgate_guest_build::build(&example.join("Cargo.toml"), &out_dir.join("examples"));
        let path = tollgate_guest_build::wasm_file(&release, krate);
        assert!(path.exists(), "{} was not built", path.display());
        consts.push_str(&format!(
            "/// The `examples/{krate}` example plugin.\npub const {name}: &str = {:?};\n",
            path.display().to_string()
        ));
        // Not the whole folder: its `target/` changes whenever the example is built by hand.
        for part in ["src", "Cargo.toml", "Cargo.lock"] {
            println!("cargo:rerun-if-changed={}", example.join(part).display());
        }
    }

    std::fs::write(out_dir.join("artifacts.rs"), consts).expect("write artifacts.rs");
    println!("cargo:rerun-if-changed={}", plugins.display());
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../../sdk").display()
    );
}
