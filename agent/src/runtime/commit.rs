//! Syncing one commit of the config repo.
//!
//! `plumb.yaml` is read and validated first: a broken one writes nothing.
//! Every app is rendered before anything is written, and the objects each
//! renders are claimed: two apps rendering one object both fail, an object
//! moving between apps is handed over. Apps then sync level by level (apps
//! of one level concurrently); an app that fails blocks only the apps that
//! depend on it. Apps that left `plumb.yaml` are removed last, and only
//! when every other app of the commit synced, within the removal guards.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::join_all;

use crate::apply::store::{LEGACY_INSTANCE, StoredApp};
use crate::apply::{ApplyError, Mode, SyncReport, SyncRequest, Syncer};
use crate::plan::{AppContext, ObjectKey, Ownership, PlanError, PrunePolicy, Removal, RenderedObject, Scopes, key_of};
use crate::render::config::{self, App, AppMode, AppSource, CONFIG_FILE, Config, ConfigError};
use crate::render::helm::ChartEnv;
use crate::render::{RenderError, digest};
use crate::report::commit::{AppOutcome, CommitReport};
use crate::source::Tree;

/// Renders one app from the commit's tree.
pub fn render_app(tree: &Arc<dyn Tree>, app: &App, env: &ChartEnv) -> Result<Vec<RenderedObject>, RenderError> {
    match app.source() {
        AppSource::Path(path) => crate::render::kustomize::render_path(tree, app, &path, env),
        AppSource::Chart(chart) => crate::render::helm::render_chart_app(tree, app, &chart, env),
    }
}

/// Reads `plumb.yaml` of the commit.
pub fn read_config(tree: &dyn Tree) -> Result<Config, ConfigError> {
    match tree.read_string(CONFIG_FILE) {
        Ok(text) => config::parse(CONFIG_FILE, &text),
        Err(e) => Err(ConfigError::Syntax { file: CONFIG_FILE.into(), reason: e.to_string() }),
    }
}

/// Syncs every app of the commit whose tree is `tree`; apps whose inputs
/// are unchanged since the syncer last rendered them are not rendered again.
pub async fn sync_commit(syncer: &Syncer, tree: Arc<dyn Tree>, commit: &str) -> CommitReport {
    let mut report =
        CommitReport { commit: commit.to_string(), config_error: None, apps: Vec::new(), render_times: Vec::new() };
    let config = match read_config(tree.as_ref()) {
        Ok(config) => config,
        Err(error) => {
            report.config_error = Some(error);
            return report;
        }
    };
    let stored = match syncer.store().apps().await {
        Ok(stored) => stored,
        Err(error) => {
            report.apps.push(AppOutcome::Synced(SyncReport::failed("(inventories)", commit, error)));
            return report;
        }
    };
    let me = syncer.options().instance.clone();
    let owner = |s: &StoredApp| s.instance.clone().unwrap_or_else(|| LEGACY_INSTANCE.to_string());
    let foreign: HashMap<String, String> =
        stored.iter().filter(|s| owner(s) != me).map(|s| (s.app.clone(), owner(s))).collect();

    // Render everything first: nothing is written before every app's
    // render is known.
    let env = syncer.chart_env().await;
    let memo = syncer.renders();
    memo.retain(&config.apps);
    let rendered = join_all(config.apps.iter().map(|app| {
        let (tree, env, app, memo) = (tree.clone(), env.clone(), app.clone(), memo.clone());
        async move {
            let started = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                let (result, how) = memo.render(&tree, &app, &env, |tree, env| render_app(tree, &app, env));
                tracing::debug!(app = %app.name, ?how, "rendered");
                result
            })
            .await;
            (result, started.elapsed())
        }
    }))
    .await;
    let mut renders: HashMap<&str, Result<Vec<RenderedObject>, RenderError>> = HashMap::new();
    for (app, (result, took)) in config.apps.iter().zip(rendered) {
        report.render_times.push((app.name.clone(), took));
        let result = result.unwrap_or_else(|join| {
            Err(RenderError::App {
                file: CONFIG_FILE.into(),
                app: app.name.clone(),
                reason: format!("the render task failed: {join}"),
            })
        });
        renders.insert(&app.name, result);
    }

    let (ownership, refused) = claim(syncer, &config, &renders, foreign).await;
    let ownership = Arc::new(ownership);
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for level in config::app_levels(&config) {
        let outcomes = join_all(level.iter().map(|&i| {
            let app = &config.apps[i];
            let blocked_by: Vec<String> = app.depends_on.iter().filter(|d| failed.contains(*d)).cloned().collect();
            let rendered = renders.remove(app.name.as_str());
            let refusal = refused.get(&app.name).cloned();
            let ownership = ownership.clone();
            async move {
                if !blocked_by.is_empty() {
                    return AppOutcome::Blocked { app: app.name.clone(), by: blocked_by };
                }
                if let Some(error) = refusal {
                    return AppOutcome::Synced(SyncReport::failed(&app.name, commit, ApplyError::Plan(error)));
                }
                match rendered {
                    Some(Ok(objects)) => {
                        AppOutcome::Synced(syncer.sync(request(app, objects, commit, ownership)).await)
                    }
                    Some(Err(error)) => AppOutcome::RenderFailed { app: app.name.clone(), error },
                    None => AppOutcome::Blocked { app: app.name.clone(), by: Vec::new() },
                }
            }
        }))
        .await;
        for outcome in outcomes {
            if !outcome.succeeded() {
                failed.insert(outcome.app().to_string());
            }
            report.apps.push(outcome);
        }
    }

    let removed: Vec<&StoredApp> =
        stored.iter().filter(|s| owner(s) == me && !config.apps.iter().any(|a| a.name == s.app)).collect();
    if removed.is_empty() {
        return report;
    }
    if !failed.is_empty() {
        // A rename whose new app failed keeps the old one: removal waits
        // for a commit that syncs completely.
        tracing::info!(apps = ?removed.iter().map(|s| &s.app).collect::<Vec<_>>(), "removal waits: not every app of this commit synced");
        return report;
    }
    if let Err(error) = removal_guard(syncer, &config, &stored, &removed, &me).await {
        for app in &removed {
            report.apps.push(AppOutcome::Synced(SyncReport::failed(&app.app, commit, error.clone())));
        }
        return report;
    }
    for app in removed {
        let how = if config.orphan.contains(&app.app) { Removal::Orphan } else { Removal::Prune };
        let mut request = SyncRequest::removal(AppContext { name: app.app.clone(), namespace: None }, how);
        request.commit = Some(commit.to_string());
        request.ownership = ownership.clone();
        report.apps.push(AppOutcome::Synced(syncer.sync(request).await));
    }
    report
}

/// Claims every rendered object for its app; objects two apps render are
/// refused for both.
async fn claim(
    syncer: &Syncer,
    config: &Config,
    renders: &HashMap<&str, Result<Vec<RenderedObject>, RenderError>>,
    foreign: HashMap<String, String>,
) -> (Ownership, HashMap<String, PlanError>) {
    let catalog = syncer.objects().catalog().await;
    let mut scopes = Scopes::default();
    for (group, kind, namespaced) in catalog.kinds() {
        scopes.insert(group, kind, namespaced);
    }
    for objects in renders.values().flatten() {
        scopes.add_crds(objects.iter().map(|o| &o.manifest));
    }
    let keys: Vec<(&str, Vec<ObjectKey>)> = config
        .apps
        .iter()
        .filter_map(|app| {
            let objects = renders.get(app.name.as_str())?.as_ref().ok()?;
            let context = AppContext { name: app.name.clone(), namespace: app.namespace.clone() };
            Some((app.name.as_str(), objects.iter().filter_map(|o| key_of(&context, &o.manifest, &scopes)).collect()))
        })
        .collect();
    let (ownership, doubles) =
        Ownership::of_commit(keys.iter().map(|(app, keys)| (*app, keys.iter().collect())), foreign);
    let mut refused = HashMap::new();
    for double in doubles {
        let error = PlanError::RenderedByTwoApps {
            key: double.key.to_string(),
            first: double.apps.0.clone(),
            second: double.apps.1.clone(),
        };
        refused.entry(double.apps.0).or_insert_with(|| error.clone());
        refused.entry(double.apps.1).or_insert(error);
    }
    (ownership, refused)
}

/// Refuses a removal that would prune too large a share of what this
/// instance manages, or everything, unless plumb.yaml allows it.
async fn removal_guard(
    syncer: &Syncer,
    config: &Config,
    stored: &[StoredApp],
    removed: &[&StoredApp],
    me: &str,
) -> Result<(), ApplyError> {
    if config.allow_large_prune {
        return Ok(());
    }
    let mut managed = 0;
    let mut would_prune = 0;
    for app in stored.iter().filter(|s| s.instance.as_deref().unwrap_or(LEGACY_INSTANCE) == me) {
        let size = syncer.store().read(&app.app).await?.map_or(0, |i| i.entries.len());
        managed += size;
        if removed.iter().any(|r| r.app == app.app) && !config.orphan.contains(&app.app) {
            would_prune += size;
        }
    }
    let everything = config.apps.is_empty() && would_prune > 0;
    let policy = PrunePolicy::default();
    let over_share =
        would_prune * 100 > policy.max_share_percent as usize * managed && would_prune > policy.always_allowed;
    if everything || over_share {
        return Err(ApplyError::Plan(PlanError::RemovalRefused {
            apps: removed.iter().map(|r| r.app.clone()).collect(),
            would_prune,
            managed,
            everything,
        }));
    }
    Ok(())
}

fn request(app: &App, objects: Vec<RenderedObject>, commit: &str, ownership: Arc<Ownership>) -> SyncRequest {
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
            crds: app.prune_crds,
            non_empty_namespaces: app.prune_non_empty_namespaces,
            ..PrunePolicy::default()
        },
        removal: None,
        health_timeout: app.health_timeout(),
        ownership,
    }
}
