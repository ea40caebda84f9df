//! The command line: every command of docs/architecture.md §Commands, flags
//! that also read `PLUMB_*` environment variables, and dispatch. One file
//! per command.
//!
//! - [`run`] — `plumb run`, the agent.
//! - [`render`] — `plumb render`, offline.
//! - [`diff`] — `plumb diff`, against the cluster.
//! - [`lock`] — `plumb lock`, pinning remote charts.
//! - [`status`] — `plumb status`, a running agent's table.
//! - [`history`] — `plumb history`, from the inventories.
//! - [`audit`] — `plumb audit verify`.

pub mod audit;
pub mod diff;
pub mod history;
pub mod lock;
pub mod render;
pub mod run;
pub mod status;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// What a successful command reports through the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: `plumb diff` found a difference.
    Difference,
}

/// plumb keeps a Kubernetes cluster in line with a Git repository.
#[derive(Debug, Parser)]
#[command(name = "plumb", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Log filter (tracing's EnvFilter syntax, e.g. `info,plumb=debug`).
    #[arg(long, global = true, env = "PLUMB_LOG", default_value = "info")]
    pub log: String,
    /// Log format.
    #[arg(long, global = true, env = "PLUMB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// plumb's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: poll Git, render, apply, prune, report drift.
    Run(Box<run::RunArgs>),
    /// Print the manifests of a config repo as plumb would apply them (no cluster needed).
    Render(render::RenderArgs),
    /// Show what a sync would change; exit 1 when there is a difference.
    Diff {
        /// A config repo directory (its working tree).
        source: PathBuf,
        /// plumb's namespace (where the inventories are).
        #[arg(long, env = "PLUMB_NAMESPACE", default_value = "plumb-system")]
        namespace: String,
    },
    /// Resolve remote charts through their repositories and write plumb.lock.
    Lock {
        /// The config repo directory (holding plumb.yaml).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// How OCI registries are reached.
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a running agent's status as a table.
    Status {
        /// The agent's HTTP address.
        #[arg(long, env = "PLUMB_STATUS_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Print the last sync and drift records of each app (from the cluster).
    History(history::HistoryArgs),
    /// Audit log tools.
    Audit {
        /// The audit command.
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
}

/// Sets up tracing to stderr in the chosen format.
pub fn init_logging(global: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&global.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// How OCI chart registries are reached.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry credentials: a Docker config.json (`auths.<host>` with `auth`,
    /// `username`/`password` or `registrytoken`); anonymous without it.
    #[arg(long, env = "PLUMB_REGISTRY_CONFIG")]
    pub registry_config: Option<PathBuf>,
    /// A PEM file of CA certificates trusted for registries besides the system's roots.
    #[arg(long, env = "PLUMB_REGISTRY_CA_FILE")]
    pub registry_ca_file: Option<PathBuf>,
}

impl RegistryArgs {
    /// The registry settings the flags name.
    pub fn load(&self) -> anyhow::Result<std::sync::Arc<crate::render::oci::auth::Registries>> {
        Ok(std::sync::Arc::new(crate::render::oci::auth::Registries::load(
            self.registry_config.as_deref(),
            self.registry_ca_file.as_deref(),
        )?))
    }
}

/// Runs one command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Run(args) => run::run(*args).await.map(|()| Outcome::Success),
        Command::History(args) => history::history(args).await.map(|()| Outcome::Success),
        Command::Status { url } => status::status(&url).await.map(|()| Outcome::Success),
        Command::Diff { source, namespace } => diff::diff(&source, &namespace).await,
        Command::Render(args) => render::render(args).map(|()| Outcome::Success),
        Command::Lock { dir, registry } => lock::lock(&dir, &registry).await.map(|()| Outcome::Success),
        Command::Audit { command } => audit::audit(command).map(|()| Outcome::Success),
    }
}

/// The invoking user's cache (`$XDG_CACHE_HOME/plumb`, else `~/.cache/plumb`),
/// for commands run on a workstation.
pub(crate) fn user_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("plumb");
    }
    std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from).join(".cache").join("plumb")
}
