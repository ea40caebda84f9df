//! Health of an applied object, computed from the object alone (pure,
//! kstatus-style). The apply stage waits for each wave to be [`Health::Ready`]
//! and fails fast on [`Health::Failed`].

use serde_json::Value;

/// How an object is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Done: rolled out, established, bound, complete...
    Ready,
    /// Still converging; the reason says on what.
    InProgress(String),
    /// Will not get better without a change; the reason says why.
    Failed(String),
}

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(v: &'a Value, type_: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_)
}

fn condition_is(v: &Value, type_: &str, status: &str) -> bool {
    condition(v, type_).is_some_and(|c| c["status"] == status)
}

fn describe(c: Option<&Value>) -> String {
    let Some(c) = c else { return String::new() };
    let reason = c["reason"].as_str().unwrap_or("");
    let message = c["message"].as_str().unwrap_or("");
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!("{reason}: {message}"),
        (false, true) => reason.to_string(),
        _ => message.to_string(),
    }
}

/// The controller has not seen the latest spec yet.
fn stale(v: &Value) -> Option<Health> {
    let generation = int(v, "/metadata/generation");
    let observed = v.pointer("/status/observedGeneration").and_then(Value::as_i64);
    match observed {
        Some(o) if o < generation => Some(Health::InProgress(format!("observed generation {o} of {generation}"))),
        _ => None,
    }
}

/// The controller has not reported on the latest spec at all yet (a status
/// without `observedGeneration` says nothing about the pods).
fn unobserved(v: &Value) -> Option<Health> {
    let generation = int(v, "/metadata/generation");
    match v.pointer("/status/observedGeneration").and_then(Value::as_i64) {
        Some(o) if o >= generation => None,
        Some(o) => Some(Health::InProgress(format!("observed generation {o} of {generation}"))),
        None => Some(Health::InProgress("not observed by its controller yet".into())),
    }
}

/// What health needs besides the object itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthContext {
    /// For a PersistentVolumeClaim: its StorageClass's `volumeBindingMode`.
    pub binding_mode: Option<String>,
}

/// Kinds without a health rule of their own or a status to read: always
/// ready once applied, so an unchanged one is never read for its health.
pub fn has_health(key: &crate::plan::ObjectKey) -> bool {
    !matches!(
        (key.group.as_str(), key.kind.as_str()),
        ("", "ConfigMap" | "Secret" | "ServiceAccount" | "Endpoints" | "LimitRange" | "PodTemplate")
            | ("rbac.authorization.k8s.io", _)
            | ("scheduling.k8s.io", "PriorityClass")
            | ("storage.k8s.io", "StorageClass")
            | ("networking.k8s.io", "IngressClass" | "NetworkPolicy")
            | ("node.k8s.io", "RuntimeClass")
            | ("admissionregistration.k8s.io", _)
            | ("policy", "PodDisruptionBudget")
    )
}

/// The health of `object` (a full object as the API returns it).
pub fn health(group: &str, kind: &str, object: &Value) -> Health {
    health_in(group, kind, object, &HealthContext::default())
}

/// [`health`], with what some kinds need from elsewhere.
pub fn health_in(group: &str, kind: &str, object: &Value, context: &HealthContext) -> Health {
    match (group, kind) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => replica_set(object),
        ("batch", "Job") => job(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(object),
        ("", "Namespace") => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some("Active") => Health::Ready,
            other => Health::InProgress(format!("namespace phase {}", other.unwrap_or("unknown"))),
        },
        ("", "PersistentVolumeClaim") => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => Health::Ready,
            Some("Lost") => Health::Failed("claim lost its volume".into()),
            // Bound only once a pod uses it (the default on the big clouds).
            None | Some("Pending") if context.binding_mode.as_deref() == Some("WaitForFirstConsumer") => Health::Ready,
            other => Health::InProgress(format!("claim phase {}", other.unwrap_or("Pending"))),
        },
        ("", "Service") => service(object),
        ("", "Pod") => pod(object),
        _ => generic(object),
    }
}

fn deployment(v: &Value) -> Health {
    if let Some(h) = stale(v) {
        return h;
    }
    let progressing = condition(v, "Progressing");
    if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
        return Health::Failed(describe(progressing));
    }
    let want = v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let (updated, total, available) =
        (int(v, "/status/updatedReplicas"), int(v, "/status/replicas"), int(v, "/status/availableReplicas"));
    if updated < want {
        Health::InProgress(format!("{updated} of {want} replicas updated"))
    } else if total > updated {
        Health::InProgress(format!("{} old replicas pending termination", total - updated))
    } else if available < updated {
        Health::InProgress(format!("{available} of {updated} updated replicas available"))
    } else {
        Health::Ready
    }
}

fn stateful_set(v: &Value) -> Health {
    if let Some(h) = stale(v) {
        return h;
    }
    let want = v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = int(v, "/status/readyReplicas");
    let rolling = v.pointer("/spec/updateStrategy/type").and_then(Value::as_str) != Some("OnDelete");
    if ready < want {
        return Health::InProgress(format!("{ready} of {want} replicas ready"));
    }
    if rolling && want > 0 {
        let updated = int(v, "/status/updatedReplicas");
        let partition = v.pointer("/spec/updateStrategy/rollingUpdate/partition").and_then(Value::as_i64).unwrap_or(0);
        if updated < want - partition {
            return Health::InProgress(format!("{updated} of {} replicas updated", want - partition));
        }
        if partition == 0 && v.pointer("/status/currentRevision") != v.pointer("/status/updateRevision") {
            return Health::InProgress("revision update in progress".into());
        }
    }
    Health::Ready
}

fn daemon_set(v: &Value) -> Health {
    if let Some(h) = unobserved(v) {
        return h;
    }
    let want = int(v, "/status/desiredNumberScheduled");
    let updated = int(v, "/status/updatedNumberScheduled");
    let available = int(v, "/status/numberAvailable");
    if updated < want {
        Health::InProgress(format!("{updated} of {want} pods updated"))
    } else if available < want {
        Health::InProgress(format!("{available} of {want} pods available"))
    } else {
        Health::Ready
    }
}

fn replica_set(v: &Value) -> Health {
    if let Some(h) = stale(v) {
        return h;
    }
    let want = v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let available = int(v, "/status/availableReplicas");
    if available < want {
        Health::InProgress(format!("{available} of {want} replicas available"))
    } else {
        Health::Ready
    }
}

fn job(v: &Value) -> Health {
    if condition_is(v, "Complete", "True") {
        Health::Ready
    } else if condition_is(v, "Failed", "True") {
        Health::Failed(describe(condition(v, "Failed")))
    } else {
        Health::InProgress(format!("{} active, {} succeeded", int(v, "/status/active"), int(v, "/status/succeeded")))
    }
}

fn crd(v: &Value) -> Health {
    if condition_is(v, "NamesAccepted", "False") {
        Health::Failed(describe(condition(v, "NamesAccepted")))
    } else if condition_is(v, "Established", "True") {
        Health::Ready
    } else {
        Health::InProgress("not established yet".into())
    }
}

fn service(v: &Value) -> Health {
    let load_balancer = v.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
    let has_ingress =
        v.pointer("/status/loadBalancer/ingress").and_then(Value::as_array).is_some_and(|i| !i.is_empty());
    if load_balancer && !has_ingress {
        Health::InProgress("waiting for a load balancer address".into())
    } else {
        Health::Ready
    }
}

fn pod(v: &Value) -> Health {
    match v.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => Health::Ready,
        Some("Failed") => {
            Health::Failed(v.pointer("/status/message").and_then(Value::as_str).unwrap_or("pod failed").into())
        }
        Some("Running") if condition_is(v, "Ready", "True") => Health::Ready,
        other => Health::InProgress(format!("pod phase {}", other.unwrap_or("Pending"))),
    }
}

/// Any other kind: observedGeneration, then `Stalled`/`Ready` conditions
/// when present; objects without status (ConfigMaps, RBAC...) are ready.
fn generic(v: &Value) -> Health {
    if let Some(h) = stale(v) {
        return h;
    }
    if condition_is(v, "Stalled", "True") {
        return Health::Failed(describe(condition(v, "Stalled")));
    }
    match condition(v, "Ready") {
        Some(c) if c["status"] != "True" => {
            Health::InProgress(format!("Ready={} {}", c["status"].as_str().unwrap_or("?"), describe(Some(c))))
        }
        _ => Health::Ready,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deploy(status: Value) -> Value {
        json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn deployments() {
        let table = [
            (json!({"observedGeneration": 1}), Health::InProgress("observed generation 1 of 2".into())),
            (
                json!({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 2}),
                Health::InProgress("1 of 2 replicas updated".into()),
            ),
            (
                json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 3, "availableReplicas": 2}),
                Health::InProgress("1 old replicas pending termination".into()),
            ),
            (
                json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1}),
                Health::InProgress("1 of 2 updated replicas available".into()),
            ),
            (
                json!({"observedGeneration": 2, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2}),
                Health::Ready,
            ),
            (
                json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-1\" has timed out progressing."}]}),
                Health::Failed("ProgressDeadlineExceeded: ReplicaSet \"web-1\" has timed out progressing.".into()),
            ),
        ];
        for (status, want) in table {
            assert_eq!(health("apps", "Deployment", &deploy(status.clone())), want, "{status}");
        }
    }

    #[test]
    fn jobs_crds_namespaces_claims() {
        let cond = |t: &str, s: &str| json!({"status": {"conditions": [{"type": t, "status": s, "reason": "R", "message": "m"}]}});
        let table = [
            ("batch", "Job", cond("Complete", "True"), Health::Ready),
            ("batch", "Job", cond("Failed", "True"), Health::Failed("R: m".into())),
            ("batch", "Job", json!({"status": {"active": 1}}), Health::InProgress("1 active, 0 succeeded".into())),
            ("apiextensions.k8s.io", "CustomResourceDefinition", cond("Established", "True"), Health::Ready),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                cond("NamesAccepted", "False"),
                Health::Failed("R: m".into()),
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({}),
                Health::InProgress("not established yet".into()),
            ),
            ("", "Namespace", json!({"status": {"phase": "Active"}}), Health::Ready),
            (
                "",
                "Namespace",
                json!({"status": {"phase": "Terminating"}}),
                Health::InProgress("namespace phase Terminating".into()),
            ),
            ("", "PersistentVolumeClaim", json!({"status": {"phase": "Bound"}}), Health::Ready),
            (
                "",
                "PersistentVolumeClaim",
                json!({"status": {"phase": "Pending"}}),
                Health::InProgress("claim phase Pending".into()),
            ),
            ("", "Service", json!({"spec": {"type": "ClusterIP"}}), Health::Ready),
            (
                "",
                "Service",
                json!({"spec": {"type": "LoadBalancer"}}),
                Health::InProgress("waiting for a load balancer address".into()),
            ),
            ("", "ConfigMap", json!({"data": {}}), Health::Ready),
            ("x.io", "Widget", cond("Ready", "False"), Health::InProgress("Ready=False R: m".into())),
            ("x.io", "Widget", cond("Stalled", "True"), Health::Failed("R: m".into())),
            (
                "x.io",
                "Widget",
                json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 2}}),
                Health::InProgress("observed generation 2 of 3".into()),
            ),
        ];
        for (group, kind, object, want) in table {
            assert_eq!(health(group, kind, &object), want, "{kind} {object}");
        }
    }

    #[test]
    fn stateful_and_daemon_sets() {
        let sts = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "a"}});
        assert_eq!(health("apps", "StatefulSet", &sts), Health::Ready);
        let rolling = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "b"}});
        assert_eq!(health("apps", "StatefulSet", &rolling), Health::InProgress("revision update in progress".into()));
        let ds =
            json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 0}});
        assert_eq!(health("apps", "DaemonSet", &ds), Health::Ready);
        let fresh = json!({"metadata": {"generation": 1}, "status": {}});
        assert_eq!(
            health("apps", "DaemonSet", &fresh),
            Health::InProgress("not observed by its controller yet".into())
        );
        let pods_missing = json!({"metadata": {"generation": 2}, "status": {"observedGeneration": 2,
            "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 1}});
        assert_eq!(health("apps", "DaemonSet", &pods_missing), Health::InProgress("1 of 3 pods available".into()));
    }

    #[test]
    fn claims_waiting_for_their_first_consumer_are_healthy() {
        let pending = json!({"status": {"phase": "Pending"}});
        let waits = HealthContext { binding_mode: Some("WaitForFirstConsumer".into()) };
        assert_eq!(health_in("", "PersistentVolumeClaim", &pending, &waits), Health::Ready);
        let immediate = HealthContext { binding_mode: Some("Immediate".into()) };
        assert_eq!(
            health_in("", "PersistentVolumeClaim", &pending, &immediate),
            Health::InProgress("claim phase Pending".into())
        );
        assert!(!has_health(&crate::plan::ObjectKey::new("", "ConfigMap", Some("a"), "b")));
        assert!(has_health(&crate::plan::ObjectKey::new("apps", "Deployment", Some("a"), "b")));
        assert!(has_health(&crate::plan::ObjectKey::new("example.com", "Widget", Some("a"), "b")));
    }
}
