//! Helpers shared by plumb's end-to-end tests (the tests live in `tests/`).

use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use kube::runtime::wait::{Condition, await_condition};
use plumb::apply::{Mode, SyncOptions, SyncReport, SyncRequest, Syncer};
use plumb::client::{ApiRequests, counted_client};
use plumb::plan::{AppContext, PrunePolicy, RenderedObject};
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
    /// The counted client.
    pub client: kube::Client,
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
        let (client, requests, syncer, chart_dir) = Self::parts(cluster, inventory_namespace).await?;
        Ok(Self {
            client,
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
        let (client, requests, syncer, chart_dir) = Self::parts(cluster, inventory_namespace).await?;
        let (cache, suspects) = plumb::live::LiveCache::new(client.clone());
        let syncer = Arc::new(syncer.with_live_cache(cache.clone()));
        let registry = cache.drift();
        let detector = plumb::live::DriftDetector::new(cache.clone(), syncer.clone());
        let task = tokio::spawn(detector.run(suspects));
        Ok(Self {
            client,
            requests,
            syncer,
            drift: Some(registry),
            cache: Some(cache),
            chart_cache: chart_dir.path().to_path_buf(),
            detector: Some(task),
            _chart_dir: chart_dir,
        })
    }

    async fn parts(
        cluster: &TestCluster,
        inventory_namespace: &str,
    ) -> anyhow::Result<(kube::Client, Arc<ApiRequests>, Syncer, tempfile::TempDir)> {
        let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig_path())?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let (client, requests) = counted_client(config)?;
        let chart_dir = tempfile::tempdir()?;
        let options = SyncOptions {
            inventory_namespace: inventory_namespace.to_string(),
            health_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            chart_cache: Some(chart_dir.path().to_path_buf()),
            ..Default::default()
        };
        let syncer = Syncer::new(client.clone(), options).await?;
        Ok((client, requests, syncer, chart_dir))
    }

    /// Syncs `yaml` (a multi-document stream) as app `app` with default
    /// namespace `namespace`, in enforce mode.
    pub async fn sync(&self, app: &str, namespace: &str, yaml: &str, commit: &str) -> SyncReport {
        self.syncer.sync(request(app, namespace, yaml, commit)).await
    }
}

/// An enforce-mode request for `yaml`.
pub fn request(app: &str, namespace: &str, yaml: &str, commit: &str) -> SyncRequest {
    SyncRequest {
        app: AppContext { name: app.to_string(), namespace: Some(namespace.to_string()) },
        objects: rendered(yaml),
        commit: Some(commit.to_string()),
        render_digest: None,
        mode: Mode::Enforce,
        prune: PrunePolicy::default(),
        remove_app: false,
        health_timeout: None,
    }
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
    pub async fn sync(&self, syncer: &Syncer) -> anyhow::Result<plumb::runtime::commit::CommitReport> {
        let commit = self.source.poll()?.commit().to_string();
        let tree: Arc<dyn plumb::source::Tree> = Arc::new(self.source.tree(&commit)?);
        Ok(plumb::runtime::commit::sync_commit(syncer, tree, &commit).await)
    }
}
