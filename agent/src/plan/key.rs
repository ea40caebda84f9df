//! Object identity: group, kind, namespace and name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What identifies an object in a cluster, whatever its version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectKey {
    /// API group; empty for the core group.
    pub group: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace; `None` for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key, with the group of kinds that moved between API groups made
    /// canonical ([`canonical_group`]).
    pub fn new(group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            group: canonical_group(group, kind).to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// The group of an `apiVersion` (`apps/v1` -> `apps`, `v1` -> ``).
    pub fn group_of(api_version: &str) -> &str {
        api_version.rsplit_once('/').map(|(group, _)| group).unwrap_or("")
    }

    /// The same key with its group made canonical (for keys read from
    /// older inventories).
    pub fn canonical(mut self) -> Self {
        let group = canonical_group(&self.group, &self.kind);
        if group != self.group {
            self.group = group.to_string();
        }
        self
    }
}

/// The group an object of `kind` lives in today when `group` is one it
/// moved out of: an Ingress applied as `extensions/v1beta1` is the same
/// object as one applied as `networking.k8s.io/v1` (the API server serves
/// one object under both), so a manifest moving to the newer API updates
/// it instead of creating a second and pruning the first.
pub fn canonical_group<'a>(group: &'a str, kind: &str) -> &'a str {
    match (group, kind) {
        ("extensions", "Ingress" | "NetworkPolicy") => "networking.k8s.io",
        ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet") => "apps",
        ("extensions", "PodSecurityPolicy") => "policy",
        ("events.k8s.io", "Event") => "",
        _ => group,
    }
}

impl fmt::Display for ObjectKey {
    /// `Kind[.group]/[namespace/]name`, e.g. `Deployment.apps/demo/web`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, "/{ns}")?;
        }
        write!(f, "/{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_group() {
        let key = |g: &str, k: &str, ns: Option<&str>, n: &str| ObjectKey {
            group: g.into(),
            kind: k.into(),
            namespace: ns.map(Into::into),
            name: n.into(),
        };
        assert_eq!(key("apps", "Deployment", Some("demo"), "web").to_string(), "Deployment.apps/demo/web");
        assert_eq!(key("", "Namespace", None, "demo").to_string(), "Namespace/demo");
        assert_eq!(ObjectKey::group_of("apps/v1"), "apps");
        assert_eq!(ObjectKey::group_of("v1"), "");
        assert_eq!(ObjectKey::group_of("rbac.authorization.k8s.io/v1"), "rbac.authorization.k8s.io");
    }

    #[test]
    fn moved_kinds_keep_one_identity() {
        let old = ObjectKey::new("extensions", "Ingress", Some("web"), "site");
        let new = ObjectKey::new("networking.k8s.io", "Ingress", Some("web"), "site");
        assert_eq!(old, new);
        assert_eq!(ObjectKey::new("extensions", "Deployment", Some("a"), "d").group, "apps");
        assert_eq!(ObjectKey::new("example.com", "Ingress", Some("a"), "d").group, "example.com");
        let legacy =
            ObjectKey { group: "extensions".into(), kind: "Ingress".into(), namespace: None, name: "x".into() };
        assert_eq!(legacy.canonical().group, "networking.k8s.io");
    }
}
