//! References in plugin configs, resolved when the config file is loaded, so that secrets
//! need not be written into it: `{ $env: NAME }` becomes the environment variable's value and
//! `{ $file: path }` the file's content (relative to the config file; `.json`, `.yaml` and
//! `.yml` files are parsed, anything else is text with the trailing newline removed).

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

enum Ref {
    Env(String),
    File(String),
}

/// `Some` when the object is a reference (its only key is `$env` or `$file`).
fn reference(map: &serde_json::Map<String, Value>) -> Option<Result<Ref, String>> {
    let (key, value) = map.iter().next()?;
    let kind = match key.as_str() {
        "$env" => Ref::Env,
        "$file" => Ref::File,
        _ => return None,
    };
    Some(if map.len() != 1 {
        Err(format!("a `{key}` reference has no other keys"))
    } else {
        match value {
            Value::String(s) if !s.is_empty() => Ok(kind(s.clone())),
            _ => Err(format!("`{key}` takes a non-empty string")),
        }
    })
}

fn load(r: &Ref, dir: &Path) -> Result<Value, String> {
    match r {
        Ref::Env(name) => std::env::var(name)
            .map(Value::String)
            .map_err(|_| format!("environment variable `{name}` is not set")),
        Ref::File(path) => {
            let path = dir.join(path);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext {
                "json" | "yaml" | "yml" => serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| format!("{}: {e}", path.display())),
                _ => Ok(Value::String(
                    text.strip_suffix('\n')
                        .map(|t| t.strip_suffix('\r').unwrap_or(t))
                        .unwrap_or(&text)
                        .to_owned(),
                )),
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
    }
}
