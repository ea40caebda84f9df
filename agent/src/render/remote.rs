//! Remote charts: `repo` + `name` + exact `version`, resolved through the
//! repository's `index.yaml`, pinned in `plumb.lock` by archive digest and
//! cached on disk by that digest. A download whose sha256 differs from the
//! lock is refused, naming both digests.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::chart::{ChartError, archive};
use super::fetch;
use super::lock::{LOCK_FILE, Lock, LockedChart};
use crate::render::chart::Chart;
use crate::source::Tree;

/// The largest `index.yaml` read.
const MAX_INDEX: usize = 64 * 1024 * 1024;

/// The largest chart archive downloaded.
const MAX_ARCHIVE: usize = 20 * 1024 * 1024;

/// Remote charts, fetched once and cached on disk by digest.
#[derive(Debug, Clone)]
pub struct RemoteCharts {
    cache: PathBuf,
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

impl RemoteCharts {
    /// Charts cached under `cache` (created when first needed).
    pub fn new(cache: PathBuf) -> Self {
        RemoteCharts { cache }
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
        if std::fs::create_dir_all(&self.cache).is_ok() {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, &bytes).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        Ok(bytes)
    }
}

/// Resolves a chart through the repository index and downloads it, for
/// `plumb lock`: the lock entry with the archive's digest.
pub async fn resolve(repo: &str, name: &str, version: &str) -> Result<LockedChart, ChartError> {
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
    // The archive must be the chart it claims to be.
    let chart = archive::load(&url, &bytes)?;
    if chart.name() != name || chart.metadata["version"].as_str() != Some(version) {
        return Err(ChartError::Archive {
            archive: url,
            reason: format!(
                "holds chart {} {} instead of {name} {version}",
                chart.name(),
                chart.metadata["version"].as_str().unwrap_or("?")
            ),
        });
    }
    Ok(LockedChart { repo: repo.to_string(), name: name.to_string(), version: version.to_string(), url, digest })
}
