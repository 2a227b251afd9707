//! Why a plugin call failed, as a value: the pipeline, metrics and logs tell a deadline from
//! a trap from a guest's or the host's error without reading messages.

use std::time::Duration;

/// Why a call into a plugin (a hook, `init`, or its instantiation) failed. Whatever the
/// cause, the instance is dropped, never reused.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    /// The call ran past its deadline: the guest was interrupted, or the host found it
    /// still waiting (`during`: in a host call or in WASI) when the deadline came.
    #[error("deadline of {limit:?} exceeded{}", during.map(|what| format!(" during {what}")).unwrap_or_default())]
    Deadline {
        /// The plugin's deadline.
        limit: Duration,
        /// What it was waiting in, when the host noticed.
        during: Option<&'static str>,
    },
    /// Its linear memory would have grown past the plugin's `memory` cap.
    #[error("memory limit of {cap} bytes reached: {detail}")]
    Memory {
        /// The cap, in bytes.
        cap: u64,
        /// wasmtime's account of the failed growth.
        detail: String,
    },
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access, …).
    #[error("trapped: {0}")]
    Trap(wasmtime::Trap),
    /// The guest broke the contract: it passed a value the host cannot lift (a bad
    /// handle, invalid UTF-8) or a host call it made failed.
    #[error("{0}")]
    Guest(String),
    /// The host could not make the call: no instance to be had in time, instantiation
    /// failed, or the plugin is not of the world the call needs.
    #[error("{0}")]
    Host(String),
}

impl CallFailure {
    /// The failure's class for metrics and the access log: `deadline`, `trap` (memory
    /// limits included) or `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deadline { .. } => "deadline",
            Self::Trap(_) | Self::Memory { .. } => "trap",
            Self::Guest(_) | Self::Host(_) => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_read_as_before_and_are_classed() {
        let limit = Duration::from_millis(50);
        let cases = [
            (
                CallFailure::Deadline {
                    limit,
                    during: None,
                },
                "deadline of 50ms exceeded",
                "deadline",
            ),
            (
                CallFailure::Deadline {
                    limit,
                    during: Some("a wait in WASI"),
                },
                "deadline of 50ms exceeded during a wait in WASI",
                "deadline",
            ),
            (
                CallFailure::Trap(wasmtime::Trap::UnreachableCodeReached),
                "trapped: wasm trap: wasm `unreachable` instruction executed",
                "trap",
            ),
            (
                CallFailure::Memory {
                    cap: 8 << 20,
                    detail: "growth refused".into(),
                },
                "memory limit of 8388608 bytes reached: growth refused",
                "trap",
            ),
            (
                CallFailure::Host("no instance".into()),
                "no instance",
                "error",
            ),
        ];
        for (failure, text, kind) in cases {
            assert_eq!(failure.to_string(), text);
            assert_eq!(failure.kind(), kind, "{text}");
        }
    }
}
