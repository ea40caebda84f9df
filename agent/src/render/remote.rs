//! Remote charts: `repo` + `name` + exact `version`, resolved through the
//! repository's `index.yaml` (or an OCI registry, [`super::oci`]), pinned in
//! `plumb.lock` by archive digest (OCI: manifest digest) and cached on disk
//! by digest. A download whose sha256 differs from the lock is refused,
//! naming both digests.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::chart::{ChartError, archive};
use super::fetch;
use super::lock::{LOCK_FILE, Lock, LockedChart};
use super::oci::{self, auth::Registries, client::RegistryClient};
use crate::render::chart::Chart;
use crate::source::Tree;

/// The largest `index.yaml` read.
const MAX_INDEX: usize = 64 * 1024 * 1024;

/// The largest chart archive downloaded.
const MAX_ARCHIVE: usize = 20 * 1024 * 1024;

/// Remote charts, fetched once and cached on disk by digest; remote
/// Kustomize bases are fetched beside them with the Git credentials given.
#[derive(Clone)]
pub struct RemoteCharts {
    cache: PathBuf,
    registries: std::sync::Arc<Registries>,
    git_credentials: crate::source::credentials::Credentials,
}

impl std::fmt::Debug for RemoteCharts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCharts").field("cache", &self.cache).finish_non_exhaustive()
    }
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

impl RemoteCharts {
    /// Charts cached under `cache` (created when first needed).
    pub fn new(cache: PathBuf) -> Self {
        RemoteCharts { cache, registries: std::sync::Arc::default(), git_credentials: Default::default() }
    }

    /// Uses these registry credentials and CA for OCI charts.
    pub fn with_registries(mut self, registries: std::sync::Arc<Registries>) -> Self {
        self.registries = registries;
        self
    }

    /// Fetches remote Kustomize bases with `credentials` (the agent's own).
    pub fn with_git_credentials(mut self, credentials: crate::source::credentials::Credentials) -> Self {
        self.git_credentials = credentials;
        self
    }

    /// The credentials remote Kustomize bases are fetched with.
    pub fn git_credentials(&self) -> &crate::source::credentials::Credentials {
        &self.git_credentials
    }

    /// Where remote Kustomize bases are fetched (a Git cache beside the charts).
    pub fn git_cache(&self) -> PathBuf {
        self.cache.join("kustomize-bases")
    }

    /// Loads the chart pinned in the commit's `plumb.lock`.
    pub fn load(&self, tree: &dyn Tree, repo: &str, name: &str, version: &str) -> Result<Chart, ChartError> {
        let label = format!("{name} {version} from {repo}");
        let load_error = |reason: String| ChartError::Load { chart: label.clone(), reason };
        let text = match tree.read_string(LOCK_FILE) {
            Ok(text) => text,
            Err(_) => return Err(load_error(format!("{LOCK_FILE} is missing; run `plumb lock` and commit it"))),
        };
        let lock = Lock::parse(&text).map_err(|e| load_error(e.to_string()))?;
        let entry = lock.find(repo, name, version).map_err(|e| load_error(e.to_string()))?;
        let bytes = self.archive(entry)?;
        archive::load(&format!("{name}-{version}.tgz"), &bytes)
    }

    fn cache_path(&self, digest: &str) -> PathBuf {
        self.cache.join(format!("{}.tgz", digest.replace(':', "-")))
    }

    /// The archive of a locked chart: from the cache when its bytes still
    /// match, else downloaded and checked against the lock.
    pub fn archive(&self, entry: &LockedChart) -> Result<Vec<u8>, ChartError> {
        if oci::is_oci(&entry.repo) {
            return self.oci_archive(entry);
        }
        let path = self.cache_path(&entry.digest);
        if let Ok(bytes) = std::fs::read(&path) {
            if sha256(&bytes) == entry.digest {
                return Ok(bytes);
            }
            // A damaged cache entry is fetched again.
            let _ = std::fs::remove_file(&path);
        }
        let archive_error = |reason: String| ChartError::Archive { archive: entry.url.clone(), reason };
        let bytes = fetch::get_blocking(&entry.url, MAX_ARCHIVE).map_err(|e| archive_error(e.to_string()))?;
        let actual = sha256(&bytes);
        if actual != entry.digest {
            return Err(archive_error(format!(
                "digest mismatch: {LOCK_FILE} pins {} but the archive is {actual}; the chart was changed or \
                 republished upstream: review it, then run `plumb lock` to pin the new bytes",
                entry.digest
            )));
        }
        self.store(&path, &bytes);
        Ok(bytes)
    }

    /// Writes a cache file whole or not at all.
    fn store(&self, path: &std::path::Path, bytes: &[u8]) {
        if std::fs::create_dir_all(&self.cache).is_ok() {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }

    /// An OCI chart: from the cache when the pinned manifest and its layer
    /// are there and match their digests, else pulled and verified.
    fn oci_archive(&self, entry: &LockedChart) -> Result<Vec<u8>, ChartError> {
        let manifest_path = self.cache.join(format!("{}.manifest.json", entry.digest.replace(':', "-")));
        if let Ok(manifest) = std::fs::read(&manifest_path)
            && sha256(&manifest) == entry.digest
            && let Ok((layer, _)) = oci::chart_layer(&manifest)
            && let Ok(bytes) = std::fs::read(self.cache_path(&layer))
            && sha256(&bytes) == layer
        {
            return Ok(bytes);
        }
        let error =
            |reason: String| ChartError::Archive { archive: format!("{}:{}", entry.url, entry.version), reason };
        let registries = self.registries.clone();
        let pulled = fetch::run_blocking(async move {
            let reference = oci::Reference::parse(&entry.repo, &entry.name)?;
            let client = RegistryClient::new(&reference.host, &registries)?;
            oci::pull(&client, entry, MAX_ARCHIVE).await
        })
        .map_err(error)?
        .map_err(|e| error(e.to_string()))?;
        let (layer, _) = oci::chart_layer(&pulled.manifest).map_err(|e| error(e.to_string()))?;
        self.store(&self.cache_path(&layer), &pulled.archive);
        self.store(&manifest_path, &pulled.manifest);
        Ok(pulled.archive)
    }
}

/// Resolves an OCI chart for `plumb lock`: the manifest digest of its tag,
/// after pulling and checking the chart it holds.
async fn resolve_oci(
    repo: &str,
    name: &str,
    version: &str,
    registries: &Registries,
) -> Result<LockedChart, ChartError> {
    let label = format!("{name} {version} from {repo}");
    let error = |reason: String| ChartError::Load { chart: label.clone(), reason };
    let reference = oci::Reference::parse(repo, name).map_err(|e| error(e.to_string()))?;
    let client = RegistryClient::new(&reference.host, registries).map_err(|e| error(e.to_string()))?;
    let (_, digest) = oci::manifest(&client, &reference, version).await.map_err(|e| error(e.to_string()))?;
    let entry = LockedChart {
        repo: repo.to_string(),
        name: name.to_string(),
        version: version.to_string(),
        url: reference.url(),
        digest,
    };
    let pulled = oci::pull(&client, &entry, MAX_ARCHIVE).await.map_err(|e| error(e.to_string()))?;
    check_chart(&entry.url, &pulled.archive, name, version)?;
    Ok(entry)
}

/// The archive must be the chart it claims to be.
fn check_chart(url: &str, bytes: &[u8], name: &str, version: &str) -> Result<(), ChartError> {
    let chart = archive::load(url, bytes)?;
    if chart.name() != name || chart.metadata["version"].as_str() != Some(version) {
        return Err(ChartError::Archive {
            archive: url.to_string(),
            reason: format!(
                "holds chart {} {} instead of {name} {version}",
                chart.name(),
                chart.metadata["version"].as_str().unwrap_or("?")
            ),
        });
    }
    Ok(())
}

/// Resolves a chart through the repository index and downloads it, for
/// `plumb lock`: the lock entry with the archive's digest.
pub async fn resolve(
    repo: &str,
    name: &str,
    version: &str,
    registries: &Registries,
) -> Result<LockedChart, ChartError> {
    if oci::is_oci(repo) {
        return resolve_oci(repo, name, version, registries).await;
    }
    let label = format!("{name} {version} from {repo}");
    let error = |reason: String| ChartError::Load { chart: label.clone(), reason };
    let index_url = format!("{}/index.yaml", repo.trim_end_matches('/'));
    let index_bytes = fetch::get(&index_url, MAX_INDEX).await.map_err(|e| error(e.to_string()))?;
    let index_text = String::from_utf8(index_bytes).map_err(|_| error(format!("{index_url}: not UTF-8 text")))?;
    let index = super::yaml11::from_str(&index_text).map_err(|e| error(format!("{index_url}: {e}")))?;
    let versions =
        index["entries"][name].as_array().ok_or_else(|| error(format!("{index_url} has no chart named {name:?}")))?;
    let entry = versions.iter().find(|v| v["version"].as_str() == Some(version)).ok_or_else(|| {
        let known: Vec<&str> = versions.iter().filter_map(|v| v["version"].as_str()).take(10).collect();
        error(format!("{index_url} has no version {version} of {name} (newest: {})", known.join(", ")))
    })?;
    let url = entry["urls"][0]
        .as_str()
        .ok_or_else(|| error(format!("{index_url}: the entry for {name} {version} has no urls")))?;
    let url = fetch::resolve(&index_url, url);
    let bytes = fetch::get(&url, MAX_ARCHIVE).await.map_err(|e| error(e.to_string()))?;
    let digest = sha256(&bytes);
    if let Some(listed) = entry["digest"].as_str().filter(|d| !d.is_empty()) {
        let listed = if listed.starts_with("sha256:") { listed.to_string() } else { format!("sha256:{listed}") };
        if listed != digest {
            return Err(ChartError::Archive {
                archive: url,
                reason: format!("digest mismatch: the repository index lists {listed} but the archive is {digest}"),
            });
        }
    }
    check_chart(&url, &bytes, name, version)?;
    Ok(LockedChart { repo: repo.to_string(), name: name.to_string(), version: version.to_string(), url, digest })
}
