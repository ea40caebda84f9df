//! `plumb run`: the agent.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

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
    /// Refuse a new commit that does not descend from the last one synced
    /// (a force-push back to an older, validly signed commit); fetches the
    /// whole history.
    #[arg(long, env = "PLUMB_REQUIRE_DESCENDANT", requires = "verify_commits")]
    pub require_descendant: bool,
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
    /// Address of the HTTP server (/metrics, /healthz, /readyz, /api/v1/status, /hooks/git, the dashboard).
    #[arg(long, env = "PLUMB_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    /// Serve the read-only dashboard on the HTTP server (--ui=false switches it off).
    #[arg(long, env = "PLUMB_UI", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true")]
    pub ui: bool,
    /// Path the dashboard is served under (e.g. /plumb behind a reverse proxy); its links are relative.
    #[arg(long, env = "PLUMB_UI_PREFIX", default_value = "", value_parser = crate::report::ui::parse_prefix)]
    pub ui_prefix: String,
    /// Append-only audit log (JSON lines, hash-chained); none when unset.
    #[arg(long, env = "PLUMB_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Size at which the audit log is rotated to FILE.000001, FILE.000002, …
    /// with the chain continuing across files (0: never).
    #[arg(long, env = "PLUMB_AUDIT_MAX_BYTES", default_value = "64Mi", value_parser = crate::size::parse_size)]
    pub audit_max_bytes: u64,
    /// File holding the shared secret of the /hooks/git webhook (disabled when unset).
    #[arg(long, env = "PLUMB_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// This plumb instance: recorded in every inventory it writes. Instances
    /// sharing a cluster (or a namespace) need different names; replicas of
    /// one instance share it.
    #[arg(long, env = "PLUMB_INSTANCE", default_value = "plumb", value_parser = instance_name)]
    pub instance: String,
    /// This replica's name in events and in the lease (the pod name in a cluster).
    #[arg(long, env = "POD_NAME", default_value = "plumb")]
    pub pod_name: String,
    /// Elect a leader among replicas on a coordination.k8s.io Lease; only the leader writes.
    #[arg(long, env = "PLUMB_LEADER_ELECTION")]
    pub leader_election: bool,
    /// Name of the Lease (in --namespace); default `<instance>-leader`.
    #[arg(long, env = "PLUMB_LEASE_NAME")]
    pub lease_name: Option<String>,
    /// Watch and list only in these namespaces (comma-separated), for
    /// namespaced RBAC (deploy/rbac-namespaced.yaml); default: the cluster.
    #[arg(long, env = "PLUMB_WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,
    /// How often every app is re-checked against live state (and its health
    /// awaited) without a new commit; 0 disables it.
    #[arg(long, env = "PLUMB_RECONCILE_INTERVAL", default_value = "5m", value_parser = crate::duration::parse_duration)]
    pub reconcile_interval: Duration,
    /// How OCI registries are reached.
    #[command(flatten)]
    pub registry: super::RegistryArgs,
    /// Bytes plumb reads from one commit, all files of all apps together (a
    /// defence against commits built to exhaust memory): a number, or with Ki, Mi or Gi.
    #[arg(long, env = "PLUMB_MAX_COMMIT_BYTES", default_value = "128Mi", value_parser = crate::size::parse_size)]
    pub max_commit_bytes: u64,
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

/// Runs `plumb run`.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    use anyhow::Context;

    use crate::runtime::agent::AgentConfig;
    use crate::runtime::service::{self, ServiceConfig};
    use crate::source::git::GitRef;

    // Bad arguments fail before anything connects anywhere.
    crate::source::url::parse(&args.repo, args.allow_insecure_http)?;
    crate::source::tree::set_commit_byte_limit(args.max_commit_bytes);
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
        Some(path) => {
            let secret = std::fs::read_to_string(path)
                .with_context(|| format!("read the webhook secret file {}", path.display()))?;
            // An empty secret would let anyone trigger polls: refuse to start.
            anyhow::ensure!(
                !secret.trim().is_empty(),
                "the webhook secret file {} is empty; put a long random secret in it, or drop --webhook-secret-file",
                path.display()
            );
            Some(secret.trim().as_bytes().to_vec())
        }
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
            repo: args.repo.clone(),
            reference,
            path: args.path.clone(),
            interval: args.interval,
            cache_dir: args.cache_dir.clone(),
            allow_insecure_http: args.allow_insecure_http,
            credentials: credentials.clone(),
            verify,
            require_descendant: args.require_descendant,
            once: args.once,
        },
        sync: crate::apply::SyncOptions {
            inventory_namespace: args.namespace.clone(),
            instance: args.instance.clone(),
            source: Some(format!("{} {}", crate::source::url::redact(&args.repo), args.path).trim().to_string()),
            concurrency: args.concurrency,
            health_timeout: args.health_timeout,
            chart_cache: Some(args.cache_dir.join("charts")),
            registries: args.registry.load()?,
            git_credentials: credentials.clone(),
            ..crate::apply::SyncOptions::default()
        },
        listen: args.listen,
        ui_prefix: args.ui.then_some(args.ui_prefix),
        audit_log: args.audit_log,
        audit_max_bytes: args.audit_max_bytes,
        webhook_secret,
        lease: args.leader_election.then(|| crate::runtime::leader::LeaseConfig {
            name: args.lease_name.clone().unwrap_or_else(|| format!("{}-leader", args.instance)),
            namespace: args.namespace.clone(),
            identity: args.pod_name.clone(),
            duration: args.lease_duration,
            renew_every: (args.lease_duration / 3).max(Duration::from_millis(500)),
        }),
        pod_name: args.pod_name,
        watch_namespaces: (!args.watch_namespaces.is_empty()).then_some(args.watch_namespaces),
        reconcile_interval: args.reconcile_interval,
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

/// An instance name: a DNS-1123 label (it names the Lease and labels inventories).
fn instance_name(name: &str) -> Result<String, String> {
    if crate::render::config::is_dns_label(name) && name.len() <= 50 {
        Ok(name.to_string())
    } else {
        Err("must be a DNS-1123 label of at most 50 characters (lower-case letters, digits, '-')".into())
    }
}
