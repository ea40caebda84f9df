//! What syncing one commit produced: each app's outcome, for reporting.

use crate::apply::SyncReport;
use crate::render::RenderError;
use crate::render::config::ConfigError;

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
