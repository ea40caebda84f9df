//! The whole agent as one service: the Kubernetes client, the live cache
//! and drift detector, the syncer, reporting and the HTTP server, and the
//! loop. `plumb run` and `plumb demo` start it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use tracing::{Instrument, info, info_span};

use super::agent::{self, AgentConfig, AgentError};
use crate::apply::{ApplyError, SyncOptions, Syncer};
use crate::live::{DriftDetector, LiveCache};
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
    /// How to sync.
    pub sync: SyncOptions,
    /// Address of the HTTP server.
    pub listen: SocketAddr,
    /// Audit log file, if any.
    pub audit_log: Option<PathBuf>,
    /// Shared secret of the git webhook, if any.
    pub webhook_secret: Option<Vec<u8>>,
    /// This instance's name in events (and in the lease).
    pub instance: String,
    /// Leader election; `None`: this instance always leads.
    pub lease: Option<super::leader::LeaseConfig>,
}

/// Why the service stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The Kubernetes client could not be built.
    #[error("could not build the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The syncer could not start (discovery failed).
    #[error(transparent)]
    Apply(#[from] ApplyError),
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

/// Runs the service until `shutdown` turns true (or after one pass with `once`).
pub async fn run(
    config: ServiceConfig,
    kube_config: kube::Config,
    shutdown: watch::Receiver<bool>,
) -> Result<(), ServiceError> {
    let (client, requests) = crate::client::counted_client(kube_config)?;
    let (cache, suspects) = LiveCache::new(client.clone());
    let drift = cache.drift();
    let namespace = config.sync.inventory_namespace.clone();
    let syncer = Arc::new(
        Syncer::new(client.clone(), config.sync).await?.with_live_cache(cache.clone()).with_shutdown(shutdown.clone()),
    );
    let (leading, leader) = watch::channel(config.lease.is_none());
    if let Some(lease) = config.lease {
        let api = kube::Api::namespaced(client.clone(), &namespace);
        tokio::spawn(super::leader::run(api, lease, leading, shutdown.clone()).instrument(info_span!("lease")));
    }
    let detector = DriftDetector::new(cache, syncer.clone()).with_leader(leader.clone());
    tokio::spawn(detector.run(suspects).instrument(info_span!("drift")));

    let audit = config.audit_log.as_deref().map(AuditLog::open).transpose()?;
    let source = SourceStatus {
        repo: crate::source::url::redact(&config.agent.repo),
        reference: config.agent.reference.to_string(),
        ..SourceStatus::default()
    };
    let reporter = Arc::new(Reporter::new(
        Metrics::new(&requests),
        Some(EventSink::new(client.clone(), &config.instance)),
        audit,
        Some(History::new(client, &namespace)),
        Some(drift.clone()),
        &namespace,
        source,
    ));
    tokio::spawn(reporter.clone().follow_drift(drift.subscribe()).instrument(info_span!("report")));

    let poll_now = Arc::new(Notify::new());
    let listener =
        http::bind(config.listen).await.map_err(|source| ServiceError::Listen { address: config.listen, source })?;
    info!(address = %config.listen, "serving /metrics, /healthz, /readyz, /api/v1/status, /hooks/git");
    let state = http::HttpState {
        reporter: reporter.clone(),
        poll_now: poll_now.clone(),
        webhook_secret: config.webhook_secret.map(Arc::new),
        api: requests,
    };
    tokio::spawn(async move {
        if let Err(error) = http::serve(listener, state).await {
            tracing::error!(%error, "the HTTP server stopped");
        }
    });
    agent::run(config.agent, syncer, reporter, poll_now, leader, shutdown).await?;
    Ok(())
}
