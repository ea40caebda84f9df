//! Drift: what changed, and who changed it. Pure functions over objects.
//!
//! plumb owns exactly the fields it applied. A field that leaves plumb's
//! managed set was taken by another manager (an edit, patch, scale, a
//! client-side or forced apply) or removed; a field that joins it was
//! applied under plumb's name by someone else. Both are drift. Values the
//! API server or a webhook defaulted, and status written by controllers,
//! never touch plumb's set, so they never raise an alarm.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use serde::Serialize;
use serde_json::Value;

use super::cache::{Expected, LiveEntry};
use super::fields::{FieldPath, paths, plumb_entry, under_pointer, value_at};
use crate::plan::ObjectKey;

/// Annotation listing JSON pointers whose drift is ignored (comma-separated).
pub const IGNORE_ANNOTATION: &str = "plumb.dev/ignore";

pub use crate::redact::REDACTED;

/// How an object drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    /// The object was deleted.
    Deleted,
    /// Fields plumb applied changed hands or vanished.
    Modified,
}

/// One drifted field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDrift {
    /// Where (`spec.replicas`).
    pub path: String,
    /// What Git says (as the API server would store it).
    pub desired: Option<Value>,
    /// What the cluster has.
    pub live: Option<Value>,
    /// Managers that own the field now (`kubectl-edit (Update)`); empty when
    /// it was removed.
    pub managers: Vec<String>,
}

/// An object's drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// The object.
    pub key: ObjectKey,
    /// Deleted or modified.
    pub kind: DriftKind,
    /// The drifted fields (empty for a deleted object).
    pub fields: Vec<FieldDrift>,
}

impl Drift {
    /// The managers involved, deduplicated.
    pub fn managers(&self) -> Vec<String> {
        let mut all: Vec<String> = self.fields.iter().flat_map(|f| f.managers.iter().cloned()).collect();
        all.sort();
        all.dedup();
        all
    }

    /// `spec.replicas (kubectl-edit), data.key` — for events and logs.
    pub fn summary(&self) -> String {
        match self.kind {
            DriftKind::Deleted => "deleted".to_string(),
            DriftKind::Modified => {
                self.fields.iter().map(|f| describe_field(&f.path, &f.managers)).collect::<Vec<_>>().join(", ")
            }
        }
    }
}

/// `path (manager, ...)`, or the path alone when no manager is known.
pub fn describe_field(path: &str, managers: &[String]) -> String {
    if managers.is_empty() { path.to_string() } else { format!("{path} ({})", managers.join(", ")) }
}

/// What the drift detector must do about one object, from what plumb
/// expects of it and what the live cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// plumb expects nothing of it: any drift record goes.
    NotManaged,
    /// It is as plumb left it.
    InSync,
    /// It is gone.
    Deleted,
    /// plumb's fields changed hands or the spec moved: read it and explain.
    Explain,
}

impl Check {
    /// True when the object needs the detector's attention.
    pub fn is_suspect(self) -> bool {
        matches!(self, Check::Deleted | Check::Explain)
    }
}

/// Classifies one object (pure).
pub fn classify(expected: Option<&Expected>, observed: Option<&LiveEntry>) -> Check {
    match (expected, observed) {
        (None, _) => Check::NotManaged,
        (Some(_), None) => Check::Deleted,
        (Some(expected), Some(entry)) if entry.differs_from(expected) => Check::Explain,
        (Some(_), Some(_)) => Check::InSync,
    }
}

/// Whether a new state of an object goes to the detector (pure): it is not
/// as plumb expects, or it just came back to that (drift undone by hand
/// must be resolved; the detector does so without a request).
pub fn needs_check(expected: Option<&Expected>, before: Option<&LiveEntry>, now: &LiveEntry) -> bool {
    expected.is_some_and(|e| now.differs_from(e) || before.is_some_and(|b| b.differs_from(e)))
}

/// A field's value as `plumb diff` prints it: JSON, `<redacted>` or `(absent)`.
pub fn show_value(value: &Option<serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) if s == REDACTED => REDACTED.to_string(),
        Some(v) => v.to_string(),
        None => "(absent)".to_string(),
    }
}

/// The `managedFields` of an object as the API returned it.
pub fn managed_fields(object: &Value) -> Vec<ManagedFieldsEntry> {
    serde_json::from_value(object["metadata"]["managedFields"].clone()).unwrap_or_default()
}

/// The JSON pointers of `plumb.dev/ignore` on `desired`.
pub fn ignored_pointers(desired: &Value) -> Vec<String> {
    desired["metadata"]["annotations"][IGNORE_ANNOTATION]
        .as_str()
        .map(|s| s.split(',').map(str::trim).filter(|p| p.starts_with('/')).map(String::from).collect())
        .unwrap_or_default()
}

fn plumb_paths(managed: &[ManagedFieldsEntry]) -> std::collections::BTreeSet<FieldPath> {
    plumb_entry(managed).and_then(|m| m.fields_v1.as_ref()).map(|f| paths(&f.0)).unwrap_or_default()
}

/// Explains how `live` differs from `applied` (a dry-run's result) for an
/// object plumb never applied (report mode): the fields plumb would set
/// whose values differ. plumb owns none of them, so ownership says nothing.
pub fn explain_values(key: &ObjectKey, applied: &Value, live: &Value, ignore: &[String]) -> Vec<FieldDrift> {
    let live_managed = managed_fields(live);
    let wanted = plumb_paths(&managed_fields(applied));
    let secret = key.group.is_empty() && key.kind == "Secret";
    let show = |object: &Value, path: &FieldPath| {
        value_at(object, path).map(|v| {
            let sensitive = secret && matches!(path.0.first().map(String::as_str), Some("data" | "stringData"));
            if sensitive { Value::String(REDACTED.into()) } else { v.clone() }
        })
    };
    wanted
        .iter()
        .filter(|p| value_at(applied, p) != value_at(live, p))
        .filter(|path| !ignore.iter().any(|pointer| under_pointer(path, pointer)))
        .map(|path| FieldDrift {
            path: path.to_string(),
            desired: show(applied, path),
            live: show(live, path),
            managers: managers_of(&live_managed, path),
        })
        .collect()
}

fn managers_of(live_managed: &[ManagedFieldsEntry], path: &FieldPath) -> Vec<String> {
    live_managed
        .iter()
        .filter(|m| plumb_entry(std::slice::from_ref(m)).is_none())
        .filter(|m| m.fields_v1.as_ref().is_some_and(|f| paths(&f.0).contains(path)))
        .map(|m| format!("{} ({})", m.manager.as_deref().unwrap_or("?"), m.operation.as_deref().unwrap_or("?")))
        .collect()
}

/// Explains how `live` drifted from `applied` (the desired object as the
/// API server stores it after plumb's apply: a dry-run's result). Empty
/// when plumb still owns exactly what it applies.
pub fn explain(key: &ObjectKey, applied: &Value, live: &Value, ignore: &[String]) -> Vec<FieldDrift> {
    let live_managed = managed_fields(live);
    let wanted = plumb_paths(&managed_fields(applied));
    let have = plumb_paths(&live_managed);
    let secret = key.group.is_empty() && key.kind == "Secret";
    let show = |object: &Value, path: &FieldPath| {
        value_at(object, path).map(|v| {
            let sensitive = secret && matches!(path.0.first().map(String::as_str), Some("data" | "stringData"));
            if sensitive { Value::String(REDACTED.into()) } else { v.clone() }
        })
    };
    let changed_value = wanted.intersection(&have).filter(|p| value_at(applied, p) != value_at(live, p));
    let mut drifted: Vec<&FieldPath> = wanted.symmetric_difference(&have).chain(changed_value).collect();
    drifted.sort();
    drifted
        .into_iter()
        .filter(|path| !ignore.iter().any(|pointer| under_pointer(path, pointer)))
        .map(|path| FieldDrift {
            path: path.to_string(),
            desired: show(applied, path),
            live: show(live, path),
            managers: managers_of(&live_managed, path),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(manager: &str, operation: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    fn deployment(replicas: i64, managed: Vec<Value>) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "n", "managedFields": managed},
               "spec": {"replicas": replicas, "paused": false}})
    }

    fn key(kind: &str) -> ObjectKey {
        ObjectKey {
            group: if kind == "Secret" { "".into() } else { "apps".into() },
            kind: kind.into(),
            namespace: Some("n".into()),
            name: "web".into(),
        }
    }

    fn owned() -> Value {
        json!({"f:spec": {"f:replicas": {}, "f:paused": {}}})
    }

    #[test]
    fn scaled_by_another_manager() {
        let applied = deployment(2, vec![entry("plumb", "Apply", owned())]);
        let live = deployment(
            5,
            vec![
                entry("plumb", "Apply", json!({"f:spec": {"f:paused": {}}})),
                entry("kubectl", "Update", json!({"f:spec": {"f:replicas": {}}})),
            ],
        );
        let drift = explain(&key("Deployment"), &applied, &live, &[]);
        assert_eq!(
            drift,
            vec![FieldDrift {
                path: "spec.replicas".into(),
                desired: Some(json!(2)),
                live: Some(json!(5)),
                managers: vec!["kubectl (Update)".into()],
            }]
        );
        let whole = Drift { key: key("Deployment"), kind: DriftKind::Modified, fields: drift };
        assert_eq!(whole.summary(), "spec.replicas (kubectl (Update))");
        assert_eq!(whole.managers(), ["kubectl (Update)"]);
    }

    #[test]
    fn value_changed_without_a_manager() {
        // The scale subresource of Kubernetes < 1.22: replicas changed, plumb
        // still listed as its owner.
        let applied = deployment(2, vec![entry("plumb", "Apply", owned())]);
        let live = deployment(7, vec![entry("plumb", "Apply", owned())]);
        let drift = explain(&key("Deployment"), &applied, &live, &[]);
        assert_eq!(
            drift,
            vec![FieldDrift {
                path: "spec.replicas".into(),
                desired: Some(json!(2)),
                live: Some(json!(7)),
                managers: vec![]
            }]
        );
    }

    #[test]
    fn no_false_alarms() {
        let applied = deployment(2, vec![entry("plumb", "Apply", owned())]);
        // Status and labels from other managers, defaults: plumb's set is intact.
        let live = deployment(
            2,
            vec![
                entry("plumb", "Apply", owned()),
                entry("kube-controller-manager", "Update", json!({"f:status": {"f:replicas": {}}})),
                entry("kubectl-label", "Update", json!({"f:metadata": {"f:labels": {"f:team": {}}}})),
            ],
        );
        assert!(explain(&key("Deployment"), &applied, &live, &[]).is_empty());
    }

    #[test]
    fn ignored_fields_and_foreign_applies() {
        let applied = deployment(2, vec![entry("plumb", "Apply", owned())]);
        let scaled = deployment(
            5,
            vec![
                entry("plumb", "Apply", json!({"f:spec": {"f:paused": {}}})),
                entry("hpa", "Update", json!({"f:spec": {"f:replicas": {}}})),
            ],
        );
        assert!(explain(&key("Deployment"), &applied, &scaled, &["/spec/replicas".into()]).is_empty());
        // Someone applied extra fields under plumb's name.
        let extra = deployment(
            2,
            vec![entry(
                "plumb",
                "Apply",
                json!({"f:spec": {"f:replicas": {}, "f:paused": {}, "f:minReadySeconds": {}}}),
            )],
        );
        let drift = explain(&key("Deployment"), &applied, &extra, &[]);
        assert_eq!(drift.len(), 1);
        assert_eq!((drift[0].path.as_str(), &drift[0].desired), ("spec.minReadySeconds", &None));
    }

    #[test]
    fn secret_values_are_redacted() {
        let secret = |value: &str, managed: Vec<Value>| {
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "web", "managedFields": managed}, "data": {"token": value}})
        };
        let applied = secret("czNjcjN0", vec![entry("plumb", "Apply", json!({"f:data": {"f:token": {}}}))]);
        let live = secret("b3RoZXI=", vec![entry("kubectl-edit", "Update", json!({"f:data": {"f:token": {}}}))]);
        let drift = explain(&key("Secret"), &applied, &live, &[]);
        assert_eq!(drift[0].desired, Some(json!(REDACTED)));
        assert_eq!(drift[0].live, Some(json!(REDACTED)));
        assert!(!serde_json::to_string(&drift).expect("json").contains("czNjcjN0"));
    }

    fn expected(fingerprint: u64, resource_version: Option<&str>) -> Expected {
        let desired = std::sync::Arc::new(super::super::cache::KeptObject::keep(&crate::plan::DesiredObject {
            key: ObjectKey::new("", "ConfigMap", Some("n"), "c"),
            api_version: "v1".into(),
            manifest: json!({}),
            hash: String::new(),
            origin: String::new(),
        }));
        Expected {
            fingerprint,
            generation: None,
            resource_version: resource_version.map(Into::into),
            desired,
            enforce: resource_version.is_none(),
        }
    }

    fn live(fingerprint: u64, resource_version: &str) -> LiveEntry {
        LiveEntry {
            app: Some("a".into()),
            prune_disabled: false,
            resource_version: Some(resource_version.into()),
            fingerprint,
            generation: None,
            uid: None,
        }
    }

    #[test]
    fn changes_and_returns_to_the_expected_state_are_checked() {
        let expected = expected(7, None);
        let (as_applied, edited) = (live(7, "1"), live(9, "2"));
        assert!(needs_check(Some(&expected), Some(&as_applied), &edited), "an edit");
        assert!(needs_check(Some(&expected), Some(&edited), &edited), "another event while drifted");
        assert!(needs_check(Some(&expected), Some(&edited), &as_applied), "back as applied");
        assert!(!needs_check(Some(&expected), Some(&as_applied), &as_applied), "status updates");
        assert!(!needs_check(Some(&expected), None, &as_applied), "listed as applied");
        assert!(!needs_check(None, Some(&as_applied), &edited), "not plumb's");
        assert_eq!(classify(Some(&expected), None), Check::Deleted);
        assert_eq!(classify(Some(&expected), Some(&edited)), Check::Explain);
        assert_eq!(classify(Some(&expected), Some(&as_applied)), Check::InSync);
        assert_eq!(classify(None, Some(&edited)), Check::NotManaged);
    }

    #[test]
    fn objects_plumb_never_applied_are_checked_on_any_change() {
        let report = expected(0, Some("5"));
        assert_eq!(classify(Some(&report), Some(&live(0, "5"))), Check::InSync);
        assert_eq!(classify(Some(&report), Some(&live(0, "6"))), Check::Explain, "any new version is looked at");
    }

    #[test]
    fn ignore_annotation() {
        let desired =
            json!({"metadata": {"annotations": {IGNORE_ANNOTATION: "/spec/replicas, /metadata/labels/x, nonsense"}}});
        assert_eq!(ignored_pointers(&desired), ["/spec/replicas", "/metadata/labels/x"]);
    }
}
