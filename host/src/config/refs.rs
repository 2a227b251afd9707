//! References in plugin configs, resolved when the config file is loaded, so that secrets
//! need not be written into it: `{ $env: NAME }` becomes the environment variable's value and
//! `{ $file: path }` the file's content (relative to the config file; `.json`, `.yaml` and
//! `.yml` files are parsed, anything else is text with the trailing newline removed;
//! `{ $file: path, encoding: base64url }` gives the raw bytes as base64url, for binary
//! secrets).

use std::path::Path;

use serde_json::Value;

use super::{Config, ConfigError};

/// Replaces every reference in the plugins' `config` values.
pub(super) fn resolve(config: &mut Config, dir: &Path, file: &str) -> Result<(), ConfigError> {
    for (name, plugin) in &mut config.plugins {
        let field = format!("plugins.{name}.config");
        resolve_value(&mut plugin.config, dir, &field)
            .map_err(|(field, message)| ConfigError::invalid(file, None, field, message, None))?;
    }
    Ok(())
}

fn resolve_value(v: &mut Value, dir: &Path, field: &str) -> Result<(), (String, String)> {
    match v {
        Value::Object(map) => {
            if let Some(reference) = reference(map) {
                *v = reference
                    .and_then(|r| load(&r, dir))
                    .map_err(|m| (field.to_owned(), m))?;
                return Ok(());
            }
            for (k, child) in map.iter_mut() {
                resolve_value(child, dir, &format!("{field}.{k}"))?;
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                resolve_value(child, dir, &format!("{field}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A reference found in the config.
pub(super) enum Ref {
    /// `{ $env: NAME }`.
    Env(String),
    /// `{ $file: path }`, optionally with `encoding: base64url`.
    File {
        /// The path, relative to the config file.
        path: String,
        /// How the file's bytes become a value.
        encoding: FileEncoding,
    },
}

/// How a `$file` reference turns the file into a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileEncoding {
    /// Text: `.json`, `.yaml` and `.yml` files are parsed, others are a string with the
    /// trailing newline removed (the default).
    Text,
    /// The raw bytes as one base64url string without padding, for binary secrets (an HMAC
    /// key of random bytes): `{ $file: hs256.key, encoding: base64url }`.
    Base64Url,
}

/// `Some` when the object is a reference (it has a `$env` or `$file` key).
pub(super) fn reference(map: &serde_json::Map<String, Value>) -> Option<Result<Ref, String>> {
    let (key, value) = map.iter().find(|(k, _)| *k == "$env" || *k == "$file")?;
    let Value::String(target) = value else {
        return Some(Err(format!("`{key}` takes a non-empty string")));
    };
    if target.is_empty() {
        return Some(Err(format!("`{key}` takes a non-empty string")));
    }
    if key == "$env" {
        return Some(if map.len() == 1 {
            Ok(Ref::Env(target.clone()))
        } else {
            Err("a `$env` reference has no other keys".into())
        });
    }
    let mut encoding = FileEncoding::Text;
    for (k, v) in map.iter().filter(|(k, _)| *k != "$file") {
        match (k.as_str(), v.as_str()) {
            ("encoding", Some("text")) => encoding = FileEncoding::Text,
            ("encoding", Some("base64url")) => encoding = FileEncoding::Base64Url,
            ("encoding", _) => {
                return Some(Err(
                    "`encoding` of a `$file` reference is `text` or `base64url`".into(),
                ));
            }
            _ => {
                return Some(Err(format!(
                    "a `$file` reference has no key `{k}` (only `encoding`)"
                )));
            }
        }
    }
    Some(Ok(Ref::File {
        path: target.clone(),
        encoding,
    }))
}

/// A file's text without its trailing newline.
pub(super) fn read_text(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text)
        .to_owned())
}

fn load(r: &Ref, dir: &Path) -> Result<Value, String> {
    match r {
        Ref::Env(name) => std::env::var(name)
            .map(Value::String)
            .map_err(|_| format!("environment variable `{name}` is not set")),
        Ref::File {
            path,
            encoding: FileEncoding::Base64Url,
        } => {
            use base64::Engine as _;
            let path = dir.join(path);
            let bytes =
                std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Ok(Value::String(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            ))
        }
        Ref::File {
            path,
            encoding: FileEncoding::Text,
        } => {
            let path = dir.join(path);
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let text = read_text(&path)?;
            match ext {
                "json" | "yaml" | "yml" => serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| format!("{}: {e}", path.display())),
                _ => Ok(Value::String(text)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_and_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keys.yaml"), "- { consumer: a }\n").expect("write");
        std::fs::write(dir.path().join("secret.txt"), "s3cret\n").expect("write");
        let mut v = serde_json::json!({
            "keys": { "$file": "keys.yaml" },
            "nested": [{ "secret": { "$file": "secret.txt" } }],
            "path": { "$env": "PATH" },
            "plain": { "a": 1 },
        });
        resolve_value(&mut v, dir.path(), "c").expect("resolves");
        assert_eq!(v["keys"], serde_json::json!([{ "consumer": "a" }]));
        assert_eq!(v["nested"][0]["secret"], "s3cret");
        assert!(v["path"].is_string());
        assert_eq!(v["plain"]["a"], 1);

        let mut bad = serde_json::json!({ "x": [{ "$env": "TOLLGATE_SURELY_UNSET_VAR" }] });
        let (field, message) = resolve_value(&mut bad, dir.path(), "c").expect_err("unset");
        assert_eq!(field, "c.x[0]");
        assert!(message.contains("TOLLGATE_SURELY_UNSET_VAR"), "{message}");
        let mut extra = serde_json::json!({ "$file": "a", "b": 1 });
        assert!(resolve_value(&mut extra, dir.path(), "c").is_err());

        std::fs::write(dir.path().join("hs.key"), [0xff_u8, 0x00, 0x10, b'\n']).expect("write");
        let mut raw = serde_json::json!({ "k": { "$file": "hs.key", "encoding": "base64url" } });
        resolve_value(&mut raw, dir.path(), "c").expect("binary file");
        assert_eq!(raw["k"], "_wAQCg");
        let mut bad = serde_json::json!({ "$file": "hs.key", "encoding": "hex" });
        assert!(resolve_value(&mut bad, dir.path(), "c").is_err());
    }
}
