//! The audit trail: an append-only JSON-lines file, one record per sync
//! attempt and per drift event, each chained to the previous one by
//! sha256. `plumb audit verify` checks the chain and names the first
//! broken record (edited, deleted or reordered).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::object::hex;

/// `prev` of the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The current time as RFC 3339 with seconds, as records and the status use it.
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One object's part in a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAction {
    /// `Kind.group/namespace/name`.
    pub object: String,
    /// create, update, prune, drift, correct...
    pub action: String,
    /// Carried out.
    pub done: bool,
    /// Changed or drifted field paths, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339 time.
    pub time: String,
    /// `sync` or `drift`.
    pub event: String,
    /// The app.
    pub app: String,
    /// Commit synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `Name <email>` of the commit's author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `Name <email>` of the commit's committer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committer: Option<String>,
    /// Signature status and key (`not-checked` until verification is on).
    pub signature: String,
    /// Render digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_digest: Option<String>,
    /// What happened to each object.
    pub actions: Vec<AuditAction>,
    /// `success` or `failure`.
    pub result: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Hash of the previous record.
    #[serde(default)]
    pub prev: String,
    /// Hash of this record's canonical bytes (all fields but this one).
    #[serde(default)]
    pub hash: String,
}

impl AuditRecord {
    /// A record of `event` for `app`, stamped now; `result` follows `error`.
    /// The chain fields are filled in by [`AuditLog::append`].
    pub fn new(event: &str, app: &str, error: Option<String>) -> Self {
        Self {
            time: now(),
            event: event.to_string(),
            app: app.to_string(),
            commit: None,
            author: None,
            committer: None,
            signature: "not-checked".into(),
            render_digest: None,
            actions: Vec::new(),
            result: if error.is_none() { "success".into() } else { "failure".into() },
            error,
            duration_ms: 0,
            prev: String::new(),
            hash: String::new(),
        }
    }

    /// `sha256:<hex>` of the record's canonical JSON without `hash`.
    pub fn compute_hash(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.remove("hash");
        }
        format!("sha256:{}", hex(&Sha256::digest(serde_json::to_vec(&value).unwrap_or_default())))
    }
}

/// Why the audit log could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be read or written.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The chain is broken at a record.
    #[error("audit log {path}: record {line}: {problem}")]
    Broken {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first broken record.
        line: usize,
        /// What is wrong.
        problem: String,
    },
}

/// An open audit log; appends are serialised.
pub struct AuditLog {
    path: PathBuf,
    state: Mutex<(File, String)>,
}

impl AuditLog {
    /// Opens (or creates) the log, verifying the existing chain so new
    /// records continue it.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let io = |source| AuditError::Io { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let last = if path.exists() { verify(path)?.1 } else { GENESIS.to_string() };
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        Ok(Self { path: path.to_path_buf(), state: Mutex::new((file, last)) })
    }

    /// Appends `record` (its `prev` and `hash` are filled in), flushed to disk.
    pub fn append(&self, mut record: AuditRecord) -> Result<AuditRecord, AuditError> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        record.prev = state.1.clone();
        record.hash = record.compute_hash();
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        let io = |source| AuditError::Io { path: self.path.clone(), source };
        state.0.write_all(line.as_bytes()).map_err(io)?;
        state.0.sync_data().map_err(io)?;
        state.1 = record.hash.clone();
        tracing::info!(target: "audit", record = %line.trim_end(), "audit");
        Ok(record)
    }
}

/// Checks the chain of the log at `path`: the number of records and the
/// last hash, or the first broken record.
pub fn verify(path: &Path) -> Result<(usize, String), AuditError> {
    let io = |source| AuditError::Io { path: path.to_path_buf(), source };
    let broken = |line: usize, problem: String| AuditError::Broken { path: path.to_path_buf(), line, problem };
    let mut previous = GENESIS.to_string();
    let mut count = 0;
    for (i, line) in BufReader::new(File::open(path).map_err(io)?).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let record: AuditRecord =
            serde_json::from_str(&line).map_err(|e| broken(n, format!("is not a valid record: {e}")))?;
        if record.hash != record.compute_hash() {
            return Err(broken(n, "was edited: its hash does not match its contents".into()));
        }
        if record.prev != previous {
            let problem = if count == 0 {
                "does not start the chain: records before it were removed".to_string()
            } else {
                "does not follow the record before it: a record was deleted, inserted or reordered".to_string()
            };
            return Err(broken(n, problem));
        }
        previous = record.hash;
        count += 1;
    }
    Ok((count, previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(app: &str, n: u64) -> AuditRecord {
        AuditRecord {
            time: format!("2026-11-22T00:00:{n:02}Z"),
            event: "sync".into(),
            app: app.into(),
            commit: Some(format!("c{n}")),
            author: Some("A <a@x>".into()),
            committer: None,
            signature: "not-checked".into(),
            render_digest: None,
            actions: vec![AuditAction {
                object: "ConfigMap/n/c".into(),
                action: "update".into(),
                done: true,
                fields: vec![],
                error: None,
            }],
            result: "success".into(),
            error: None,
            duration_ms: n,
            prev: String::new(),
            hash: String::new(),
        }
    }

    fn write_log(dir: &Path, n: u64) -> PathBuf {
        let path = dir.join("audit.jsonl");
        let log = AuditLog::open(&path).expect("open");
        for i in 0..n {
            log.append(record("demo", i)).expect("append");
        }
        path
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).expect("read").lines().map(String::from).collect()
    }

    #[test]
    fn a_chain_verifies_and_continues_after_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_log(dir.path(), 3);
        assert_eq!(verify(&path).expect("valid").0, 3);
        AuditLog::open(&path).expect("reopen").append(record("demo", 9)).expect("append");
        assert_eq!(verify(&path).expect("valid").0, 4);
    }

    #[test]
    fn tampering_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_log(dir.path(), 4);
        let original = lines(&path);
        let check = |contents: Vec<String>| {
            std::fs::write(&path, contents.join("\n") + "\n").expect("write");
            verify(&path).expect_err("tampered").to_string()
        };
        let mut edited = original.clone();
        edited[1] = edited[1].replace("\"c1\"", "\"evil\"");
        assert!(check(edited).ends_with("record 2: was edited: its hash does not match its contents"));
        let mut deleted = original.clone();
        deleted.remove(1);
        assert!(
            check(deleted).ends_with(
                "record 2: does not follow the record before it: a record was deleted, inserted or reordered"
            )
        );
        let mut reordered = original.clone();
        reordered.swap(1, 2);
        assert!(check(reordered).contains("record 2: does not follow"));
        let mut truncated = original.clone();
        truncated.remove(0);
        assert!(check(truncated).ends_with("record 1: does not start the chain: records before it were removed"));
        std::fs::write(&path, original.join("\n") + "\n").expect("write");
        assert_eq!(verify(&path).expect("the untouched log verifies").0, 4);
    }
}
