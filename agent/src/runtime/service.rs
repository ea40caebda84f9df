//! The whole agent as one service: the cluster seam (fenced by leadership),
//! discovery, the live cache and drift detector, the syncer, reporting and
//! the HTTP server, and the loop. `plumb run` and the demo start it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tracing::{Instrument, info, info_span, warn};

use super::agent::{self, AgentConfig, AgentError, Periodic};
use crate::apply::{SyncOptions, Syncer};
use crate::cluster::catalog::Discovery;
use crate::cluster::fence::Fenced;
use crate::cluster::{ClusterError, KubeCluster, SharedCluster};
use crate::live::{DriftDetector, LiveCache, WatchScope};
use crate::report::audit::{AuditError, AuditLog};
use crate::report::events::EventSink;
use crate::report::history::History;
use crate::report::metrics::Metrics;
use crate::report::status::SourceStatus;
use crate::report::{Reporter, http};

/// Everything the service needs.
#[derive(Debug)]
pub struct ServiceConfig {
    /// What to follow and how.
    pub agent: AgentConfig,
    /// How to sync (including this instance's name).
    pub sync: SyncOptions,
    /// Address of the HTTP server.
    pub listen: SocketAddr,
    /// Audit log file, if any.
    pub audit_log: Option<PathBuf>,
    /// Size at which the audit log rotates (0: never).
    pub audit_max_bytes: u64,
    /// Shared secret of the git webhook, if any.
    pub webhook_secret: Option<Vec<u8>>,
    /// This replica's name in events and in the lease (the pod name).
    pub pod_name: String,
    /// Leader election; `None`: this instance always leads.
    pub lease: Option<super::leader::LeaseConfig>,
    /// Watch only these namespaces (namespaced RBAC); `None`: the cluster.
    pub watch_namespaces: Option<Vec<String>>,
    /// How often every app is re-checked against live state without a commit.
    pub reconcile_interval: Duration,
    /// The dashboard's path prefix (`""`: at `/`); `None`: no dashboard.
    pub ui_prefix: Option<String>,
}

/// Why the service stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The Kubernetes client could not be built.
    #[error("could not build the Kubernetes client: {0}")]
    Client(ClusterError),
    /// The audit log is unusable.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The HTTP address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The agent loop stopped with an error.
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// Discovers the cluster, retrying with backoff until it answers (or the
/// service stops): an API server that is down at start is waited for,
/// never a reason to exit.
async fn discover(cluster: SharedCluster, shutdown: &mut watch::Receiver<bool>) -> Option<Discovery> {
    let mut backoff = crate::backoff::Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        match Discovery::new(cluster.clone()).await {
            Ok(discovery) => return Some(discovery),
            Err(error) => {
                let wait = backoff.failed(crate::backoff::jitter());
                warn!(%error, retry_in = ?wait, "could not discover the cluster's API resources");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                }
            }
        }
    }
}

/// Runs the service until `shutdown` turns true (or after one pass with `once`).
pub async fn run(
    config: ServiceConfig,
    kube_config: kube::Config,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let kube = KubeCluster::new(kube_config).map_err(ServiceError::Client)?;
    let requests = kube.requests();
    let raw: SharedCluster = Arc::new(kube);
    let (leading, leader) = watch::channel(config.lease.is_none());
    // Every write of this replica goes through the fence; the election
    // itself uses the raw cluster.
    let cluster: SharedCluster = Arc::new(Fenced::new(raw.clone(), leader.clone()));
    if let Some(lease) = config.lease {
        tokio::spawn(super::leader::run(raw, lease, leading, shutdown.clone()).instrument(info_span!("lease")));
    }
    let namespace = config.sync.inventory_namespace.clone();
    let audit = config.audit_log.as_deref().map(|path| AuditLog::open(path, config.audit_max_bytes)).transpose()?;
    let source = SourceStatus {
        repo: crate::source::url::redact(&config.agent.repo),
        reference: config.agent.reference.to_string(),
        ..SourceStatus::default()
    };
    let scope = config.watch_namespaces.clone().map_or(WatchScope::Cluster, WatchScope::Namespaces);
    let cache = LiveCache::new(cluster.clone(), scope);
    let drift = cache.drift();
    let reporter = Arc::new(Reporter::new(
        Metrics::new(&requests),
        Some(EventSink::new(cluster.clone(), &config.pod_name)),
        audit,
        Some(History::new(cluster.clone(), &namespace)),
        Some(drift.clone()),
        &namespace,
        source,
    ));
    tokio::spawn(reporter.clone().follow_drift(drift.subscribe()).instrument(info_span!("report")));

    let poll_now = Arc::new(Notify::new());
    let listener =
        http::bind(config.listen).await.map_err(|source| ServiceError::Listen { address: config.listen, source })?;
    info!(address = %config.listen, "serving /metrics, /healthz, /readyz, /api/v1/status, /hooks/git");
    let diffs = Arc::new(crate::report::ui::diff::LiveDiffs::new(cache.clone()));
    let ui = config.ui_prefix.as_deref().map(|prefix| {
        info!(address = %config.listen, prefix = %format!("{prefix}/"), "serving the dashboard");
        Arc::new(crate::report::ui::Dashboard::new(prefix, Some(diffs.clone())))
    });
    let state = http::HttpState {
        reporter: reporter.clone(),
        poll_now: poll_now.clone(),
        webhook_secret: config.webhook_secret.map(Arc::new),
        api: requests,
        ui,
    };
    tokio::spawn(async move {
        if let Err(error) = http::serve(listener, state).await {
            tracing::error!(%error, "the HTTP server stopped");
        }
    });

    let Some(discovery) = discover(cluster, &mut shutdown).await else { return Ok(()) };
    let syncer = Arc::new(
        Syncer::with_discovery(Arc::new(discovery), config.sync)
            .with_live_cache(cache.clone())
            .with_shutdown(shutdown.clone()),
    );
    diffs.attach(syncer.objects().clone());
    let detector = DriftDetector::new(cache.clone(), syncer.objects().clone()).with_leader(leader.clone());
    tokio::spawn(detector.run().instrument(info_span!("drift")));
    let periodic = Periodic { cache, interval: config.reconcile_interval };
    agent::run(config.agent, syncer, reporter, poll_now, leader, shutdown, periodic).await?;
    Ok(())
}
