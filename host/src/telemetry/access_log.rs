//! Access logs: one line per request, JSON or a template of `$context.…` variables as
//! Amazon API Gateway's, formatted when the request ends and written by a task of its own
//! (the request never waits on the disk; a full queue drops lines and counts them).

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use super::record::Record;
use crate::config::AccessLogConfig;

/// The variables a template may use, as `$context.<name>`.
pub const VARIABLES: &[&str] = &[
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "httpMethod",
    "path",
    "protocol",
    "routeKey",
    "apiName",
    "stage",
    "status",
    "responseLength",
    "responseLatency",
    "integrationLatency",
    "integration.latency",
    "authorizer.latency",
    "authorizer.principalId",
    "identity.sourceIp",
    "identity.userAgent",
    "error.message",
    "plugins",
];

/// A parsed line template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Every variable as one JSON object.
    Json,
    /// Literal text and variables.
    Template(Vec<Piece>),
}

/// A piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Copied as it is.
    Text(String),
    /// A `$context.` variable.
    Var(&'static str),
}

impl Format {
    /// Parses `json` or a template; an unknown `$context.` variable is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "json" {
            return Ok(Self::Json);
        }
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("$context.") {
            if at > 0 {
                pieces.push(Piece::Text(rest[..at].to_owned()));
            }
            let name_start = at + "$context.".len();
            let len = rest[name_start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len() - name_start);
            let name = rest[name_start..name_start + len].trim_end_matches('.');
            let var = VARIABLES.iter().find(|v| **v == name).ok_or_else(|| {
                format!(
                    "`$context.{name}` is not an access log variable; use one of: {}",
                    VARIABLES.join(", ")
                )
            })?;
            pieces.push(Piece::Var(var));
            rest = &rest[name_start + name.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Self::Template(pieces))
    }

    /// The line for `record` (without the newline).
    pub fn line(&self, record: &Record) -> String {
        match self {
            Self::Json => {
                let mut obj = serde_json::Map::new();
                for var in VARIABLES {
                    let v = value(record, var);
                    if !v.is_null() {
                        obj.insert((*var).to_owned(), v);
                    }
                }
                serde_json::Value::Object(obj).to_string()
            }
            Self::Template(pieces) => {
                let mut out = String::with_capacity(128);
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Var(v) => match value(record, v) {
                            serde_json::Value::Null => out.push('-'),
                            serde_json::Value::String(s) => out.push_str(&s),
                            other => {
                                let _ = write!(out, "{other}");
                            }
                        },
                    }
                }
                out
            }
        }
    }
}

fn millis(d: Duration) -> serde_json::Value {
    serde_json::Value::from(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn value(r: &Record, var: &str) -> serde_json::Value {
    use serde_json::Value;
    let route = r.route.as_ref();
    match var {
        "requestId" => r.request_id.clone().into(),
        "requestTime" => clf_time(r).into(),
        "requestTimeEpoch" => r
            .request_time
            .duration_since(UNIX_EPOCH)
            .map_or(Value::Null, millis),
        "httpMethod" => r.method.as_str().into(),
        "path" => r.path.clone().into(),
        "protocol" => r.protocol.into(),
        "routeKey" => route.map_or(Value::Null, |(_, _, k)| k.to_string().into()),
        "apiName" => route.map_or(Value::Null, |(a, _, _)| a.to_string().into()),
        "stage" => route.map_or(Value::Null, |(_, s, _)| s.to_string().into()),
        "status" => r.status.into(),
        "responseLength" => r.response_length.into(),
        "responseLatency" => millis(r.latency),
        "integrationLatency" | "integration.latency" => r.integration.map_or(Value::Null, millis),
        "authorizer.latency" => r.authorizer_latency().map_or(Value::Null, millis),
        "authorizer.principalId" => r.principal.clone().map_or(Value::Null, Value::from),
        "identity.sourceIp" => r.source_ip.to_string().into(),
        "identity.userAgent" => r.user_agent.clone().map_or(Value::Null, Value::from),
        "error.message" => r.error.clone().map_or(Value::Null, Value::from),
        "plugins" => Value::Array(
            r.plugins
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "plugin": &*p.plugin,
                        "phase": p.phase,
                        "us": u64::try_from(p.took.as_micros()).unwrap_or(u64::MAX),
                        "outcome": p.outcome,
                    })
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// `06/Dec/2026:07:00:00 +0000`, the Common Log Format time Amazon API Gateway uses.
fn clf_time(r: &Record) -> String {
    // RFC 3339 (`2026-12-06T07:00:00Z`) rearranged.
    let iso = humantime::format_rfc3339_seconds(r.request_time).to_string();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = iso
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("Jan");
    match (iso.get(0..4), iso.get(8..10), iso.get(11..19)) {
        (Some(y), Some(d), Some(t)) => format!("{d}/{month}/{y}:{t} +0000"),
        _ => iso,
    }
}

/// Why the access log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    /// The format is not `json` or a valid template.
    #[error("telemetry.access_log.format: {0}")]
    Format(String),
    /// The file cannot be opened for appending.
    #[error("telemetry.access_log.destination: cannot open {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running access log.
pub struct AccessLog {
    format: Format,
    lines: mpsc::Sender<String>,
}

impl AccessLog {
    /// Opens the destination and starts the writer.
    pub async fn start(config: &AccessLogConfig) -> Result<Self, AccessLogError> {
        let format = Format::parse(&config.format).map_err(AccessLogError::Format)?;
        let out: Box<dyn tokio::io::AsyncWrite + Send + Unpin> = match config.file() {
            None if config.destination == "stderr" => Box::new(tokio::io::stderr()),
            None => Box::new(tokio::io::stdout()),
            Some(path) => Box::new(
                tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(|source| AccessLogError::Open {
                        path: path.display().to_string(),
                        source,
                    })?,
            ),
        };
        let (lines, rx) = mpsc::channel(config.buffer.max(1));
        tokio::spawn(write_lines(rx, out));
        Ok(Self { format, lines })
    }

    /// Formats the request's line and queues it for the writer.
    pub fn write(&self, record: &Record) {
        let mut line = self.format.line(record);
        line.push('\n');
        if self.lines.try_send(line).is_err() {
            metrics::counter!("tollgate_access_log_dropped_total").increment(1);
        }
    }
}

/// Writes queued lines, flushing whenever the queue is empty.
async fn write_lines(
    mut rx: mpsc::Receiver<String>,
    out: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
) {
    let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, out);
    while let Some(line) = rx.recv().await {
        let mut result = out.write_all(line.as_bytes()).await;
        while let Ok(more) = rx.try_recv() {
            if result.is_ok() {
                result = out.write_all(more.as_bytes()).await;
            }
        }
        if let Err(e) = result.and(out.flush().await) {
            tracing::warn!(error = %e, "access log write failed");
        }
    }
}

#[cfg(test)]
mod tests;
