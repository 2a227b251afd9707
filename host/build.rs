//! Builds the built-in plugins of `plugins/` for `wasm32-wasip2` into a target directory of
//! their own and embeds them: `builtins.rs` lists each crate's name, its component bytes
//! and, when building for the machine we build on, its machine code precompiled with the
//! runtime engine's code-generation settings (so a first start compiles nothing).

use std::path::{Path, PathBuf};

#[path = "src/plugin/codegen.rs"]
mod codegen;

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
    let engine = precompiling_engine();
    let precompiled = out_dir.join("precompiled");
    std::fs::create_dir_all(&precompiled).expect("create the precompiled folder");
    let mut list = String::from("&[\n");
    for name in &names {
        let wasm = tollgate_guest_build::wasm_file(&release, name);
        assert!(wasm.exists(), "{} was not built", wasm.display());
        let code = match &engine {
            Some(engine) => {
                let path = precompiled.join(format!("{name}.cwasm"));
                precompile(engine, &wasm, &path);
                format!("Some(include_bytes!({:?}))", path.display().to_string())
            }
            None => "None".to_owned(),
        };
        list.push_str(&format!(
            "    Builtin {{ name: {name:?}, wasm: include_bytes!({:?}), machine_code: {code} }},\n",
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
    println!(
        "cargo:rerun-if-changed={}",
        root.join("host/src/plugin/codegen.rs").display()
    );
}

/// An engine compiling for this machine with the runtime's settings; none when the build
/// is for another target (that binary compiles its built-ins on first start instead).
fn precompiling_engine() -> Option<wasmtime::Engine> {
    if std::env::var("TARGET").ok() != std::env::var("HOST").ok() {
        return None;
    }
    let mut config = wasmtime::Config::new();
    codegen::apply(&mut config);
    Some(wasmtime::Engine::new(&config).expect("a wasmtime engine for precompiling"))
}

fn precompile(engine: &wasmtime::Engine, wasm: &Path, out: &Path) {
    let bytes = std::fs::read(wasm).expect("read a built-in plugin");
    let code = engine
        .precompile_component(&bytes)
        .unwrap_or_else(|e| panic!("precompiling {}: {e:#}", wasm.display()));
    std::fs::write(out, code).expect("write precompiled machine code");
}
