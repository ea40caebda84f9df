//! The drift detector: confirms each suspect from the live cache with one
//! GET and one server-side dry-run (only then), records the drift with its
//! fields and managers, and in enforce mode re-applies that object alone,
//! while this instance leads. A correction that fails is retried with
//! backoff; so is a change that could not be explained.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::cache::{Expected, LiveCache};
use super::drift::{Check, Drift, DriftKind, FieldDrift, classify, explain, explain_values, ignored_pointers};
use crate::cluster::objects::Objects;
use crate::plan::ObjectKey;

/// A drifted object as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftRecord {
    /// The app.
    pub app: String,
    /// The object's apiVersion (as applied).
    pub api_version: String,
    /// The object's uid, when known (for events on it).
    pub uid: Option<String>,
    /// What drifted.
    pub drift: Drift,
    /// When the change was seen.
    pub detected_at: SystemTime,
}

/// What happened to drift, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftEvent {
    /// Drift was found.
    Detected(DriftRecord),
    /// plumb re-applied the object (enforce mode).
    Corrected {
        /// The app.
        app: String,
        /// The object.
        key: ObjectKey,
    },
    /// Correcting failed; the drift stays and is retried.
    CorrectionFailed {
        /// The app.
        app: String,
        /// The object.
        key: ObjectKey,
        /// Why.
        reason: String,
    },
    /// The object is back as applied (corrected, reverted by hand,
    /// re-applied by a sync, or no longer managed).
    Resolved {
        /// The app.
        app: String,
        /// The object.
        key: ObjectKey,
    },
}

/// Events buffered per subscriber before the detector waits for it.
const SUBSCRIBER_BUFFER: usize = 4096;

/// Drifted objects now, and the drift events for each subscriber. Events
/// are never dropped: a subscriber that falls behind slows the detector
/// down (it drains its channel, as the reporter does).
#[derive(Default)]
pub struct DriftRegistry {
    drifted: Mutex<BTreeMap<ObjectKey, DriftRecord>>,
    subscribers: Mutex<Vec<mpsc::Sender<DriftEvent>>>,
}

impl std::fmt::Debug for DriftRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriftRegistry").field("drifted", &self.drifted(None).len()).finish()
    }
}

impl DriftRegistry {
    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<ObjectKey, DriftRecord>> {
        self.drifted.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drifted objects, of one app or all.
    pub fn drifted(&self, app: Option<&str>) -> Vec<DriftRecord> {
        self.records().values().filter(|r| app.is_none_or(|a| r.app == a)).cloned().collect()
    }

    /// Drift events from now on.
    pub fn subscribe(&self) -> mpsc::Receiver<DriftEvent> {
        let (sender, receiver) = mpsc::channel(SUBSCRIBER_BUFFER);
        self.subscribers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(sender);
        receiver
    }

    fn emit(&self, event: DriftEvent) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        subscribers.retain(|s| !s.is_closed());
        for subscriber in subscribers.iter() {
            match subscriber.try_send(event.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    // Never drop: hand it over as soon as there is room.
                    let subscriber = subscriber.clone();
                    tokio::spawn(async move {
                        let _ = subscriber.send(event).await;
                    });
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Records drift; an event only when it is new or has changed.
    pub(crate) fn detected(&self, record: DriftRecord) {
        let mut drifted = self.records();
        let unchanged = drifted.get(&record.drift.key).is_some_and(|known| known.drift == record.drift);
        drifted.insert(record.drift.key.clone(), record.clone());
        drop(drifted);
        if !unchanged {
            info!(app = %record.app, object = %record.drift.key, drift = %record.drift.summary(), "drift detected");
            self.emit(DriftEvent::Detected(record));
        }
    }

    /// plumb re-applied `key`: if it had drifted, that drift is corrected.
    pub fn corrected(&self, key: &ObjectKey) {
        let removed = self.records().remove(key);
        if let Some(record) = removed {
            info!(app = %record.app, object = %key, "drift corrected");
            self.emit(DriftEvent::Corrected { app: record.app.clone(), key: key.clone() });
            self.emit(DriftEvent::Resolved { app: record.app, key: key.clone() });
        }
    }

    /// Marks `key` back in sync (or no longer managed).
    pub fn resolve(&self, key: &ObjectKey) {
        let removed = self.records().remove(key);
        if let Some(record) = removed {
            info!(app = %record.app, object = %key, "drift resolved");
            self.emit(DriftEvent::Resolved { app: record.app, key: key.clone() });
        }
    }

    /// Forgets every drift record of `app` (removed from plumb.yaml).
    pub fn forget_app(&self, app: &str) {
        let keys: Vec<ObjectKey> = self.drifted(Some(app)).into_iter().map(|r| r.drift.key).collect();
        for key in keys {
            self.resolve(&key);
        }
    }
}

/// Suspects arriving within this window are handled together.
const COALESCE: Duration = Duration::from_millis(20);
/// First wait before a failed correction or explanation is tried again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between such retries.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// Confirms and handles suspects.
pub struct DriftDetector {
    cache: Arc<LiveCache>,
    objects: Arc<Objects>,
    registry: Arc<DriftRegistry>,
    /// Only the leader corrects (without leader election: always true).
    leader: tokio::sync::watch::Receiver<bool>,
    /// Objects whose last correction or explanation failed: when to retry,
    /// and the wait after that.
    retries: Mutex<HashMap<ObjectKey, (Instant, Duration)>>,
}

impl DriftDetector {
    /// A detector over `cache`, reading and applying through `objects`.
    pub fn new(cache: Arc<LiveCache>, objects: Arc<Objects>) -> Self {
        let registry = cache.drift();
        let (_, leader) = tokio::sync::watch::channel(true);
        Self { cache, objects, registry, leader, retries: Mutex::default() }
    }

    /// Corrects and reports drift only while `leader` is true.
    pub fn with_leader(mut self, leader: tokio::sync::watch::Receiver<bool>) -> Self {
        self.leader = leader;
        self
    }

    /// Handles suspects until the task is aborted; failed checks are tried
    /// again with backoff.
    pub async fn run(self) {
        let suspects = self.cache.suspects();
        let mut tick = tokio::time::interval(RETRY_FIRST);
        loop {
            let batch = tokio::select! {
                batch = suspects.next_batch() => {
                    let seen = Instant::now();
                    tokio::time::sleep(COALESCE).await;
                    let mut batch = batch;
                    batch.extend(suspects.next_batch_now());
                    batch.into_iter().map(|k| (k, seen)).collect::<Vec<_>>()
                }
                _ = tick.tick() => self.due_retries(),
            };
            for (key, seen) in batch {
                self.check(&key, seen).await;
            }
        }
    }

    fn due_retries(&self) -> Vec<(ObjectKey, Instant)> {
        let now = Instant::now();
        let retries = self.retries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        retries.iter().filter(|(_, (at, _))| *at <= now).map(|(k, _)| (k.clone(), now)).collect()
    }

    fn failed(&self, key: &ObjectKey) {
        let mut retries = self.retries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let wait = retries.get(key).map_or(RETRY_FIRST, |(_, w)| (*w * 2).min(RETRY_MAX));
        retries.insert(key.clone(), (Instant::now() + wait, wait));
    }

    fn settled(&self, key: &ObjectKey) {
        self.retries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }

    async fn check(&self, key: &ObjectKey, seen: Instant) {
        // A standby neither corrects nor reports: the leader does.
        if !*self.leader.borrow() {
            self.settled(key);
            return;
        }
        let expected = self.cache.expected(key);
        let entry = self.cache.entry(key);
        let check = classify(expected.as_ref(), entry.as_ref());
        let Some(expected) = expected else {
            self.settled(key);
            self.registry.resolve(key);
            return;
        };
        if self.cache.in_flight(key) {
            return; // a sync is applying it right now and will record the result
        }
        let app = expected.desired.app.to_string();
        let detected_at = SystemTime::now() - seen.elapsed();
        let uid = entry.as_ref().and_then(|e| e.uid.clone()).or_else(|| self.cache.last_uid(key));
        let drift = match check {
            Check::NotManaged | Check::InSync => {
                self.settled(key);
                self.registry.resolve(key);
                return;
            }
            Check::Deleted => Drift { key: key.clone(), kind: DriftKind::Deleted, fields: Vec::new() },
            Check::Explain => match self.explain(&expected).await {
                Ok((fields, live)) if fields.is_empty() => {
                    // Something changed that plumb does not manage, or
                    // changed back: adopt what the object is now.
                    self.settled(key);
                    self.cache.expect(key.clone(), expected.adopting(&live));
                    self.registry.resolve(key);
                    return;
                }
                Ok((fields, _)) => Drift { key: key.clone(), kind: DriftKind::Modified, fields },
                Err(reason) => {
                    warn!(object = %key, %reason, "could not explain a change; retrying with backoff");
                    self.failed(key);
                    return;
                }
            },
        };
        let api_version = expected.desired.api_version.to_string();
        self.registry.detected(DriftRecord { app: app.clone(), api_version, uid, drift, detected_at });
        if expected.resource_version.is_some() {
            // Reported; looked at again on its next change.
            if let Some(entry) = self.cache.entry(key) {
                self.cache.expect(key.clone(), Expected { resource_version: entry.resource_version, ..expected });
            }
            self.settled(key);
        } else if expected.enforce {
            self.correct(&app, key, expected).await;
        } else {
            self.settled(key);
        }
    }

    /// One GET of the live object and one dry-run of the desired one: the
    /// drifted fields, and the live object.
    async fn explain(&self, expected: &Expected) -> Result<(Vec<FieldDrift>, serde_json::Value), String> {
        let desired = &expected.desired.expand();
        let catalog = self.objects.catalog().await;
        let live = self
            .objects
            .get(&catalog, &desired.api_version, &desired.key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the object is gone")?;
        let applied = self.objects.apply(&catalog, desired, true).await.map_err(|e| e.to_string())?;
        let ignore = ignored_pointers(&desired.manifest);
        let fields = if expected.resource_version.is_some() {
            explain_values(&desired.key, &applied, &live, &ignore)
        } else {
            explain(&desired.key, &applied, &live, &ignore)
        };
        Ok((fields, live))
    }

    async fn correct(&self, app: &str, key: &ObjectKey, expected: Expected) {
        let catalog = self.objects.catalog().await;
        match self.objects.apply(&catalog, &expected.desired.expand(), false).await {
            Ok(applied) => {
                self.settled(key);
                self.cache.applied(key.clone(), Expected::of(&applied, expected.desired, expected.enforce));
            }
            Err(error) => {
                let reason = error.to_string();
                warn!(%app, object = %key, %reason, "drift correction failed; retrying with backoff");
                self.failed(key);
                self.registry.emit(DriftEvent::CorrectionFailed { app: app.to_string(), key: key.clone(), reason });
            }
        }
    }
}
