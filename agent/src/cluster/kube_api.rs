//! [`KubeCluster`]: the cluster seam over kube's client. Every request is
//! counted (verb, dry-run, code, reason) for metrics and tests, and every
//! request but a watch has a deadline, so a stalled API server or etcd
//! turns into a retryable timeout instead of a hung sync.

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use futures::{TryStreamExt, stream};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions,
    PropagationPolicy, WatchParams,
};
use kube::core::{GroupVersionKind, WatchEvent as KubeWatchEvent};
use serde_json::Value;

use super::requests::{ApiRequests, RequestClass};
use super::types::{ApiDiscovery, DeleteOptions, Deleted, GroupVersionResources, MetaList, Resource, WatchEvent};
use super::{Cluster, ClusterError, Target};

/// Deadline of one request (watches excepted).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Group versions discovered at once.
const DISCOVERY_CONCURRENCY: usize = 8;
/// A watch ends after this long (the server's timeout); the caller resumes it.
const WATCH_TIMEOUT_SECS: u32 = 290;

/// The cluster a kube client talks to.
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    requests: Arc<ApiRequests>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster").finish_non_exhaustive()
    }
}

impl KubeCluster {
    /// A cluster from a kube configuration. kube's own retry layer is
    /// switched off: plumb decides what to retry (a 503 from one aggregated
    /// API must fail fast, not hold a sync for minutes).
    pub fn new(mut config: kube::Config) -> Result<Self, ClusterError> {
        config.default_retry = false;
        let client = kube::Client::try_from(config).map_err(ClusterError::from)?;
        Ok(Self { client, requests: Arc::new(ApiRequests::default()) })
    }

    /// A cluster over an existing client (its layers as they are).
    pub fn from_client(client: kube::Client) -> Self {
        Self { client, requests: Arc::new(ApiRequests::default()) }
    }

    /// The requests made so far.
    pub fn requests(&self) -> Arc<ApiRequests> {
        self.requests.clone()
    }

    /// The underlying client (for tests and tools, never for the executors).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    fn api(&self, target: Target<'_>) -> Api<DynamicObject> {
        let r = target.resource;
        let gvk = GroupVersionKind::gvk(&r.group, &r.version, &r.kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, &r.plural);
        match target.namespace {
            Some(ns) if r.namespaced => Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// Runs `request` with the deadline and records it.
    async fn call<T>(
        &self,
        verb: &'static str,
        dry_run: bool,
        request: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(result) => result.map_err(ClusterError::from),
            Err(_) => Err(ClusterError::timeout(format!("no answer from the API server within {REQUEST_TIMEOUT:?}"))),
        };
        let class = RequestClass { verb, dry_run };
        match &result {
            Ok(_) => self.requests.record(class, 200, ""),
            Err(e) => self.requests.record(class, e.code, &e.reason),
        }
        result
    }
}

fn to_value(object: DynamicObject) -> Result<Value, ClusterError> {
    serde_json::to_value(object).map_err(|e| ClusterError {
        code: 0,
        reason: "ClientError".into(),
        message: e.to_string(),
    })
}

#[async_trait::async_trait]
impl Cluster for KubeCluster {
    async fn discover(&self) -> Result<ApiDiscovery, ClusterError> {
        let version = self.call("get", false, self.client.apiserver_version()).await?;
        let core = self.call("get", false, self.client.list_core_api_versions()).await?;
        let groups = self.call("get", false, self.client.list_api_groups()).await?;
        let mut wanted: Vec<(String, String, bool)> =
            core.versions.iter().map(|v| (String::new(), v.clone(), true)).collect();
        for group in groups.groups {
            let preferred = group.preferred_version.as_ref().map(|p| p.version.clone());
            for v in group.versions {
                let is_preferred = preferred.as_deref() == Some(v.version.as_str());
                wanted.push((group.name.clone(), v.version, is_preferred));
            }
        }
        let results: Vec<_> = stream::iter(wanted)
            .map(|(group, version, preferred)| async move {
                let result = if group.is_empty() {
                    self.call("get", false, self.client.list_core_api_resources(&version)).await
                } else {
                    self.call("get", false, self.client.list_api_group_resources(&format!("{group}/{version}"))).await
                };
                (group, version, preferred, result)
            })
            .buffer_unordered(DISCOVERY_CONCURRENCY)
            .collect()
            .await;
        let mut discovery = ApiDiscovery { server_version: version.git_version, ..ApiDiscovery::default() };
        for (group, version, preferred, result) in results {
            match result {
                Ok(list) => {
                    let resources = list
                        .resources
                        .into_iter()
                        .filter(|r| !r.name.contains('/'))
                        .map(|r| Resource {
                            group: group.clone(),
                            version: version.clone(),
                            listable: r.verbs.iter().any(|v| v == "list"),
                            kind: r.kind,
                            plural: r.name,
                            namespaced: r.namespaced,
                        })
                        .collect();
                    discovery.groups.push(GroupVersionResources { group, version, preferred, resources });
                }
                Err(error) => {
                    let gv = if group.is_empty() { version } else { format!("{group}/{version}") };
                    discovery.failed.push((gv, error));
                }
            }
        }
        discovery.groups.sort_by(|a, b| (&a.group, &a.version).cmp(&(&b.group, &b.version)));
        discovery.failed.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(discovery)
    }

    async fn get(&self, target: Target<'_>, name: &str) -> Result<Option<Value>, ClusterError> {
        let api = self.api(target);
        match self.call("get", false, api.get_opt(name)).await? {
            Some(object) => to_value(object).map(Some),
            None => Ok(None),
        }
    }

    async fn list_metadata(&self, target: Target<'_>, label_selector: &str) -> Result<MetaList, ClusterError> {
        let api = self.api(target);
        let mut params = ListParams::default();
        if !label_selector.is_empty() {
            params = params.labels(label_selector);
        }
        let list = self.call("list", false, api.list_metadata(&params)).await?;
        Ok(MetaList {
            items: list.items.into_iter().map(|i| i.metadata).collect(),
            resource_version: list.metadata.resource_version.unwrap_or_default(),
        })
    }

    async fn watch_metadata(
        &self,
        target: Target<'_>,
        label_selector: &str,
        resource_version: &str,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        let api = self.api(target);
        let mut params = WatchParams { bookmarks: true, ..WatchParams::default() }.timeout(WATCH_TIMEOUT_SECS);
        if !label_selector.is_empty() {
            params = params.labels(label_selector);
        }
        let events = self.call("watch", false, api.watch_metadata(&params, resource_version)).await?;
        Ok(events
            .map_err(ClusterError::from)
            .and_then(|event| async move {
                match event {
                    KubeWatchEvent::Added(o) => Ok(WatchEvent::Added(o.metadata)),
                    KubeWatchEvent::Modified(o) => Ok(WatchEvent::Modified(o.metadata)),
                    KubeWatchEvent::Deleted(o) => Ok(WatchEvent::Deleted(o.metadata)),
                    KubeWatchEvent::Bookmark(b) => Ok(WatchEvent::Bookmark(b.metadata.resource_version)),
                    KubeWatchEvent::Error(status) => {
                        Err(ClusterError::status(status.code, &status.reason, status.message.clone()))
                    }
                }
            })
            .boxed())
    }

    async fn apply(
        &self,
        target: Target<'_>,
        name: &str,
        manifest: &Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        let api = self.api(target);
        let mut params = PatchParams::apply(manager).force();
        if dry_run {
            params = params.dry_run();
        }
        let applied = self.call("patch", dry_run, api.patch(name, &params, &Patch::Apply(manifest))).await?;
        to_value(applied)
    }

    async fn create(&self, target: Target<'_>, object: &Value) -> Result<Value, ClusterError> {
        let api = self.api(target);
        let object: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ClusterError::status(400, "BadRequest", format!("not an object: {e}")))?;
        to_value(self.call("create", false, api.create(&PostParams::default(), &object)).await?)
    }

    async fn update(&self, target: Target<'_>, name: &str, object: &Value) -> Result<Value, ClusterError> {
        let api = self.api(target);
        let object: DynamicObject = serde_json::from_value(object.clone())
            .map_err(|e| ClusterError::status(400, "BadRequest", format!("not an object: {e}")))?;
        to_value(self.call("update", false, api.replace(name, &PostParams::default(), &object)).await?)
    }

    async fn delete(&self, target: Target<'_>, name: &str, options: &DeleteOptions) -> Result<Deleted, ClusterError> {
        let api = self.api(target);
        let propagation = match options.propagation.as_deref() {
            Some("Foreground") => Some(PropagationPolicy::Foreground),
            Some("Orphan") => Some(PropagationPolicy::Orphan),
            Some(_) => Some(PropagationPolicy::Background),
            None => None,
        };
        let preconditions = (options.uid.is_some() || options.resource_version.is_some())
            .then(|| Preconditions { uid: options.uid.clone(), resource_version: options.resource_version.clone() });
        let params = DeleteParams { propagation_policy: propagation, preconditions, ..DeleteParams::default() };
        match self.call("delete", false, api.delete(name, &params)).await {
            Ok(_) => Ok(Deleted::Deleted),
            Err(e) if e.is_not_found() => Ok(Deleted::NotFound),
            Err(e) => Err(e),
        }
    }
}
