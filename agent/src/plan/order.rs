//! Ordering: which objects are applied together (a wave) and which wait
//! for earlier waves to be healthy.
//!
//! Each object gets a level `(hook phase, sync wave, kind rank, hook weight)`:
//! Helm `pre-*` hooks before everything and `post-*` hooks after, then Argo
//! CD's `sync-wave`, then the kind rank (Namespaces and CRDs first, webhooks
//! last), then Helm's hook weight. Dependencies come on top: explicit ones
//! from `plumb.dev/depends-on`, and implicit ones on the object's Namespace
//! and on the CRD of a custom resource when those are in the same render. A
//! dependency on a later-level object lifts the dependent to that level;
//! within a level, dependents go one wave after their dependencies.

use std::collections::{BTreeMap, HashMap};

use super::graph::topo_order;
use super::{
    DEPENDS_ON_ANNOTATION, DesiredObject, HELM_HOOK_ANNOTATION, HELM_HOOK_WEIGHT_ANNOTATION, ObjectKey, PlanError,
    SYNC_WAVE_ANNOTATION,
};

/// Where a kind goes in the apply order (lower first). Pruning runs in the
/// reverse order.
pub fn kind_rank(group: &str, kind: &str) -> u8 {
    match (group, kind) {
        ("", "Namespace") => 0,
        ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
        ("scheduling.k8s.io", "PriorityClass")
        | ("storage.k8s.io", "StorageClass")
        | ("rbac.authorization.k8s.io", "ClusterRole")
        | ("policy", "PodSecurityPolicy")
        | ("networking.k8s.io", "IngressClass")
        | ("node.k8s.io", "RuntimeClass") => 2,
        ("", "ResourceQuota") | ("", "LimitRange") | ("networking.k8s.io", "NetworkPolicy") => 3,
        ("", "ServiceAccount") => 4,
        ("rbac.authorization.k8s.io", "Role" | "RoleBinding" | "ClusterRoleBinding") => 5,
        ("", "ConfigMap" | "Secret") => 6,
        ("", "PersistentVolume" | "PersistentVolumeClaim") => 7,
        ("", "Service" | "Endpoints") => 8,
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("", "Pod" | "ReplicationController" | "PodTemplate")
        | ("batch", "Job" | "CronJob") => 9,
        ("networking.k8s.io" | "extensions", "Ingress")
        | ("autoscaling", "HorizontalPodAutoscaler")
        | ("policy", "PodDisruptionBudget") => 10,
        ("apiregistration.k8s.io", "APIService")
        | ("admissionregistration.k8s.io", "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration") => 12,
        // Custom resources and kinds we do not know: after the workloads
        // that usually serve them, before webhooks that could reject them.
        _ => 11,
    }
}

/// An object's place before dependencies: compared lexicographically.
type Level = (u8, i64, u8, i64);

fn parse_int(o: &DesiredObject, annotation: &str) -> Result<i64, PlanError> {
    match o.annotation(annotation) {
        None => Ok(0),
        Some(value) => value.trim().parse().map_err(|_| PlanError::BadAnnotation {
            origin: o.origin.clone(),
            key: o.key.to_string(),
            annotation: annotation.into(),
            value: value.into(),
            problem: "must be an integer".into(),
        }),
    }
}

fn level(o: &DesiredObject) -> Result<Level, PlanError> {
    let hook = o.annotation(HELM_HOOK_ANNOTATION).unwrap_or("");
    let phase = if hook.contains("pre-install") || hook.contains("pre-upgrade") {
        0
    } else if hook.contains("post-install") || hook.contains("post-upgrade") {
        2
    } else {
        1
    };
    let weight = if hook.is_empty() { 0 } else { parse_int(o, HELM_HOOK_WEIGHT_ANNOTATION)? };
    Ok((phase, parse_int(o, SYNC_WAVE_ANNOTATION)?, kind_rank(&o.key.group, &o.key.kind), weight))
}

/// A reference in `plumb.dev/depends-on`: `Kind[.group]/[namespace/]name`,
/// comma-separated. Without a namespace it means the dependent's namespace
/// (or a cluster-scoped object); without a group, any group.
fn resolve_depends_on(o: &DesiredObject, all: &[DesiredObject]) -> Result<Vec<usize>, PlanError> {
    let Some(value) = o.annotation(DEPENDS_ON_ANNOTATION) else { return Ok(Vec::new()) };
    let bad = |problem: String| PlanError::BadAnnotation {
        origin: o.origin.clone(),
        key: o.key.to_string(),
        annotation: DEPENDS_ON_ANNOTATION.into(),
        value: value.into(),
        problem,
    };
    let mut found = Vec::new();
    for reference in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let parts: Vec<&str> = reference.split('/').collect();
        let (kind_group, namespace, name) = match parts.as_slice() {
            [kg, name] => (*kg, None, *name),
            [kg, ns, name] => (*kg, Some(*ns), *name),
            _ => return Err(bad(format!("{reference:?} is not Kind[.group]/[namespace/]name"))),
        };
        let (kind, group) = match kind_group.split_once('.') {
            Some((kind, group)) => (kind, Some(group)),
            None => (kind_group, None),
        };
        let matches: Vec<usize> = all
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.key.kind == kind
                    && c.key.name == name
                    && group.is_none_or(|g| c.key.group == g)
                    && match namespace {
                        Some(ns) => c.key.namespace.as_deref() == Some(ns),
                        None => c.key.namespace.is_none() || c.key.namespace == o.key.namespace,
                    }
            })
            .map(|(i, _)| i)
            .collect();
        match matches.as_slice() {
            [one] => found.push(*one),
            [] => return Err(bad(format!("{reference} is not rendered by this app"))),
            _ => return Err(bad(format!("{reference} matches several objects; add the group and namespace"))),
        }
    }
    Ok(found)
}

/// Splits `objects` into waves (indexes into `objects`, each wave sorted by
/// key). Every object comes after its dependencies and after every object
/// of a lower level.
pub fn waves(objects: &[DesiredObject]) -> Result<Vec<Vec<usize>>, PlanError> {
    let index: HashMap<&ObjectKey, usize> = objects.iter().enumerate().map(|(i, o)| (&o.key, i)).collect();
    // CRDs by the (group, kind) they define.
    let crds: HashMap<(&str, &str), usize> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.key.kind == "CustomResourceDefinition" && o.key.group == "apiextensions.k8s.io")
        .filter_map(|(i, o)| {
            let spec = &o.manifest["spec"];
            Some(((spec["group"].as_str()?, spec["names"]["kind"].as_str()?), i))
        })
        .collect();

    let mut levels = Vec::with_capacity(objects.len());
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(objects.len());
    for o in objects {
        levels.push(level(o)?);
        let mut d = resolve_depends_on(o, objects)?;
        if let Some(ns) = &o.key.namespace {
            let ns_key =
                ObjectKey { group: String::new(), kind: "Namespace".into(), namespace: None, name: ns.clone() };
            d.extend(index.get(&ns_key));
        }
        d.extend(crds.get(&(o.key.group.as_str(), o.key.kind.as_str())));
        d.sort_unstable();
        d.dedup();
        deps.push(d);
    }

    let order = topo_order(&deps).map_err(|cycle| PlanError::DependencyCycle {
        members: cycle.iter().map(|&i| objects[i].key.to_string()).collect(),
    })?;

    let mut effective = levels.clone();
    let mut depth = vec![0usize; objects.len()];
    for &i in &order {
        for &d in &deps[i] {
            effective[i] = effective[i].max(effective[d]);
        }
        depth[i] = deps[i].iter().filter(|&&d| effective[d] == effective[i]).map(|&d| depth[d] + 1).max().unwrap_or(0);
    }

    let mut grouped: BTreeMap<(Level, usize), Vec<usize>> = BTreeMap::new();
    for i in 0..objects.len() {
        grouped.entry((effective[i], depth[i])).or_default().push(i);
    }
    Ok(grouped
        .into_values()
        .map(|mut wave| {
            wave.sort_by(|&a, &b| objects[a].key.cmp(&objects[b].key));
            wave
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::plan::object::{AppContext, Scopes, normalise};

    fn scopes() -> Scopes {
        let mut s = Scopes::default();
        for (g, k, ns) in [
            ("", "Namespace", false),
            ("", "ConfigMap", true),
            ("", "Secret", true),
            ("", "Service", true),
            ("", "ServiceAccount", true),
            ("apps", "Deployment", true),
            ("batch", "Job", true),
            ("apiextensions.k8s.io", "CustomResourceDefinition", false),
            ("rbac.authorization.k8s.io", "ClusterRole", false),
            ("rbac.authorization.k8s.io", "RoleBinding", true),
            ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", false),
            ("networking.k8s.io", "Ingress", true),
        ] {
            s.insert(g, k, ns);
        }
        s
    }

    fn obj(api_version: &str, kind: &str, name: &str, annotations: Value) -> Value {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "annotations": annotations}})
    }

    /// Waves as lists of `Kind/name`.
    fn plan_waves(manifests: Vec<Value>) -> Result<Vec<Vec<String>>, PlanError> {
        let mut s = scopes();
        s.add_crds(&manifests);
        let app = AppContext { name: "demo".into(), namespace: Some("demo".into()) };
        let objects: Vec<DesiredObject> = manifests
            .into_iter()
            .enumerate()
            .map(|(i, m)| normalise(&app, m, &format!("doc{i}"), &s).expect("valid"))
            .collect();
        Ok(waves(&objects)?
            .into_iter()
            .map(|w| w.into_iter().map(|i| format!("{}/{}", objects[i].key.kind, objects[i].key.name)).collect())
            .collect())
    }

    fn names(waves: &[&[&str]]) -> Vec<Vec<String>> {
        waves.iter().map(|w| w.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn kind_ranks_order_a_typical_app() {
        let got = plan_waves(vec![
            obj("networking.k8s.io/v1", "Ingress", "web", json!({})),
            obj("apps/v1", "Deployment", "web", json!({})),
            obj("v1", "Service", "web", json!({})),
            obj("v1", "ConfigMap", "cfg", json!({})),
            obj("v1", "Secret", "sec", json!({})),
            obj("rbac.authorization.k8s.io/v1", "RoleBinding", "rb", json!({})),
            obj("v1", "ServiceAccount", "sa", json!({})),
            obj("rbac.authorization.k8s.io/v1", "ClusterRole", "cr", json!({})),
            obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "hook", json!({})),
            obj("v1", "Namespace", "demo", json!({})),
        ])
        .expect("plans");
        assert_eq!(
            got,
            names(&[
                &["Namespace/demo"],
                &["ClusterRole/cr"],
                &["ServiceAccount/sa"],
                &["RoleBinding/rb"],
                &["ConfigMap/cfg", "Secret/sec"],
                &["Service/web"],
                &["Deployment/web"],
                &["Ingress/web"],
                &["ValidatingWebhookConfiguration/hook"],
            ])
        );
    }

    #[test]
    fn crd_comes_before_its_custom_resources() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.x.io"},
            "spec": {"group": "x.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}}});
        let got = plan_waves(vec![obj("x.io/v1", "Widget", "w", json!({})), crd]).expect("plans");
        assert_eq!(got, names(&[&["CustomResourceDefinition/widgets.x.io"], &["Widget/w"]]));
    }

    #[test]
    fn explicit_dependency_lifts_and_sequences() {
        // The ConfigMap waits for the Deployment: it moves to the
        // Deployment's level and one wave after it.
        let got = plan_waves(vec![
            obj("v1", "ConfigMap", "after", json!({DEPENDS_ON_ANNOTATION: "Deployment.apps/web"})),
            obj("apps/v1", "Deployment", "web", json!({})),
            obj("apps/v1", "Deployment", "db", json!({})),
            obj("apps/v1", "Deployment", "api", json!({DEPENDS_ON_ANNOTATION: "Deployment/demo/db"})),
        ])
        .expect("plans");
        assert_eq!(got, names(&[&["Deployment/db", "Deployment/web"], &["ConfigMap/after", "Deployment/api"]]));
    }

    #[test]
    fn sync_waves_and_hooks_come_first() {
        let got = plan_waves(vec![
            obj("v1", "ConfigMap", "plain", json!({})),
            obj("v1", "ConfigMap", "late", json!({SYNC_WAVE_ANNOTATION: "5"})),
            obj("apps/v1", "Deployment", "early", json!({SYNC_WAVE_ANNOTATION: "-1"})),
            obj(
                "batch/v1",
                "Job",
                "migrate",
                json!({HELM_HOOK_ANNOTATION: "pre-install,pre-upgrade", HELM_HOOK_WEIGHT_ANNOTATION: "2"}),
            ),
            obj(
                "batch/v1",
                "Job",
                "seed",
                json!({HELM_HOOK_ANNOTATION: "pre-install", HELM_HOOK_WEIGHT_ANNOTATION: "-3"}),
            ),
            obj("batch/v1", "Job", "smoke", json!({HELM_HOOK_ANNOTATION: "post-install"})),
        ])
        .expect("plans");
        assert_eq!(
            got,
            names(&[
                &["Job/seed"],
                &["Job/migrate"],
                &["Deployment/early"],
                &["ConfigMap/plain"],
                &["ConfigMap/late"],
                &["Job/smoke"]
            ])
        );
    }

    #[test]
    fn cycles_are_named() {
        let err = plan_waves(vec![
            obj("v1", "ConfigMap", "a", json!({DEPENDS_ON_ANNOTATION: "ConfigMap/b"})),
            obj("v1", "ConfigMap", "b", json!({DEPENDS_ON_ANNOTATION: "ConfigMap/c"})),
            obj("v1", "ConfigMap", "c", json!({DEPENDS_ON_ANNOTATION: "ConfigMap/a"})),
        ])
        .expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "dependency cycle: ConfigMap/demo/a -> ConfigMap/demo/b -> ConfigMap/demo/c -> ConfigMap/demo/a; remove one of these dependencies"
        );
    }

    #[test]
    fn bad_annotations_are_errors() {
        let table = [
            (json!({DEPENDS_ON_ANNOTATION: "ConfigMap/missing"}), "ConfigMap/missing is not rendered by this app"),
            (json!({DEPENDS_ON_ANNOTATION: "a/b/c/d"}), "\"a/b/c/d\" is not Kind[.group]/[namespace/]name"),
            (json!({SYNC_WAVE_ANNOTATION: "soon"}), "must be an integer"),
        ];
        for (annotations, want) in table {
            let err = plan_waves(vec![obj("v1", "ConfigMap", "a", annotations)]).expect_err(want).to_string();
            assert!(err.starts_with("doc0: ConfigMap/demo/a annotation ") && err.ends_with(want), "{err}");
        }
    }
}
