//! A plugin's source project: `tollgate plugin new` writes one from the templates in
//! `templates/plugin/` and the sources of `examples/plugins/` (embedded in the binary), `tollgate plugin build` runs the right
//! toolchain over one and leaves `plugin.wasm` in it.

mod build;
mod componentize;
mod scaffold;

pub use build::build;
pub use scaffold::new;

/// The languages a project can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust with `tollgate-sdk`, built with cargo for `wasm32-wasip2`.
    Rust,
    /// JavaScript, built with componentize-js (Node.js 20 or later).
    Javascript,
    /// Python, built with componentize-py.
    Python,
    /// C, built with clang for `wasm32-wasi` over bindings from `wit-bindgen c`, made a
    /// component in process.
    C,
    /// AssemblyScript (the `filter` world), built with `asc` over hand-written bindings,
    /// made a component in process.
    Assemblyscript,
}

impl Lang {
    /// The name `--lang` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Javascript => "javascript",
            Self::Python => "python",
            Self::C => "c",
            Self::Assemblyscript => "assemblyscript",
        }
    }

    /// The language of the project in `dir`, by the files that make one.
    pub fn of(dir: &std::path::Path) -> Option<Self> {
        [
            ("Cargo.toml", Self::Rust),
            // Before package.json, which an AssemblyScript project has too.
            ("asconfig.json", Self::Assemblyscript),
            ("package.json", Self::Javascript),
            ("app.py", Self::Python),
            ("tollgate.c", Self::C),
        ]
        .into_iter()
        .find(|(file, _)| dir.join(file).is_file())
        .map(|(_, lang)| lang)
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Nothing to scaffold into or build from.
    #[error("{0}")]
    Usage(String),
    /// A toolchain is missing; what to install.
    #[error("{tool} is needed to build a {lang} plugin and was not found: {install}")]
    Missing {
        /// The program.
        tool: &'static str,
        /// The language.
        lang: &'static str,
        /// How to get it.
        install: String,
    },
    /// The toolchain ran and failed (its output went to the terminal).
    #[error("`{command}` failed ({status})")]
    Failed {
        /// The command.
        command: String,
        /// How it ended.
        status: String,
    },
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

impl ProjectError {
    fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
