//! Objects in the fake: the built-in kinds, new objects, server-side apply
//! and updates as field ownership, and the ready statuses controllers
//! would write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use plumb::cluster::{Resource, Target};
use serde_json::{Map, Value, json};

/// Objects annotated with this never get a ready status.
pub const UNHEALTHY_ANNOTATION: &str = "fake.plumb.dev/unhealthy";

pub(crate) fn builtin_resources() -> Vec<Resource> {
    let r = |group: &str, version: &str, kind: &str, plural: &str, namespaced: bool| Resource {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        namespaced,
        listable: true,
    };
    vec![
        r("", "v1", "Namespace", "namespaces", false),
        r("", "v1", "ConfigMap", "configmaps", true),
        r("", "v1", "Secret", "secrets", true),
        r("", "v1", "Service", "services", true),
        r("", "v1", "ServiceAccount", "serviceaccounts", true),
        r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
        r("apps", "v1", "Deployment", "deployments", true),
        r("apps", "v1", "DaemonSet", "daemonsets", true),
        r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
        r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false),
        r("coordination.k8s.io", "v1", "Lease", "leases", true),
        r("events.k8s.io", "v1", "Event", "events", true),
    ]
}

pub(crate) fn new_object(target: Target<'_>, name: &str, uid: u64) -> Value {
    let mut metadata = json!({"name": name, "uid": format!("uid-{uid}"), "generation": 0, "managedFields": []});
    if let Some(ns) = target.namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": target.resource.api_version(), "kind": target.resource.kind, "metadata": metadata})
}

/// The metadata of a stored object.
pub(crate) fn meta_of(object: &Value) -> ObjectMeta {
    serde_json::from_value(object["metadata"].clone()).unwrap_or_default()
}

/// Keys of an object that are identity or server-owned, never fields a
/// manager owns.
fn skipped(path: &[&str]) -> bool {
    matches!(
        path,
        ["apiVersion"]
            | ["kind"]
            | ["status", ..]
            | ["metadata", "name" | "namespace" | "uid" | "resourceVersion" | "generation" | "managedFields", ..]
    )
}

/// The `fieldsV1` tree of the fields `patch` sets (lists owned whole).
pub fn fields_of(patch: &Value) -> Value {
    fn walk(value: &Value, path: &mut Vec<String>) -> Value {
        let mut tree = Map::new();
        if let Value::Object(map) = value {
            for (key, child) in map {
                path.push(key.clone());
                let borrowed: Vec<&str> = path.iter().map(String::as_str).collect();
                if !skipped(&borrowed) {
                    let sub = if child.is_object() { walk(child, path) } else { json!({}) };
                    tree.insert(format!("f:{key}"), sub);
                }
                path.pop();
            }
        }
        Value::Object(tree)
    }
    walk(patch, &mut Vec::new())
}

fn leaves(tree: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree.as_object() {
        Some(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(key.trim_start_matches("f:").to_string());
                leaves(child, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

fn remove_leaf(tree: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    let Some(map) = tree.as_object_mut() else { return };
    let key = format!("f:{first}");
    if rest.is_empty() {
        map.remove(&key);
    } else if let Some(child) = map.get_mut(&key) {
        remove_leaf(child, rest);
        if child.as_object().is_some_and(Map::is_empty) {
            map.remove(&key);
        }
    }
}

fn remove_value(object: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else { return };
    let Some(map) = object.as_object_mut() else { return };
    if rest.is_empty() {
        map.remove(first);
    } else if let Some(child) = map.get_mut(first) {
        remove_value(child, rest);
    }
}

fn merge(into: &mut Value, patch: &Value, path: &mut Vec<String>) {
    let (Some(target), Some(source)) = (into.as_object_mut(), patch.as_object()) else {
        *into = patch.clone();
        return;
    };
    for (key, value) in source {
        path.push(key.clone());
        let borrowed: Vec<&str> = path.iter().map(String::as_str).collect();
        if !skipped(&borrowed) || borrowed == ["apiVersion"] || borrowed == ["kind"] {
            match target.get_mut(key) {
                Some(existing) if existing.is_object() && value.is_object() => merge(existing, value, path),
                _ => {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        path.pop();
    }
}

/// `current` after `manager` wrote `patch` with `operation` (`Apply` or
/// `Update`): values merged, the manager's fields recorded (and taken from
/// other managers), fields it applied before and no longer applies
/// removed, the generation bumped on a spec change, a ready status set.
pub(crate) fn apply_patch(current: Value, patch: &Value, manager: &str, operation: &str) -> Value {
    let mut next = current.clone();
    let mut managed: Vec<Value> = next["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let mine = fields_of(patch);
    let mut mine_leaves = Vec::new();
    leaves(&mine, &mut Vec::new(), &mut mine_leaves);
    if operation == "Apply" {
        let before = managed.iter().find(|m| m["manager"] == manager && m["operation"] == "Apply");
        let mut old_leaves = Vec::new();
        if let Some(before) = before {
            leaves(&before["fieldsV1"], &mut Vec::new(), &mut old_leaves);
        }
        for gone in old_leaves.iter().filter(|l| !mine_leaves.contains(l)) {
            remove_value(&mut next, gone);
        }
    }
    merge(&mut next, patch, &mut Vec::new());
    for entry in managed.iter_mut().filter(|m| !(m["manager"] == manager && m["operation"] == operation)) {
        for leaf in &mine_leaves {
            remove_leaf(&mut entry["fieldsV1"], leaf);
        }
    }
    managed.retain(|m| {
        m["fieldsV1"].as_object().is_some_and(|f| !f.is_empty())
            || (m["manager"] == manager && m["operation"] == operation)
    });
    let entry = json!({"manager": manager, "operation": operation, "apiVersion": next["apiVersion"],
        "fieldsType": "FieldsV1", "fieldsV1": if operation == "Apply" { mine } else { union(&managed, manager, operation, &mine) }});
    match managed.iter_mut().find(|m| m["manager"] == manager && m["operation"] == operation) {
        Some(existing) => *existing = entry,
        None => managed.push(entry),
    }
    next["metadata"]["managedFields"] = Value::Array(managed);
    let spec_changed = strip(&current) != strip(&next);
    let generation = current["metadata"]["generation"].as_i64().unwrap_or(0);
    if spec_changed || generation == 0 {
        next["metadata"]["generation"] = json!(generation + 1);
    }
    ready_status(&mut next);
    next
}

/// An Update manager's fields: what it owned plus what it set now.
fn union(managed: &[Value], manager: &str, operation: &str, mine: &Value) -> Value {
    let mut tree = managed
        .iter()
        .find(|m| m["manager"] == manager && m["operation"] == operation)
        .map(|m| m["fieldsV1"].clone())
        .unwrap_or_else(|| json!({}));
    merge(&mut tree, mine, &mut Vec::new());
    tree
}

/// The object without metadata and status: what a generation tracks.
fn strip(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

fn ready_status(object: &mut Value) {
    if object["metadata"]["annotations"][UNHEALTHY_ANNOTATION].is_string() {
        object["status"] = json!({"observedGeneration": object["metadata"]["generation"]});
        return;
    }
    let generation = object["metadata"]["generation"].clone();
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let status = match (object["apiVersion"].as_str().unwrap_or(""), object["kind"].as_str().unwrap_or("")) {
        ("apps/v1", "Deployment") => json!({"observedGeneration": generation, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}),
        ("apps/v1", "DaemonSet") => json!({"observedGeneration": generation, "desiredNumberScheduled": 1,
            "updatedNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1}),
        ("v1", "Namespace") => json!({"phase": "Active"}),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            json!({"conditions": [{"type": "Established", "status": "True"}, {"type": "NamesAccepted", "status": "True"}]})
        }
        ("v1", "PersistentVolumeClaim") => json!({"phase": "Bound"}),
        _ => return,
    };
    object["status"] = status;
}
