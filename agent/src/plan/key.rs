//! Object identity: group, kind, namespace and name.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What identifies an object in a cluster, whatever its version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// The group of an `apiVersion` (`apps/v1` -> `apps`, `v1` -> ``).
    pub fn group_of(api_version: &str) -> &str {
        api_version.rsplit_once('/').map(|(group, _)| group).unwrap_or("")
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
}
