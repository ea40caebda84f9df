//! Prometheus metrics (prefix `plumb_`), documented in docs/metrics.md.
//!
//! Label values come from validated names (apps, kinds, namespaces, object
//! names) or are sanitised and cut to a bounded length (repo, ref): no
//! secret, commit message or free text ever becomes a label.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::apply::{ObjectAction, SyncReport};
use crate::cluster::requests::ApiRequests;
use crate::plan::ObjectKey;

/// Longest label value plumb exports.
pub const MAX_LABEL: usize = 128;

/// A label value: printable ASCII kept, anything else `_`, cut to `MAX_LABEL`.
pub fn label(value: &str) -> String {
    value.chars().take(MAX_LABEL).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect()
}

/// `{app}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    /// The app.
    pub app: String,
}

/// `{app, result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppResult {
    /// The app.
    pub app: String,
    /// `success` or `failure`.
    pub result: String,
}

/// `{app, action, kind}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    /// The app.
    pub app: String,
    /// create, update, prune.
    pub action: String,
    /// Object kind.
    pub kind: String,
}

/// One object: `{app, group, kind, namespace, name}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectLabels {
    /// The app.
    pub app: String,
    /// API group (empty for core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectLabels {
    /// Labels of `key` in `app`.
    pub fn of(app: &str, key: &ObjectKey) -> Self {
        Self {
            app: label(app),
            group: label(&key.group),
            kind: label(&key.kind),
            namespace: label(key.namespace.as_deref().unwrap_or("")),
            name: label(&key.name),
        }
    }
}

/// `{repo, reference, revision}` of the source.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// Repo URL, credentials removed.
    pub repo: String,
    /// Followed branch, tag or commit.
    pub reference: String,
    /// Commit applied.
    pub revision: String,
}

/// `{result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `failure`.
    pub result: String,
}

/// Every metric plumb exports.
pub struct Metrics {
    registry: Registry,
    source_info: Family<SourceLabels, Gauge>,
    polls: Family<ResultLabels, Counter>,
    poll_duration: Histogram,
    fetches: Counter,
    last_poll_success: Gauge<f64, AtomicU64>,
    syncs: Family<AppResult, Counter>,
    sync_duration: Family<AppLabels, Histogram>,
    last_sync_success: Family<AppLabels, Gauge<f64, AtomicU64>>,
    render_duration: Family<AppLabels, Histogram>,
    render_errors: Family<AppLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
    managed: Family<AppLabels, Gauge>,
    drifted: Family<AppLabels, Gauge>,
    drift_object: Family<ObjectLabels, Gauge>,
    drift_detected: Family<AppLabels, Counter>,
    drift_corrected: Family<AppLabels, Counter>,
    prune_blocked: Family<AppLabels, Counter>,
    signature_failures: Counter,
    /// Drifted objects per app, behind `drifted` and `drift_object`.
    drifted_now: Mutex<HashMap<String, HashSet<ObjectKey>>>,
}

fn seconds_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 2.0, 14)
}

fn now_seconds() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Metrics {
    /// All metrics, registered; `api` is the API request counter of the
    /// agent's client.
    pub fn new(api: &ApiRequests) -> Arc<Self> {
        let mut registry = Registry::with_prefix("plumb");
        let m = Self {
            source_info: Family::default(),
            polls: Family::default(),
            poll_duration: Histogram::new(seconds_buckets()),
            fetches: Counter::default(),
            last_poll_success: Gauge::default(),
            syncs: Family::default(),
            sync_duration: Family::new_with_constructor(|| Histogram::new(seconds_buckets())),
            last_sync_success: Family::default(),
            render_duration: Family::new_with_constructor(|| Histogram::new(seconds_buckets())),
            render_errors: Family::default(),
            actions: Family::default(),
            managed: Family::default(),
            drifted: Family::default(),
            drift_object: Family::default(),
            drift_detected: Family::default(),
            drift_corrected: Family::default(),
            prune_blocked: Family::default(),
            signature_failures: Counter::default(),
            drifted_now: Mutex::default(),
            registry: Registry::default(),
        };
        registry.register("source_info", "The followed source and the commit applied (value 1)", m.source_info.clone());
        registry.register("source_polls", "Polls of the source by result", m.polls.clone());
        registry.register(
            "source_poll_duration_seconds",
            "Duration of a poll (ls-remote, and fetch when needed)",
            m.poll_duration.clone(),
        );
        registry.register("source_fetches", "Fetches made (only when the followed ref moved)", m.fetches.clone());
        registry.register(
            "source_last_success_timestamp_seconds",
            "Time of the last successful poll",
            m.last_poll_success.clone(),
        );
        registry.register("sync", "Syncs per app by result", m.syncs.clone());
        registry.register("sync_duration_seconds", "Duration of an app's sync", m.sync_duration.clone());
        registry.register(
            "sync_last_success_timestamp_seconds",
            "Time of the app's last successful sync",
            m.last_sync_success.clone(),
        );
        registry.register("render_duration_seconds", "Duration of an app's render", m.render_duration.clone());
        registry.register("render_errors", "Failed renders per app", m.render_errors.clone());
        registry.register("apply_actions", "Objects created, updated and pruned, by app and kind", m.actions.clone());
        registry.register("managed_objects", "Objects plumb manages per app", m.managed.clone());
        registry.register("drift_objects", "Objects drifted now, per app", m.drifted.clone());
        registry.register(
            "drift_object",
            "One series per drifted object (value 1), present only while drifted",
            m.drift_object.clone(),
        );
        registry.register("drift_detected", "Drift found, per app", m.drift_detected.clone());
        registry.register("drift_corrected", "Drift corrected by re-applying, per app", m.drift_corrected.clone());
        registry.register("prune_blocked", "Syncs refused by a prune guard, per app", m.prune_blocked.clone());
        registry.register(
            "signature_failures",
            "Commits rejected by signature verification",
            m.signature_failures.clone(),
        );
        registry.register("api_requests", "Kubernetes API requests by verb and response code", api.family());
        Arc::new(Self { registry, ..m })
    }

    /// The registry, for encoding.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A poll finished.
    pub fn poll(&self, ok: bool, duration: Duration, fetched: bool) {
        let result = if ok { "success" } else { "failure" };
        self.polls.get_or_create(&ResultLabels { result: result.into() }).inc();
        self.poll_duration.observe(duration.as_secs_f64());
        if fetched {
            self.fetches.inc();
        }
        if ok {
            self.last_poll_success.set(now_seconds());
        }
    }

    /// The source now applied.
    pub fn source(&self, repo: &str, reference: &str, revision: &str) {
        self.source_info.clear();
        let labels = SourceLabels { repo: label(repo), reference: label(reference), revision: label(revision) };
        self.source_info.get_or_create(&labels).set(1);
    }

    /// An app rendered (or failed to).
    pub fn render(&self, app: &str, duration: Duration, ok: bool) {
        let app = AppLabels { app: label(app) };
        self.render_duration.get_or_create(&app).observe(duration.as_secs_f64());
        if !ok {
            self.render_errors.get_or_create(&app).inc();
        }
    }

    /// An app's sync finished.
    pub fn sync(&self, report: &SyncReport, managed: Option<usize>, prune_blocked: bool) {
        let app = label(&report.app);
        let result = if report.result.is_ok() { "success" } else { "failure" };
        self.syncs.get_or_create(&AppResult { app: app.clone(), result: result.into() }).inc();
        let labels = AppLabels { app: app.clone() };
        self.sync_duration.get_or_create(&labels).observe(report.duration.as_secs_f64());
        if report.result.is_ok() {
            self.last_sync_success.get_or_create(&labels).set(now_seconds());
        }
        for o in report.objects.iter().filter(|o| o.done) {
            let action = match o.action {
                ObjectAction::Create => "create",
                ObjectAction::Update => "update",
                ObjectAction::Prune => "prune",
                _ => continue,
            };
            let labels = ActionLabels { app: app.clone(), action: action.into(), kind: label(&o.key.kind) };
            self.actions.get_or_create(&labels).inc();
        }
        if let Some(n) = managed {
            self.managed.get_or_create(&labels).set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if prune_blocked {
            self.prune_blocked.get_or_create(&labels).inc();
        }
    }

    /// An app was removed: its per-app gauges go.
    pub fn app_removed(&self, app: &str) {
        let labels = AppLabels { app: label(app) };
        self.managed.remove(&labels);
        self.drifted.remove(&labels);
    }

    fn set_drifted(&self, app: &str, key: &ObjectKey, drifted: bool) {
        let mut now = self.drifted_now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = now.entry(app.to_string()).or_default();
        let changed = if drifted { keys.insert(key.clone()) } else { keys.remove(key) };
        if changed {
            let labels = ObjectLabels::of(app, key);
            if drifted {
                self.drift_object.get_or_create(&labels).set(1);
            } else {
                self.drift_object.remove(&labels);
            }
        }
        let count = i64::try_from(keys.len()).unwrap_or(i64::MAX);
        self.drifted.get_or_create(&AppLabels { app: label(app) }).set(count);
    }

    /// An object drifted (repeats of the same object count once in the gauges).
    pub fn drift_detected(&self, app: &str, key: &ObjectKey) {
        self.drift_detected.get_or_create(&AppLabels { app: label(app) }).inc();
        self.set_drifted(app, key, true);
    }

    /// Drift was corrected by re-applying.
    pub fn drift_corrected(&self, app: &str) {
        self.drift_corrected.get_or_create(&AppLabels { app: label(app) }).inc();
    }

    /// An object is no longer drifted.
    pub fn drift_resolved(&self, app: &str, key: &ObjectKey) {
        self.set_drifted(app, key, false);
    }

    /// A commit's signature was rejected.
    pub fn signature_failure(&self) {
        self.signature_failures.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(m: &Metrics) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, m.registry()).expect("encode");
        out
    }

    #[test]
    fn drift_series_come_and_go() {
        let api = ApiRequests::default();
        let m = Metrics::new(&api);
        let key = ObjectKey {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("n".into()),
            name: "web".into(),
        };
        m.drift_detected("demo", &key);
        m.drift_detected("demo", &key);
        let text = scrape(&m);
        assert!(
            text.contains(
                r#"plumb_drift_object{app="demo",group="apps",kind="Deployment",namespace="n",name="web"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"plumb_drift_objects{app="demo"} 1"#), "{text}");
        m.drift_resolved("demo", &key);
        m.drift_resolved("demo", &key);
        let text = scrape(&m);
        assert!(!text.contains("plumb_drift_object{"), "{text}");
        assert!(text.contains(r#"plumb_drift_objects{app="demo"} 0"#), "{text}");
        assert!(text.contains(r#"plumb_drift_detected_total{app="demo"} 2"#), "{text}");
    }

    #[test]
    fn label_values_are_bounded_and_printable() {
        assert_eq!(label("a b\nc"), "a_b_c");
        assert_eq!(label(&"x".repeat(500)).len(), MAX_LABEL);
    }
}
