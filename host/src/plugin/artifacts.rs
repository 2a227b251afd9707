//! Precompiled plugins on disk. A component is compiled once; the machine code is written
//! to `<dir>/<key>.cwasm`, where the key hashes the component's bytes and the engine's
//! compatibility hash (wasmtime version and settings). Only files this cache wrote are ever
//! deserialised: the folder is private to the user (0700) and each file carries the
//! SHA-256 of its contents, checked before use.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest::{SHA256, digest};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::precompiled::MachineCode;

/// Magic prefix of a cache file.
const MAGIC: &[u8; 8] = b"TGCWASM1";

/// The on-disk cache of compiled plugins.
#[derive(Clone, Debug)]
pub struct ArtifactCache {
    dir: PathBuf,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ArtifactCache {
    /// Opens (creating) the cache folder, private to this user.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let mut input = h.finish().to_le_bytes().to_vec();
        input.extend_from_slice(digest(&SHA256, wasm).as_ref());
        let key = hex(digest(&SHA256, &input).as_ref());
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The compiled component: from the cache when a valid entry exists, else compiled
    /// (and stored). Blocking: call it off the async workers.
    pub fn compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, MachineCode)> {
        let path = self.path(engine, wasm);
        if let Some(component) = self.read(engine, &path) {
            return Ok((component, MachineCode::ArtifactCache));
        }
        let component = Component::new(engine, wasm)?;
        if let Err(e) = self.write(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "cannot store a compiled plugin");
        }
        Ok((component, MachineCode::Compiled))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let bytes = std::fs::read(path).ok()?;
        let body = bytes.strip_prefix(MAGIC.as_slice())?;
        let (sum, code) = body.split_at_checked(32)?;
        if digest(&SHA256, code).as_ref() != sum {
            tracing::warn!(path = %path.display(), "corrupt compiled plugin ignored");
            return None;
        }
        match deserialize(engine, code) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "compiled plugin not usable");
                None
            }
        }
    }

    fn write(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let code = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        // Unique per write: two loads of one component may store it at the same time.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}.{n}", std::process::id()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(digest(&SHA256, &code).as_ref())?;
        file.write_all(&code)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// Loads machine code this cache wrote.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, code: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` trusts its input to be wasmtime's own output. The
    // bytes come from a file this cache wrote (in a folder private to this user, named by
    // the engine's compatibility hash) whose SHA-256 was checked just before; wasmtime also
    // checks the version and settings recorded in the artifact against this engine.
    unsafe { Component::deserialize(engine, code) }
}
