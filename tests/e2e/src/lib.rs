//! Helpers shared by plumb's end-to-end tests (the tests live in `tests/`).

use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use kube::runtime::wait::{Condition, await_condition};
use plumb::apply::{SyncOptions, SyncReport, SyncRequest, Syncer};
use plumb::cluster::requests::ApiRequests;
use plumb::cluster::{KubeCluster, SharedCluster};
use plumb::plan::{AppContext, RenderedObject};
use plumb_testenv::TestCluster;

/// Waits up to `timeout` for `condition` on object `name`, with a message
/// naming what was awaited when it times out.
pub async fn wait_for<K>(
    api: Api<K>,
    name: &str,
    timeout: Duration,
    condition: impl Condition<K>,
) -> anyhow::Result<Option<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    match tokio::time::timeout(timeout, await_condition(api, name, condition)).await {
        Ok(result) => Ok(result?),
        Err(_) => anyhow::bail!("{} {name}: condition not met within {timeout:?}", K::kind(&())),
    }
}

/// plumb's apply stage wired to a test cluster through a request-counting client.
pub struct Agent {
    /// An admin client of the same cluster (for the test's own checks).
    pub client: kube::Client,
    /// The cluster seam the agent uses (its requests are counted).
    pub cluster: SharedCluster,
    /// Every request the agent made.
    pub requests: Arc<ApiRequests>,
    /// The syncer.
    pub syncer: Arc<Syncer>,
    /// Drift found by the live cache (agents started with [`Agent::start_live`]).
    pub drift: Option<Arc<plumb::live::DriftRegistry>>,
    /// The live cache (agents started with [`Agent::start_live`]).
    pub cache: Option<Arc<plumb::live::LiveCache>>,
    /// Where remote charts are cached.
    pub chart_cache: std::path::PathBuf,
    detector: Option<tokio::task::JoinHandle<()>>,
    _chart_dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(task) = &self.detector {
            task.abort();
        }
    }
}

impl Agent {
    /// An agent keeping inventories in `inventory_namespace`, planning from
    /// label-selected lists (no live cache).
    pub async fn start(cluster: &TestCluster, inventory_namespace: &str) -> anyhow::Result<Self> {
        let (client, seam, requests, syncer, chart_dir) = Self::parts(cluster, inventory_namespace).await?;
        Ok(Self {
            client,
            cluster: seam,
            requests,
            syncer: Arc::new(syncer),
            drift: None,
            cache: None,
            chart_cache: chart_dir.path().to_path_buf(),
            detector: None,
            _chart_dir: chart_dir,
        })
    }

    /// An agent with the live cache and drift detector, as `plumb run` has.
    pub async fn start_live(cluster: &TestCluster, inventory_namespace: &str) -> anyhow::Result<Self> {
        let (client, seam, requests, syncer, chart_dir) = Self::parts(cluster, inventory_namespace).await?;
        let cache = plumb::live::LiveCache::new(seam.clone(), plumb::live::WatchScope::Cluster);
        let syncer = Arc::new(syncer.with_live_cache(cache.clone()));
        let registry = cache.drift();
        let detector = plumb::live::DriftDetector::new(cache.clone(), syncer.objects().clone());
        let task = tokio::spawn(detector.run());
        Ok(Self {
            client,
            cluster: seam,
            requests,
            syncer,
            drift: Some(registry),
            cache: Some(cache),
            chart_cache: chart_dir.path().to_path_buf(),
            detector: Some(task),
            _chart_dir: chart_dir,
        })
    }

    /// An agent whose chart and render caches live in `cache` (to restart
    /// one on the same disk) and that reaches OCI registries with `registries`.
    pub async fn start_with(
        cluster: &TestCluster,
        inventory_namespace: &str,
        cache: &std::path::Path,
        registries: Arc<plumb::render::oci::auth::Registries>,
    ) -> anyhow::Result<Self> {
        let (client, seam, requests) = Self::client(cluster).await?;
        let options =
            SyncOptions { chart_cache: Some(cache.to_path_buf()), registries, ..Self::options(inventory_namespace) };
        let syncer = Syncer::new(seam.clone(), options).await?;
        Ok(Self {
            client,
            cluster: seam,
            requests,
            syncer: Arc::new(syncer),
            drift: None,
            cache: None,
            chart_cache: cache.to_path_buf(),
            detector: None,
            _chart_dir: tempfile::tempdir()?,
        })
    }

    fn options(inventory_namespace: &str) -> SyncOptions {
        SyncOptions {
            inventory_namespace: inventory_namespace.to_string(),
            health_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        }
    }

    async fn client(cluster: &TestCluster) -> anyhow::Result<(kube::Client, SharedCluster, Arc<ApiRequests>)> {
        let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig_path())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let client = kube::Client::try_from(config.clone())?;
        let kube = KubeCluster::new(config)?;
        let requests = kube.requests();
        Ok((client, Arc::new(kube), requests))
    }

    async fn parts(
        cluster: &TestCluster,
        inventory_namespace: &str,
    ) -> anyhow::Result<(kube::Client, SharedCluster, Arc<ApiRequests>, Syncer, tempfile::TempDir)> {
        let (client, seam, requests) = Self::client(cluster).await?;
        let chart_dir = tempfile::tempdir()?;
        let options =
            SyncOptions { chart_cache: Some(chart_dir.path().to_path_buf()), ..Self::options(inventory_namespace) };
        let syncer = Syncer::new(seam.clone(), options).await?;
        Ok((client, seam, requests, syncer, chart_dir))
    }

    /// Syncs `yaml` (a multi-document stream) as app `app` with default
    /// namespace `namespace`, in enforce mode.
    pub async fn sync(&self, app: &str, namespace: &str, yaml: &str, commit: &str) -> SyncReport {
        self.syncer.sync(request(app, namespace, yaml, commit)).await
    }
}

/// An enforce-mode request for `yaml`.
pub fn request(app: &str, namespace: &str, yaml: &str, commit: &str) -> SyncRequest {
    let app = AppContext { name: app.to_string(), namespace: Some(namespace.to_string()) };
    SyncRequest { commit: Some(commit.to_string()), ..SyncRequest::new(app, rendered(yaml)) }
}

/// Parses a multi-document YAML stream as a render.
pub fn rendered(yaml: &str) -> Vec<RenderedObject> {
    plumb::render::plain::parse_documents("commit.yaml", yaml).expect("test YAML is valid")
}

/// Fails with the sync error (and each object's) when a sync did not succeed.
pub fn assert_ok(report: &SyncReport) {
    if let Err(error) = &report.result {
        panic!("sync of {} failed: {error}\nobjects: {:#?}", report.app, report.objects);
    }
}

/// A config repo in a local git repository, synced through plumb's git
/// source (file transport) and commit pipeline.
pub struct ConfigRepo {
    /// The working repository commits are made in.
    pub repo: plumb_testenv::git::GitRepo,
    source: plumb::source::git::GitSource,
    _dir: tempfile::TempDir,
}

impl ConfigRepo {
    /// An empty repository followed on branch main.
    pub fn new() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let repo = plumb_testenv::git::GitRepo::init(&dir.path().join("config"))?;
        let url = plumb::source::url::parse(&repo.path().display().to_string(), false)?;
        let source = plumb::source::git::GitSource::open(
            url,
            plumb::source::git::GitRef::Branch("main".into()),
            &dir.path().join("cache"),
        )?;
        Ok(Self { repo, source, _dir: dir })
    }

    /// Writes `files`, removes `removed`, commits, returns the sha.
    pub fn commit(&self, files: &[(&str, &str)], removed: &[&str], message: &str) -> anyhow::Result<String> {
        for (path, contents) in files {
            self.repo.write(path, contents)?;
        }
        for path in removed {
            self.repo.remove(path)?;
        }
        Ok(self.repo.commit(message)?)
    }

    /// Polls the source and syncs the commit the branch points at.
    pub async fn sync(&self, syncer: &Syncer) -> anyhow::Result<plumb::report::commit::CommitReport> {
        let commit = self.source.poll()?.commit().to_string();
        let tree: Arc<dyn plumb::source::Tree> = Arc::new(self.source.tree(&commit)?);
        Ok(plumb::runtime::commit::sync_commit(syncer, tree, &commit).await)
    }
}

/// A namespaced CustomResourceDefinition of `kind` in `group`, version
/// v1 (plural: the kind in lower case and an s), whose spec holds an
/// integer `size`: one YAML document.
pub fn sized_crd(group: &str, kind: &str) -> String {
    let singular = kind.to_lowercase();
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {singular}s.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: {kind}, plural: {singular}s, singular: {singular}, listKind: {kind}List}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{size: {{type: integer}}}}}}
"#
    )
}

/// Every object in `namespace` (`Kind.group/name` -> uid), Events and
/// leases left out: what a test compares before and after to prove
/// nothing outside its assertions was deleted or re-created.
pub async fn namespace_objects(
    client: &kube::Client,
    namespace: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    use kube::discovery::{Discovery, Scope, verbs};
    // A group whose last CRD another test deletes between the group list
    // and its query answers 404: discover again, as plumb's catalog does.
    let mut attempt = 0;
    let discovery = loop {
        match Discovery::new(client.clone()).run().await {
            Err(kube::Error::Api(status)) if status.code == 404 && attempt < 4 => attempt += 1,
            found => break found?,
        }
    };
    let mut objects = std::collections::BTreeMap::new();
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced
                || !caps.supports_operation(verbs::LIST)
                || matches!(resource.kind.as_str(), "Event" | "Lease")
            {
                continue;
            }
            let api: Api<kube::api::DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
            let items = match api.list_metadata(&Default::default()).await {
                Ok(list) => list.items,
                // A custom resource whose CRD another test deleted since discovery.
                Err(kube::Error::Api(status)) if status.code == 404 && !resource.group.is_empty() => continue,
                Err(error) => return Err(error.into()),
            };
            for item in items {
                let kind = if resource.group.is_empty() {
                    resource.kind.clone()
                } else {
                    format!("{}.{}", resource.kind, resource.group)
                };
                let name = item.metadata.name.unwrap_or_default();
                objects.insert(format!("{kind}/{name}"), item.metadata.uid.unwrap_or_default());
            }
        }
    }
    Ok(objects)
}

impl Agent {
    /// An agent of plumb instance `instance` (another plumb sharing the
    /// cluster and the inventory namespace).
    pub async fn start_instance(
        cluster: &TestCluster,
        inventory_namespace: &str,
        instance: &str,
    ) -> anyhow::Result<Self> {
        let mut agent = Self::start(cluster, inventory_namespace).await?;
        let options = SyncOptions { instance: instance.to_string(), ..agent.syncer.options().clone() };
        agent.syncer = Arc::new(Syncer::new(agent.cluster.clone(), options).await?);
        Ok(agent)
    }
}
