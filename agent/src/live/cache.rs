//! The live cache: one metadata-only list-and-watch per managed kind
//! (label `plumb.dev/app` present), shared by every app. Per object it
//! keeps only the app label, the prune annotations, uid, resourceVersion,
//! generation and a fingerprint of plumb's managed fields: no spec, no
//! status.
//!
//! After each apply the apply stage records what it expects (the
//! fingerprint of plumb's fields in the server's answer). A watch event
//! whose fingerprint differs, or a deletion, makes the object a suspect
//! for the drift detector. Suspects are a set (each object once, however
//! many events), so a burst of changes is never dropped and never grows a
//! queue beyond the objects plumb manages. Steady state costs no request.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info_span};

use super::LiveError;
use super::detector::DriftRegistry;
use super::drift::needs_check;
use super::fields::fingerprint;
use super::watcher::{WatchUpdate, run_watch};
use crate::cluster::{Resource, SharedCluster};
use crate::plan::{APP_LABEL, DesiredObject, HELM_RESOURCE_POLICY_ANNOTATION, ObjectKey, PRUNE_ANNOTATION};

/// What the cache knows of one live object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEntry {
    /// Value of the `plumb.dev/app` label.
    pub app: Option<String>,
    /// `plumb.dev/prune: disabled` or `helm.sh/resource-policy: keep` is set.
    pub prune_disabled: bool,
    /// The object's resourceVersion.
    pub resource_version: Option<String>,
    /// Fingerprint of plumb's managed fields (0: plumb owns nothing).
    pub fingerprint: u64,
    /// `metadata.generation`: bumped by any spec change, even one that
    /// leaves managedFields alone.
    pub generation: Option<i64>,
    /// The object's uid.
    pub uid: Option<String>,
}

impl LiveEntry {
    /// The entry of an object's metadata.
    pub fn of(meta: &ObjectMeta) -> Self {
        let annotation = |name: &str| meta.annotations.as_ref().and_then(|a| a.get(name)).map(String::as_str);
        Self {
            app: meta.labels.as_ref().and_then(|l| l.get(APP_LABEL)).cloned(),
            prune_disabled: annotation(PRUNE_ANNOTATION) == Some("disabled")
                || annotation(HELM_RESOURCE_POLICY_ANNOTATION) == Some("keep"),
            resource_version: meta.resource_version.clone(),
            fingerprint: fingerprint(meta.managed_fields.as_deref().unwrap_or_default()),
            generation: meta.generation,
            uid: meta.uid.clone(),
        }
    }

    /// True if the object is not as plumb left it.
    pub fn differs_from(&self, expected: &Expected) -> bool {
        if let Some(version) = &expected.resource_version {
            return self.resource_version.as_ref() != Some(version);
        }
        self.fingerprint != expected.fingerprint
            || (expected.generation.is_some() && self.generation != expected.generation)
    }
}

/// A desired object as the cache keeps it for each managed object, for as
/// long as plumb manages it: its manifest as compact JSON rather than a
/// tree of values (a tenth of the memory), expanded only to re-apply it or
/// explain a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptObject {
    /// Identity.
    pub key: ObjectKey,
    /// The apiVersion it is applied with.
    pub api_version: Box<str>,
    /// `sha256:` of the manifest.
    pub hash: Box<str>,
    /// The app that owns it.
    pub app: Box<str>,
    /// Where it came from.
    pub origin: Box<str>,
    manifest: Box<[u8]>,
}

impl KeptObject {
    /// Keeps `o` (owned by `app`).
    pub fn keep(o: &DesiredObject) -> Self {
        Self {
            key: o.key.clone(),
            api_version: o.api_version.as_str().into(),
            hash: o.hash.as_str().into(),
            app: o.manifest["metadata"]["labels"][APP_LABEL].as_str().unwrap_or_default().into(),
            origin: o.origin.as_str().into(),
            manifest: serde_json::to_vec(&o.manifest).unwrap_or_default().into_boxed_slice(),
        }
    }

    /// The object, whole again.
    pub fn expand(&self) -> DesiredObject {
        DesiredObject {
            key: self.key.clone(),
            api_version: self.api_version.to_string(),
            manifest: serde_json::from_slice(&self.manifest).unwrap_or_default(),
            hash: self.hash.to_string(),
            origin: self.origin.to_string(),
        }
    }
}

/// What plumb expects of an object it applied.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Fingerprint of plumb's fields right after its apply.
    pub fingerprint: u64,
    /// The generation right after its apply, for kinds that have one.
    pub generation: Option<i64>,
    /// For an object plumb never applied (report mode): the
    /// resourceVersion last checked; any change is looked at again.
    pub resource_version: Option<String>,
    /// The object as applied, for re-applying it.
    pub desired: Arc<KeptObject>,
    /// Correct drift (enforce) or only report it.
    pub enforce: bool,
}

impl Expected {
    /// What plumb expects once `object` (as the API returned it after an
    /// apply, or as read) is the accepted state of `desired`.
    pub fn of(object: &serde_json::Value, desired: Arc<KeptObject>, enforce: bool) -> Self {
        Self {
            fingerprint: fingerprint(&super::drift::managed_fields(object)),
            generation: object["metadata"]["generation"].as_i64(),
            resource_version: None,
            desired,
            enforce,
        }
    }
}

impl Expected {
    /// What plumb expects of an object it leaves as `live` is now: its
    /// fields as they are (or, for one plumb never applied, its version).
    pub fn adopting(self, live: &serde_json::Value) -> Self {
        match self.resource_version {
            Some(_) => {
                Self { resource_version: live["metadata"]["resourceVersion"].as_str().map(String::from), ..self }
            }
            None => Expected::of(live, self.desired, self.enforce),
        }
    }
}

#[derive(Default)]
struct State {
    objects: HashMap<ObjectKey, LiveEntry>,
    expected: HashMap<ObjectKey, Expected>,
    /// uids of expected objects just deleted (events about their deletion).
    deleted_uids: HashMap<ObjectKey, String>,
    /// Objects a sync is writing right now (their events are its own).
    in_flight: HashSet<ObjectKey>,
}

/// Objects to check for drift: a set, so nothing is lost and nothing repeats.
#[derive(Default)]
pub struct Suspects {
    pending: Mutex<BTreeSet<ObjectKey>>,
    ready: Notify,
}

impl Suspects {
    fn add(&self, key: ObjectKey) {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key);
        self.ready.notify_one();
    }

    /// Takes the suspects pending now, without waiting.
    pub fn next_batch_now(&self) -> BTreeSet<ObjectKey> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Waits for suspects and takes all of them.
    pub async fn next_batch(&self) -> BTreeSet<ObjectKey> {
        loop {
            let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            if !batch.is_empty() {
                return batch;
            }
            self.ready.notified().await;
        }
    }
}

/// Where one watch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum WatchState {
    /// Not listed yet.
    Listing,
    /// Listed; following changes.
    Synced,
    /// The last list failed, and why (retried with backoff).
    Failed(crate::cluster::ClusterError),
}

struct Watch {
    task: JoinHandle<()>,
    state: watch::Receiver<WatchState>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the cache watches: the whole cluster, or only some namespaces
/// (namespaced RBAC; cluster-scoped kinds are then not watched).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WatchScope {
    /// Cluster-wide lists and watches.
    #[default]
    Cluster,
    /// One list and watch per namespace.
    Namespaces(Vec<String>),
}

/// A kind: (group, kind).
type KindId = (String, String);

/// The live cache.
pub struct LiveCache {
    cluster: SharedCluster,
    scope: WatchScope,
    state: Arc<Mutex<State>>,
    watches: Mutex<HashMap<KindId, (Resource, Vec<Watch>)>>,
    /// Kinds syncs in progress rely on, with how many syncs hold each.
    leases: Arc<Mutex<HashMap<(String, String), usize>>>,
    suspects: Arc<Suspects>,
    drift: Arc<DriftRegistry>,
}

/// How long a new watch may take to list its kind.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; go on.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveCache {
    /// An empty cache watching `scope`.
    pub fn new(cluster: SharedCluster, scope: WatchScope) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            scope,
            state: Arc::default(),
            watches: Mutex::default(),
            leases: Arc::default(),
            suspects: Arc::default(),
            drift: Arc::new(DriftRegistry::default()),
        })
    }

    /// Drifted objects and drift events.
    pub fn drift(&self) -> Arc<DriftRegistry> {
        self.drift.clone()
    }

    /// The suspects, for the drift detector.
    pub fn suspects(&self) -> Arc<Suspects> {
        self.suspects.clone()
    }

    /// True when `resource` can be watched in this scope.
    pub fn watchable(&self, resource: &Resource) -> bool {
        resource.namespaced || self.scope == WatchScope::Cluster
    }

    /// Starts watches for kinds not watched yet and waits until each has
    /// listed its objects. The watches are kept while the lease lives (a
    /// sync holds it), even before plumb expects any object of them.
    pub async fn ensure_watched(&self, kinds: &[Resource]) -> Result<WatchLease, LiveError> {
        let lease = WatchLease::new(self.leases.clone(), kinds);
        let mut waiting = Vec::new();
        {
            let mut watches = lock(&self.watches);
            for resource in kinds.iter().filter(|r| self.watchable(r)) {
                let id = (resource.group.clone(), resource.kind.clone());
                let (_, list) = watches.entry(id).or_insert_with(|| (resource.clone(), self.start_watches(resource)));
                for watch in list.iter().filter(|w| *w.state.borrow() != WatchState::Synced) {
                    waiting.push((resource.kind.clone(), watch.state.clone()));
                }
            }
        }
        for (kind, mut state) in waiting {
            // A list the API refuses (forbidden, say) fails the sync at once;
            // one that may succeed later is waited for.
            let settled = |s: &WatchState| match s {
                WatchState::Synced => true,
                WatchState::Failed(e) => !e.retryable(),
                WatchState::Listing => false,
            };
            match tokio::time::timeout(SYNC_TIMEOUT, state.wait_for(settled)).await {
                Ok(Ok(now)) => {
                    if let WatchState::Failed(error) = &*now {
                        return Err(LiveError::ListFailed { kind, error: error.clone() });
                    }
                }
                _ => return Err(LiveError::NotSynced { kind, timeout: SYNC_TIMEOUT }),
            }
        }
        Ok(lease)
    }

    /// Stops the watches of kinds plumb no longer expects any object of and
    /// no sync in progress holds.
    pub fn stop_unused_watches(&self) {
        let mut used: HashSet<(String, String)> =
            lock(&self.state).expected.keys().map(|k| (k.group.clone(), k.kind.clone())).collect();
        used.extend(lock(&self.leases).keys().cloned());
        lock(&self.watches).retain(|id, _| used.contains(id));
        lock(&self.state).objects.retain(|k, _| used.contains(&(k.group.clone(), k.kind.clone())));
    }

    /// Lists every watched kind again (a periodic re-check that catches
    /// anything a watch could have missed).
    pub fn relist(&self) {
        let mut watches = lock(&self.watches);
        for (resource, list) in watches.values_mut() {
            *list = self.start_watches(resource);
        }
    }

    /// Kinds watched now.
    pub fn watched_kinds(&self) -> Vec<(String, String)> {
        let mut kinds: Vec<_> = lock(&self.watches).keys().cloned().collect();
        kinds.sort();
        kinds
    }

    /// The cached entry of `key`.
    pub fn entry(&self, key: &ObjectKey) -> Option<LiveEntry> {
        lock(&self.state).objects.get(key).cloned()
    }

    /// Entries labelled for plumb among the given kinds.
    pub fn entries_of_kinds(&self, kinds: &HashSet<(String, String)>) -> Vec<(ObjectKey, LiveEntry)> {
        lock(&self.state)
            .objects
            .iter()
            .filter(|(k, _)| kinds.contains(&(k.group.clone(), k.kind.clone())))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect()
    }

    /// The uid `key` had when it was last deleted (taken once).
    pub fn last_uid(&self, key: &ObjectKey) -> Option<String> {
        lock(&self.state).deleted_uids.remove(key)
    }

    /// What plumb expects of `key`.
    pub fn expected(&self, key: &ObjectKey) -> Option<Expected> {
        lock(&self.state).expected.get(key).cloned()
    }

    /// Keys plumb expects, of one app or all.
    pub fn expected_keys(&self, app: Option<&str>) -> Vec<ObjectKey> {
        lock(&self.state)
            .expected
            .iter()
            .filter(|(_, e)| app.is_none_or(|a| &*e.desired.app == a))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Records what plumb expects of an object; if the cache already holds
    /// a different state for it, it becomes a suspect.
    pub fn expect(&self, key: ObjectKey, expected: Expected) {
        let mut state = lock(&self.state);
        let differs = state.objects.get(&key).is_some_and(|e| e.differs_from(&expected));
        state.expected.insert(key.clone(), expected);
        drop(state);
        if differs {
            self.suspects.add(key);
        }
    }

    /// Records what an apply of plumb's left (a sync or a drift
    /// correction): any drift recorded for the object is corrected by it.
    pub fn applied(&self, key: ObjectKey, expected: Expected) {
        self.expect(key.clone(), expected);
        self.drift.corrected(&key);
    }

    /// Forgets an object plumb no longer manages (and any drift of it).
    pub fn forget(&self, key: &ObjectKey) {
        lock(&self.state).expected.remove(key);
        self.drift.resolve(key);
    }

    /// Forgets everything plumb expected (a standby, or leadership lost):
    /// the next leader reads inventories and live state afresh.
    pub fn forget_expectations(&self) {
        let keys: Vec<ObjectKey> = lock(&self.state).expected.drain().map(|(k, _)| k).collect();
        for key in keys {
            self.drift.resolve(&key);
        }
    }

    /// Marks objects a sync is writing now (or done writing).
    pub fn set_in_flight(&self, keys: impl IntoIterator<Item = ObjectKey>, on: bool) {
        let mut state = lock(&self.state);
        for key in keys {
            if on {
                state.in_flight.insert(key);
            } else {
                state.in_flight.remove(&key);
            }
        }
    }

    /// True while a sync is writing `key`.
    pub fn in_flight(&self, key: &ObjectKey) -> bool {
        lock(&self.state).in_flight.contains(key)
    }

    /// Makes every expected object a suspect (a periodic re-check: drift
    /// whose correction failed, or that could not be explained, is looked
    /// at again).
    pub fn recheck_all(&self) {
        let keys: Vec<ObjectKey> = lock(&self.state).expected.keys().cloned().collect();
        for key in keys {
            self.suspects.add(key);
        }
    }

    fn start_watches(&self, resource: &Resource) -> Vec<Watch> {
        let namespaces: Vec<Option<String>> = match (&self.scope, resource.namespaced) {
            (WatchScope::Namespaces(list), true) => list.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        namespaces.into_iter().map(|namespace| self.start_watch(resource.clone(), namespace)).collect()
    }

    fn start_watch(&self, resource: Resource, namespace: Option<String>) -> Watch {
        let (state_tx, state_rx) = watch::channel(WatchState::Listing);
        let state = self.state.clone();
        let suspects = self.suspects.clone();
        let cluster = self.cluster.clone();
        let span = info_span!("watch", kind = %resource.kind, group = %resource.group, namespace = namespace.as_deref().unwrap_or("*"));
        let task = tokio::spawn(
            async move {
                let apply = |update: WatchUpdate| match update {
                    WatchUpdate::Listed(items) => {
                        let seen: HashSet<ObjectKey> = items.iter().map(|m| key_of(&resource, m)).collect();
                        let gone: Vec<ObjectKey> = lock(&state)
                            .objects
                            .keys()
                            .filter(|k| {
                                k.group == resource.group
                                    && k.kind == resource.kind
                                    && (namespace.is_none() || k.namespace == namespace)
                                    && !seen.contains(*k)
                            })
                            .cloned()
                            .collect();
                        for key in gone {
                            remove(&state, &suspects, &key);
                        }
                        for meta in &items {
                            upsert(&state, &suspects, key_of(&resource, meta), meta);
                        }
                        let _ = state_tx.send(WatchState::Synced);
                    }
                    WatchUpdate::ListFailed(error) => {
                        let _ = state_tx.send(WatchState::Failed(error));
                    }
                    WatchUpdate::Changed(meta) => upsert(&state, &suspects, key_of(&resource, &meta), &meta),
                    WatchUpdate::Deleted(meta) => remove(&state, &suspects, &key_of(&resource, &meta)),
                };
                run_watch(cluster, resource.clone(), namespace.clone(), apply).await;
            }
            .instrument(span),
        );
        Watch { task, state: state_rx }
    }
}

/// Kinds a sync relies on; their watches stay while it lives.
#[derive(Debug)]
pub struct WatchLease {
    leases: Arc<Mutex<HashMap<(String, String), usize>>>,
    kinds: Vec<(String, String)>,
}

impl WatchLease {
    fn new(leases: Arc<Mutex<HashMap<(String, String), usize>>>, kinds: &[Resource]) -> Self {
        let kinds: Vec<(String, String)> = kinds.iter().map(|r| (r.group.clone(), r.kind.clone())).collect();
        let mut held = lock(&leases);
        for kind in &kinds {
            *held.entry(kind.clone()).or_default() += 1;
        }
        drop(held);
        Self { leases, kinds }
    }
}

impl Drop for WatchLease {
    fn drop(&mut self) {
        let mut held = lock(&self.leases);
        for kind in &self.kinds {
            if let Some(n) = held.get_mut(kind) {
                *n -= 1;
                if *n == 0 {
                    held.remove(kind);
                }
            }
        }
    }
}

fn key_of(resource: &Resource, meta: &ObjectMeta) -> ObjectKey {
    ObjectKey::new(&resource.group, &resource.kind, meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
}

fn upsert(state: &Mutex<State>, suspects: &Suspects, key: ObjectKey, meta: &ObjectMeta) {
    let entry = LiveEntry::of(meta);
    let mut state = lock(state);
    let suspect = needs_check(state.expected.get(&key), state.objects.get(&key), &entry);
    state.objects.insert(key.clone(), entry);
    drop(state);
    if suspect {
        debug!(object = %key, "fields changed");
        suspects.add(key);
    }
}

fn remove(state: &Mutex<State>, suspects: &Suspects, key: &ObjectKey) {
    let mut state = lock(state);
    let removed = state.objects.remove(key);
    let expected = state.expected.contains_key(key);
    if let (true, Some(uid)) = (expected, removed.and_then(|e| e.uid)) {
        state.deleted_uids.insert(key.clone(), uid);
    }
    drop(state);
    if expected {
        debug!(object = %key, "deleted");
        suspects.add(key.clone());
    }
}
