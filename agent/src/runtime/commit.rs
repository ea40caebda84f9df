//! Syncing one commit of the config repo.
//!
//! `plumb.yaml` is read and validated first: a broken one writes nothing.
//! Apps then sync level by level (apps of one level concurrently). An app
//! that fails to render or sync blocks only the apps that depend on it;
//! unrelated apps go on. Apps that left `plumb.yaml` are removed (pruned).

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::join_all;

use crate::apply::{Mode, SyncReport, SyncRequest, Syncer};
use crate::plan::{AppContext, PrunePolicy, RenderedObject};
use crate::render::config::{self, App, AppMode, AppSource, CONFIG_FILE, ConfigError};
use crate::render::helm::ChartEnv;
use crate::render::{RenderError, digest, plain};
use crate::source::Tree;

/// What happened to one app.
#[derive(Debug)]
pub enum AppOutcome {
    /// It was synced (successfully or not: see the report).
    Synced(SyncReport),
    /// Its render failed; nothing of it was applied.
    RenderFailed {
        /// The app.
        app: String,
        /// Why.
        error: RenderError,
    },
    /// An app it depends on failed; it was not synced.
    Blocked {
        /// The app.
        app: String,
        /// The failed dependencies.
        by: Vec<String>,
    },
}

impl AppOutcome {
    /// The app's name.
    pub fn app(&self) -> &str {
        match self {
            AppOutcome::Synced(r) => &r.app,
            AppOutcome::RenderFailed { app, .. } | AppOutcome::Blocked { app, .. } => app,
        }
    }

    /// True if the app is synced and healthy.
    pub fn succeeded(&self) -> bool {
        matches!(self, AppOutcome::Synced(r) if r.result.is_ok())
    }
}

/// The outcome of syncing one commit.
#[derive(Debug)]
pub struct CommitReport {
    /// The commit.
    pub commit: String,
    /// `plumb.yaml` could not be used; nothing was synced.
    pub config_error: Option<ConfigError>,
    /// Each app's outcome, in sync order; removed apps last.
    pub apps: Vec<AppOutcome>,
    /// How long each rendered app took to render.
    pub render_times: Vec<(String, std::time::Duration)>,
}

impl CommitReport {
    /// True if the config was valid and every app succeeded.
    pub fn succeeded(&self) -> bool {
        self.config_error.is_none() && self.apps.iter().all(AppOutcome::succeeded)
    }

    /// The outcome of `app`.
    pub fn app(&self, app: &str) -> Option<&AppOutcome> {
        self.apps.iter().find(|a| a.app() == app)
    }
}

/// Renders one app from the commit's tree.
pub fn render_app(tree: &Arc<dyn Tree>, app: &App, env: &ChartEnv) -> Result<Vec<RenderedObject>, RenderError> {
    match app.source() {
        AppSource::Path(path) => plain::load(tree.as_ref(), &path),
        AppSource::Chart(chart) => crate::render::helm::render_chart_app(tree, app, &chart, env),
    }
}

/// Syncs every app of the commit whose tree is `tree`.
pub async fn sync_commit(syncer: &Syncer, tree: Arc<dyn Tree>, commit: &str) -> CommitReport {
    let mut report =
        CommitReport { commit: commit.to_string(), config_error: None, apps: Vec::new(), render_times: Vec::new() };
    let config = match tree.read_string(CONFIG_FILE) {
        Ok(text) => config::parse(CONFIG_FILE, &text),
        Err(e) => Err(ConfigError::Syntax { file: CONFIG_FILE.into(), reason: e.to_string() }),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            report.config_error = Some(error);
            return report;
        }
    };

    let env = syncer.chart_env().await;
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for level in config::app_levels(&config) {
        let outcomes = join_all(level.iter().map(|&i| {
            let app = &config.apps[i];
            let blocked_by: Vec<String> = app.depends_on.iter().filter(|d| failed.contains(*d)).cloned().collect();
            let tree = tree.clone();
            let env = env.clone();
            async move {
                if !blocked_by.is_empty() {
                    return (AppOutcome::Blocked { app: app.name.clone(), by: blocked_by }, None);
                }
                let started = std::time::Instant::now();
                let rendered = {
                    let app = app.clone();
                    tokio::task::spawn_blocking(move || render_app(&tree, &app, &env)).await
                };
                let render_time = Some((app.name.clone(), started.elapsed()));
                let outcome = match rendered {
                    Ok(Ok(objects)) => AppOutcome::Synced(syncer.sync(request(app, objects, commit)).await),
                    Ok(Err(error)) => AppOutcome::RenderFailed { app: app.name.clone(), error },
                    Err(join) => AppOutcome::RenderFailed {
                        app: app.name.clone(),
                        error: RenderError::App {
                            file: CONFIG_FILE.into(),
                            app: app.name.clone(),
                            reason: format!("the render task failed: {join}"),
                        },
                    },
                };
                (outcome, render_time)
            }
        }))
        .await;
        for (outcome, render_time) in outcomes {
            report.render_times.extend(render_time);
            if !outcome.succeeded() {
                failed.insert(outcome.app().to_string());
            }
            report.apps.push(outcome);
        }
    }

    let wanted: BTreeSet<&str> = config.apps.iter().map(|a| a.name.as_str()).collect();
    match syncer.managed_apps().await {
        Ok(managed) => {
            for app in managed.into_iter().filter(|a| !wanted.contains(a.as_str())) {
                let context = AppContext { name: app, namespace: None };
                report.apps.push(AppOutcome::Synced(syncer.sync(SyncRequest::removal(context, Mode::Enforce)).await));
            }
        }
        Err(error) => report.apps.push(AppOutcome::Synced(SyncReport::failed("(removed apps)", commit, error))),
    }
    report
}

fn request(app: &App, objects: Vec<RenderedObject>, commit: &str) -> SyncRequest {
    SyncRequest {
        app: AppContext { name: app.name.clone(), namespace: app.namespace.clone() },
        render_digest: Some(digest(&objects)),
        objects,
        commit: Some(commit.to_string()),
        mode: match app.mode {
            AppMode::Enforce => Mode::Enforce,
            AppMode::Report => Mode::Report,
        },
        prune: PrunePolicy {
            enabled: app.prune,
            max_share_percent: app.prune_limit_percent,
            allow_large: app.allow_large_prune,
            ..PrunePolicy::default()
        },
        remove_app: false,
        health_timeout: app.health_timeout(),
    }
}
