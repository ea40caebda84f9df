//! Resource identity: group/version/kind, name and namespace, compared the
//! way kustomize's `resid` package compares them (an empty namespace is
//! `default`; cluster-scoped kinds have none).

use serde_json::Value;

use crate::schema;

/// The namespace kustomize gives cluster-scoped ids.
pub const NOT_NAMESPACED: &str = "_non_namespaceable_";

/// Group, version and kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gvk {
    /// API group (`""` for core).
    #[serde(default)]
    pub group: String,
    /// API version.
    #[serde(default)]
    pub version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
}

impl Gvk {
    /// Splits `apiVersion` into group and version.
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk { group, version, kind: kind.to_string() }
    }

    /// The GVK of an object.
    pub fn of(obj: &Value) -> Gvk {
        Gvk::from_api_version(obj["apiVersion"].as_str().unwrap_or(""), obj["kind"].as_str().unwrap_or(""))
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// Known to be cluster-scoped (unknown kinds are namespaced).
    pub fn is_cluster_scoped(&self) -> bool {
        schema::namespaced(&self.api_version(), &self.kind) == Some(false)
    }

    /// Every non-empty field of `selector` equals this one's.
    pub fn is_selected(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || self.group == selector.group)
            && (selector.version.is_empty() || self.version == selector.version)
            && (selector.kind.is_empty() || self.kind == selector.kind)
    }

    /// `Kind.version.group` with kustomize's placeholders.
    pub fn display(&self) -> String {
        let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
        format!("{}.{}.{}", or(&self.kind, "[noKind]"), or(&self.version, "[noVer]"), or(&self.group, "[noGrp]"))
    }

    /// The key kustomize sorts field specs by.
    pub fn sort_key(&self) -> (i32, String) {
        let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
        (
            crate::sort::type_order(&self.kind, crate::sort::ORDER_FIRST, crate::sort::ORDER_LAST),
            format!("{}_{}_{}", or(&self.group, "~G"), or(&self.version, "~V"), or(&self.kind, "~K")),
        )
    }
}

/// An object's identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResId {
    /// Its type.
    pub gvk: Gvk,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` as written (may be empty).
    pub namespace: String,
}

impl ResId {
    /// The id of an object as it is now.
    pub fn of(obj: &Value) -> ResId {
        ResId {
            gvk: Gvk::of(obj),
            name: obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
            namespace: obj["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
        }
    }

    /// The namespace used for comparisons.
    pub fn effective_namespace(&self) -> String {
        if self.gvk.is_cluster_scoped() {
            NOT_NAMESPACED.to_string()
        } else if self.namespace.is_empty() || self.namespace == "default" {
            "default".to_string()
        } else {
            self.namespace.clone()
        }
    }

    /// Same effective namespace, name and GVK.
    pub fn equals(&self, other: &ResId) -> bool {
        self.name == other.name && self.gvk == other.gvk && self.effective_namespace() == other.effective_namespace()
    }

    /// Same name and GVK.
    pub fn gvkn_equals(&self, other: &ResId) -> bool {
        self.name == other.name && self.gvk == other.gvk
    }

    /// Matched by a selector id (empty fields match anything).
    pub fn is_selected_by(&self, selector: &ResId) -> bool {
        (selector.name.is_empty() || selector.name == self.name)
            && (selector.namespace.is_empty() || selector.effective_namespace() == self.effective_namespace())
            && self.gvk.is_selected(&selector.gvk)
    }

    /// `Kind.version.group/name.namespace`, as kustomize prints ids.
    pub fn display(&self) -> String {
        let ns = if self.namespace.is_empty() { "[noNs]" } else { &self.namespace };
        let name = if self.name.is_empty() { "[noName]" } else { &self.name };
        format!("{}/{name}.{ns}", self.gvk.display())
    }
}
