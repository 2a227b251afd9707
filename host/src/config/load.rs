//! YAML text to a typed [`Config`], keeping the position and field path of any error.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// Parses YAML into a config, or any other file of ours read the same way (the cases of
/// `tollgate plugin test`); errors carry line, column and the field path.
pub fn parse<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, ConfigError> {
    let mut track = serde_path_to_error::Track::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
    });
    result.map_err(|err| {
        let position = err.location().map(|l| (l.line(), l.column()));
        let field = track.path().to_string();
        let field = match field.as_str() {
            "." => String::new(),
            // `Spanned<T>` adds a `value` level that is not a field of the file.
            f => f.strip_suffix(".value").unwrap_or(f).to_owned(),
        };
        let (message, hint) = split_hint(&message_of(&err));
        ConfigError::invalid(file, position, field, message, hint)
    })
}

/// The error text without the location and snippet that the YAML library appends.
fn message_of(err: &serde_saphyr::Error) -> String {
    let rendered = err.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    match first.rfind(" at line ") {
        Some(pos) => first[..pos].to_owned(),
        None => first.to_owned(),
    }
}

/// Serde's "unknown field `x`, expected one of ..." becomes a message and a hint, with a
/// "did you mean" when one expected name is a near miss.
fn split_hint(message: &str) -> (String, Option<String>) {
    for marker in [", expected one of ", ", expected "] {
        if let Some(pos) = message.find(marker)
            && (message.starts_with("unknown field") || message.starts_with("unknown variant"))
        {
            let expected = message[pos + marker.len()..].replace('`', "");
            let given = message.split('`').nth(1).unwrap_or_default();
            let closest = expected
                .split(", ")
                .map(|name| (edit_distance(given, name), name))
                .filter(|(d, _)| *d <= 2)
                .min();
            let hint = match closest {
                Some((_, name)) => format!("did you mean `{name}`? expected one of {expected}"),
                None => format!("expected one of {expected}"),
            };
            return (message[..pos].to_owned(), Some(hint));
        }
    }
    (message.to_owned(), None)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Makes relative file paths in the config relative to the config file's folder.
pub(super) fn resolve_paths(config: &mut Config, dir: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    for listener in &mut config.listeners {
        if let Some(tls) = &mut listener.tls {
            fix(&mut tls.cert);
            fix(&mut tls.key);
            for sni in &mut tls.sni {
                fix(&mut sni.cert);
                fix(&mut sni.key);
            }
            if let Some(client) = &mut tls.client_auth {
                fix(&mut client.ca);
            }
        }
    }
    for plugin in config.plugins.values_mut() {
        if let Some(path) = &mut plugin.path {
            fix(path);
        }
        if let Some(ca) = plugin.http.as_mut().and_then(|h| h.ca.as_mut()) {
            fix(ca);
        }
    }
    if let Some(log) = &mut config.telemetry.access_log
        && let Some(file) = log.file()
        && file.is_relative()
    {
        log.destination = dir.join(file).display().to_string();
    }
    if let Some(dir) = &mut config.plugin_runtime.plugin_dir {
        fix(dir);
    }
    for upstream in config.upstreams.values_mut() {
        if let Some(ca) = &mut upstream.ca {
            fix(ca);
        }
    }
}
