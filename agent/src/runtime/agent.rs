//! The agent loop: poll the source, sync a commit when it moved (or when
//! the last sync of it failed), back off on failures, re-check every app
//! against live state on an interval, stop on SIGTERM.
//!
//! Steady state costs one `ls-remote` per interval and no API request.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tracing::{Instrument, error, info, info_span, warn};

use super::commit::sync_commit;
use crate::apply::Syncer;
use crate::backoff::{Backoff, jitter, jittered};
use crate::live::LiveCache;
use crate::report::Reporter;
use crate::report::commit::{AppOutcome, CommitReport};
use crate::source::credentials::Credentials;
use crate::source::git::{GitRef, GitSource};
use crate::source::signature::VerifyPolicy;
use crate::source::tree::Subdir;
use crate::source::{SourceError, Tree, url};

/// What the agent follows and how often.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The config repo location.
    pub repo: String,
    /// Branch, tag or commit to follow.
    pub reference: GitRef,
    /// Sub-directory of the repo holding `plumb.yaml` (empty: the root).
    pub path: String,
    /// Poll interval (jittered by ±10 %).
    pub interval: Duration,
    /// Where the git cache lives.
    pub cache_dir: PathBuf,
    /// Allow `http://` to non-loopback hosts.
    pub allow_insecure_http: bool,
    /// HTTPS credentials.
    pub credentials: Credentials,
    /// Commit signature policy.
    pub verify: VerifyPolicy,
    /// A new commit must descend from the last one synced.
    pub require_descendant: bool,
    /// Sync once and return.
    pub once: bool,
}

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The source cannot be used at all (bad URL, unusable cache).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// `--once`: the sync did not succeed.
    #[error("the sync of {commit} did not succeed: {summary}")]
    SyncFailed {
        /// The commit.
        commit: String,
        /// What failed.
        summary: String,
    },
    /// `--once`: the commit failed signature verification.
    #[error(transparent)]
    Rejected(SourceError),
    /// `--once`: the source could not be polled.
    #[error("polling the source failed: {0}")]
    PollFailed(SourceError),
}

/// One line per failed app, for logs and `--once` errors.
pub fn failure_summary(report: &CommitReport) -> String {
    if let Some(e) = &report.config_error {
        return e.to_string();
    }
    report
        .apps
        .iter()
        .filter(|a| !a.succeeded())
        .map(|a| match a {
            AppOutcome::Synced(r) => {
                format!("{}: {}", r.app, r.result.as_ref().err().map(ToString::to_string).unwrap_or_default())
            }
            AppOutcome::RenderFailed { app, error } => format!("{app}: {error}"),
            AppOutcome::Blocked { app, by } => format!("{app}: blocked by failed {}", by.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The periodic full re-check: the live cache lists every managed kind
/// again and every object plumb expects is checked for drift, and the
/// current commit is synced again (which re-checks health), without a
/// new commit.
pub struct Periodic {
    /// The live cache.
    pub cache: Arc<LiveCache>,
    /// How often.
    pub interval: Duration,
}

/// What the loop remembers between passes.
#[derive(Debug)]
struct LoopState {
    /// The commit last synced completely (none: sync the next one found).
    synced: Option<String>,
    /// The commit last refused for its signature (reported once).
    rejected: Option<String>,
    /// Waits after failures.
    backoff: Backoff,
    /// When the last full re-check ran.
    last_recheck: std::time::Instant,
}

impl LoopState {
    fn new() -> Self {
        Self {
            synced: None,
            rejected: None,
            backoff: Backoff::new(Duration::from_secs(2), Duration::from_secs(300)),
            last_recheck: std::time::Instant::now(),
        }
    }
}

/// Runs until `shutdown` turns true (or after one pass with `once`). A
/// notification on `poll_now` (the git webhook) polls at once.
pub async fn run(
    config: AgentConfig,
    syncer: Arc<Syncer>,
    reporter: Arc<Reporter>,
    poll_now: Arc<Notify>,
    mut leader: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
    periodic: Periodic,
) -> Result<(), AgentError> {
    let url = url::parse(&config.repo, config.allow_insecure_http)?;
    info!(repo = %url, reference = %config.reference, "following");
    // A local repository is watched: its commits sync at once.
    let _watch = match url.local_path() {
        Some(path) => Some(crate::source::watch::watch_refs(std::path::Path::new(path), poll_now.clone())?),
        None => None,
    };
    let source = GitSource::open(url, config.reference.clone(), &config.cache_dir)?
        .with_credentials(config.credentials.clone())
        .with_full_history(config.require_descendant);
    let source = Arc::new(Mutex::new(source));
    let mut state = LoopState::new();
    let policy = Arc::new(config.verify.clone());
    loop {
        // Only the leader syncs; a standby waits to be elected, then reads
        // inventories and live state afresh and syncs the current commit.
        if !*leader.borrow() {
            reporter.set_leading(false);
            state.synced = None;
            periodic.cache.forget_expectations();
            syncer.store().forget_all();
            tokio::select! {
                changed = leader.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
        }
        reporter.set_leading(true);
        let started = std::time::Instant::now();
        // The commits the cluster is at: this process's last sync, else
        // (after a restart) what the inventories recorded.
        let synced_before: Vec<String> = match (&state.synced, config.require_descendant) {
            (_, false) => Vec::new(),
            (Some(commit), true) => vec![commit.clone()],
            (None, true) => synced_commits(&syncer).await,
        };
        let polled = {
            let source = source.clone();
            let policy = policy.clone();
            tokio::task::spawn_blocking(move || {
                let source = source
                    .lock()
                    .map_err(|_| SourceError::Local { what: "lock the source".into(), reason: "poisoned".into() })?;
                let poll = source.poll()?;
                let fetched = matches!(poll, crate::source::git::Poll::Fetched(_));
                let commit = poll.commit().to_string();
                let signature = source.verify(&commit, &policy).and_then(|status| {
                    for last in &synced_before {
                        if !source.descends_from(&commit, last)? {
                            return Err(SourceError::SignatureRejected {
                                commit: commit.clone(),
                                reason: format!(
                                    "it does not descend from {last}, a commit already synced: a force-push back to \
                                     an older commit is refused (--require-descendant); push a new commit on top instead"
                                ),
                            });
                        }
                    }
                    Ok(status)
                });
                let info = source.commit_info(&commit).ok();
                let tree: Arc<dyn Tree> = Arc::new(source.tree(&commit)?);
                Ok::<_, SourceError>((commit, tree, info, fetched, signature))
            })
            .await
            .unwrap_or_else(|e| Err(SourceError::Local { what: "poll task".into(), reason: e.to_string() }))
        };
        match &polled {
            Ok((commit, _, _, fetched, _)) => reporter.polled(Ok(commit), started.elapsed(), *fetched),
            Err(e) => reporter.polled(Err(e.to_string()), started.elapsed(), false),
        }
        // The periodic re-check: everything is listed and looked at again,
        // and the current commit synced again, even without a new commit.
        if periodic.interval > Duration::ZERO && state.last_recheck.elapsed() >= periodic.interval {
            info!("periodic re-check of every app against live state");
            state.last_recheck = std::time::Instant::now();
            periodic.cache.relist();
            periodic.cache.recheck_all();
            state.synced = None;
        }
        let wait = match polled {
            Err(e) if config.once => return Err(AgentError::PollFailed(e)),
            Err(e) => {
                let wait = state.backoff.failed(jitter());
                warn!(error = %e, retry_in = ?wait, "poll failed; the last good commit stays applied");
                wait
            }
            Ok((commit, ..)) if state.synced.as_deref() == Some(commit.as_str()) => {
                state.backoff.succeeded();
                jittered(config.interval, jitter())
            }
            Ok((commit, _, _, _, Err(rejection))) => {
                // Reported once per commit; the cluster stays where it is.
                if state.rejected.as_deref() != Some(commit.as_str()) {
                    error!(%rejection, "commit rejected");
                    let apps: Vec<String> =
                        syncer.store().apps().await.unwrap_or_default().into_iter().map(|a| a.app).collect();
                    reporter.signature_rejected(&commit, &rejection.to_string(), state.synced.as_deref(), &apps).await;
                    state.rejected = Some(commit);
                }
                if config.once {
                    return Err(AgentError::Rejected(rejection));
                }
                jittered(config.interval, jitter())
            }
            Ok((commit, tree, info, _, Ok(signature))) => {
                let tree: Arc<dyn Tree> =
                    if config.path.is_empty() { tree } else { Arc::new(Subdir::new(tree, &config.path)?) };
                let span = info_span!("commit", commit = %short(&commit));
                let report = sync_commit(&syncer, tree, &commit).instrument(span).await;
                reporter.commit_synced(&report, info.as_ref(), &signature.to_string()).await;
                // A sync of many objects peaks high; give that memory back.
                crate::memory::release_free_memory();
                if report.succeeded() {
                    info!(commit = %short(&commit), apps = report.apps.len(), "commit synced");
                    state.synced = Some(commit);
                    state.backoff.succeeded();
                    jittered(config.interval, jitter())
                } else {
                    let summary = failure_summary(&report);
                    if config.once {
                        return Err(AgentError::SyncFailed { commit, summary });
                    }
                    let wait = state.backoff.failed(jitter());
                    error!(commit = %short(&commit), %summary, retry_in = ?wait, "commit sync failed");
                    wait
                }
            }
        };
        if config.once {
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = poll_now.notified() => info!("poll triggered (git webhook or local change)"),
            _ = leader.wait_for(|leading| !*leading) => info!("no longer the leader"),
            _ = shutdown.wait_for(|stop| *stop) => {
                info!("shutting down");
                return Ok(());
            }
        }
    }
}

/// The commits this instance's inventories say their apps were synced at.
async fn synced_commits(syncer: &Syncer) -> Vec<String> {
    let me = &syncer.options().instance;
    let mut commits = Vec::new();
    for stored in syncer.store().apps().await.unwrap_or_default() {
        if stored.instance.as_ref().is_some_and(|i| i != me) {
            continue;
        }
        if let Ok(Some(inventory)) = syncer.store().read(&stored.app).await
            && let Some(commit) = inventory.commit
            && !commits.contains(&commit)
        {
            commits.push(commit);
        }
    }
    commits
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
