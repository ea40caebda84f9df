//! The drift detector: confirms each suspect from the live cache with one
//! GET and one server-side dry-run (only then), records the drift with its
//! fields and managers, and in enforce mode re-applies that object alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use super::cache::{Expected, LiveCache};
use super::drift::{Drift, DriftKind, explain, ignored_pointers};
use crate::apply::Syncer;
use crate::plan::{APP_LABEL, ObjectKey};

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
    /// Correcting failed; the drift stays.
    CorrectionFailed {
        /// The app.
        app: String,
        /// The object.
        key: ObjectKey,
        /// Why.
        reason: String,
    },
    /// The object is back as applied (corrected, reverted by hand, or re-applied by a sync).
    Resolved {
        /// The app.
        app: String,
        /// The object.
        key: ObjectKey,
    },
}

/// Drifted objects now, and a stream of drift events.
pub struct DriftRegistry {
    drifted: Mutex<BTreeMap<ObjectKey, DriftRecord>>,
    events: broadcast::Sender<DriftEvent>,
}

impl Default for DriftRegistry {
    fn default() -> Self {
        Self { drifted: Mutex::default(), events: broadcast::channel(1024).0 }
    }
}

impl DriftRegistry {
    /// Drifted objects, of one app or all.
    pub fn drifted(&self, app: Option<&str>) -> Vec<DriftRecord> {
        let drifted = self.drifted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        drifted.values().filter(|r| app.is_none_or(|a| r.app == a)).cloned().collect()
    }

    /// Drift events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DriftEvent> {
        self.events.subscribe()
    }

    /// Records drift; an event only when it is new or has changed.
    fn detected(&self, record: DriftRecord) {
        let mut drifted = self.drifted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let unchanged = drifted.get(&record.drift.key).is_some_and(|known| known.drift == record.drift);
        drifted.insert(record.drift.key.clone(), record.clone());
        drop(drifted);
        if !unchanged {
            info!(app = %record.app, object = %record.drift.key, drift = %record.drift.summary(), "drift detected");
            let _ = self.events.send(DriftEvent::Detected(record));
        }
    }

    fn emit(&self, event: DriftEvent) {
        let _ = self.events.send(event);
    }

    /// plumb re-applied `key`: if it had drifted, that drift is corrected.
    pub fn corrected(&self, key: &ObjectKey) {
        let removed = self.drifted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
        if let Some(record) = removed {
            info!(app = %record.app, object = %key, "drift corrected");
            self.emit(DriftEvent::Corrected { app: record.app.clone(), key: key.clone() });
            self.emit(DriftEvent::Resolved { app: record.app, key: key.clone() });
        }
    }

    /// Marks `key` back in sync.
    pub fn resolve(&self, key: &ObjectKey) {
        let removed = self.drifted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
        if let Some(record) = removed {
            info!(app = %record.app, object = %key, "drift resolved");
            self.emit(DriftEvent::Resolved { app: record.app, key: key.clone() });
        }
    }
}

/// Confirms and handles suspects.
pub struct DriftDetector {
    cache: Arc<LiveCache>,
    syncer: Arc<Syncer>,
    registry: Arc<DriftRegistry>,
    /// Only the leader corrects (without leader election: always true).
    leader: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for DriftRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriftRegistry").field("drifted", &self.drifted(None).len()).finish()
    }
}

/// Suspects arriving within this window are handled together.
const COALESCE: Duration = Duration::from_millis(20);

impl DriftDetector {
    /// A detector over `cache`, applying through `syncer`.
    pub fn new(cache: Arc<LiveCache>, syncer: Arc<Syncer>) -> Self {
        let registry = cache.drift();
        let (_, leader) = tokio::sync::watch::channel(true);
        Self { cache, syncer, registry, leader }
    }

    /// Corrects drift only while `leader` is true.
    pub fn with_leader(mut self, leader: tokio::sync::watch::Receiver<bool>) -> Self {
        self.leader = leader;
        self
    }

    /// Handles suspects until the cache is dropped.
    pub async fn run(self, mut suspects: mpsc::UnboundedReceiver<ObjectKey>) {
        while let Some(first) = suspects.recv().await {
            let seen = Instant::now();
            tokio::time::sleep(COALESCE).await;
            let mut batch = BTreeSet::from([first]);
            while let Ok(next) = suspects.try_recv() {
                batch.insert(next);
            }
            for key in batch {
                self.check(&key, seen).await;
            }
        }
    }

    async fn check(&self, key: &ObjectKey, seen: Instant) {
        let Some(expected) = self.cache.expected(key) else {
            self.registry.resolve(key);
            return;
        };
        if self.syncer.in_flight(key) {
            return; // a sync is applying it right now and will record the result
        }
        let app = expected.desired.manifest["metadata"]["labels"][APP_LABEL].as_str().unwrap_or_default().to_string();
        let detected_at = SystemTime::now() - seen.elapsed();
        let entry = self.cache.entry(key);
        let uid = entry.as_ref().and_then(|e| e.uid.clone()).or_else(|| self.cache.last_uid(key));
        let drift = match entry {
            None => Drift { key: key.clone(), kind: DriftKind::Deleted, fields: Vec::new() },
            Some(entry) if !entry.differs_from(&expected) => {
                self.registry.resolve(key);
                return;
            }
            Some(_) => match self.explain(&expected).await {
                Ok((fields, live)) if fields.is_empty() => {
                    // Something changed that plumb does not manage, or
                    // changed back: adopt what the object is now.
                    self.cache.expect(key.clone(), Expected::of(&live, expected.desired, expected.enforce));
                    self.registry.resolve(key);
                    return;
                }
                Ok((fields, _)) => Drift { key: key.clone(), kind: DriftKind::Modified, fields },
                Err(reason) => {
                    warn!(object = %key, %reason, "could not explain a change; will retry on the next event");
                    return;
                }
            },
        };
        let api_version = expected.desired.api_version.clone();
        self.registry.detected(DriftRecord { app: app.clone(), api_version, uid, drift, detected_at });
        if expected.enforce && *self.leader.borrow() {
            self.correct(&app, key, expected).await;
        }
    }

    /// One GET of the live object and one dry-run of the desired one: the
    /// drifted fields, and the live object.
    async fn explain(&self, expected: &Expected) -> Result<(Vec<super::drift::FieldDrift>, serde_json::Value), String> {
        let desired = &expected.desired;
        let live = self.syncer.get_object(desired).await?.ok_or("the object is gone")?;
        let applied = self.syncer.apply_object(desired, true).await?;
        Ok((explain(&desired.key, &applied, &live, &ignored_pointers(&desired.manifest)), live))
    }

    async fn correct(&self, app: &str, key: &ObjectKey, expected: Expected) {
        match self.syncer.apply_object(&expected.desired, false).await {
            Ok(applied) => {
                self.cache.applied(key.clone(), Expected::of(&applied, expected.desired, expected.enforce));
            }
            Err(reason) => {
                warn!(%app, object = %key, %reason, "drift correction failed");
                self.registry.emit(DriftEvent::CorrectionFailed { app: app.to_string(), key: key.clone(), reason });
            }
        }
    }
}
