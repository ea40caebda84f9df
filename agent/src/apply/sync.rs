//! One sync of one app: normalise the render, read the inventory and live
//! state, let the plan decide ([`crate::plan::steps`]), and carry out its
//! steps in order. Nothing here decides what to write; it only writes
//! what the steps say, stops at the first failed step, and always leaves
//! the inventory recording what was applied.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{Instrument, debug, info, info_span};

use super::observe::observe;
use super::report::{SyncReport, fill_report};
use super::store::InventoryStore;
use super::{ApplyError, Working};
use crate::cluster::catalog::{Catalog, Discovery};
use crate::cluster::objects::Objects;
use crate::cluster::{ClusterError, Resource, SharedCluster};
use crate::live::LiveCache;
use crate::plan::changes::plan;
use crate::plan::inventory::AppSettings;
use crate::plan::steps::{StepContext, steps};
use crate::plan::{
    Action, AppContext, DesiredObject, Inventory, ObjectKey, Ownership, PlanError, PlanInput, PrunePolicy, Removal,
    RenderedObject, Scopes, SyncStep, normalise,
};
use crate::render::memo::RenderMemo;

/// Whether a sync may change the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Apply, correct and prune.
    Enforce,
    /// Plan and report only; never write.
    Report,
}

/// Settings shared by every sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Namespace of the inventory ConfigMaps (plumb's own).
    pub inventory_namespace: String,
    /// This plumb instance (recorded in every inventory it writes).
    pub instance: String,
    /// Where this instance reads its config, for messages (no credentials).
    pub source: Option<String>,
    /// Server-side applies in flight at once within a wave.
    pub concurrency: usize,
    /// How long a wave may take to become healthy.
    pub health_timeout: Duration,
    /// How often unhealthy objects are re-read.
    pub poll_interval: Duration,
    /// Propagation policy of prune deletions (`Background`, `Foreground`).
    pub propagation: String,
    /// Where remote charts pinned in `plumb.lock` are cached (none: remote
    /// charts cannot be rendered).
    pub chart_cache: Option<std::path::PathBuf>,
    /// Credentials and CA for OCI chart registries.
    pub registries: Arc<crate::render::oci::auth::Registries>,
    /// Git credentials remote Kustomize bases are fetched with (the agent's own).
    pub git_credentials: crate::source::credentials::Credentials,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            inventory_namespace: "plumb-system".into(),
            instance: "plumb".into(),
            source: None,
            concurrency: 16,
            health_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(500),
            propagation: "Background".into(),
            chart_cache: None,
            registries: Arc::default(),
            git_credentials: Default::default(),
        }
    }
}

/// What to sync.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The app.
    pub app: AppContext,
    /// Its rendered objects.
    pub objects: Vec<RenderedObject>,
    /// The commit they were rendered from.
    pub commit: Option<String>,
    /// Digest of the render.
    pub render_digest: Option<String>,
    /// Enforce or report.
    pub mode: Mode,
    /// Prune settings of the app.
    pub prune: PrunePolicy,
    /// The app left plumb.yaml, and how its objects go.
    pub removal: Option<Removal>,
    /// This app's health timeout, instead of the syncer's.
    pub health_timeout: Option<Duration>,
    /// The other apps of the commit, and of other instances.
    pub ownership: Arc<Ownership>,
}

impl SyncRequest {
    /// A request to sync `objects` as `app` in enforce mode, with default
    /// prune settings and no other app to consider.
    pub fn new(app: AppContext, objects: Vec<RenderedObject>) -> Self {
        Self {
            app,
            objects,
            commit: None,
            render_digest: None,
            mode: Mode::Enforce,
            prune: PrunePolicy::default(),
            removal: None,
            health_timeout: None,
            ownership: Arc::default(),
        }
    }

    /// A request that removes `app`; its objects go as the settings its
    /// inventory recorded say (report mode or `prune: false`: they stay).
    pub fn removal(app: AppContext, how: Removal) -> Self {
        Self { removal: Some(how), ..Self::new(app, Vec::new()) }
    }
}

/// Applies apps to one cluster. Cheap to share: discovery is cached and
/// refreshed only when a render names a kind it does not know.
pub struct Syncer {
    pub(super) objects: Arc<Objects>,
    pub(super) store: InventoryStore,
    pub(super) options: SyncOptions,
    pub(super) live: Option<Arc<LiveCache>>,
    /// Set when the agent shuts down: syncs stop at the next wave boundary.
    shutdown: Option<watch::Receiver<bool>>,
    /// The last render of each app, reused while its inputs are unchanged.
    renders: Arc<RenderMemo>,
}

impl Syncer {
    /// A syncer for `cluster` (discovers it once).
    pub async fn new(cluster: SharedCluster, options: SyncOptions) -> Result<Self, ApplyError> {
        let discovery = Discovery::new(cluster.clone())
            .await
            .map_err(|source| ApplyError::Kube { what: "discover the cluster's API resources".into(), source })?;
        Ok(Self::with_discovery(Arc::new(discovery), options))
    }

    /// A syncer sharing `discovery` (and its cluster) with the rest of the agent.
    pub fn with_discovery(discovery: Arc<Discovery>, options: SyncOptions) -> Self {
        let store = InventoryStore::new(discovery.cluster().clone(), &options.inventory_namespace);
        let objects = Arc::new(Objects::new(discovery, options.concurrency));
        Self { objects, store, options, live: None, shutdown: None, renders: Arc::default() }
    }

    /// Watches the kinds of `desired` that were not served when the sync
    /// began (a CRD applied with its custom resources), so drift on them
    /// is noticed from now on.
    async fn watch_new_kinds(&self, desired: &[DesiredObject]) {
        let Some(cache) = &self.live else { return };
        let watched: HashSet<(String, String)> = cache.watched_kinds().into_iter().collect();
        let missing: HashSet<(&str, &str)> = desired
            .iter()
            .map(|o| (o.key.group.as_str(), o.key.kind.as_str()))
            .filter(|(g, k)| !watched.contains(&(g.to_string(), k.to_string())))
            .collect();
        if missing.is_empty() {
            return;
        }
        let catalog = self.objects.catalog().await;
        let resources: Vec<Resource> = missing.iter().filter_map(|(g, k)| catalog.preferred(g, k).cloned()).collect();
        if let Err(error) = cache.ensure_watched(&resources).await {
            tracing::warn!(%error, "could not watch the kinds this sync made served; the periodic re-check covers them");
        }
    }

    /// The renders this syncer's commits reuse ([`RenderMemo`]).
    pub fn renders(&self) -> &Arc<RenderMemo> {
        &self.renders
    }

    /// Stops syncs at the next wave boundary (and stops waiting for health)
    /// once `shutdown` turns true.
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Plans from `cache` instead of listing objects, and records in it what
    /// each apply left, so drift can be told from plumb's own writes.
    pub fn with_live_cache(mut self, cache: Arc<LiveCache>) -> Self {
        self.live = Some(cache);
        self
    }

    /// Object I/O (shared with the drift detector and `plumb diff`).
    pub fn objects(&self) -> &Arc<Objects> {
        &self.objects
    }

    /// The inventory store.
    pub fn store(&self) -> &InventoryStore {
        &self.store
    }

    /// Apps with an inventory owned by this instance (synced before and
    /// not removed).
    pub async fn managed_apps(&self) -> Result<Vec<String>, ApplyError> {
        let me = &self.options.instance;
        Ok(self
            .store
            .apps()
            .await?
            .into_iter()
            .filter(|a| a.instance.as_deref().unwrap_or(super::store::LEGACY_INSTANCE) == me)
            .map(|a| a.app)
            .collect())
    }

    /// The settings.
    pub fn options(&self) -> &SyncOptions {
        &self.options
    }

    pub(super) fn stopping(&self) -> bool {
        self.shutdown.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Sleeps for `pause`; false if shutdown began meanwhile.
    pub(super) async fn pause(&self, pause: Duration) -> bool {
        let Some(mut shutdown) = self.shutdown.clone() else {
            tokio::time::sleep(pause).await;
            return true;
        };
        let stopped = tokio::select! {
            _ = tokio::time::sleep(pause) => false,
            _ = shutdown.wait_for(|stop| *stop) => true,
        };
        !stopped && !self.stopping()
    }

    /// What chart renders need from this cluster: its version and API
    /// versions for `.Capabilities`, `lookup` (read-only), the chart cache
    /// and the render cache.
    pub async fn chart_env(&self) -> crate::render::helm::ChartEnv {
        let catalog = self.objects.catalog().await;
        crate::render::helm::ChartEnv {
            capabilities: crate::render::chart::Capabilities::of_cluster(
                catalog.server_version(),
                catalog.api_versions(),
            ),
            remote: self.options.chart_cache.clone().map(|dir| {
                Arc::new(
                    crate::render::remote::RemoteCharts::new(dir)
                        .with_registries(self.options.registries.clone())
                        .with_git_credentials(self.options.git_credentials.clone()),
                )
            }),
            lookup: Some(Arc::new(crate::render::lookup::ClusterLookup::new(self.objects.clone()))),
            // In the chart cache, so renders outlive restarts.
            render_cache: self.options.chart_cache.as_ref().map(|dir| dir.join("renders")),
        }
    }

    /// Syncs one app. Never panics on bad input: every failure is in the report.
    pub async fn sync(&self, request: SyncRequest) -> SyncReport {
        let started = Instant::now();
        let mut report = SyncReport::new(&request);
        let span = info_span!("sync", app = %request.app.name, commit = request.commit.as_deref().unwrap_or("-"));
        report.result = self.run(&request, &mut report).instrument(span).await;
        report.duration = started.elapsed();
        if let Some(cache) = &self.live {
            cache.stop_unused_watches();
        }
        match &report.result {
            Ok(()) => info!(app = %report.app, summary = %report.summary(), duration = ?report.duration, "synced"),
            Err(error) => info!(app = %report.app, %error, "sync failed"),
        }
        report
    }

    async fn run(&self, request: &SyncRequest, report: &mut SyncReport) -> Result<(), ApplyError> {
        let app = &request.app.name;
        let (catalog, desired) = self.desired_objects(request).await?;
        let previous = self.store.read(app).await?;
        if let Some(owner) =
            previous.as_ref().and_then(|i| i.instance.as_deref()).filter(|o| *o != self.options.instance)
        {
            return Err(PlanError::AppOfAnotherInstance { app: app.clone(), instance: owner.to_string() }.into());
        }
        // A removed app goes as it was configured when last synced.
        let settings = previous.as_ref().map(|i| i.settings).unwrap_or_default();
        let (mode, prune) = match request.removal {
            Some(_) => (if settings.report { Mode::Report } else { Mode::Enforce }, removal_policy(settings)),
            None => (request.mode, request.prune),
        };
        let keys: HashSet<&ObjectKey> = desired
            .iter()
            .map(|o| &o.key)
            .chain(previous.iter().flat_map(|i| i.entries.iter().map(|e| &e.key)))
            .collect();
        let observed = observe(
            self.objects.cluster(),
            self.live.as_deref(),
            &catalog,
            &keys,
            previous.as_ref(),
            self.options.concurrency,
        )
        .await?;
        let plan = plan(PlanInput {
            app,
            desired: &desired,
            inventory: previous.as_ref(),
            live: &observed.live,
            prune,
            removal: request.removal,
            ownership: &request.ownership,
        })?;
        let already_synced =
            previous.as_ref().is_some_and(|i| i.commit == request.commit && i.render_digest == request.render_digest);
        let sync_plan = steps(
            plan,
            StepContext {
                desired: &desired,
                enforce: mode == Mode::Enforce,
                removal: request.removal.is_some(),
                already_synced,
                has_health: super::health::has_health,
            },
        );
        fill_report(report, &sync_plan.plan, &desired);
        report.mode = mode;
        debug!(steps = ?sync_plan.steps.len(), prune = sync_plan.plan.prune.len(), "planned");
        self.expect_unchanged(&sync_plan.plan, &desired, mode == Mode::Enforce);
        if sync_plan.steps.is_empty() {
            return Ok(());
        }

        let mut working = Working::new(previous, app, &self.options, inventory_settings(request, mode));
        let mut context = super::StepRun {
            catalog,
            desired: &desired,
            plan: &sync_plan.plan,
            report,
            working: &mut working,
            deferred: HashSet::new(),
            replace: HashSet::new(),
            applied: HashMap::new(),
            waves_applied: 0,
        };
        let total = sync_plan.steps.iter().filter(|s| matches!(s, SyncStep::Apply { .. })).count();
        let mut waves_done = 0;
        let mut result = Ok(());
        for step in &sync_plan.steps {
            if let SyncStep::Apply { .. } = step {
                // A shutdown abandons the sync between waves: what was
                // applied is already in the working inventory.
                if self.stopping() {
                    result = Err(ApplyError::Interrupted { done: waves_done, total });
                    break;
                }
                waves_done += 1;
            }
            let outcome = match step {
                SyncStep::Validate(indexes) => self.validate(&mut context, indexes).await,
                SyncStep::RecordIntent => {
                    let intent = context.working.intent(context.desired, context.plan).clone();
                    self.store.write(&intent).await
                }
                SyncStep::Apply { writes, .. } => self.apply_wave(&mut context, writes, mode == Mode::Enforce).await,
                SyncStep::AwaitHealthy { objects, .. } => {
                    let timeout = request.health_timeout.unwrap_or(self.options.health_timeout);
                    match self.await_healthy(&mut context, objects, timeout).await {
                        // This wave is written; it was its health that was not awaited.
                        Err(ApplyError::Interrupted { .. }) => Err(ApplyError::Interrupted { done: waves_done, total }),
                        Err(error) => {
                            self.delete_failed_hooks(&mut context, objects).await;
                            Err(error)
                        }
                        ok => ok,
                    }
                }
                SyncStep::DeleteHooks { objects, .. } => self.delete_hooks(&context, objects).await,
                SyncStep::Prune => self.prune(&mut context).await,
                SyncStep::Orphan => self.orphan(&mut context).await,
                SyncStep::RecordResult => {
                    context.working.synced(request.commit.clone(), request.render_digest.clone());
                    let inventory = context.working.forgetting(context.plan).inventory().clone();
                    self.store.write(&inventory).await
                }
                SyncStep::CheckDrift(indexes) => {
                    self.check_drift(app, &context.catalog, context.desired, indexes).await;
                    Ok(())
                }
                SyncStep::DropInventory => {
                    if let Some(cache) = &self.live {
                        for key in cache.expected_keys(Some(app)) {
                            cache.forget(&key);
                        }
                        cache.drift().forget_app(app);
                    }
                    self.store.delete(app).await
                }
            };
            if let Err(error) = outcome {
                result = Err(error);
                break;
            }
        }
        self.watch_new_kinds(&desired).await;
        if result.is_err() && context.working.touched() {
            // What was applied (and what is gone) is recorded, so the next
            // sync, or a restarted agent, knows it.
            let inventory = context.working.forgetting(context.plan).inventory().clone();
            if let Err(error) = self.store.write(&inventory).await {
                tracing::warn!(%error, "could not record the inventory after a failed sync");
            }
        }
        if let Some(cache) = &self.live {
            for (key, why) in &sync_plan.plan.left_alone {
                if why.forgets() {
                    cache.forget(key);
                }
            }
            for key in &sync_plan.plan.gone {
                cache.forget(key);
            }
        }
        drop(observed);
        result
    }

    /// Records, for objects the plan leaves unchanged, that their live
    /// state is what plumb expects (first sync after a start, or a new
    /// desired manifest with the same content).
    fn expect_unchanged(&self, plan: &crate::plan::Plan, desired: &[DesiredObject], enforce: bool) {
        let Some(cache) = &self.live else { return };
        for step in plan.waves.iter().flatten().filter(|s| s.action == Action::Unchanged) {
            let o = &desired[step.index];
            let known = cache.expected(&o.key).is_some_and(|e| *e.desired.hash == *o.hash && e.enforce == enforce);
            if let (false, Some(entry)) = (known, cache.entry(&o.key)) {
                let expected = crate::live::Expected {
                    fingerprint: entry.fingerprint,
                    generation: entry.generation,
                    resource_version: None,
                    desired: Arc::new(crate::live::cache::KeptObject::keep(o)),
                    enforce,
                };
                cache.expect(o.key.clone(), expected);
            }
        }
    }

    /// Report mode: compares objects plumb does not apply with what it
    /// would apply (one read and one dry-run each, for objects not checked
    /// at this manifest before), records drift, and watches them from now on.
    async fn check_drift(&self, app: &str, catalog: &Catalog, desired: &[DesiredObject], indexes: &[usize]) {
        let Some(cache) = &self.live else { return };
        for &i in indexes {
            let o = &desired[i];
            // Checked at this manifest and unchanged since (objects with
            // plumb's label are watched; others are checked each sync).
            let checked = cache.expected(&o.key).is_some_and(|e| {
                *e.desired.hash == *o.hash
                    && !e.enforce
                    && cache.entry(&o.key).is_some_and(|live| live.resource_version == e.resource_version)
            });
            if checked {
                continue;
            }
            let (Ok(Some(live)), Ok(applied)) =
                (self.objects.get(catalog, &o.api_version, &o.key).await, self.objects.apply(catalog, o, true).await)
            else {
                continue;
            };
            let fields = crate::live::drift::explain_values(
                &o.key,
                &applied,
                &live,
                &crate::live::drift::ignored_pointers(&o.manifest),
            );
            let expected = crate::live::Expected {
                fingerprint: 0,
                generation: None,
                resource_version: live["metadata"]["resourceVersion"].as_str().map(String::from),
                desired: Arc::new(crate::live::cache::KeptObject::keep(o)),
                enforce: false,
            };
            cache.expect(o.key.clone(), expected);
            if fields.is_empty() {
                cache.drift().resolve(&o.key);
            } else {
                cache.drift().detected(crate::live::DriftRecord {
                    app: app.to_string(),
                    api_version: o.api_version.clone(),
                    uid: live["metadata"]["uid"].as_str().map(String::from),
                    drift: crate::live::drift::Drift {
                        key: o.key.clone(),
                        kind: crate::live::drift::DriftKind::Modified,
                        fields,
                    },
                    detected_at: std::time::SystemTime::now(),
                });
            }
        }
    }

    /// The request's objects as they would be applied (normalised).
    pub async fn desired(&self, request: &SyncRequest) -> Result<Vec<DesiredObject>, ApplyError> {
        Ok(self.desired_objects(request).await?.1)
    }

    /// Normalises the render against the cluster's kinds (refreshing
    /// discovery once if the render names a kind it does not know).
    async fn desired_objects(&self, request: &SyncRequest) -> Result<(Arc<Catalog>, Vec<DesiredObject>), ApplyError> {
        let mut catalog = self.objects.catalog().await;
        let mut refreshed = false;
        loop {
            let mut scopes = Scopes::default();
            for (group, kind, namespaced) in catalog.kinds() {
                scopes.insert(group, kind, namespaced);
            }
            scopes.add_crds(request.objects.iter().map(|o| &o.manifest));
            let mut desired = Vec::with_capacity(request.objects.len());
            let mut errors = Vec::new();
            for o in &request.objects {
                match normalise(&request.app, o.manifest.clone(), &o.origin, &scopes) {
                    Ok(d) => desired.push(d),
                    Err(e) => errors.push(e),
                }
            }
            let unknown_kind = errors.iter().any(|e| matches!(e, PlanError::UnknownKind { .. }));
            if unknown_kind && !refreshed {
                catalog = self.refresh_catalog().await?;
                refreshed = true;
                continue;
            }
            if !errors.is_empty() {
                return Err(ApplyError::Invalid(errors.into_iter().map(|e| with_unavailable(e, &catalog)).collect()));
            }
            let mut seen: HashMap<&ObjectKey, &str> = HashMap::new();
            for d in &desired {
                if let Some(first) = seen.insert(&d.key, &d.origin) {
                    return Err(ApplyError::Duplicate {
                        key: d.key.to_string(),
                        first: first.into(),
                        second: d.origin.clone(),
                    });
                }
            }
            return Ok((catalog, desired));
        }
    }

    pub(super) async fn refresh_catalog(&self) -> Result<Arc<Catalog>, ApplyError> {
        self.objects.discovery().refresh().await.map_err(|source: ClusterError| ApplyError::Kube {
            what: "discover the cluster's API resources".into(),
            source,
        })
    }
}

/// An unknown kind whose group failed discovery is named with its APIService.
fn with_unavailable(error: PlanError, catalog: &Catalog) -> PlanError {
    match error {
        PlanError::UnknownKind { origin, api_version, kind } => {
            match catalog.failure_of(ObjectKey::group_of(&api_version)) {
                Some((gv, failure)) => PlanError::KindUnavailable {
                    origin,
                    api_version,
                    kind,
                    apiservice: crate::cluster::objects::apiservice_name(gv),
                    reason: failure.to_string(),
                },
                None => PlanError::UnknownKind { origin, api_version, kind },
            }
        }
        other => other,
    }
}

/// The prune policy a removed app had (recorded in its inventory).
fn removal_policy(settings: AppSettings) -> PrunePolicy {
    PrunePolicy {
        enabled: !settings.no_prune,
        crds: settings.prune_crds,
        non_empty_namespaces: settings.prune_non_empty_namespaces,
        ..PrunePolicy::default()
    }
}

/// What the inventory records of the app's settings, for its removal.
fn inventory_settings(request: &SyncRequest, mode: Mode) -> Option<AppSettings> {
    request.removal.is_none().then_some(AppSettings {
        report: mode == Mode::Report,
        no_prune: !request.prune.enabled,
        prune_crds: request.prune.crds,
        prune_non_empty_namespaces: request.prune.non_empty_namespaces,
    })
}

/// The inventory as a sync builds it.
pub(super) fn new_inventory(app: &str, options: &SyncOptions) -> Inventory {
    Inventory {
        app: app.to_string(),
        instance: Some(options.instance.clone()),
        source: options.source.clone(),
        ..Inventory::default()
    }
}
