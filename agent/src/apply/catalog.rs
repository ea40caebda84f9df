//! Discovery: which kinds the cluster serves, at which versions, and
//! whether they are namespaced. Loaded once and refreshed when a render
//! names a kind it does not know (a CRD applied since).

use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};

use super::ApplyError;
use crate::plan::Scopes;

/// The cluster's API resources.
pub struct Catalog {
    discovery: Discovery,
    /// The server's `gitVersion` (`v1.20.2`).
    version: String,
}

impl Catalog {
    /// Runs discovery (one request per group version).
    ///
    /// A group can vanish between the list of groups and the query for its
    /// resources (a CRD deleted meanwhile), which the API answers with 404;
    /// discovery then starts over from a fresh list, a few times.
    pub async fn discover(client: &kube::Client) -> Result<Self, ApplyError> {
        const ATTEMPTS: usize = 4;
        let mut attempt = 1;
        loop {
            match Discovery::new(client.clone()).run().await {
                Ok(discovery) => {
                    let version = client
                        .apiserver_version()
                        .await
                        .map_err(|source| ApplyError::Kube { what: "read the cluster's version".into(), source })?
                        .git_version;
                    return Ok(Self { discovery, version });
                }
                Err(kube::Error::Api(status)) if status.code == 404 && attempt < ATTEMPTS => {
                    tracing::debug!(attempt, "an API group vanished during discovery; starting over");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100 * attempt as u64)).await;
                }
                Err(source) => {
                    return Err(ApplyError::Kube { what: "discover the cluster's API resources".into(), source });
                }
            }
        }
    }

    /// The resource for exactly `apiVersion` + `kind`, and whether it is namespaced.
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        self.discovery.resolve_gvk(&gvk).map(|(ar, caps)| (ar, namespaced(&caps)))
    }

    /// The cluster's preferred resource for `group` + `kind` (for listing).
    pub fn preferred(&self, group: &str, kind: &str) -> Option<(ApiResource, bool)> {
        self.discovery.get(group)?.recommended_kind(kind).map(|(ar, caps)| (ar, namespaced(&caps)))
    }

    /// `.Capabilities` for chart renders: the server's version and every
    /// served `group/version` and `group/version/Kind`, as Helm builds them.
    pub fn capabilities(&self) -> crate::render::chart::Capabilities {
        let mut api_versions = Vec::new();
        for group in self.discovery.groups() {
            for version in group.versions() {
                let gv =
                    if group.name().is_empty() { version.to_string() } else { format!("{}/{version}", group.name()) };
                for (ar, _) in group.versioned_resources(version) {
                    api_versions.push(format!("{gv}/{}", ar.kind));
                }
                api_versions.push(gv);
            }
        }
        api_versions.sort();
        api_versions.dedup();
        let kube_version = crate::render::chart::capabilities::normalize_version(&self.version)
            .unwrap_or_else(|_| self.version.clone());
        crate::render::chart::Capabilities { kube_version, api_versions }
    }

    /// Scope of every served kind.
    pub fn scopes(&self) -> Scopes {
        let mut scopes = Scopes::default();
        for group in self.discovery.groups() {
            for version in group.versions() {
                for (ar, caps) in group.versioned_resources(version) {
                    scopes.insert(&ar.group, &ar.kind, namespaced(&caps));
                }
            }
        }
        scopes
    }
}

fn namespaced(caps: &ApiCapabilities) -> bool {
    caps.scope == Scope::Namespaced
}
