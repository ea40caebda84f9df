//! Guards decided at delete time, from what the cluster holds then (pure):
//! a Namespace is pruned only when everything in it belongs to the app,
//! is owned (through ownerReferences, transitively) by its objects, or was
//! made by Kubernetes itself.

use std::collections::HashSet;

use super::ObjectKey;

/// One object found in a namespace about to be pruned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceObject {
    /// The object.
    pub key: ObjectKey,
    /// Its uid.
    pub uid: String,
    /// uids of its owners (`metadata.ownerReferences`).
    pub owners: Vec<String>,
    /// Its `plumb.dev/app` label.
    pub app_label: Option<String>,
}

/// The objects in a namespace that keep it from being pruned by `app`:
/// neither labelled for the app, nor owned (transitively) by such an
/// object, nor made by Kubernetes for every namespace or Service.
pub fn namespace_blockers(app: &str, objects: &[NamespaceObject]) -> Vec<ObjectKey> {
    let mut owned: HashSet<&str> =
        objects.iter().filter(|o| o.app_label.as_deref() == Some(app)).map(|o| o.uid.as_str()).collect();
    // Ownership chains are short (Deployment -> ReplicaSet -> Pod); iterate
    // to a fixed point.
    loop {
        let before = owned.len();
        for o in objects {
            if !owned.contains(o.uid.as_str()) && o.owners.iter().any(|u| owned.contains(u.as_str())) {
                owned.insert(&o.uid);
            }
        }
        if owned.len() == before {
            break;
        }
    }
    let services: HashSet<&str> = objects
        .iter()
        .filter(|o| o.key.group.is_empty() && o.key.kind == "Service")
        .map(|o| o.key.name.as_str())
        .collect();
    let mut blockers: Vec<ObjectKey> = objects
        .iter()
        .filter(|o| !owned.contains(o.uid.as_str()) && !made_by_kubernetes(&o.key, &services))
        .map(|o| o.key.clone())
        .collect();
    blockers.sort();
    blockers
}

/// Objects Kubernetes creates in namespaces on its own.
fn made_by_kubernetes(key: &ObjectKey, services: &HashSet<&str>) -> bool {
    match (key.group.as_str(), key.kind.as_str()) {
        ("", "ServiceAccount") => key.name == "default",
        ("", "ConfigMap") => key.name == "kube-root-ca.crt",
        ("", "Event") | ("events.k8s.io", "Event") => true,
        // The endpoints controller names them after their Service (whose
        // EndpointSlices are owned by it and covered by ownership).
        ("", "Endpoints") => services.contains(key.name.as_str()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(group: &str, kind: &str, name: &str, uid: &str, owners: &[&str], app: Option<&str>) -> NamespaceObject {
        NamespaceObject {
            key: ObjectKey::new(group, kind, Some("ns"), name),
            uid: uid.into(),
            owners: owners.iter().map(|o| o.to_string()).collect(),
            app_label: app.map(Into::into),
        }
    }

    #[test]
    fn only_foreign_objects_block() {
        let objects = vec![
            object("apps", "Deployment", "web", "d1", &[], Some("shop")),
            object("apps", "ReplicaSet", "web-1", "r1", &["d1"], None),
            object("", "Pod", "web-1-x", "p1", &["r1"], None),
            object("", "Service", "web", "s1", &[], Some("shop")),
            object("", "Endpoints", "web", "e1", &[], None),
            object("discovery.k8s.io", "EndpointSlice", "web-abc", "es1", &["s1"], None),
            object("", "ServiceAccount", "default", "sa", &[], None),
            object("", "ConfigMap", "kube-root-ca.crt", "ca", &[], None),
            object("events.k8s.io", "Event", "web.1", "ev", &[], None),
        ];
        assert!(namespace_blockers("shop", &objects).is_empty());

        let mut with_foreign = objects.clone();
        with_foreign.push(object("", "ConfigMap", "by-hand", "h1", &[], None));
        with_foreign.push(object("", "ConfigMap", "other-app", "o1", &[], Some("billing")));
        with_foreign.push(object("", "Endpoints", "no-such-service", "e2", &[], None));
        let names: Vec<String> = namespace_blockers("shop", &with_foreign).into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["by-hand", "other-app", "no-such-service"], "sorted by kind, then name");
    }
}
