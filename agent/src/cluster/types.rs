//! What crosses the cluster seam besides plain JSON objects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::ClusterError;

/// An API resource at one version: what a request addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    /// API group; empty for the core group.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// The plural in URLs, e.g. `deployments`.
    pub plural: String,
    /// Namespaced (or cluster-scoped).
    pub namespaced: bool,
    /// It can be listed (most can; reviews and bindings cannot).
    pub listable: bool,
}

impl Resource {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// A resource of the core group.
    pub fn core(kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            listable: true,
        }
    }

    /// ConfigMaps (inventories and history live in them).
    pub fn config_maps() -> Self {
        Self::core("ConfigMap", "configmaps", true)
    }

    /// Namespaces.
    pub fn namespaces() -> Self {
        Self::core("Namespace", "namespaces", false)
    }

    /// coordination.k8s.io/v1 Leases (leader election).
    pub fn leases() -> Self {
        Self {
            group: "coordination.k8s.io".into(),
            version: "v1".into(),
            kind: "Lease".into(),
            plural: "leases".into(),
            namespaced: true,
            listable: true,
        }
    }

    /// events.k8s.io/v1 Events.
    pub fn events() -> Self {
        Self {
            group: "events.k8s.io".into(),
            version: "v1".into(),
            kind: "Event".into(),
            plural: "events".into(),
            namespaced: true,
            listable: true,
        }
    }
}

/// Object metadata from a list, and the list's resourceVersion (where a
/// watch continues from).
#[derive(Debug, Clone, Default)]
pub struct MetaList {
    /// Each object's metadata.
    pub items: Vec<ObjectMeta>,
    /// The collection's resourceVersion.
    pub resource_version: String,
}

/// One change seen by a metadata watch.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// An object appeared.
    Added(ObjectMeta),
    /// An object changed.
    Modified(ObjectMeta),
    /// An object was deleted (its last state).
    Deleted(ObjectMeta),
    /// Nothing changed up to this resourceVersion.
    Bookmark(String),
}

impl WatchEvent {
    /// The resourceVersion the event carries.
    pub fn resource_version(&self) -> Option<&str> {
        match self {
            WatchEvent::Added(m) | WatchEvent::Modified(m) | WatchEvent::Deleted(m) => m.resource_version.as_deref(),
            WatchEvent::Bookmark(rv) => Some(rv),
        }
    }
}

/// How a delete goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Delete only the object with this uid (not one re-created since).
    pub uid: Option<String>,
    /// Delete only at this resourceVersion (not after any change).
    pub resource_version: Option<String>,
    /// `Background` (default), `Foreground` or `Orphan`.
    pub propagation: Option<String>,
}

/// What a delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Deleted (or deletion started: finalizers may keep it a while).
    Deleted,
    /// It did not exist.
    NotFound,
}

/// The resources one group version serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersionResources {
    /// API group; empty for the core group.
    pub group: String,
    /// Version.
    pub version: String,
    /// The group's preferred version (the server's choice for listing).
    pub preferred: bool,
    /// Its resources (subresources left out).
    pub resources: Vec<Resource>,
}

/// What discovery found.
#[derive(Debug, Clone, Default)]
pub struct ApiDiscovery {
    /// The server's `gitVersion`, e.g. `v1.37.2`.
    pub server_version: String,
    /// Every group version listed.
    pub groups: Vec<GroupVersionResources>,
    /// Group versions the server announced but could not list (e.g. an
    /// aggregated API whose service is down), with why.
    pub failed: Vec<(String, ClusterError)>,
}
