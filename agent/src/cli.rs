//! The command line: every command of docs/architecture.md §Commands, flags
//! that also read `PLUMB_*` environment variables, and dispatch.
//!

use std::path::PathBuf;
use std::time::Duration;

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
    Run(Box<RunArgs>),
    /// Print the manifests of a config repo as plumb would apply them (no cluster needed).
    Render(RenderArgs),
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
    },
    /// Show a running agent's status as a table.
    Status {
        /// The agent's HTTP address.
        #[arg(long, env = "PLUMB_STATUS_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Print the last sync and drift records of each app (from the cluster).
    History(HistoryArgs),
    /// Audit log tools.
    Audit {
        /// The audit command.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Start a local control plane and run plumb against a git repository made from manifests/.
    Demo {
        /// The sample config repo to sync.
        #[arg(long, default_value = "manifests")]
        manifests: PathBuf,
    },
}

/// `plumb render` options.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The config repo: a directory (its working tree) or a Git URL.
    #[arg(default_value = ".")]
    pub source: String,
    /// A commit, branch or tag to render (of the directory's git repository, or of the URL; default: the URL's main branch).
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// Only this app.
    #[arg(long)]
    pub app: Option<String>,
    /// Kubernetes version charts see in .Capabilities (default: the newest plumb supports, v1.37.0).
    #[arg(long)]
    pub kube_version: Option<String>,
    /// Extra API versions for .Capabilities.APIVersions (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Print Secret values as <redacted> (for logs).
    #[arg(long)]
    pub redact_secrets: bool,
}

/// `plumb run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config repo: https://, http:// (loopback only unless allowed), ssh://, git@host:path, git://, file:// or a local path.
    #[arg(long, env = "PLUMB_REPO")]
    pub repo: String,
    /// Branch to follow.
    #[arg(long, env = "PLUMB_BRANCH", default_value = "main")]
    pub branch: String,
    /// Follow a tag instead of a branch.
    #[arg(long, env = "PLUMB_TAG", conflicts_with = "commit")]
    pub tag: Option<String>,
    /// Pin one exact commit (full sha) instead of a branch.
    #[arg(long, env = "PLUMB_COMMIT")]
    pub commit: Option<String>,
    /// Directory inside the repo that holds plumb.yaml.
    #[arg(long, env = "PLUMB_PATH", default_value = "")]
    pub path: String,
    /// Poll interval (e.g. 30s, 5m), jittered by ±10 %.
    #[arg(long, env = "PLUMB_INTERVAL", default_value = "60s", value_parser = crate::duration::parse_duration)]
    pub interval: Duration,
    /// plumb's own namespace: inventories live here.
    #[arg(long, env = "PLUMB_NAMESPACE", default_value = "plumb-system")]
    pub namespace: String,
    /// Git cache directory (survives restarts on a volume).
    #[arg(long, env = "PLUMB_CACHE_DIR", default_value = "/var/cache/plumb")]
    pub cache_dir: PathBuf,
    /// Server-side applies in flight at once within a wave.
    #[arg(long, env = "PLUMB_CONCURRENCY", default_value_t = 16)]
    pub concurrency: usize,
    /// How long a wave may take to become healthy.
    #[arg(long, env = "PLUMB_HEALTH_TIMEOUT", default_value = "5m", value_parser = crate::duration::parse_duration)]
    pub health_timeout: Duration,
    /// Verify commit signatures before syncing them.
    #[arg(long, env = "PLUMB_VERIFY_COMMITS", value_enum, default_value_t = VerifyCommits::Off)]
    pub verify_commits: VerifyCommits,
    /// git allowed_signers file of trusted SSH keys (with --verify-commits ssh).
    #[arg(long, env = "PLUMB_ALLOWED_SIGNERS", required_if_eq("verify_commits", "ssh"))]
    pub allowed_signers: Option<PathBuf>,
    /// Armored OpenPGP public keys to trust (with --verify-commits openpgp).
    #[arg(long, env = "PLUMB_OPENPGP_KEYS", required_if_eq("verify_commits", "openpgp"))]
    pub openpgp_keys: Option<PathBuf>,
    /// File holding the HTTPS user (else $PLUMB_GIT_USERNAME).
    #[arg(long, env = "PLUMB_GIT_USERNAME_FILE")]
    pub git_username_file: Option<PathBuf>,
    /// File holding the HTTPS password or token (else $PLUMB_GIT_PASSWORD).
    #[arg(long, env = "PLUMB_GIT_PASSWORD_FILE")]
    pub git_password_file: Option<PathBuf>,
    /// SSH private key for ssh:// and git@host:path sources.
    #[arg(long, env = "PLUMB_SSH_KEY_FILE")]
    pub ssh_key_file: Option<PathBuf>,
    /// File holding the SSH key's passphrase.
    #[arg(long, env = "PLUMB_SSH_PASSPHRASE_FILE")]
    pub ssh_passphrase_file: Option<PathBuf>,
    /// known_hosts file of trusted SSH host keys (SSH sources need one: unknown hosts are refused).
    #[arg(long, env = "PLUMB_KNOWN_HOSTS_FILE")]
    pub known_hosts_file: Option<PathBuf>,
    /// Allow http:// to hosts other than loopback (clear text).
    #[arg(long, env = "PLUMB_ALLOW_INSECURE_HTTP")]
    pub allow_insecure_http: bool,
    /// Sync the current commit once and exit (0 when every app succeeded).
    #[arg(long)]
    pub once: bool,
    /// Address of the HTTP server (/metrics, /healthz, /readyz, /api/v1/status, /hooks/git).
    #[arg(long, env = "PLUMB_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    /// Append-only audit log (JSON lines, hash-chained); none when unset.
    #[arg(long, env = "PLUMB_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// File holding the shared secret of the /hooks/git webhook (disabled when unset).
    #[arg(long, env = "PLUMB_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// This instance's name in events (the pod name in a cluster).
    #[arg(long, env = "POD_NAME", default_value = "plumb")]
    pub instance: String,
    /// Elect a leader among replicas on a coordination.k8s.io Lease; only the leader writes.
    #[arg(long, env = "PLUMB_LEADER_ELECTION")]
    pub leader_election: bool,
    /// Name of the Lease (in --namespace).
    #[arg(long, env = "PLUMB_LEASE_NAME", default_value = "plumb-leader")]
    pub lease_name: String,
    /// How long a leader's lease holds without renewal.
    #[arg(long, env = "PLUMB_LEASE_DURATION", default_value = "15s", value_parser = crate::duration::parse_duration)]
    pub lease_duration: Duration,
}

/// Commit signature policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyCommits {
    /// No verification.
    Off,
    /// SSH signatures by keys in --allowed-signers.
    Ssh,
    /// OpenPGP signatures by keys in --openpgp-keys.
    Openpgp,
}

/// `plumb history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this app.
    #[arg(long)]
    pub app: Option<String>,
    /// plumb's namespace (where the inventories are).
    #[arg(long, env = "PLUMB_NAMESPACE", default_value = "plumb-system")]
    pub namespace: String,
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
        Command::Demo { manifests } => crate::demo::run(manifests).await.map(|()| Outcome::Success),
        Command::Run(args) => run(args).await.map(|()| Outcome::Success),
        Command::History(args) => history(args).await.map(|()| Outcome::Success),
        Command::Status { url } => status(&url).map(|()| Outcome::Success),
        Command::Diff { source, namespace } => diff(&source, &namespace).await,
        Command::Render(args) => render(args).map(|()| Outcome::Success),
        Command::Lock { dir } => lock(&dir).await.map(|()| Outcome::Success),
        Command::Audit { command: AuditCommand::Verify { file } } => {
            let (records, last) = crate::report::audit::verify(&file)?;
            println!("{}: {records} records, chain intact (last {last})", file.display());
            Ok(Outcome::Success)
        }
    }
}

fn render(args: RenderArgs) -> anyhow::Result<()> {
    use std::sync::Arc;
    let tree = render_source(&args.source, args.reference.as_deref())?;
    let capabilities = crate::render::chart::Capabilities::offline(args.kube_version.as_deref(), &args.api_versions)
        .map_err(anyhow::Error::msg)?;
    let options = crate::runtime::offline::RenderOptions {
        app: args.app,
        env: crate::render::helm::ChartEnv {
            capabilities,
            remote: Some(Arc::new(crate::render::remote::RemoteCharts::new(user_cache_dir().join("charts")))),
        },
        redact_secrets: args.redact_secrets,
    };
    let rendered = crate::runtime::offline::render(tree, &options).map_err(anyhow::Error::msg)?;
    for warning in rendered.warnings {
        eprintln!("warning: {warning}");
    }
    for (app, digest) in rendered.digests {
        eprintln!("{app}: render digest {digest}");
    }
    print!("{}", rendered.text);
    Ok(())
}

/// The tree `plumb render` reads: a directory's working tree or one of its
/// commits, or a commit of a Git URL fetched into the user's cache.
fn render_source(source: &str, reference: Option<&str>) -> anyhow::Result<std::sync::Arc<dyn crate::source::Tree>> {
    use crate::source::git::{GitRef, GitSource, GitTree};
    let path = std::path::Path::new(source);
    if path.is_dir() {
        return Ok(match reference {
            Some(reference) => std::sync::Arc::new(GitTree::at_revision(path, reference)?),
            None => std::sync::Arc::new(crate::source::DirTree::new(path)?),
        });
    }
    let url = crate::source::url::parse(source, false)?;
    let git_ref = match reference {
        Some(r) if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) => GitRef::Commit(r.to_string()),
        Some(r) => GitRef::Branch(r.to_string()),
        None => GitRef::Branch("main".into()),
    };
    let cache = user_cache_dir().join("render-git");
    let tag = match &git_ref {
        GitRef::Branch(name) => Some(name.clone()),
        _ => None,
    };
    let open = |reference: GitRef| -> anyhow::Result<(GitSource, String)> {
        let source = GitSource::open(url.clone(), reference, &cache)?;
        let commit = source.poll()?.commit().to_string();
        Ok((source, commit))
    };
    // A name that is not a branch may be a tag.
    let (source, commit) = match (open(git_ref), tag) {
        (Ok(found), _) => found,
        (Err(_), Some(name)) => open(GitRef::Tag(name))?,
        (Err(e), None) => return Err(e),
    };
    Ok(std::sync::Arc::new(source.tree(&commit)?))
}

async fn lock(dir: &std::path::Path) -> anyhow::Result<()> {
    use crate::render::config::{self, CONFIG_FILE};
    use crate::render::lock::{LOCK_FILE, Lock};
    use anyhow::Context;
    let text = std::fs::read_to_string(dir.join(CONFIG_FILE))
        .with_context(|| format!("read {}", dir.join(CONFIG_FILE).display()))?;
    let config = config::parse(CONFIG_FILE, &text)?;
    let mut lock = Lock::default();
    for app in &config.apps {
        let Some(chart) = &app.chart else { continue };
        let (Some(repo), Some(name), Some(version)) = (&chart.repo, &chart.name, &chart.version) else { continue };
        let progress = crate::progress::Progress::start(&format!("{}: {name} {version} from {repo}", app.name));
        let entry =
            crate::render::remote::resolve(repo, name, version).await.with_context(|| format!("app {:?}", app.name))?;
        progress.finish(&format!("pinned {}", entry.digest));
        lock.charts.push(entry);
    }
    let path = dir.join(LOCK_FILE);
    std::fs::write(&path, lock.to_text()).with_context(|| format!("write {}", path.display()))?;
    println!("wrote {} ({} charts)", path.display(), lock.charts.len());
    Ok(())
}

async fn run(args: Box<RunArgs>) -> anyhow::Result<()> {
    use anyhow::Context;

    use crate::runtime::agent::AgentConfig;
    use crate::runtime::service::{self, ServiceConfig};
    use crate::source::git::GitRef;

    // Bad arguments fail before anything connects anywhere.
    crate::source::url::parse(&args.repo, args.allow_insecure_http)?;
    let mut credentials = crate::source::credentials::Credentials::load(
        args.git_username_file.as_deref(),
        args.git_password_file.as_deref(),
    )?;
    if let Some(key) = &args.ssh_key_file {
        credentials = credentials.with_ssh_key(key, args.ssh_passphrase_file.as_deref())?;
    }
    if let Some(path) = &args.known_hosts_file {
        credentials = credentials.with_known_hosts(crate::source::known_hosts::KnownHosts::load(path)?);
    }
    let verify = {
        use crate::source::signature::{AllowedSigners, OpenPgpKeys, VerifyPolicy};
        match (args.verify_commits, &args.allowed_signers, &args.openpgp_keys) {
            (VerifyCommits::Off, _, _) => VerifyPolicy::Off,
            (VerifyCommits::Ssh, Some(path), _) => VerifyPolicy::Ssh(AllowedSigners::load(path)?),
            (VerifyCommits::Openpgp, _, Some(path)) => VerifyPolicy::OpenPgp(OpenPgpKeys::load(path)?),
            _ => anyhow::bail!("--verify-commits needs --allowed-signers (ssh) or --openpgp-keys (openpgp)"),
        }
    };
    let webhook_secret = match &args.webhook_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("read the webhook secret file {}", path.display()))?
                .trim()
                .as_bytes()
                .to_vec(),
        ),
        None => None,
    };
    let kube_config = kube::Config::infer().await.context("no Kubernetes config found (in-cluster or KUBECONFIG)")?;
    let reference = match (args.commit, args.tag) {
        (Some(commit), _) => GitRef::Commit(commit),
        (None, Some(tag)) => GitRef::Tag(tag),
        (None, None) => GitRef::Branch(args.branch),
    };
    let config = ServiceConfig {
        agent: AgentConfig {
            repo: args.repo,
            reference,
            path: args.path,
            interval: args.interval,
            cache_dir: args.cache_dir.clone(),
            allow_insecure_http: args.allow_insecure_http,
            credentials,
            verify,
            once: args.once,
        },
        sync: crate::apply::SyncOptions {
            inventory_namespace: args.namespace,
            concurrency: args.concurrency,
            health_timeout: args.health_timeout,
            chart_cache: Some(args.cache_dir.join("charts")),
            ..crate::apply::SyncOptions::default()
        },
        listen: args.listen,
        audit_log: args.audit_log,
        webhook_secret,
        lease: args.leader_election.then(|| crate::runtime::leader::LeaseConfig {
            name: args.lease_name.clone(),
            identity: args.instance.clone(),
            duration: args.lease_duration,
            renew_every: (args.lease_duration / 3).max(Duration::from_millis(500)),
        }),
        instance: args.instance,
    };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            let _ = stop.send(true);
        }
    });
    service::run(config, kube_config, shutdown).await?;
    Ok(())
}

async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let client = kube::Client::try_default().await.context("no Kubernetes config found (in-cluster or KUBECONFIG)")?;
    let history = crate::report::history::read(client, &args.namespace, args.app.as_deref()).await?;
    if history.is_empty() {
        println!("no history in namespace {} (has plumb synced there?)", args.namespace);
    }
    for (app, records) in history {
        println!("{app}:");
        for r in records {
            let commit = r.commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-");
            let changes: Vec<String> = r
                .actions
                .iter()
                .map(|a| {
                    if a.fields.is_empty() {
                        format!("{} {}", a.action, a.object)
                    } else {
                        format!("{} {} ({})", a.action, a.object, a.fields.join(", "))
                    }
                })
                .collect();
            let detail = match (&r.error, changes.is_empty()) {
                (Some(e), _) => e.clone(),
                (None, true) => "no changes".to_string(),
                (None, false) => changes.join("; "),
            };
            println!("  {}  {:<5} {:<12} {:<7} {}", r.time, r.event, commit, r.result, detail);
        }
    }
    Ok(())
}

fn status(url: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let address = url.strip_prefix("http://").context("the status URL must be http://HOST:PORT")?.trim_end_matches('/');
    let (host, port) = address.rsplit_once(':').context("the status URL needs a port")?;
    let port: u16 = port.parse().context("the status URL's port is not a number")?;
    let response = plumb_testenv::http::request_to(host, port, "GET", "/api/v1/status", &[], &[])
        .with_context(|| format!("no plumb agent answers at {url}"))?;
    anyhow::ensure!(response.status == 200, "{url}/api/v1/status answered {}", response.status);
    let status: crate::report::status::Status =
        serde_json::from_str(&response.body).context("not a plumb status document")?;
    print!("{}", crate::report::status::table(&status));
    Ok(())
}

async fn diff(source: &std::path::Path, namespace: &str) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let tree: std::sync::Arc<dyn crate::source::Tree> = std::sync::Arc::new(crate::source::DirTree::new(source)?);
    let client = kube::Client::try_default().await.context("no Kubernetes config found (in-cluster or KUBECONFIG)")?;
    let options = crate::apply::SyncOptions {
        inventory_namespace: namespace.to_string(),
        chart_cache: Some(user_cache_dir().join("charts")),
        ..Default::default()
    };
    let syncer = crate::apply::Syncer::new(client, options).await?;
    let text = crate::runtime::diff::diff(&syncer, tree).await.map_err(anyhow::Error::msg)?;
    print!("{text}");
    Ok(if text.is_empty() { Outcome::Success } else { Outcome::Difference })
}

/// The invoking user's cache (`$XDG_CACHE_HOME/plumb`, else `~/.cache/plumb`),
/// for commands run on a workstation.
fn user_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("plumb");
    }
    std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from).join(".cache").join("plumb")
}
