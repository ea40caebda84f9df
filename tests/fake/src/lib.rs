//! A fake cluster for plumb's executor tests: objects in memory behind
//! plumb's cluster seam ([`plumb::cluster::Cluster`]), every request
//! recorded, and failures injected per request (an HTTP status with its
//! reason, a timeout, or a watch that expires).
//!
//! It models what the executors rely on, not all of Kubernetes:
//! server-side apply merges maps and replaces lists, records the manager's
//! fields in `managedFields` (taking them from other managers), bumps
//! `resourceVersion` on every write and `generation` on spec changes;
//! deletes honour uid and resourceVersion preconditions; updates need the
//! current resourceVersion; label selectors `key` and `key=value`; watches
//! replay changes after a resourceVersion and expire (410) when asked.
//! Workloads, Namespaces and CRDs get a ready status when written, unless
//! annotated `fake.plumb.dev/unhealthy`.

mod objects;
mod watch;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream::BoxStream;
use plumb::cluster::{
    ApiDiscovery, Cluster, ClusterError, DeleteOptions, Deleted, GroupVersionResources, MetaList, Resource, Target,
    WatchEvent,
};
use serde_json::Value;

pub use objects::{UNHEALTHY_ANNOTATION, fields_of};

/// A request verb, as the fake records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// Discovery.
    Discover,
    /// GET of one object.
    Get,
    /// A metadata list.
    List,
    /// A metadata watch.
    Watch,
    /// Server-side apply (or its dry-run).
    Apply,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// DELETE.
    Delete,
}

impl Verb {
    /// True for verbs that change state (unless dry-run).
    pub fn writes(self) -> bool {
        matches!(self, Verb::Apply | Verb::Create | Verb::Update | Verb::Delete)
    }
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The verb.
    pub verb: Verb,
    /// The kind addressed (empty for discovery).
    pub kind: String,
    /// The namespace, if any.
    pub namespace: Option<String>,
    /// The object's name, if one.
    pub name: Option<String>,
    /// A dry-run.
    pub dry_run: bool,
}

impl Request {
    /// True for a request that changed (or would have changed) state.
    pub fn is_write(&self) -> bool {
        self.verb.writes() && !self.dry_run
    }

    /// `verb kind/name`, for compact assertions (`apply ConfigMap/a`,
    /// `dry-run ConfigMap/a`, `list ConfigMap`).
    pub fn short(&self) -> String {
        let verb = match (self.verb, self.dry_run) {
            (Verb::Apply, true) => "dry-run".to_string(),
            (verb, _) => format!("{verb:?}").to_lowercase(),
        };
        match &self.name {
            Some(name) => format!("{verb} {}/{name}", self.kind),
            None if self.kind.is_empty() => verb,
            None => format!("{verb} {}", self.kind),
        }
    }
}

/// What an injected fault does.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// The API answers with this error.
    Error(ClusterError),
    /// The request hangs for this long, then times out (a stalled API
    /// server or etcd).
    Stall(std::time::Duration),
}

/// A fault for the requests it matches, the next `times` of them.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Matches this verb only.
    pub verb: Verb,
    /// Matches this kind only (any when `None`).
    pub kind: Option<String>,
    /// Matches this object name only (any when `None`).
    pub name: Option<String>,
    /// Matches dry-runs (`Some(true)`), real writes (`Some(false)`) or both.
    pub dry_run: Option<bool>,
    /// How many matching requests fail.
    pub times: usize,
    /// What happens.
    pub kind_of_fault: FaultKind,
}

impl Fault {
    /// The next `times` requests of `verb` on `kind` fail with `code`/`reason`.
    pub fn status(verb: Verb, kind: &str, times: usize, code: u16, reason: &str) -> Self {
        Self {
            verb,
            kind: Some(kind.to_string()),
            name: None,
            dry_run: None,
            times,
            kind_of_fault: FaultKind::Error(ClusterError::status(code, reason, format!("injected {code} {reason}"))),
        }
    }

    /// Only for the object `name`.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Only for real writes (not dry-runs).
    pub fn not_dry_run(mut self) -> Self {
        self.dry_run = Some(false);
        self
    }

    fn matches(&self, request: &Request) -> bool {
        self.times > 0
            && self.verb == request.verb
            && self.kind.as_ref().is_none_or(|k| *k == request.kind)
            && self.name.as_ref().is_none_or(|n| Some(n) == request.name.as_ref())
            && self.dry_run.is_none_or(|d| d == request.dry_run)
    }
}

/// Object identity in the fake: (group, kind, namespace, name).
pub type Id = (String, String, String, String);

#[derive(Default)]
pub(crate) struct State {
    objects: BTreeMap<Id, Value>,
    pub(crate) version: u64,
    next_uid: u64,
    resources: Vec<Resource>,
    unavailable: Vec<(String, ClusterError)>,
    pub(crate) log: Vec<(u64, Id, WatchEvent)>,
    pub(crate) expire_watches_before: u64,
    pub(crate) watch_epoch: u64,
}

/// What watches share with the cluster.
pub(crate) struct Inner {
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

/// The fake cluster.
pub struct FakeCluster {
    inner: Arc<Inner>,
    requests: Mutex<Vec<Request>>,
    faults: Mutex<Vec<Fault>>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeCluster {
    /// A cluster serving the built-in kinds plumb's tests use.
    pub fn new() -> Arc<Self> {
        let state = State { resources: objects::builtin_resources(), version: 100, ..State::default() };
        Arc::new(Self {
            inner: Arc::new(Inner { state: Mutex::new(state), changed: tokio::sync::Notify::new() }),
            requests: Mutex::default(),
            faults: Mutex::default(),
        })
    }

    /// Serves one more kind (a CRD's).
    pub fn serve(&self, resource: Resource) {
        lock(&self.inner.state).resources.push(resource);
    }

    /// Makes discovery report `group_version` unavailable with `error`.
    pub fn make_unavailable(&self, group_version: &str, error: ClusterError) {
        lock(&self.inner.state).unavailable.push((group_version.to_string(), error));
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.requests).clone()
    }

    /// The requests so far, as `verb kind/name` strings, and forgets them.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.requests)).iter().map(Request::short).collect()
    }

    /// Real writes so far.
    pub fn writes(&self) -> Vec<Request> {
        self.requests().into_iter().filter(Request::is_write).collect()
    }

    /// The object `kind` `namespace`/`name`, as stored.
    pub fn object(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let id = (group.to_string(), kind.to_string(), namespace.unwrap_or("").to_string(), name.to_string());
        lock(&self.inner.state).objects.get(&id).cloned()
    }

    /// Names of the stored objects of `kind`.
    pub fn names(&self, kind: &str) -> Vec<String> {
        lock(&self.inner.state).objects.keys().filter(|id| id.1 == kind).map(|id| id.3.clone()).collect()
    }

    /// Changes an object as another client would (an edit by hand):
    /// `change` edits it, `manager` takes the fields it touched. Not recorded
    /// as plumb's request.
    pub fn edit(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str, manager: &str, patch: Value) {
        let id = (group.to_string(), kind.to_string(), namespace.unwrap_or("").to_string(), name.to_string());
        let mut state = lock(&self.inner.state);
        let Some(current) = state.objects.get(&id).cloned() else { return };
        let next = objects::apply_patch(current, &patch, manager, "Update");
        self.store(&mut state, id, next);
    }

    /// Deletes an object as another client would. Not recorded.
    pub fn remove(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) {
        let id = (group.to_string(), kind.to_string(), namespace.unwrap_or("").to_string(), name.to_string());
        let mut state = lock(&self.inner.state);
        self.erase(&mut state, &id);
    }

    /// Makes every watch started before now expire (410 Gone) on its next
    /// request, as a compacted etcd would.
    pub fn expire_watches(&self) {
        let mut state = lock(&self.inner.state);
        state.expire_watches_before = state.version;
        state.watch_epoch += 1;
        drop(state);
        self.inner.changed.notify_waiters();
    }

    fn record(&self, verb: Verb, target: Option<Target<'_>>, name: Option<&str>, dry_run: bool) -> Request {
        let request = Request {
            verb,
            kind: target.map(|t| t.resource.kind.clone()).unwrap_or_default(),
            namespace: target.and_then(|t| t.namespace.map(str::to_string)),
            name: name.map(str::to_string),
            dry_run,
        };
        lock(&self.requests).push(request.clone());
        request
    }

    async fn fault(&self, request: &Request) -> Result<(), ClusterError> {
        let fault = {
            let mut faults = lock(&self.faults);
            let found = faults.iter_mut().find(|f| f.matches(request));
            found.map(|f| {
                f.times -= 1;
                f.kind_of_fault.clone()
            })
        };
        match fault {
            None => Ok(()),
            Some(FaultKind::Error(error)) => Err(error),
            Some(FaultKind::Stall(how_long)) => {
                tokio::time::sleep(how_long).await;
                Err(ClusterError::timeout(format!("no answer within {how_long:?} (injected stall)")))
            }
        }
    }

    /// Stores `object` as the new state of `id`, with a new resourceVersion.
    fn store(&self, state: &mut State, id: Id, mut object: Value) -> Value {
        state.version += 1;
        object["metadata"]["resourceVersion"] = Value::String(state.version.to_string());
        let added = !state.objects.contains_key(&id);
        state.objects.insert(id.clone(), object.clone());
        let meta = objects::meta_of(&object);
        let event = if added { WatchEvent::Added(meta) } else { WatchEvent::Modified(meta) };
        let version = state.version;
        state.log.push((version, id, event));
        self.inner.changed.notify_waiters();
        object
    }

    fn erase(&self, state: &mut State, id: &Id) -> Option<Value> {
        let mut object = state.objects.remove(id)?;
        state.version += 1;
        object["metadata"]["resourceVersion"] = Value::String(state.version.to_string());
        let version = state.version;
        state.log.push((version, id.clone(), WatchEvent::Deleted(objects::meta_of(&object))));
        self.inner.changed.notify_waiters();
        Some(object)
    }
}

fn id_of(target: Target<'_>, name: &str) -> Id {
    (
        target.resource.group.clone(),
        target.resource.kind.clone(),
        target.namespace.unwrap_or("").to_string(),
        name.to_string(),
    )
}

#[async_trait::async_trait]
impl Cluster for FakeCluster {
    async fn discover(&self) -> Result<ApiDiscovery, ClusterError> {
        let request = self.record(Verb::Discover, None, None, false);
        self.fault(&request).await?;
        let state = lock(&self.inner.state);
        let mut groups: BTreeMap<(String, String), Vec<Resource>> = BTreeMap::new();
        for r in &state.resources {
            groups.entry((r.group.clone(), r.version.clone())).or_default().push(r.clone());
        }
        Ok(ApiDiscovery {
            server_version: "v1.37.2-fake".into(),
            groups: groups
                .into_iter()
                .map(|((group, version), resources)| GroupVersionResources {
                    group,
                    version,
                    preferred: true,
                    resources,
                })
                .collect(),
            failed: state.unavailable.clone(),
        })
    }

    async fn get(&self, target: Target<'_>, name: &str) -> Result<Option<Value>, ClusterError> {
        let request = self.record(Verb::Get, Some(target), Some(name), false);
        self.fault(&request).await?;
        Ok(lock(&self.inner.state).objects.get(&id_of(target, name)).cloned())
    }

    async fn list_metadata(&self, target: Target<'_>, label_selector: &str) -> Result<MetaList, ClusterError> {
        let request = self.record(Verb::List, Some(target), None, false);
        self.fault(&request).await?;
        let state = lock(&self.inner.state);
        let items = state
            .objects
            .iter()
            .filter(|(id, object)| watch::selected(id, object, target, label_selector))
            .map(|(_, object)| objects::meta_of(object))
            .collect();
        Ok(MetaList { items, resource_version: state.version.to_string() })
    }

    async fn watch_metadata(
        &self,
        target: Target<'_>,
        label_selector: &str,
        resource_version: &str,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        let request = self.record(Verb::Watch, Some(target), None, false);
        self.fault(&request).await?;
        let from: u64 = resource_version.parse().unwrap_or(0);
        let epoch = {
            let state = lock(&self.inner.state);
            if from < state.expire_watches_before {
                return Err(ClusterError::status(410, "Expired", "too old resource version"));
            }
            state.watch_epoch
        };
        Ok(watch::stream(self.inner.clone(), target, label_selector, from, epoch))
    }

    async fn apply(
        &self,
        target: Target<'_>,
        name: &str,
        manifest: &Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        let request = self.record(Verb::Apply, Some(target), Some(name), dry_run);
        self.fault(&request).await?;
        let id = id_of(target, name);
        let mut state = lock(&self.inner.state);
        if target.resource.namespaced
            && !state.objects.contains_key(&(String::new(), "Namespace".into(), String::new(), id.2.clone()))
        {
            return Err(ClusterError::status(404, "NotFound", format!("namespaces \"{}\" not found", id.2)));
        }
        let current = match state.objects.get(&id).cloned() {
            Some(current) => current,
            None => {
                state.next_uid += 1;
                objects::new_object(target, name, state.next_uid)
            }
        };
        let next = objects::apply_patch(current, manifest, manager, "Apply");
        if dry_run {
            return Ok(next);
        }
        Ok(self.store(&mut state, id, next))
    }

    async fn create(&self, target: Target<'_>, object: &Value) -> Result<Value, ClusterError> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let request = self.record(Verb::Create, Some(target), Some(&name), false);
        self.fault(&request).await?;
        let id = id_of(target, &name);
        let mut state = lock(&self.inner.state);
        if state.objects.contains_key(&id) {
            return Err(ClusterError::status(409, "AlreadyExists", format!("\"{name}\" already exists")));
        }
        state.next_uid += 1;
        let fresh = objects::new_object(target, &name, state.next_uid);
        let next = objects::apply_patch(fresh, object, "plumb", "Update");
        Ok(self.store(&mut state, id, next))
    }

    async fn update(&self, target: Target<'_>, name: &str, object: &Value) -> Result<Value, ClusterError> {
        let request = self.record(Verb::Update, Some(target), Some(name), false);
        self.fault(&request).await?;
        let id = id_of(target, name);
        let mut state = lock(&self.inner.state);
        let Some(current) = state.objects.get(&id).cloned() else {
            return Err(ClusterError::status(404, "NotFound", format!("\"{name}\" not found")));
        };
        if object["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
            return Err(ClusterError::status(409, "Conflict", "the object has been modified"));
        }
        let mut next = object.clone();
        next["metadata"]["uid"] = current["metadata"]["uid"].clone();
        Ok(self.store(&mut state, id, next))
    }

    async fn delete(&self, target: Target<'_>, name: &str, options: &DeleteOptions) -> Result<Deleted, ClusterError> {
        let request = self.record(Verb::Delete, Some(target), Some(name), false);
        self.fault(&request).await?;
        let id = id_of(target, name);
        let mut state = lock(&self.inner.state);
        let Some(current) = state.objects.get(&id) else { return Ok(Deleted::NotFound) };
        let uid = current["metadata"]["uid"].as_str();
        let version = current["metadata"]["resourceVersion"].as_str();
        if options.uid.as_deref().is_some_and(|u| Some(u) != uid)
            || options.resource_version.as_deref().is_some_and(|v| Some(v) != version)
        {
            return Err(ClusterError::status(409, "Conflict", "Precondition failed: UID or ResourceVersion"));
        }
        self.erase(&mut state, &id);
        Ok(Deleted::Deleted)
    }
}
