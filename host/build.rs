//! Builds the built-in plugins of `plugins/` for `wasm32-wasip2` into a target directory of
//! their own and embeds them: `builtins.rs` lists each crate's name and bytes.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let release =
        tollgate_guest_build::build(&plugins.join("Cargo.toml"), &out_dir.join("builtins"));
    let mut names: Vec<String> = std::fs::read_dir(&plugins)
        .expect("read plugins/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut list = String::from("&[\n");
    for name in &names {
        let wasm = tollgate_guest_build::wasm_file(&release, name);
        assert!(wasm.exists(), "{} was not built", wasm.display());
        list.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            wasm.display().to_string()
        ));
    }
    list.push(']');
    std::fs::write(out_dir.join("builtins.rs"), list).expect("write builtins.rs");
    println!("cargo:rerun-if-changed={}", plugins.display());
    println!("cargo:rerun-if-changed={}", root.join("sdk/src").display());
    println!("cargo:rerun-if-changed={}", root.join("sdk/wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("sdk/macros/src").display()
    );
}
