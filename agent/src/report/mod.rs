//! The report stage: metrics, events, the audit trail and the HTTP API.
//!
//! - [`metrics`] — Prometheus metrics.
//! - [`events`] — Kubernetes Events, series-merged and rate-limited.
//! - [`commit`] — what syncing one commit produced.
//! - [`audit`] — the hash-chained audit log.
//! - [`history`] — the last audit records of each app, in its inventory ConfigMap.
//! - [`status`] — the status document.
//! - [`objects`] — each app's objects as the dashboard lists them.
//! - [`http`] — `/metrics`, `/healthz`, `/readyz`, `/api/v1/status`, `/hooks/git`.
//! - [`ui`] — the read-only dashboard.
//!
//! [`Reporter`] turns what the other stages produce (commit reports, drift
//! events, polls) into all of these, and tells watchers (the dashboard's
//! event streams) when any of it changed.

pub mod audit;
pub mod commit;
pub mod events;
pub mod history;
pub mod http;
pub mod metrics;
pub mod objects;
pub mod status;
pub mod ui;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use tokio::sync::{mpsc, watch};
use tracing::warn;

use self::audit::{AuditAction, AuditLog, AuditRecord, now};
use self::commit::{AppOutcome, CommitReport};
use self::events::{EventSink, Severity, reference};
use self::metrics::Metrics;
use self::status::{
    AppStatus, DriftedField, DriftedObject, ObjectStatus, RecentRecord, SourceStatus, Status, SyncStamp,
};
use crate::apply::store::inventory_name;
use crate::apply::{ApplyError, Mode, ObjectAction, SyncReport};
use crate::live::drift::DriftKind;
use crate::live::{DriftEvent, DriftRecord, DriftRegistry};
use crate::plan::{ObjectKey, PlanError};
use crate::source::git::CommitInfo;

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// Audit records the dashboard keeps in memory.
const RECENT_RECORDS: usize = 100;
/// Actions kept of each of them.
const RECENT_ACTIONS: usize = 10;

/// Everything plumb reports, fed by the runtime.
pub struct Reporter {
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    events: Option<EventSink>,
    audit: Option<AuditLog>,
    history: Option<history::History>,
    status: RwLock<Status>,
    drift: Option<Arc<DriftRegistry>>,
    inventory_namespace: String,
    /// Objects with drift reported, for the events that follow it.
    drifted_refs: Mutex<HashMap<ObjectKey, ObjectReference>>,
    /// Each app's objects after its last sync.
    objects: RwLock<BTreeMap<String, Arc<Vec<ObjectStatus>>>>,
    /// The last audit records, oldest first.
    recent: Mutex<VecDeque<RecentRecord>>,
    /// Bumped on every change of the above or of drift.
    changes: watch::Sender<u64>,
}

impl Reporter {
    /// A reporter; events, audit log and history are optional.
    pub fn new(
        metrics: Arc<Metrics>,
        events: Option<EventSink>,
        audit: Option<AuditLog>,
        history: Option<history::History>,
        drift: Option<Arc<DriftRegistry>>,
        inventory_namespace: &str,
        source: SourceStatus,
    ) -> Self {
        let status = Status { source, ..Status::default() };
        Self {
            metrics,
            events,
            audit,
            history,
            status: RwLock::new(status),
            drift,
            inventory_namespace: inventory_namespace.into(),
            drifted_refs: Mutex::default(),
            objects: RwLock::default(),
            recent: Mutex::default(),
            changes: watch::channel(0).0,
        }
    }

    /// Changes from now on: the value moves whenever the status, an app's
    /// objects, the recent records or drift changed.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|version| *version = version.wrapping_add(1));
    }

    /// The objects of `app` after its last sync, in apply order.
    pub fn objects(&self, app: &str) -> Arc<Vec<ObjectStatus>> {
        self.objects.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(app).cloned().unwrap_or_default()
    }

    /// The last audit records, newest first.
    pub fn recent_records(&self) -> Vec<RecentRecord> {
        self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().rev().cloned().collect()
    }

    fn remember(&self, record: &AuditRecord) {
        let mut kept = RecentRecord { record: record.clone(), actions_total: record.actions.len() };
        kept.record.actions.truncate(RECENT_ACTIONS);
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RECENT_RECORDS {
            recent.pop_front();
        }
        recent.push_back(kept);
        drop(recent);
        self.changed();
    }

    /// The status now, with the drifted objects of each app.
    pub fn status(&self) -> Status {
        let mut status = self.status.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let Some(registry) = &self.drift else { return status };
        for app in status.apps.values_mut() {
            app.drifted.clear();
        }
        for record in registry.drifted(None) {
            if let Some(app) = status.apps.get_mut(&record.app) {
                app.drifted.push(DriftedObject {
                    object: record.drift.key.to_string(),
                    drift: match record.drift.kind {
                        DriftKind::Deleted => "deleted".into(),
                        DriftKind::Modified => "modified".into(),
                    },
                    fields: record
                        .drift
                        .fields
                        .iter()
                        .map(|f| DriftedField { path: f.path.clone(), managers: f.managers.clone() })
                        .collect(),
                });
            }
        }
        status
    }

    fn update(&self, change: impl FnOnce(&mut Status)) {
        change(&mut self.status.write().unwrap_or_else(std::sync::PoisonError::into_inner));
        self.changed();
    }

    /// Whether this instance leads (a standby is ready without syncing).
    pub fn set_leading(&self, leading: bool) {
        let role = if leading { "leader" } else { "standby" };
        if self.status.read().unwrap_or_else(std::sync::PoisonError::into_inner).role != role {
            self.update(|s| s.role = role.to_string());
        }
    }

    /// A poll finished.
    pub fn polled(&self, result: Result<&str, String>, duration: Duration, fetched: bool) {
        self.metrics.poll(result.is_ok(), duration, fetched);
        let commit = result.as_ref().ok().map(|c| c.to_string());
        self.update(|s| match result {
            Ok(commit) => {
                s.source.revision = Some(commit.to_string());
                s.source.last_poll = Some(now());
                s.source.error = None;
            }
            Err(error) => s.source.error = Some(error),
        });
        if let Some(commit) = commit {
            let status = self.status.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.metrics.source(&status.source.repo, &status.source.reference, &commit);
        }
    }

    fn inventory_ref(&self, app: &str) -> ObjectReference {
        reference("v1", "ConfigMap", Some(&self.inventory_namespace), &inventory_name(app), None)
    }

    async fn event(&self, regarding: ObjectReference, severity: Severity, reason: &str, action: &str, note: &str) {
        if let Some(events) = &self.events {
            events.publish(regarding, severity, reason, action, note).await;
        }
    }

    async fn audit(&self, record: AuditRecord) {
        self.audit_with_history(record, true).await;
    }

    /// Appends `record` to the audit log and (unless its app's inventory
    /// is gone) to the app's history.
    async fn audit_with_history(&self, record: AuditRecord, history: bool) {
        let record = match &self.audit {
            Some(log) => match log.append(record) {
                Ok(chained) => chained,
                Err(error) => {
                    warn!(%error, "could not write the audit log");
                    return;
                }
            },
            None => record,
        };
        self.remember(&record);
        if let Some(log) = &self.history
            && history
            && record.app != "*"
            && let Err(error) = log.record(&record).await
        {
            warn!(%error, app = %record.app, "could not record the app's history");
        }
    }

    /// A commit was synced: metrics, events, audit records and status for each app.
    pub async fn commit_synced(&self, report: &CommitReport, info: Option<&CommitInfo>, signature: &str) {
        let person = |s: &crate::source::git::Signature| format!("{} <{}>", s.name, s.email);
        let record = |app: &str,
                      actions: Vec<AuditAction>,
                      error: Option<String>,
                      duration: Duration,
                      digest: Option<String>| {
            AuditRecord {
                commit: Some(report.commit.clone()),
                author: info.map(|i| person(&i.author)),
                committer: info.map(|i| person(&i.committer)),
                signature: signature.to_string(),
                render_digest: digest,
                actions,
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                ..AuditRecord::new("sync", app, error)
            }
        };
        for (app, took) in &report.render_times {
            let failed = matches!(report.app(app), Some(AppOutcome::RenderFailed { .. }));
            self.metrics.render(app, *took, !failed);
        }
        if let Some(error) = &report.config_error {
            self.audit(record("*", Vec::new(), Some(error.to_string()), Duration::ZERO, None)).await;
            return;
        }
        for outcome in &report.apps {
            match outcome {
                AppOutcome::Synced(sync) => self.app_synced(sync, &report.commit, record).await,
                AppOutcome::RenderFailed { app, error } => {
                    let message = error.to_string();
                    self.event(
                        self.inventory_ref(app),
                        Severity::Warning,
                        "RenderFailed",
                        "Render",
                        &format!(
                            "commit {}: {message}; fix the commit, the last good state stays applied",
                            short(&report.commit)
                        ),
                    )
                    .await;
                    self.audit(record(app, Vec::new(), Some(message.clone()), Duration::ZERO, None)).await;
                    self.set_app(app, "RenderFailed", &report.commit, None, Some(message), None);
                }
                AppOutcome::Blocked { app, by } => {
                    let message = format!("blocked: {} failed", by.join(", "));
                    self.audit(record(app, Vec::new(), Some(message.clone()), Duration::ZERO, None)).await;
                    self.set_app(app, "Blocked", &report.commit, None, Some(message), None);
                }
            }
        }
        self.update(|s| s.ready = true);
    }

    async fn app_synced(
        &self,
        sync: &SyncReport,
        commit: &str,
        record: impl Fn(&str, Vec<AuditAction>, Option<String>, Duration, Option<String>) -> AuditRecord,
    ) {
        let app = &sync.app;
        let prune_blocked = matches!(
            &sync.result,
            Err(ApplyError::Plan(PlanError::EmptyRender { .. } | PlanError::PruneLimitExceeded { .. }))
        );
        let managed = sync.result.is_ok().then(|| {
            sync.objects
                .iter()
                .filter(|o| {
                    matches!(
                        o.action,
                        ObjectAction::Create | ObjectAction::Update | ObjectAction::Replace | ObjectAction::Unchanged
                    )
                })
                .count()
        });
        self.metrics.sync(sync, managed, prune_blocked);
        let actions: Vec<AuditAction> = sync
            .objects
            .iter()
            .filter(|o| o.action != ObjectAction::Unchanged)
            .map(|o| AuditAction {
                object: o.key.to_string(),
                action: o.action.as_str().into(),
                done: o.done,
                fields: o.fields.clone(),
                error: o.error.clone(),
            })
            .collect();
        let error = sync.result.as_ref().err().map(ToString::to_string);
        let report_mode = sync.mode == Mode::Report;
        let note = match &error {
            None if report_mode => format!(
                "commit {} (report mode, nothing applied): would create {}, update {}, prune {}",
                short(commit),
                sync.planned(ObjectAction::Create).len(),
                sync.planned(ObjectAction::Update).len(),
                sync.planned(ObjectAction::Prune).len()
            ),
            None => format!("commit {}: {} in {:.1}s", short(commit), sync.summary(), sync.duration.as_secs_f64()),
            Some(e) => format!("commit {}: {e}", short(commit)),
        };
        let (severity, reason) =
            if error.is_none() { (Severity::Normal, "Synced") } else { (Severity::Warning, "SyncFailed") };
        self.event(self.inventory_ref(app), severity, reason, "Sync", &note).await;
        if prune_blocked && let Some(e) = &error {
            self.event(self.inventory_ref(app), Severity::Warning, "PruneBlocked", "Prune", e).await;
        }
        // A removed app's inventory is gone: its history must not bring it back.
        let removed = sync.removal && error.is_none();
        let audit_record = record(app, actions, error.clone(), sync.duration, sync.render_digest.clone());
        self.audit_with_history(audit_record, !removed).await;
        if removed && let Some(history) = &self.history {
            history.forget(app).await;
        }
        let state = if error.is_none() { "Synced" } else { "SyncFailed" };
        let health = match &sync.result {
            Ok(()) => "Healthy".to_string(),
            Err(ApplyError::Unhealthy { object, reason }) => format!("Degraded: {object}: {reason}"),
            Err(ApplyError::HealthTimeout { object, reason, .. }) => format!("Progressing: {object}: {reason}"),
            Err(_) => "Unknown".to_string(),
        };
        let mode = if report_mode { "report" } else { "enforce" };
        if sync.removal && error.is_none() {
            self.app_removed(app);
        } else {
            let stamp = Arc::new(SyncStamp { commit: commit.to_string(), time: now() });
            let mut objects = self.objects.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            let rows = objects::object_rows(sync, &objects.get(app).cloned().unwrap_or_default(), &stamp);
            objects.insert(app.clone(), Arc::new(rows));
            drop(objects);
            self.set_app(app, state, commit, managed, error, Some((mode, health)));
        }
    }

    fn set_app(
        &self,
        app: &str,
        state: &str,
        commit: &str,
        objects: Option<usize>,
        message: Option<String>,
        mode_health: Option<(&str, String)>,
    ) {
        self.update(|s| {
            let entry = s.apps.entry(app.to_string()).or_insert_with(AppStatus::default);
            entry.state = state.into();
            entry.commit = Some(commit.into());
            entry.last_sync = Some(now());
            entry.message = message;
            if let Some(n) = objects {
                entry.objects = n;
            }
            if let Some((mode, health)) = mode_health {
                entry.mode = mode.into();
                entry.health = health;
            }
        });
    }

    /// A commit failed signature verification: nothing of it is synced.
    /// Events go on the inventory of each of `apps`.
    pub async fn signature_rejected(&self, commit: &str, reason: &str, applied: Option<&str>, apps: &[String]) {
        self.metrics.signature_failure();
        let stays = applied.map(|c| format!("; the cluster stays at {}", short(c))).unwrap_or_default();
        let note = format!("{reason}{stays}");
        for app in apps {
            self.event(self.inventory_ref(app), Severity::Warning, "SignatureRejected", "Verify", &note).await;
        }
        self.update(|s| s.source.error = Some(note.clone()));
        let record = AuditRecord {
            commit: Some(commit.to_string()),
            signature: format!("rejected: {reason}"),
            ..AuditRecord::new("source", "*", Some(note))
        };
        self.audit(record).await;
    }

    /// Forgets an app that left plumb.yaml.
    pub fn app_removed(&self, app: &str) {
        self.metrics.app_removed(app);
        self.objects.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(app);
        self.update(|s| {
            s.apps.remove(app);
        });
    }

    /// A drift event: metrics, an event on the object, an audit record.
    pub async fn drift_event(&self, event: &DriftEvent) {
        // The registry holds the new state already: watchers need not wait
        // for the event and audit writes below.
        self.changed();
        match event {
            DriftEvent::Detected(record) => {
                self.metrics.drift_detected(&record.app, &record.drift.key);
                self.refs().insert(record.drift.key.clone(), object_ref(record));
                self.event(
                    object_ref(record),
                    Severity::Warning,
                    "DriftDetected",
                    "Watch",
                    &format!("drifted from Git: {}", record.drift.summary()),
                )
                .await;
                let fields = record.drift.fields.iter().map(|f| f.path.clone()).collect();
                self.audit(drift_record(&record.app, &record.drift.key, "drift", fields, None)).await;
            }
            DriftEvent::Corrected { app, key } => {
                self.metrics.drift_corrected(app);
                let regarding = self.drift_ref(key);
                self.event(regarding, Severity::Normal, "DriftCorrected", "Apply", "re-applied as in Git").await;
                self.audit(drift_record(app, key, "correct", Vec::new(), None)).await;
            }
            DriftEvent::CorrectionFailed { app, key, reason } => {
                let regarding = self.refs().get(key).cloned().unwrap_or_else(|| self.drift_ref(key));
                self.event(regarding, Severity::Warning, "DriftCorrectionFailed", "Apply", reason).await;
                self.audit(drift_record(app, key, "correct", Vec::new(), Some(reason.clone()))).await;
            }
            DriftEvent::Resolved { app, key } => {
                self.refs().remove(key);
                self.metrics.drift_resolved(app, key);
            }
        }
    }

    fn refs(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, ObjectReference>> {
        self.drifted_refs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The object a drift event was about (recorded when it was detected).
    fn drift_ref(&self, key: &ObjectKey) -> ObjectReference {
        self.refs().remove(key).unwrap_or_else(|| {
            let mut r = reference("", &key.kind, key.namespace.as_deref(), &key.name, None);
            r.api_version = None;
            r
        })
    }

    /// Feeds drift events to [`Reporter::drift_event`] until the channel closes.
    pub async fn follow_drift(self: Arc<Self>, mut events: mpsc::Receiver<DriftEvent>) {
        while let Some(event) = events.recv().await {
            self.drift_event(&event).await;
        }
    }
}

fn object_ref(record: &DriftRecord) -> ObjectReference {
    let key = &record.drift.key;
    reference(&record.api_version, &key.kind, key.namespace.as_deref(), &key.name, record.uid.as_deref())
}

fn drift_record(app: &str, key: &ObjectKey, action: &str, fields: Vec<String>, error: Option<String>) -> AuditRecord {
    let done = error.is_none();
    let action = AuditAction { object: key.to_string(), action: action.into(), done, fields, error: error.clone() };
    AuditRecord { actions: vec![action], ..AuditRecord::new("drift", app, error) }
}
