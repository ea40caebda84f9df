//! One sync of one app, from rendered objects to an updated inventory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use kube::api::{DeleteParams, PropagationPolicy};
use serde_json::Value;
use tracing::{Instrument, debug, info, info_span};

use super::catalog::Catalog;
use super::health::{Health, health};
use super::objects::{Objects, api_message};
use super::observe::live_meta;
use super::report::{SyncReport, fill_report};
use super::store::InventoryStore;
use super::{ApplyError, ObjectFailure};
use crate::live::drift::explain;
use crate::live::{Expected, LiveCache};
use crate::plan::changes::plan;
use crate::plan::{
    Action, AppContext, DesiredObject, Inventory, InventoryEntry, LeftAlone, ObjectKey, Plan, PlanError, PlanInput,
    PrunePolicy, RenderedObject, normalise,
};

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
    /// Server-side applies in flight at once within a wave.
    pub concurrency: usize,
    /// How long a wave may take to become healthy.
    pub health_timeout: Duration,
    /// How often unhealthy objects are re-read.
    pub poll_interval: Duration,
    /// Propagation policy of prune deletions.
    pub propagation: PropagationPolicy,
    /// Where remote charts pinned in `plumb.lock` are cached (none: remote
    /// charts cannot be rendered).
    pub chart_cache: Option<std::path::PathBuf>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            inventory_namespace: "plumb-system".into(),
            concurrency: 16,
            health_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(500),
            propagation: PropagationPolicy::Background,
            chart_cache: None,
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
    /// The app left plumb.yaml: prune everything it owns and drop its inventory.
    pub remove_app: bool,
    /// This app's health timeout, instead of the syncer's.
    pub health_timeout: Option<Duration>,
}

impl SyncRequest {
    /// A request that removes `app`: everything it owns is pruned (objects
    /// marked `plumb.dev/prune: disabled` or relabelled stay).
    pub fn removal(app: AppContext, mode: Mode) -> Self {
        Self {
            app,
            objects: Vec::new(),
            commit: None,
            render_digest: None,
            mode,
            prune: PrunePolicy::default(),
            remove_app: true,
            health_timeout: None,
        }
    }
}

/// Applies apps to one cluster. Cheap to share: discovery is cached and
/// refreshed only when a render names a kind it does not know.
pub struct Syncer {
    objects: Objects,
    store: InventoryStore,
    options: SyncOptions,
    live: Option<Arc<LiveCache>>,
    in_flight: Mutex<HashSet<ObjectKey>>,
    /// Set when the agent shuts down: syncs stop at the next wave boundary.
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

/// What [`Syncer::apply_waves`] works through.
#[derive(Clone, Copy)]
struct Waves<'a> {
    /// The normalised objects.
    desired: &'a [DesiredObject],
    /// The plan over them.
    plan: &'a Plan,
    /// Objects validated only right before their wave.
    deferred: &'a [usize],
    /// How long each wave may take to become healthy.
    timeout: Duration,
    /// Drift of these objects is corrected (enforce mode).
    enforce: bool,
}

impl Syncer {
    /// A syncer for the cluster `client` talks to.
    pub async fn new(client: kube::Client, options: SyncOptions) -> Result<Self, ApplyError> {
        let objects = Objects::new(client.clone(), options.concurrency).await?;
        let store = InventoryStore::new(client, &options.inventory_namespace);
        Ok(Self { objects, store, options, live: None, in_flight: Mutex::default(), shutdown: None })
    }

    /// Stops syncs at the next wave boundary (and stops waiting for health)
    /// once `shutdown` turns true.
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    fn stopping(&self) -> bool {
        self.shutdown.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Sleeps for `pause`; false if shutdown began meanwhile.
    async fn pause(&self, pause: Duration) -> bool {
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
    /// versions for `.Capabilities`, and the chart cache.
    pub async fn chart_env(&self) -> crate::render::helm::ChartEnv {
        let catalog = self.objects.catalog().await;
        crate::render::helm::ChartEnv {
            capabilities: catalog.capabilities(),
            remote: self.options.chart_cache.clone().map(|dir| Arc::new(crate::render::remote::RemoteCharts::new(dir))),
        }
    }

    /// Plans from `cache` instead of listing objects, and records in it what
    /// each apply left, so drift can be told from plumb's own writes.
    pub fn with_live_cache(mut self, cache: Arc<LiveCache>) -> Self {
        self.live = Some(cache);
        self
    }

    /// True while a sync is applying `key`.
    pub fn in_flight(&self, key: &ObjectKey) -> bool {
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(key)
    }

    fn set_in_flight(&self, keys: impl IntoIterator<Item = ObjectKey>, on: bool) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in keys {
            if on {
                in_flight.insert(key);
            } else {
                in_flight.remove(&key);
            }
        }
    }

    /// Server-side applies one object (or dry-runs it), outside a sync:
    /// drift correction and drift diffs.
    pub async fn apply_object(&self, o: &DesiredObject, dry_run: bool) -> Result<Value, String> {
        let catalog = self.objects.catalog().await;
        self.objects.apply(&catalog, o, dry_run).await
    }

    /// Reads one object as it is in the cluster.
    pub async fn get_object(&self, o: &DesiredObject) -> Result<Option<Value>, String> {
        let catalog = self.objects.catalog().await;
        self.objects.get(&catalog, o).await
    }

    /// Syncs one app. Never panics on bad input: every failure is in the report.
    pub async fn sync(&self, request: SyncRequest) -> SyncReport {
        let started = Instant::now();
        let mut report = SyncReport {
            app: request.app.name.clone(),
            commit: request.commit.clone(),
            render_digest: request.render_digest.clone(),
            removal: request.remove_app,
            mode: request.mode,
            objects: Vec::new(),
            waves: 0,
            result: Ok(()),
            duration: Duration::ZERO,
            index: Default::default(),
        };
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

    /// Apps that have an inventory (synced before and not removed).
    pub async fn managed_apps(&self) -> Result<Vec<String>, ApplyError> {
        self.store.apps().await
    }

    async fn run(&self, request: &SyncRequest, report: &mut SyncReport) -> Result<(), ApplyError> {
        let app = &request.app.name;
        let (catalog, desired) = self.desired_objects(request).await?;
        let previous = self.store.read(app).await?;
        let kinds: BTreeSet<(String, String)> = desired
            .iter()
            .map(|o| &o.key)
            .chain(previous.iter().flat_map(|i| i.entries.iter().map(|e| &e.key)))
            .map(|k| (k.group.clone(), k.kind.clone()))
            .collect();
        // The lease keeps the watches of these kinds until the sync ends.
        let (live, _lease) = live_meta(
            self.objects.client(),
            self.live.as_deref(),
            &catalog,
            app,
            &kinds,
            previous.as_ref(),
            self.options.concurrency,
        )
        .await?;
        let plan = plan(PlanInput {
            app,
            desired: &desired,
            inventory: previous.as_ref(),
            live: &live,
            prune: request.prune,
            remove_app: request.remove_app,
        })?;
        fill_report(report, &plan, &desired);
        debug!(waves = plan.waves.len(), prune = plan.prune.len(), "planned");
        let enforce = request.mode == Mode::Enforce;
        self.expect_unchanged(&plan, &desired, enforce);
        if !enforce {
            return Ok(());
        }

        let unchanged_inventory =
            previous.as_ref().is_some_and(|i| i.commit == request.commit && i.render_digest == request.render_digest);
        if plan.is_noop() && plan.gone.is_empty() && unchanged_inventory {
            return Ok(());
        }

        // Validate every changed object the cluster can already check
        // before the first write; the rest (kinds whose CRD, or objects
        // whose Namespace, arrives in this sync) are checked right before
        // their wave, once what they need is applied and healthy.
        let steps = || plan.waves.iter().flatten();
        let writes: Vec<usize> = steps().filter(|s| s.action != Action::Unchanged).map(|s| s.index).collect();
        let new_namespaces: BTreeSet<&str> = steps()
            .filter(|s| {
                s.action == Action::Create
                    && desired[s.index].key.group.is_empty()
                    && desired[s.index].key.kind == "Namespace"
            })
            .map(|s| desired[s.index].key.name.as_str())
            .collect();
        let (checkable, deferred): (Vec<usize>, Vec<usize>) = writes.iter().partition(|&&i| {
            let o = &desired[i];
            catalog.resolve(&o.api_version, &o.key.kind).is_some()
                && !o.key.namespace.as_deref().is_some_and(|ns| new_namespaces.contains(ns))
        });
        self.dry_run(&catalog, &desired, &checkable).await?;

        let mut working = previous.clone().unwrap_or_else(|| Inventory { app: app.clone(), ..Default::default() });
        let mut index = inventory_index(&working);
        for &i in &writes {
            upsert(&mut working, &mut index, &desired[i], String::new(), 0);
        }
        working.sort();
        self.store.write(&working).await?;

        let waves = Waves {
            desired: &desired,
            plan: &plan,
            deferred: &deferred,
            timeout: request.health_timeout.unwrap_or(self.options.health_timeout),
            enforce,
        };
        let applied = self.apply_waves(catalog, &waves, &mut working, report).await;
        let pruned = match &applied {
            Ok(()) => self.prune(&plan, &mut working, report).await,
            Err(_) => Ok(()),
        };
        let forgotten: BTreeSet<&ObjectKey> = plan
            .gone
            .iter()
            .chain(plan.left_alone.iter().filter(|(_, why)| *why == LeftAlone::NotOwned).map(|(k, _)| k))
            .collect();
        working.entries.retain(|e| !forgotten.contains(&e.key));
        if let Some(cache) = &self.live {
            forgotten.iter().for_each(|k| cache.forget(k));
        }
        if applied.is_ok() && pruned.is_ok() {
            working.commit = request.commit.clone();
            working.render_digest = request.render_digest.clone();
        }
        working.sort();
        if request.remove_app && applied.is_ok() && pruned.is_ok() {
            self.store.delete(app).await?;
        } else {
            self.store.write(&working).await?;
        }
        applied.and(pruned)
    }

    /// Records, for objects the plan leaves unchanged, that their live
    /// state is what plumb expects (first sync after a start, or a new
    /// desired manifest with the same content).
    fn expect_unchanged(&self, plan: &Plan, desired: &[DesiredObject], enforce: bool) {
        let Some(cache) = &self.live else { return };
        for step in plan.waves.iter().flatten().filter(|s| s.action == Action::Unchanged) {
            let o = &desired[step.index];
            let known = cache.expected(&o.key).is_some_and(|e| e.desired.hash == o.hash && e.enforce == enforce);
            if let (false, Some(entry)) = (known, cache.entry(&o.key)) {
                let expected = Expected {
                    fingerprint: entry.fingerprint,
                    generation: entry.generation,
                    desired: Arc::new(o.clone()),
                    enforce,
                };
                cache.expect(o.key.clone(), expected);
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
            let mut scopes = catalog.scopes();
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
                catalog = self.objects.refresh_catalog().await?;
                refreshed = true;
                continue;
            }
            if !errors.is_empty() {
                return Err(ApplyError::Invalid(errors));
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

    async fn dry_run(&self, catalog: &Catalog, desired: &[DesiredObject], indexes: &[usize]) -> Result<(), ApplyError> {
        let mut failures: Vec<ObjectFailure> = self
            .objects
            .apply_many(catalog, desired, indexes, true)
            .await
            .into_iter()
            .filter_map(|(i, result, _)| result.err().map(|message| failure(&desired[i], message)))
            .collect();
        if failures.is_empty() {
            return Ok(());
        }
        failures.sort_by(|a, b| a.object.cmp(&b.object));
        Err(ApplyError::DryRunRejected(failures))
    }

    /// Applies the plan's waves in order, each healthy before the next.
    async fn apply_waves(
        &self,
        mut catalog: Arc<Catalog>,
        waves: &Waves<'_>,
        working: &mut Inventory,
        report: &mut SyncReport,
    ) -> Result<(), ApplyError> {
        let Waves { desired, plan, deferred, timeout, enforce } = *waves;
        let total = plan.waves.len();
        let mut index = inventory_index(working);
        for (done, wave) in plan.waves.iter().enumerate() {
            let writes: Vec<usize> = wave.iter().filter(|s| s.action != Action::Unchanged).map(|s| s.index).collect();
            if writes.is_empty() {
                continue;
            }
            // A shutdown abandons the sync between waves: what was applied
            // is already in the working inventory.
            if self.stopping() {
                return Err(ApplyError::Interrupted { done, total });
            }
            let late: Vec<usize> = writes.iter().copied().filter(|i| deferred.contains(i)).collect();
            if !late.is_empty() {
                // Their CRDs and Namespaces were applied and became healthy
                // in earlier waves.
                if late.iter().any(|&i| catalog.resolve(&desired[i].api_version, &desired[i].key.kind).is_none()) {
                    catalog = self.objects.refresh_catalog().await?;
                }
                self.dry_run(&catalog, desired, &late).await?;
            }
            let keys = || writes.iter().map(|&i| desired[i].key.clone());
            self.set_in_flight(keys(), true);
            // Updates are read first so the change set can name the
            // fields they change (one GET per updated object).
            let updates: Vec<usize> = wave.iter().filter(|s| s.action == Action::Update).map(|s| s.index).collect();
            let current: &Catalog = &catalog;
            let before: HashMap<usize, Value> = stream::iter(updates)
                .map(|i| async move { (i, self.objects.get(current, &desired[i]).await.ok().flatten()) })
                .buffer_unordered(self.options.concurrency.max(1))
                .filter_map(|(i, live)| async move { live.map(|l| (i, l)) })
                .collect()
                .await;
            let results = self.objects.apply_many(&catalog, desired, &writes, false).await;
            let mut healthy_wait = Vec::new();
            let mut failures = Vec::new();
            for (i, result, duration) in results {
                let o = &desired[i];
                match result {
                    Ok(object) => {
                        let expected = Expected::of(&object, Arc::new(o.clone()), enforce);
                        upsert(working, &mut index, o, o.hash.clone(), expected.fingerprint);
                        if let Some(cache) = &self.live {
                            cache.applied(o.key.clone(), expected);
                        }
                        report.record(&o.key, Ok(()), duration);
                        if let Some(previous) = before.get(&i) {
                            let changed = explain(&o.key, &object, previous, &[]).into_iter().map(|f| f.path).collect();
                            report.record_fields(&o.key, changed);
                        }
                        healthy_wait.push((i, object));
                    }
                    Err(message) => {
                        report.record(&o.key, Err(message.clone()), duration);
                        failures.push(failure(o, message));
                    }
                }
            }
            self.set_in_flight(keys(), false);
            if !failures.is_empty() {
                failures.sort_by(|a, b| a.object.cmp(&b.object));
                return Err(ApplyError::ApplyFailed(failures));
            }
            match self.wait_healthy(&catalog, desired, healthy_wait, timeout).await {
                // This wave is written; it was its health that was not awaited.
                Err(ApplyError::Interrupted { .. }) => return Err(ApplyError::Interrupted { done: done + 1, total }),
                other => other?,
            }
        }
        Ok(())
    }

    /// Waits until every object is healthy; fails fast on a terminal state.
    async fn wait_healthy(
        &self,
        catalog: &Catalog,
        desired: &[DesiredObject],
        mut pending: Vec<(usize, Value)>,
        timeout: Duration,
    ) -> Result<(), ApplyError> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut waiting = Vec::new();
            for (i, object) in pending {
                let o = &desired[i];
                match health(&o.key.group, &o.key.kind, &object) {
                    Health::Ready => {}
                    Health::Failed(reason) => return Err(ApplyError::Unhealthy { object: o.key.to_string(), reason }),
                    Health::InProgress(reason) => waiting.push((i, object, reason)),
                }
            }
            let Some((first, _, reason)) = waiting.first() else { return Ok(()) };
            if Instant::now() >= deadline {
                return Err(ApplyError::HealthTimeout {
                    object: desired[*first].key.to_string(),
                    reason: reason.clone(),
                    timeout,
                });
            }
            if !self.pause(self.options.poll_interval).await {
                return Err(ApplyError::Interrupted { done: 0, total: 0 });
            }
            pending = stream::iter(waiting)
                .map(|(i, last, _)| async move {
                    // A failed read is retried on the next round.
                    let fresh = self.objects.get(catalog, &desired[i]).await.ok().flatten();
                    (i, fresh.unwrap_or(last))
                })
                .buffer_unordered(self.options.concurrency.max(1))
                .collect()
                .await;
        }
    }

    /// Deletes what left Git, in plan order (reverse kind rank), and waits
    /// for Namespaces and CRDs to be gone.
    async fn prune(&self, plan: &Plan, working: &mut Inventory, report: &mut SyncReport) -> Result<(), ApplyError> {
        let catalog = self.objects.catalog().await;
        let params = DeleteParams { propagation_policy: Some(self.options.propagation.clone()), ..Default::default() };
        let mut failures = Vec::new();
        let mut wait_gone = Vec::new();
        for entry in &plan.prune {
            let started = Instant::now();
            let result = match self.objects.api_for(&catalog, &entry.api_version, &entry.key) {
                Ok(api) => match api.delete(&entry.key.name, &params).await {
                    Ok(_) => Ok(Some(api)),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                    Err(e) => Err(api_message(e)),
                },
                Err(message) => Err(message),
            };
            report.record(&entry.key, result.as_ref().map(|_| ()).map_err(Clone::clone), started.elapsed());
            match result {
                Ok(api) => {
                    working.entries.retain(|e| e.key != entry.key);
                    if let Some(cache) = &self.live {
                        cache.forget(&entry.key);
                    }
                    if matches!(entry.key.kind.as_str(), "Namespace" | "CustomResourceDefinition") {
                        wait_gone.extend(api.map(|api| (api, entry)));
                    }
                }
                Err(message) => {
                    failures.push(ObjectFailure { object: entry.key.to_string(), origin: "inventory".into(), message })
                }
            }
        }
        let deadline = Instant::now() + self.options.health_timeout;
        for (api, entry) in wait_gone {
            while matches!(api.get_opt(&entry.key.name).await, Ok(Some(_))) {
                if Instant::now() >= deadline {
                    failures.push(ObjectFailure {
                        object: entry.key.to_string(),
                        origin: "inventory".into(),
                        message: format!("still terminating after {:?}", self.options.health_timeout),
                    });
                    break;
                }
                tokio::time::sleep(self.options.poll_interval).await;
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(ApplyError::PruneFailed(failures)) }
    }
}

/// Where each object is in the inventory's entries (large apps have
/// thousands: a linear search per applied object would be quadratic).
fn inventory_index(inventory: &Inventory) -> HashMap<ObjectKey, usize> {
    inventory.entries.iter().enumerate().map(|(i, e)| (e.key.clone(), i)).collect()
}

fn upsert(
    inventory: &mut Inventory,
    index: &mut HashMap<ObjectKey, usize>,
    o: &DesiredObject,
    hash: String,
    fields: u64,
) {
    match index.get(&o.key).and_then(|&i| inventory.entries.get_mut(i)) {
        Some(e) => {
            e.api_version = o.api_version.clone();
            e.hash = hash;
            e.fields = fields;
        }
        None => {
            index.insert(o.key.clone(), inventory.entries.len());
            inventory.entries.push(InventoryEntry {
                key: o.key.clone(),
                api_version: o.api_version.clone(),
                hash,
                fields,
            });
        }
    }
}

fn failure(o: &DesiredObject, message: String) -> ObjectFailure {
    ObjectFailure { object: o.key.to_string(), origin: o.origin.clone(), message }
}
