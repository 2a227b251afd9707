//! The built-in plugins: crates in `plugins/`, built for `wasm32-wasip2` by the build script
//! and embedded in the binary with their precompiled machine code. Config names them with
//! `builtin: <name>`.

/// One built-in plugin.
struct Builtin {
    name: &'static str,
    /// The component.
    wasm: &'static [u8],
    /// Its machine code, precompiled by the build script for the build machine with the
    /// engine's code-generation settings; `None` in a cross-compiled binary.
    machine_code: Option<&'static [u8]>,
}

static BUILTINS: &[Builtin] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The component of built-in `name`.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|b| b.name == name).map(|b| b.wasm)
}

/// The names of the built-in plugins.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().map(|b| b.name)
}

/// The precompiled machine code of the built-in whose component is `wasm`, if any.
pub fn machine_code(wasm: &[u8]) -> Option<&'static [u8]> {
    BUILTINS
        .iter()
        .find(|b| b.wasm == wasm)
        .and_then(|b| b.machine_code)
}

/// Lets the kernel take back the resident pages of the built-ins' embedded bytes (the
/// demo's components and machine code: 6 MiB). Call it after loading plugins: loading
/// copies what it needs (machine code into executable memory), and a later load faults
/// the pages back in from the binary's file.
pub fn release_resident() {
    for b in BUILTINS {
        release(b.wasm);
        if let Some(code) = b.machine_code {
            release(code);
        }
    }
}

#[allow(unsafe_code)]
fn release(bytes: &'static [u8]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = (bytes.as_ptr() as usize).next_multiple_of(PAGE);
        let end = (bytes.as_ptr() as usize + bytes.len()) & !(PAGE - 1);
        if end > start {
            // SAFETY: `bytes` is a built-in's `include_bytes!` data: read-only, mapped
            // privately from the binary's file and never written. MADV_DONTNEED on whole pages
            // inside it only drops them from this process; the next access reads the same
            // bytes from the file again, so every reference into them stays valid.
            let _ = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
            };
        }
    }
}
