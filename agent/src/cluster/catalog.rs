//! The catalog: which kinds the cluster serves, at which versions, and
//! whether they are namespaced, built from one [`ApiDiscovery`] (pure), and
//! [`Discovery`], which keeps the latest catalog and refreshes it when a
//! render names a kind it does not know (a CRD applied since) or a group
//! that failed to list before.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::RwLock;

use super::types::{ApiDiscovery, Resource};
use super::{ClusterError, SharedCluster};

/// The cluster's API resources, as of one discovery.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// (group, version, kind) -> resource.
    exact: HashMap<(String, String, String), Resource>,
    /// (group, kind) -> the resource at the group's preferred version (or
    /// the first version that serves the kind).
    preferred: HashMap<(String, String), Resource>,
    /// Every served `group/version`, sorted.
    group_versions: Vec<String>,
    /// The server's `gitVersion`.
    server_version: String,
    /// Group versions that could not be listed, with why.
    failed: BTreeMap<String, ClusterError>,
}

impl Catalog {
    /// The catalog of one discovery.
    pub fn new(discovery: &ApiDiscovery) -> Self {
        let mut catalog = Catalog { server_version: discovery.server_version.clone(), ..Catalog::default() };
        // Preferred versions first, so `preferred` holds them.
        let mut groups: Vec<_> = discovery.groups.iter().collect();
        groups.sort_by_key(|g| !g.preferred);
        for gv in groups {
            catalog.group_versions.push(if gv.group.is_empty() {
                gv.version.clone()
            } else {
                format!("{}/{}", gv.group, gv.version)
            });
            for r in &gv.resources {
                catalog.exact.insert((r.group.clone(), r.version.clone(), r.kind.clone()), r.clone());
                catalog.preferred.entry((r.group.clone(), r.kind.clone())).or_insert_with(|| r.clone());
            }
        }
        catalog.group_versions.sort();
        catalog.failed = discovery.failed.iter().cloned().collect();
        catalog
    }

    /// The resource for exactly `apiVersion` + `kind`.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<&Resource> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.exact.get(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// The cluster's preferred resource for `group` + `kind` (for listing,
    /// watching and deleting an object whatever version it was applied at).
    pub fn preferred(&self, group: &str, kind: &str) -> Option<&Resource> {
        self.preferred.get(&(group.to_string(), kind.to_string()))
    }

    /// `resolve`, else `preferred`: where to send a request about an
    /// object applied as `api_version` (which may no longer be served).
    pub fn locate(&self, api_version: &str, group: &str, kind: &str) -> Option<&Resource> {
        self.resolve(api_version, kind).or_else(|| self.preferred(group, kind))
    }

    /// Every served kind: (group, kind, namespaced).
    pub fn kinds(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.preferred.values().map(|r| (r.group.as_str(), r.kind.as_str(), r.namespaced))
    }

    /// Every served `group/version` and `group/version/Kind`, sorted, as
    /// Helm's `.Capabilities.APIVersions` lists them.
    pub fn api_versions(&self) -> Vec<String> {
        let mut versions = self.group_versions.clone();
        versions.extend(self.exact.values().map(|r| format!("{}/{}", r.api_version(), r.kind)));
        versions.sort();
        versions.dedup();
        versions
    }

    /// The server's `gitVersion` (`v1.37.2`).
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// The group versions discovery could not list, with why.
    pub fn failed(&self) -> &BTreeMap<String, ClusterError> {
        &self.failed
    }

    /// Why `group` could not be discovered, when one of its versions failed.
    pub fn failure_of(&self, group: &str) -> Option<(&str, &ClusterError)> {
        self.failed
            .iter()
            .find(|(gv, _)| gv.rsplit_once('/').map_or("", |(g, _)| g) == group)
            .map(|(gv, e)| (gv.as_str(), e))
    }
}

/// The latest catalog of one cluster, refreshed on demand.
pub struct Discovery {
    cluster: SharedCluster,
    catalog: RwLock<Arc<Catalog>>,
}

impl Discovery {
    /// Discovers the cluster once.
    pub async fn new(cluster: SharedCluster) -> Result<Self, ClusterError> {
        let catalog = Arc::new(Catalog::new(&cluster.discover().await?));
        Ok(Self { cluster, catalog: RwLock::new(catalog) })
    }

    /// The catalog last loaded.
    pub async fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().await.clone()
    }

    /// Discovers again (after CRDs or aggregated APIs changed).
    pub async fn refresh(&self) -> Result<Arc<Catalog>, ClusterError> {
        let fresh = Arc::new(Catalog::new(&self.cluster.discover().await?));
        *self.catalog.write().await = fresh.clone();
        Ok(fresh)
    }

    /// The cluster.
    pub fn cluster(&self) -> &SharedCluster {
        &self.cluster
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::types::GroupVersionResources;

    fn resource(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Resource {
        Resource {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            listable: true,
        }
    }

    #[test]
    fn resolves_exact_and_preferred_versions_and_keeps_failures() {
        let discovery = ApiDiscovery {
            server_version: "v1.37.2".into(),
            groups: vec![
                GroupVersionResources {
                    group: String::new(),
                    version: "v1".into(),
                    preferred: true,
                    resources: vec![resource("", "v1", "ConfigMap", "configmaps", true)],
                },
                GroupVersionResources {
                    group: "example.com".into(),
                    version: "v1beta1".into(),
                    preferred: false,
                    resources: vec![resource("example.com", "v1beta1", "Widget", "widgets", true)],
                },
                GroupVersionResources {
                    group: "example.com".into(),
                    version: "v1".into(),
                    preferred: true,
                    resources: vec![resource("example.com", "v1", "Widget", "widgets", true)],
                },
            ],
            failed: vec![(
                "metrics.k8s.io/v1beta1".into(),
                ClusterError::status(503, "ServiceUnavailable", "the server is currently unable to handle the request"),
            )],
        };
        let catalog = Catalog::new(&discovery);
        assert_eq!(catalog.resolve("v1", "ConfigMap").map(|r| r.plural.as_str()), Some("configmaps"));
        assert_eq!(catalog.resolve("example.com/v1beta1", "Widget").map(|r| r.version.as_str()), Some("v1beta1"));
        assert_eq!(catalog.preferred("example.com", "Widget").map(|r| r.version.as_str()), Some("v1"));
        assert_eq!(catalog.locate("example.com/v2", "example.com", "Widget").map(|r| r.version.as_str()), Some("v1"));
        assert!(catalog.resolve("apps/v1", "Deployment").is_none());
        assert_eq!(
            catalog.failure_of("metrics.k8s.io").map(|(gv, e)| (gv, e.code)),
            Some(("metrics.k8s.io/v1beta1", 503))
        );
        assert!(catalog.failure_of("example.com").is_none());
        assert!(catalog.api_versions().contains(&"example.com/v1/Widget".to_string()));
        assert!(catalog.api_versions().contains(&"v1".to_string()));
    }
}
