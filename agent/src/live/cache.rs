//! The live cache: one metadata-only watch per managed kind (label
//! `plumb.dev/app` present), shared by every app. Per object it keeps only
//! the app label, the prune annotation, the resourceVersion and a
//! fingerprint of plumb's managed fields: no spec, no status.
//!
//! After each apply the apply stage records what it expects (the
//! fingerprint of plumb's fields in the server's answer). A watch event
//! whose fingerprint differs, or a deletion, makes the object a suspect,
//! sent to the drift detector. Steady state costs no API request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info_span, warn};

use super::LiveError;
use super::detector::DriftRegistry;
use super::fields::fingerprint;
use crate::plan::{APP_LABEL, DesiredObject, ObjectKey, PRUNE_ANNOTATION};

/// What the cache knows of one live object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEntry {
    /// Value of the `plumb.dev/app` label.
    pub app: Option<String>,
    /// `plumb.dev/prune: disabled` is set.
    pub prune_disabled: bool,
    /// The object's resourceVersion.
    pub resource_version: Option<String>,
    /// Fingerprint of plumb's managed fields (0: plumb owns nothing).
    pub fingerprint: u64,
    /// `metadata.generation`: bumped by any spec change, even one that
    /// leaves managedFields alone (the scale subresource before 1.22).
    pub generation: Option<i64>,
    /// The object's uid (events about it need it).
    pub uid: Option<String>,
}

impl LiveEntry {
    /// True if the object is not as plumb left it.
    pub fn differs_from(&self, expected: &Expected) -> bool {
        self.fingerprint != expected.fingerprint
            || (expected.generation.is_some() && self.generation != expected.generation)
    }
}

/// What plumb expects of an object it applied.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Fingerprint of plumb's fields right after its apply.
    pub fingerprint: u64,
    /// The generation right after its apply, for kinds that have one.
    pub generation: Option<i64>,
    /// The object as applied, for re-applying it.
    pub desired: Arc<DesiredObject>,
    /// Correct drift (enforce) or only report it.
    pub enforce: bool,
}

impl Expected {
    /// What plumb expects once `object` (as the API returned it after an
    /// apply, or as read) is the accepted state of `desired`.
    pub fn of(object: &serde_json::Value, desired: Arc<DesiredObject>, enforce: bool) -> Self {
        Self {
            fingerprint: fingerprint(&super::drift::managed_fields(object)),
            generation: object["metadata"]["generation"].as_i64(),
            desired,
            enforce,
        }
    }
}

#[derive(Default)]
struct State {
    objects: HashMap<ObjectKey, LiveEntry>,
    expected: HashMap<ObjectKey, Expected>,
    /// uids of expected objects just deleted (events about their deletion).
    deleted_uids: HashMap<ObjectKey, String>,
}

struct Watch {
    task: JoinHandle<()>,
    synced: watch::Receiver<bool>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The live cache. Create it with [`LiveCache::new`]; suspects go to the
/// receiver it returns.
pub struct LiveCache {
    client: kube::Client,
    state: Arc<Mutex<State>>,
    watches: Mutex<HashMap<(String, String), Watch>>,
    /// Kinds syncs in progress rely on, with how many syncs hold each.
    leases: Arc<Mutex<HashMap<(String, String), usize>>>,
    suspects: mpsc::UnboundedSender<ObjectKey>,
    drift: Arc<DriftRegistry>,
}

/// How long a new watch may take to list its kind.
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind; go on.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveCache {
    /// An empty cache and the receiver of its suspects.
    pub fn new(client: kube::Client) -> (Arc<Self>, mpsc::UnboundedReceiver<ObjectKey>) {
        let (suspects, receiver) = mpsc::unbounded_channel();
        let drift = Arc::new(DriftRegistry::default());
        let cache = Arc::new(Self {
            client,
            state: Arc::default(),
            watches: Mutex::default(),
            leases: Arc::default(),
            suspects,
            drift,
        });
        (cache, receiver)
    }

    /// Drifted objects and drift events.
    pub fn drift(&self) -> Arc<DriftRegistry> {
        self.drift.clone()
    }

    /// Starts watches for kinds not watched yet and waits until each has
    /// listed its objects. The watches are kept while the lease lives (a
    /// sync holds it), even before plumb expects any object of them.
    pub async fn ensure_watched(&self, kinds: &[ApiResource]) -> Result<WatchLease, LiveError> {
        let lease = WatchLease::new(self.leases.clone(), kinds);
        let mut waiting = Vec::new();
        {
            let mut watches = self.watches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for resource in kinds {
                let id = (resource.group.clone(), resource.kind.clone());
                let watch = watches.entry(id).or_insert_with(|| self.start_watch(resource.clone()));
                if !*watch.synced.borrow() {
                    waiting.push((resource.kind.clone(), watch.synced.clone()));
                }
            }
        }
        for (kind, mut synced) in waiting {
            match tokio::time::timeout(SYNC_TIMEOUT, synced.wait_for(|s| *s)).await {
                Ok(Ok(_)) => {}
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
        used.extend(self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys().cloned());
        let mut watches = self.watches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        watches.retain(|id, _| used.contains(id));
        let mut state = lock(&self.state);
        state.objects.retain(|k, _| used.contains(&(k.group.clone(), k.kind.clone())));
    }

    /// Kinds watched now.
    pub fn watched_kinds(&self) -> Vec<(String, String)> {
        let watches = self.watches.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut kinds: Vec<_> = watches.keys().cloned().collect();
        kinds.sort();
        kinds
    }

    /// The cached entry of `key`.
    pub fn entry(&self, key: &ObjectKey) -> Option<LiveEntry> {
        lock(&self.state).objects.get(key).cloned()
    }

    /// Entries labelled for `app` among the given kinds.
    pub fn entries_of(&self, app: &str, kinds: &HashSet<(String, String)>) -> Vec<(ObjectKey, LiveEntry)> {
        lock(&self.state)
            .objects
            .iter()
            .filter(|(k, e)| e.app.as_deref() == Some(app) && kinds.contains(&(k.group.clone(), k.kind.clone())))
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

    /// Records what plumb expects of an object; if the cache already holds
    /// a different state for it, it becomes a suspect.
    pub fn expect(&self, key: ObjectKey, expected: Expected) {
        let mut state = lock(&self.state);
        let differs = state.objects.get(&key).is_some_and(|e| e.differs_from(&expected));
        state.expected.insert(key.clone(), expected);
        drop(state);
        if differs {
            let _ = self.suspects.send(key);
        }
    }

    /// Records what an apply of plumb's left (a sync or a drift
    /// correction): any drift recorded for the object is corrected by it.
    pub fn applied(&self, key: ObjectKey, expected: Expected) {
        self.expect(key.clone(), expected);
        self.drift.corrected(&key);
    }

    /// Forgets an object plumb no longer manages.
    pub fn forget(&self, key: &ObjectKey) {
        lock(&self.state).expected.remove(key);
    }

    fn start_watch(&self, resource: ApiResource) -> Watch {
        let (synced_tx, synced) = watch::channel(false);
        // An Api of PartialObjectMeta makes metadata-only requests.
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(self.client.clone(), &resource);
        let state = self.state.clone();
        let suspects = self.suspects.clone();
        let span = info_span!("watch", kind = %resource.kind, group = %resource.group);
        let task = tokio::spawn(
            async move {
                let config = watcher::Config::default().labels(APP_LABEL);
                let mut events = std::pin::pin!(watch_stream(api, config).default_backoff());
                let mut relist: Option<HashSet<ObjectKey>> = None;
                while let Some(event) = events.next().await {
                    match event {
                        Ok(Event::Init) => relist = Some(HashSet::new()),
                        Ok(Event::InitApply(object)) => {
                            let key = key_of(&resource, &object);
                            if let Some(seen) = relist.as_mut() {
                                seen.insert(key.clone());
                            }
                            upsert(&state, &suspects, key, &object);
                        }
                        Ok(Event::InitDone) => {
                            // Objects deleted while the watch was down.
                            if let Some(seen) = relist.take() {
                                let gone: Vec<ObjectKey> = lock(&state)
                                    .objects
                                    .keys()
                                    .filter(|k| {
                                        k.group == resource.group && k.kind == resource.kind && !seen.contains(*k)
                                    })
                                    .cloned()
                                    .collect();
                                for key in gone {
                                    remove(&state, &suspects, &key);
                                }
                            }
                            let _ = synced_tx.send(true);
                        }
                        Ok(Event::Apply(object)) => upsert(&state, &suspects, key_of(&resource, &object), &object),
                        Ok(Event::Delete(object)) => remove(&state, &suspects, &key_of(&resource, &object)),
                        Err(error) => warn!(%error, "watch failed; reconnecting with backoff"),
                    }
                }
            }
            .instrument(span),
        );
        Watch { task, synced }
    }
}

/// Kinds a sync relies on; their watches stay while it lives.
#[derive(Debug)]
pub struct WatchLease {
    leases: Arc<Mutex<HashMap<(String, String), usize>>>,
    kinds: Vec<(String, String)>,
}

impl WatchLease {
    fn new(leases: Arc<Mutex<HashMap<(String, String), usize>>>, kinds: &[ApiResource]) -> Self {
        let kinds: Vec<(String, String)> = kinds.iter().map(|r| (r.group.clone(), r.kind.clone())).collect();
        let mut held = leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for kind in &kinds {
            *held.entry(kind.clone()).or_default() += 1;
        }
        drop(held);
        Self { leases, kinds }
    }
}

impl Drop for WatchLease {
    fn drop(&mut self) {
        let mut held = self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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

fn key_of(resource: &ApiResource, object: &PartialObjectMeta<DynamicObject>) -> ObjectKey {
    ObjectKey {
        group: resource.group.clone(),
        kind: resource.kind.clone(),
        namespace: object.metadata.namespace.clone(),
        name: object.metadata.name.clone().unwrap_or_default(),
    }
}

fn upsert(
    state: &Mutex<State>,
    suspects: &mpsc::UnboundedSender<ObjectKey>,
    key: ObjectKey,
    object: &PartialObjectMeta<DynamicObject>,
) {
    let meta = &object.metadata;
    let entry = LiveEntry {
        app: meta.labels.as_ref().and_then(|l| l.get(APP_LABEL)).cloned(),
        prune_disabled: meta.annotations.as_ref().and_then(|a| a.get(PRUNE_ANNOTATION)).map(String::as_str)
            == Some("disabled"),
        resource_version: meta.resource_version.clone(),
        fingerprint: fingerprint(meta.managed_fields.as_deref().unwrap_or_default()),
        generation: meta.generation,
        uid: meta.uid.clone(),
    };
    let mut state = lock(state);
    let suspect = state.expected.get(&key).is_some_and(|e| entry.differs_from(e));
    state.objects.insert(key.clone(), entry);
    drop(state);
    if suspect {
        debug!(object = %key, "fields changed");
        let _ = suspects.send(key);
    }
}

fn remove(state: &Mutex<State>, suspects: &mpsc::UnboundedSender<ObjectKey>, key: &ObjectKey) {
    let mut state = lock(state);
    let removed = state.objects.remove(key);
    let suspect = state.expected.contains_key(key);
    if let (true, Some(uid)) = (suspect, removed.and_then(|e| e.uid)) {
        state.deleted_uids.insert(key.clone(), uid);
    }
    drop(state);
    if suspect {
        debug!(object = %key, "deleted");
        let _ = suspects.send(key.clone());
    }
}
