//! `plumb.lock`: every remote chart pinned to an exact version, the URL of
//! its archive and the archive's sha256, and every remote Kustomize base's
//! tag or branch pinned to a commit. Written by `plumb lock`, read by the
//! agent, which refuses a chart whose bytes do not match and a base that is
//! not pinned.

use serde::{Deserialize, Serialize};

/// The lock file's name, next to `plumb.yaml`.
pub const LOCK_FILE: &str = "plumb.lock";

/// The whole lock file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Pinned charts, sorted by repository, name and version.
    #[serde(default)]
    pub charts: Vec<LockedChart>,
    /// Remote Kustomize bases' refs pinned to commits, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<LockedBase>,
}

/// One remote Kustomize base repository's ref, pinned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedBase {
    /// The repository as the kustomization names it (`https://host/org/repo`).
    pub repo: String,
    /// The tag or branch (`?ref=`), empty for the default branch.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The full commit sha it pointed at when locked.
    pub commit: String,
}

/// One pinned chart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedChart {
    /// The Helm repository URL, as written in `plumb.yaml`.
    pub repo: String,
    /// The chart's name in the repository.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// Where the archive was found (from the repository's index).
    pub url: String,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
}

/// A problem with `plumb.lock`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// The file is not valid YAML or has unknown fields.
    #[error("{LOCK_FILE}: {0}")]
    Syntax(String),
    /// The chart is not pinned.
    #[error("{LOCK_FILE} has no entry for chart {name} {version} from {repo}; run `plumb lock` and commit {LOCK_FILE}")]
    Missing {
        /// Repository.
        repo: String,
        /// Chart.
        name: String,
        /// Version.
        version: String,
    },
}

impl Lock {
    /// Parses the lock file.
    pub fn parse(text: &str) -> Result<Lock, LockError> {
        if text.trim().is_empty() {
            return Ok(Lock::default());
        }
        let mut options = serde_saphyr::Options::default();
        super::yaml11::bound(&mut options, text.len());
        let lock: Lock =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| LockError::Syntax(super::yaml_error(&e)))?;
        // Digests name files in the chart cache: only `sha256:` and 64 hex
        // digits may get that far.
        for chart in &lock.charts {
            if !super::oci::valid_digest(&chart.digest) {
                return Err(LockError::Syntax(format!(
                    "chart {} {} from {}: digest {:?} is not sha256: and 64 hex digits; run `plumb lock` again",
                    chart.name, chart.version, chart.repo, chart.digest
                )));
            }
        }
        Ok(lock)
    }

    /// The file's text: a header, then the entries in a stable order.
    pub fn to_text(&self) -> String {
        let mut sorted = self.clone();
        sorted.charts.sort();
        sorted.charts.dedup();
        let mut out = String::from("# Written by `plumb lock`: remote charts pinned by version and archive digest.\n");
        out.push_str("charts:\n");
        if sorted.charts.is_empty() {
            out.truncate(out.len() - 1);
            out.push_str(" []\n");
        }
        sorted.bases.sort();
        sorted.bases.dedup();
        for c in &sorted.charts {
            out.push_str(&format!(
                "  - repo: {}\n    name: {}\n    version: {}\n    url: {}\n    digest: {}\n",
                quote(&c.repo),
                quote(&c.name),
                quote(&c.version),
                quote(&c.url),
                c.digest
            ));
        }
        if !sorted.bases.is_empty() {
            out.push_str("bases:\n");
        }
        for b in &sorted.bases {
            out.push_str(&format!(
                "  - repo: {}\n    ref: {}\n    commit: {}\n",
                quote(&b.repo),
                quote(&b.reference),
                quote(&b.commit)
            ));
        }
        out
    }

    /// The commit a remote base's ref is pinned to.
    pub fn find_base(&self, repo: &str, reference: &str) -> Option<&LockedBase> {
        self.bases.iter().find(|b| same_repo(&b.repo, repo) && b.reference == reference)
    }

    /// The entry for a chart.
    pub fn find(&self, repo: &str, name: &str, version: &str) -> Result<&LockedChart, LockError> {
        self.charts.iter().find(|c| same_repo(&c.repo, repo) && c.name == name && c.version == version).ok_or_else(
            || LockError::Missing { repo: repo.to_string(), name: name.to_string(), version: version.to_string() },
        )
    }
}

fn same_repo(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Double-quoted YAML string (JSON's escaping is valid YAML).
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_stable_and_sorted() {
        let entry = |name: &str| LockedChart {
            repo: "https://charts.example.com".into(),
            name: name.into(),
            version: "1.2.3".into(),
            url: format!("https://charts.example.com/{name}-1.2.3.tgz"),
            digest: format!("sha256:{}", "0f".repeat(32)),
        };
        let base = LockedBase {
            repo: "https://git.example.com/org/repo".into(),
            reference: "v1".into(),
            commit: "a".repeat(40),
        };
        let lock = Lock { charts: vec![entry("b"), entry("a"), entry("a")], bases: vec![base.clone(), base] };
        let text = lock.to_text();
        let parsed = Lock::parse(&text).expect("parses");
        assert_eq!(parsed.charts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(parsed.to_text(), text);
        assert!(parsed.find("https://charts.example.com/", "a", "1.2.3").is_ok());
        assert_eq!(parsed.bases.len(), 1);
        assert!(parsed.find_base("https://git.example.com/org/repo/", "v1").is_some());
        assert!(matches!(parsed.find("https://charts.example.com", "a", "9.9.9"), Err(LockError::Missing { .. })));
        assert!(Lock::parse("charts: []\nextra: 1\n").is_err());
    }

    #[test]
    fn a_digest_that_could_name_another_file_is_refused() {
        for digest in ["sha256:../../../etc/passwd", "sha256:00", "md5:abc", &format!("sha256:{}", "zz".repeat(32))] {
            let text = format!("charts:\n  - {{repo: r, name: web, version: '1', url: u, digest: {digest:?}}}\n");
            let error = Lock::parse(&text).expect_err(digest).to_string();
            assert!(error.starts_with("plumb.lock: chart web 1 from r: digest"), "{error}");
        }
    }
}
