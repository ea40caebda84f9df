//! One sync of one app, from rendered objects to an updated inventory.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, PartialObjectMeta, Patch, PatchParams, PropagationPolicy,
};
use kube::discovery::ApiResource;
use serde_json::Value;
use tokio::sync::RwLock;
use tracing::{Instrument, debug, info, info_span};

use super::catalog::Catalog;
use super::health::{Health, health};
use super::store::InventoryStore;
use super::{ApplyError, ObjectFailure};
use crate::plan::changes::plan;
use crate::plan::{
    APP_LABEL, Action, AppContext, DesiredObject, FIELD_MANAGER, Inventory, InventoryEntry, LeftAlone, LiveMeta,
    ObjectKey, PRUNE_ANNOTATION, Plan, PlanError, PlanInput, PrunePolicy, RenderedObject, normalise,
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
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            inventory_namespace: "plumb-system".into(),
            concurrency: 16,
            health_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(500),
            propagation: PropagationPolicy::Background,
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

/// What the plan decided for an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectAction {
    /// Created (or would be).
    Create,
    /// Updated (or would be).
    Update,
    /// Already as desired.
    Unchanged,
    /// Deleted because it left Git (or would be).
    Prune,
    /// Left Git but kept.
    LeftAlone(LeftAlone),
    /// Left Git and was already gone.
    Gone,
}

impl ObjectAction {
    /// Lower-case name for metrics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectAction::Create => "create",
            ObjectAction::Update => "update",
            ObjectAction::Unchanged => "unchanged",
            ObjectAction::Prune => "prune",
            ObjectAction::LeftAlone(_) => "left-alone",
            ObjectAction::Gone => "gone",
        }
    }
}

/// One object's part in a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectReport {
    /// The object.
    pub key: ObjectKey,
    /// What the plan decided.
    pub action: ObjectAction,
    /// The action was carried out (false in report mode or after a failure).
    pub done: bool,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Time the write took.
    pub duration: Duration,
}

/// The change set of one sync.
#[derive(Debug)]
pub struct SyncReport {
    /// The app.
    pub app: String,
    /// The commit synced.
    pub commit: Option<String>,
    /// Enforce or report.
    pub mode: Mode,
    /// Every object the plan covered, in plan order.
    pub objects: Vec<ObjectReport>,
    /// Number of apply waves.
    pub waves: usize,
    /// Success, or why the sync failed.
    pub result: Result<(), ApplyError>,
    /// Wall time.
    pub duration: Duration,
}

impl SyncReport {
    /// A report for a sync that could not start.
    pub fn failed(app: &str, commit: &str, error: ApplyError) -> Self {
        Self {
            app: app.to_string(),
            commit: Some(commit.to_string()),
            mode: Mode::Enforce,
            objects: Vec::new(),
            waves: 0,
            result: Err(error),
            duration: Duration::ZERO,
        }
    }

    /// Objects with `action`, carried out or not.
    pub fn planned(&self, action: ObjectAction) -> Vec<&ObjectKey> {
        self.objects.iter().filter(|o| o.action == action).map(|o| &o.key).collect()
    }

    /// Number of objects with `action` that were carried out.
    pub fn done(&self, action: ObjectAction) -> usize {
        self.objects.iter().filter(|o| o.action == action && o.done).count()
    }

    /// `created 1, configured 2, pruned 0, unchanged 5`.
    pub fn summary(&self) -> String {
        format!(
            "created {}, configured {}, pruned {}, unchanged {}",
            self.done(ObjectAction::Create),
            self.done(ObjectAction::Update),
            self.done(ObjectAction::Prune),
            self.planned(ObjectAction::Unchanged).len()
        )
    }

    fn record(&mut self, key: &ObjectKey, outcome: Result<(), String>, duration: Duration) {
        if let Some(o) = self.objects.iter_mut().find(|o| &o.key == key) {
            o.done = outcome.is_ok();
            o.error = outcome.err();
            o.duration = duration;
        }
    }
}

/// Applies apps to one cluster. Cheap to share: discovery is cached and
/// refreshed only when a render names a kind it does not know.
pub struct Syncer {
    client: kube::Client,
    catalog: RwLock<Arc<Catalog>>,
    store: InventoryStore,
    options: SyncOptions,
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
}

/// The result of one object's apply: the object as the server returned it.
type Applied = Result<Value, String>;

impl Syncer {
    /// A syncer for the cluster `client` talks to.
    pub async fn new(client: kube::Client, options: SyncOptions) -> Result<Self, ApplyError> {
        let catalog = Catalog::discover(&client).await?;
        let store = InventoryStore::new(client.clone(), &options.inventory_namespace);
        Ok(Self { client, catalog: RwLock::new(Arc::new(catalog)), store, options })
    }

    /// Syncs one app. Never panics on bad input: every failure is in the report.
    pub async fn sync(&self, request: SyncRequest) -> SyncReport {
        let started = Instant::now();
        let mut report = SyncReport {
            app: request.app.name.clone(),
            commit: request.commit.clone(),
            mode: request.mode,
            objects: Vec::new(),
            waves: 0,
            result: Ok(()),
            duration: Duration::ZERO,
        };
        let span = info_span!("sync", app = %request.app.name, commit = request.commit.as_deref().unwrap_or("-"));
        report.result = self.run(&request, &mut report).instrument(span).await;
        report.duration = started.elapsed();
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
        let live = self.live_meta(&catalog, app, &kinds).await?;
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
        if request.mode == Mode::Report {
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
        for &i in &writes {
            upsert(&mut working, &desired[i], String::new());
        }
        working.sort();
        self.store.write(&working).await?;

        let waves = Waves {
            desired: &desired,
            plan: &plan,
            deferred: &deferred,
            timeout: request.health_timeout.unwrap_or(self.options.health_timeout),
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

    /// Normalises the render against the cluster's kinds (refreshing
    /// discovery once if the render names a kind it does not know).
    async fn desired_objects(&self, request: &SyncRequest) -> Result<(Arc<Catalog>, Vec<DesiredObject>), ApplyError> {
        let mut catalog = self.catalog.read().await.clone();
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
                catalog = self.refresh_catalog().await?;
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

    async fn refresh_catalog(&self) -> Result<Arc<Catalog>, ApplyError> {
        let fresh = Arc::new(Catalog::discover(&self.client).await?);
        *self.catalog.write().await = fresh.clone();
        Ok(fresh)
    }

    /// Live metadata of the app's objects: one label-selected,
    /// metadata-only list per kind.
    async fn live_meta(
        &self,
        catalog: &Catalog,
        app: &str,
        kinds: &BTreeSet<(String, String)>,
    ) -> Result<HashMap<ObjectKey, LiveMeta>, ApplyError> {
        let selector = format!("{APP_LABEL}={app}");
        let targets: Vec<(ApiResource, String, String)> = kinds
            .iter()
            .filter_map(|(group, kind)| Some((catalog.preferred(group, kind)?.0, group.clone(), kind.clone())))
            .collect();
        let lists: Vec<(String, String, Vec<PartialObjectMeta<DynamicObject>>)> = stream::iter(targets)
            .map(|(resource, group, kind)| {
                let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
                let params = ListParams::default().labels(&selector);
                let selector = selector.clone();
                async move {
                    let list = api.list_metadata(&params).await.map_err(|source| ApplyError::Kube {
                        what: format!("list {kind} objects labelled {selector}"),
                        source,
                    })?;
                    Ok::<_, ApplyError>((group, kind, list.items))
                }
            })
            .buffer_unordered(self.options.concurrency)
            .try_collect()
            .await?;
        let mut live = HashMap::new();
        for (group, kind, items) in lists {
            for item in items {
                let meta = item.metadata;
                let key = ObjectKey {
                    group: group.clone(),
                    kind: kind.clone(),
                    namespace: meta.namespace.clone(),
                    name: meta.name.clone().unwrap_or_default(),
                };
                let applied_by_plumb =
                    meta.managed_fields.iter().flatten().any(|m| {
                        m.manager.as_deref() == Some(FIELD_MANAGER) && m.operation.as_deref() == Some("Apply")
                    });
                live.insert(
                    key,
                    LiveMeta {
                        app_label: meta.labels.as_ref().and_then(|l| l.get(APP_LABEL)).cloned(),
                        prune_disabled: meta
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(PRUNE_ANNOTATION))
                            .map(String::as_str)
                            == Some("disabled"),
                        applied_by_plumb,
                    },
                );
            }
        }
        Ok(live)
    }

    fn api_for(&self, catalog: &Catalog, api_version: &str, key: &ObjectKey) -> Result<Api<DynamicObject>, String> {
        let (resource, namespaced) = catalog
            .resolve(api_version, &key.kind)
            .or_else(|| catalog.preferred(&key.group, &key.kind))
            .ok_or_else(|| format!("the cluster does not serve {api_version} {}", key.kind))?;
        Ok(match (&key.namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Server-side applies `indexes` (bounded concurrency); each result is
    /// the object as the server returned it, or the server's message.
    async fn apply_many(
        &self,
        catalog: &Catalog,
        desired: &[DesiredObject],
        indexes: &[usize],
        dry_run: bool,
    ) -> Vec<(usize, Applied, Duration)> {
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        let params = &params;
        stream::iter(indexes.iter().copied())
            .map(|i| async move {
                let started = Instant::now();
                let o = &desired[i];
                let result = async {
                    let api = self.api_for(catalog, &o.api_version, &o.key)?;
                    let applied =
                        api.patch(&o.key.name, params, &Patch::Apply(&o.manifest)).await.map_err(api_message)?;
                    serde_json::to_value(applied).map_err(|e| e.to_string())
                }
                .await;
                (i, result, started.elapsed())
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await
    }

    async fn dry_run(&self, catalog: &Catalog, desired: &[DesiredObject], indexes: &[usize]) -> Result<(), ApplyError> {
        let mut failures: Vec<ObjectFailure> = self
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
        let Waves { desired, plan, deferred, timeout } = *waves;
        for wave in &plan.waves {
            let writes: Vec<usize> = wave.iter().filter(|s| s.action != Action::Unchanged).map(|s| s.index).collect();
            if writes.is_empty() {
                continue;
            }
            let late: Vec<usize> = writes.iter().copied().filter(|i| deferred.contains(i)).collect();
            if !late.is_empty() {
                // Their CRDs and Namespaces were applied and became healthy
                // in earlier waves.
                if late.iter().any(|&i| catalog.resolve(&desired[i].api_version, &desired[i].key.kind).is_none()) {
                    catalog = self.refresh_catalog().await?;
                }
                self.dry_run(&catalog, desired, &late).await?;
            }
            let mut healthy_wait = Vec::new();
            let mut failures = Vec::new();
            for (i, result, duration) in self.apply_many(&catalog, desired, &writes, false).await {
                let o = &desired[i];
                match result {
                    Ok(object) => {
                        upsert(working, o, o.hash.clone());
                        report.record(&o.key, Ok(()), duration);
                        healthy_wait.push((i, object));
                    }
                    Err(message) => {
                        report.record(&o.key, Err(message.clone()), duration);
                        failures.push(failure(o, message));
                    }
                }
            }
            if !failures.is_empty() {
                failures.sort_by(|a, b| a.object.cmp(&b.object));
                return Err(ApplyError::ApplyFailed(failures));
            }
            self.wait_healthy(&catalog, desired, healthy_wait, timeout).await?;
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
            tokio::time::sleep(self.options.poll_interval).await;
            pending = stream::iter(waiting)
                .map(|(i, last, _)| async move {
                    let o = &desired[i];
                    let fresh = match self.api_for(catalog, &o.api_version, &o.key) {
                        Ok(api) => api.get(&o.key.name).await.ok().and_then(|d| serde_json::to_value(d).ok()),
                        Err(_) => None,
                    };
                    // A failed read is retried on the next round.
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
        let catalog = self.catalog.read().await.clone();
        let params = DeleteParams { propagation_policy: Some(self.options.propagation.clone()), ..Default::default() };
        let mut failures = Vec::new();
        let mut wait_gone = Vec::new();
        for entry in &plan.prune {
            let started = Instant::now();
            let result = match self.api_for(&catalog, &entry.api_version, &entry.key) {
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

fn fill_report(report: &mut SyncReport, plan: &Plan, desired: &[DesiredObject]) {
    report.waves = plan.waves.len();
    let entry = |key: &ObjectKey, action| ObjectReport {
        key: key.clone(),
        action,
        done: false,
        error: None,
        duration: Duration::ZERO,
    };
    for step in plan.waves.iter().flatten() {
        let action = match step.action {
            Action::Create => ObjectAction::Create,
            Action::Update => ObjectAction::Update,
            Action::Unchanged => ObjectAction::Unchanged,
        };
        report.objects.push(entry(&desired[step.index].key, action));
    }
    report.objects.extend(plan.prune.iter().map(|e| entry(&e.key, ObjectAction::Prune)));
    report.objects.extend(plan.left_alone.iter().map(|(k, why)| entry(k, ObjectAction::LeftAlone(*why))));
    report.objects.extend(plan.gone.iter().map(|k| entry(k, ObjectAction::Gone)));
}

fn upsert(inventory: &mut Inventory, o: &DesiredObject, hash: String) {
    match inventory.entries.iter_mut().find(|e| e.key == o.key) {
        Some(e) => {
            e.api_version = o.api_version.clone();
            e.hash = hash;
        }
        None => inventory.entries.push(InventoryEntry { key: o.key.clone(), api_version: o.api_version.clone(), hash }),
    }
}

fn failure(o: &DesiredObject, message: String) -> ObjectFailure {
    ObjectFailure { object: o.key.to_string(), origin: o.origin.clone(), message }
}

/// The API server's message for a failed request (its Status message).
fn api_message(error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    }
}
