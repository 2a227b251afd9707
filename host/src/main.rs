//! The `tollgate` command: parse the CLI, load the config, run the gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tollgate::config::Config;
use tollgate::gateway::Gateway;
use tollgate::server::Server;
use tollgate::telemetry::{self, LogFormat};

/// mimalloc instead of the system allocator: with the release profile's LTO it took proxy
/// CPU per request from 28.1 to 24.0 µs in `cargo bench --bench load` (`docs/performance.md`).
#[global_allocator]
static GLOBAL: tollgate::allocator::Allocator = tollgate::allocator::Allocator;

#[derive(Parser)]
#[command(name = "tollgate", version, about = "A programmable API gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the built-in demo when no config file is given).
    Run {
        /// The config file.
        #[arg(short, long, env = "TOLLGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Override the address of the first listener (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Log format.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
        /// Do not watch the config file; reload on SIGHUP only.
        #[arg(long)]
        no_watch: bool,
    },
    /// Check a config file and exit (status 1 with the error when invalid).
    Validate {
        /// The config file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Write, build and test plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Write a new plugin project (a filter checking `x-api-token`, offline test cases, a
    /// gateway config) into the folder NAME.
    New {
        /// The plugin's name (and its folder's, unless `--dir`).
        name: String,
        /// The language.
        #[arg(long, value_enum)]
        lang: tollgate::plugin_project::Lang,
        /// The folder to write (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Rust: the `sdk` folder of a Tollgate source tree (default: the one this binary
        /// was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build the plugin project in the current folder (or `--dir`) into `plugin.wasm`,
    /// with the toolchain of its language.
    Build {
        /// The project's folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Run a plugin offline against a file of cases (no listener, no backend); exits 1
    /// when a case fails (`docs/plugin-testing.md`).
    Test {
        /// The plugin component (`.wasm`).
        wasm: PathBuf,
        /// The cases (YAML).
        cases: PathBuf,
        /// The plugin's JSON config, instead of the cases file's `plugin.config`.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    tollgate::process::no_transparent_huge_pages();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            listen,
            log_format,
            no_watch,
        } => run(config, listen, !no_watch, log_format),
        Command::Validate { config } => match Config::load(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                Ok(())
            }
            Err(e) => Err(anyhow::anyhow!("{e}")),
        },
        Command::Schema => {
            println!("{:#}", tollgate::config::json_schema());
            Ok(())
        }
        Command::Plugin(PluginCommand::New {
            name,
            lang,
            dir,
            sdk,
        }) => plugin_new(&name, lang, dir, sdk.as_deref()),
        Command::Plugin(PluginCommand::Build { dir }) => tollgate::plugin_project::build(&dir)
            .map(|wasm| {
                let size = std::fs::metadata(&wasm)
                    .map(|m| m.len())
                    .unwrap_or_default();
                println!("built {} ({} KiB)", wasm.display(), size.div_ceil(1024));
            })
            .map_err(anyhow::Error::from),
        Command::Plugin(PluginCommand::Test {
            wasm,
            cases,
            config,
        }) => {
            return plugin_test(tollgate::plugin_test::TestRun {
                wasm,
                config,
                cases,
            });
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `tollgate plugin new`: the project, and what to do next.
fn plugin_new(
    name: &str,
    lang: tollgate::plugin_project::Lang,
    dir: Option<PathBuf>,
    sdk: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    let files = tollgate::plugin_project::new(lang, name, &dir, sdk)?;
    for f in &files {
        println!("wrote {}", f.display());
    }
    println!(
        "next: cd {} && tollgate plugin build && tollgate plugin test plugin.wasm cases.yaml",
        dir.display()
    );
    Ok(())
}

/// `tollgate plugin test`: success only when every case passes.
#[tokio::main]
async fn plugin_test(test: tollgate::plugin_test::TestRun) -> std::process::ExitCode {
    telemetry::init_tool();
    let mut out = std::io::stdout();
    match tollgate::plugin_test::run(&test, &mut out).await {
        Ok(summary) if summary.failed == 0 => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn run(
    path: Option<PathBuf>,
    listen: Option<SocketAddr>,
    watch_file: bool,
    log_format: LogFormat,
) -> anyhow::Result<()> {
    let mut config = match &path {
        Some(p) => Config::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => {
            let echo = tollgate::demo::start_echo()
                .await
                .context("starting the demo echo backend")?;
            tollgate::demo::config(echo).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    // Logging starts once the config is read: the trace exporter needs its settings.
    let traces = telemetry::init(log_format, config.telemetry.tracing.as_ref())?;
    // The file as read: a reload compares its restart-only sections with this, not with
    // the command line's overrides.
    let as_read = config.clone();
    if let (Some(addr), Some(first)) = (listen, config.listeners.first_mut()) {
        first.address = addr;
    }
    // Signal handlers exist before the gateway reports ready, so a supervisor that signals
    // right away gets a graceful shutdown, not the default kill.
    let shutdown = shutdown_signal()?;
    // The recorder exists before plugins load, so their loads are counted.
    let metrics = telemetry::init_metrics();
    let gateway = Arc::new(
        Gateway::new(&config)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let server = Server::bind(&config, Arc::clone(&gateway)).await?;
    tracing::info!(workers = server.workers(), "listeners bound");
    for l in server.listeners() {
        let scheme = if l.tls { "https" } else { "http" };
        // One machine-readable line per listener on stdout.
        println!(
            "{}",
            serde_json::json!({ "event": "listening", "listener": l.name, "address": l.address.to_string(), "url": format!("{scheme}://{}", l.address) })
        );
    }
    if path.is_none()
        && let Some(l) = server.listeners().first()
    {
        let base = format!("http://{}", l.address);
        println!("Tollgate demo is running. Try:");
        println!("  curl {base}/hello");
        println!("  curl {base}/beta/hello");
        println!("  curl {base}/pets/42");
        println!("  curl -X POST {base}/echo/anything?x=1 -d 'hello'");
        println!(
            "  websocat ws://{}/ws   then send {{\"action\": \"echo\", \"text\": \"hi\"}}",
            l.address
        );
    }
    let reloader = path.map(|p| {
        Arc::new(tollgate::gateway::Reloader::new(
            Arc::clone(&gateway),
            p,
            &as_read,
        ))
    });
    if let Some(r) = &reloader {
        tollgate::gateway::watch(Arc::clone(r), watch_file);
    }
    if let Some(dir) = &config.plugin_runtime.plugin_dir {
        tollgate::gateway::watch_plugin_dir(Arc::clone(&gateway), dir.clone()).await;
    }
    let admin_stop = tokio_util::sync::CancellationToken::new();
    start_admin(&config, &gateway, reloader, metrics, &admin_stop).await?;
    println!("{}", serde_json::json!({ "event": "ready" }));
    server.run(shutdown).await;
    admin_stop.cancel();
    if let Some(traces) = traces {
        traces.shutdown().await;
    }
    Ok(())
}

/// Starts the admin API. Configured: a bind failure is fatal. Default (`127.0.0.1:9901`):
/// a bind failure is logged and the gateway runs without it.
async fn start_admin(
    config: &Config,
    gateway: &Arc<Gateway>,
    reloader: Option<Arc<tollgate::gateway::Reloader>>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    use tollgate::admin::{AdminServer, AdminState};
    // The token was read and checked with the config (`Admin::resolve`).
    let (address, token, explicit) = match &config.admin {
        Some(a) => (a.address, a.resolved_token().map(str::to_owned), true),
        None => (tollgate::config::Admin::default_address(), None, false),
    };
    let state = AdminState {
        gateway: Arc::clone(gateway),
        reloader,
        token,
        metrics,
    };
    match AdminServer::bind(address, state).await {
        Ok(server) => {
            let bound = server.local_addr().context("admin address")?;
            println!(
                "{}",
                serde_json::json!({ "event": "listening", "listener": "admin", "address": bound.to_string(), "url": format!("http://{bound}") })
            );
            server.spawn(stop.clone());
            Ok(())
        }
        Err(e) if explicit => Err(anyhow::anyhow!("admin: cannot bind {address}: {e}")),
        Err(e) => {
            tracing::warn!(%address, error = %e, "admin API not started (default address busy)");
            Ok(())
        }
    }
}

fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
