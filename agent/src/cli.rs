//! The command line: every command of docs/architecture.md §Commands, flags
//! that also read `PLUMB_*` environment variables, and dispatch.
//!
//! Commands that are not built yet say so and fail; they never print
//! made-up output.

use std::path::PathBuf;

use anyhow::bail;
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
    Run,
    /// Print the manifests of a checkout as plumb would apply them.
    Render {
        /// A config repo directory or Git URL.
        source: String,
    },
    /// Show what a sync would change; exit 1 when there is a difference.
    Diff {
        /// A config repo directory or Git URL.
        source: String,
    },
    /// Resolve remote charts and write plumb.lock.
    Lock {
        /// The config repo directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Show a running agent's status as a table.
    Status,
    /// Print the last sync and drift records.
    History,
    /// Audit log tools.
    Audit {
        /// The audit command.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Start a local control plane and run plumb against it.
    Demo,
}

/// `plumb audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of an audit log and name the first broken record.
    Verify {
        /// The JSON-lines audit file.
        file: PathBuf,
    },
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Render { .. } => "render",
            Command::Diff { .. } => "diff",
            Command::Lock { .. } => "lock",
            Command::Status => "status",
            Command::History => "history",
            Command::Audit { .. } => "audit verify",
            Command::Demo => "demo",
        }
    }
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

/// Runs one command.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Demo => crate::demo::run().await.map(|()| Outcome::Success),
        other => bail!("`plumb {}` is not built yet; docs/architecture.md lists what exists today", other.name()),
    }
}
