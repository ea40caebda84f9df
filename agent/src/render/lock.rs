//! `plumb.lock`: every remote chart pinned to an exact version, the URL of
//! its archive and the archive's sha256. Written by `plumb lock`, read by
//! the agent, which refuses a chart whose bytes do not match.

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
        serde_saphyr::from_str(text).map_err(|e| LockError::Syntax(super::yaml_error(&e)))
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
        out
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
            digest: "sha256:00".into(),
        };
        let lock = Lock { charts: vec![entry("b"), entry("a"), entry("a")] };
        let text = lock.to_text();
        let parsed = Lock::parse(&text).expect("parses");
        assert_eq!(parsed.charts.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(parsed.to_text(), text);
        assert!(parsed.find("https://charts.example.com/", "a", "1.2.3").is_ok());
        assert!(matches!(parsed.find("https://charts.example.com", "a", "9.9.9"), Err(LockError::Missing { .. })));
        assert!(Lock::parse("charts: []\nextra: 1\n").is_err());
    }
}
