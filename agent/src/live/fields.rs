//! Server-side apply field sets (`managedFields[].fieldsV1`), made readable
//! and comparable. Pure functions.
//!
//! A field set is a tree: `f:<name>` is a field, `k:<json>` a list item by
//! its keys, `v:<json>` a set member, `i:<n>` a list index, and `.` the node
//! itself. We flatten it to paths like
//! `spec.template.spec.containers[name=web].image`.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::FIELD_MANAGER;

/// plumb's own entry: manager `plumb`, operation `Apply`, main resource.
pub fn plumb_entry(managed: &[ManagedFieldsEntry]) -> Option<&ManagedFieldsEntry> {
    managed.iter().find(|m| {
        m.manager.as_deref() == Some(FIELD_MANAGER)
            && m.operation.as_deref() == Some("Apply")
            && m.subresource.as_deref().unwrap_or("").is_empty()
    })
}

/// A short fingerprint of plumb's field set (0 when plumb owns nothing):
/// equal fingerprints mean plumb still owns exactly what it applied.
pub fn fingerprint(managed: &[ManagedFieldsEntry]) -> u64 {
    let Some(fields) = plumb_entry(managed).and_then(|m| m.fields_v1.as_ref()) else { return 0 };
    let bytes = serde_json::to_vec(&fields.0).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    u64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]])
}

/// A field's location: field names and bracketed list items
/// (`[name=web]`, `[=member]`, `[0]`). Displayed dot-separated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<String>);

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 && !segment.starts_with('[') {
                f.write_str(".")?;
            }
            f.write_str(segment)?;
        }
        Ok(())
    }
}

/// The leaf paths of a `fieldsV1` tree.
pub fn paths(fields: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

fn walk(node: &Value, prefix: &mut Vec<String>, out: &mut BTreeSet<FieldPath>) {
    let Some(map) = node.as_object() else { return };
    if map.is_empty() {
        if !prefix.is_empty() {
            out.insert(FieldPath(prefix.clone()));
        }
        return;
    }
    for (key, child) in map {
        if key == "." {
            // The node itself (a map or list item plumb created): listed
            // only when nothing under it is.
            if map.len() == 1 && !prefix.is_empty() {
                out.insert(FieldPath(prefix.clone()));
            }
            continue;
        }
        prefix.push(segment(key));
        walk(child, prefix, out);
        prefix.pop();
    }
}

fn segment(key: &str) -> String {
    match key.split_at(key.find(':').map_or(0, |i| i + 1)) {
        ("f:", name) => name.to_string(),
        ("k:", json) => match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(keys)) => {
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect();
                format!("[{}]", parts.join(","))
            }
            _ => format!("[{json}]"),
        },
        ("v:", json) => format!(
            "[={}]",
            serde_json::from_str::<Value>(json).map(|v| scalar(&v)).unwrap_or_else(|_| json.to_string())
        ),
        ("i:", index) => format!("[{index}]"),
        _ => format!("[{key}]"),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// True if `path` is at or under the JSON pointer `pointer` (as used in
/// `plumb.dev/ignore`). A numeric or `*` pointer segment matches any list item.
pub fn under_pointer(path: &FieldPath, pointer: &str) -> bool {
    let wanted: Vec<String> = pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect();
    if wanted.is_empty() || wanted.len() > path.0.len() {
        return false;
    }
    wanted.iter().zip(&path.0).all(|(w, h)| {
        if h.starts_with('[') {
            w == "*" || w.parse::<usize>().is_ok() || *h == format!("[{w}]")
        } else {
            w == "*" || w == h
        }
    })
}

/// The value at `path` in `object`, for readable diffs (`None` when absent).
pub fn value_at<'a>(object: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let mut current = object;
    for segment in &path.0 {
        current = match segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(selector) => select(current.as_array()?, selector)?,
            None => current.get(segment)?,
        };
    }
    Some(current)
}

fn select<'a>(items: &'a [Value], selector: &str) -> Option<&'a Value> {
    if let Ok(index) = selector.parse::<usize>() {
        return items.get(index);
    }
    if let Some(member) = selector.strip_prefix('=') {
        return items.iter().find(|v| scalar(v) == member);
    }
    let keys: Vec<(&str, &str)> = selector.split(',').filter_map(|kv| kv.split_once('=')).collect();
    items.iter().find(|item| keys.iter().all(|(k, v)| item.get(*k).is_some_and(|x| scalar(x) == *v)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment_fields() -> Value {
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:plumb.dev/app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}
                }}}
            }
        })
    }

    #[test]
    fn flattens_field_sets() {
        let got: Vec<String> = paths(&deployment_fields()).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "metadata.labels.plumb.dev/app",
                "spec.replicas",
                "spec.template.spec.containers[name=web].image",
                "spec.template.spec.containers[name=web].name",
                "spec.template.spec.containers[name=web].ports[containerPort=8080,protocol=TCP].containerPort",
            ]
        );
        let show = |v: Value| paths(&v).iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(show(json!({"f:data": {".": {}}})), ["data"]);
        assert_eq!(show(json!({"f:finalizers": {"v:\"a\"": {}}})), ["finalizers[=a]"]);
    }

    fn path(segments: &[&str]) -> FieldPath {
        FieldPath(segments.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn pointers_select_paths() {
        let replicas = path(&["spec", "replicas"]);
        let image = path(&["spec", "template", "spec", "containers", "[name=web]", "image"]);
        let label = path(&["metadata", "labels", "plumb.dev/app"]);
        let table = [
            (&replicas, "/spec/replicas", true),
            (&replicas, "/spec", true),
            (&replicas, "/spec/template", false),
            (&image, "/spec/template/spec/containers/0/image", true),
            (&image, "/spec/template/spec/containers/*/image", true),
            (&image, "/spec/template/spec/containers/0/name", false),
            (&label, "/metadata/labels/plumb.dev~1app", true),
            (&replicas, "", false),
        ];
        for (path, pointer, want) in table {
            assert_eq!(under_pointer(path, pointer), want, "{path} under {pointer}");
        }
        assert_eq!(image.to_string(), "spec.template.spec.containers[name=web].image");
    }

    #[test]
    fn values_at_paths() {
        let object = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "side", "image": "s:1"}, {"name": "web", "image": "w:2", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}
        ]}}}});
        let containers = ["spec", "template", "spec", "containers", "[name=web]"];
        assert_eq!(value_at(&object, &path(&["spec", "replicas"])), Some(&json!(3)));
        assert_eq!(value_at(&object, &path(&[&containers[..], &["image"]].concat())), Some(&json!("w:2")));
        let port = [&containers[..], &["ports", "[containerPort=8080,protocol=TCP]", "containerPort"]].concat();
        assert_eq!(value_at(&object, &path(&port)), Some(&json!(8080)));
        assert_eq!(value_at(&object, &path(&["spec", "paused"])), None);
    }

    #[test]
    fn fingerprints_follow_plumbs_entry_only() {
        let entry = |manager: &str, fields: Value| -> ManagedFieldsEntry {
            serde_json::from_value(
                json!({"manager": manager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields}),
            )
            .expect("entry")
        };
        let ours = [entry("plumb", deployment_fields()), entry("kubectl", json!({"f:spec": {"f:paused": {}}}))];
        let other_changed = [entry("plumb", deployment_fields()), entry("kubectl", json!({"f:spec": {"f:x": {}}}))];
        let lost = [entry("plumb", json!({"f:spec": {"f:template": {}}}))];
        assert_eq!(fingerprint(&ours), fingerprint(&other_changed));
        assert_ne!(fingerprint(&ours), fingerprint(&lost));
        assert_eq!(fingerprint(&[]), 0);
    }
}
