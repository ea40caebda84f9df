//! The audit trail: an append-only JSON-lines file, one record per sync
//! attempt and per drift event, each chained to the previous one by
//! sha256. `plumb audit verify` checks the chain and names the first
//! broken record (edited, deleted or reordered). A torn last record (a
//! kill or a full disk mid-write) is set aside at the next start with a
//! record that says so; the file rotates by size with the chain continuing
//! across files ([`chain`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::plan::object::hex;

pub mod chain;

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

/// `event` of the record that starts a file after rotation.
pub const ROTATE_EVENT: &str = "rotate";
/// `event` of the record that says the log was repaired (a torn record or
/// a broken file set aside).
pub const REPAIR_EVENT: &str = "audit-repair";

/// Where the end of the live file is, as this process last wrote or read it.
struct Tail {
    file: File,
    len: u64,
    last: String,
}

/// An open audit log. Appends are serialised within the process by a
/// mutex and across processes (replicas sharing the file) by a lock file;
/// each append continues the chain from the file's actual tail.
pub struct AuditLog {
    path: PathBuf,
    lock_path: PathBuf,
    max_bytes: u64,
    state: Mutex<Option<Tail>>,
}

impl AuditLog {
    /// Opens (or creates) the log, verifying the existing chain so new
    /// records continue it. A torn last record is set aside, a broken file
    /// is moved aside, each with a record that says so: the log never
    /// stops the agent. `max_bytes` rotates the file (0: never).
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, AuditError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| AuditError::Io { path: path.to_path_buf(), source })?;
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let log = Self { path: path.to_path_buf(), lock_path: lock_path.into(), max_bytes, state: Mutex::new(None) };
        let _lock = log.lock()?;
        let mut state = log.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *state = Some(log.recover()?);
        drop(state);
        Ok(log)
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> AuditError {
        let path = path.to_path_buf();
        move |source| AuditError::Io { path: path.clone(), source }
    }

    /// Takes the cross-process lock (released when the file is dropped).
    fn lock(&self) -> Result<File, AuditError> {
        let io = self.io(&self.lock_path);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&self.lock_path).map_err(&io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    /// Reads the live file and repairs what a crash or an edit left: the
    /// tail to append after. Call with the lock held.
    fn recover(&self) -> Result<Tail, AuditError> {
        let io = self.io(&self.path);
        let mut repairs = Vec::new();
        let (last, len) = match self.path.exists().then(|| chain::check_file(&self.path, None)).transpose() {
            Ok(None) => (GENESIS.to_string(), 0),
            Ok(Some(found)) => match found.torn {
                None => (found.last, std::fs::metadata(&self.path).map_err(&io)?.len()),
                Some(torn) => {
                    let aside = self.set_aside_torn(&torn)?;
                    repairs.push(format!(
                        "record {} was cut short ({} bytes without a line end: a kill or a full disk mid-write); \
                         its bytes were moved to {}",
                        torn.line,
                        torn.bytes,
                        aside.display()
                    ));
                    (found.last, torn.offset)
                }
            },
            Err(AuditError::Broken { line, problem, .. }) => {
                let aside = self.aside_name("broken");
                std::fs::rename(&self.path, &aside).map_err(&io)?;
                repairs.push(format!(
                    "the previous log was broken at record {line} ({problem}); it was moved to {} and this \
                     file starts a new chain",
                    aside.display()
                ));
                (GENESIS.to_string(), 0)
            }
            Err(other) => return Err(other),
        };
        let file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(&io)?;
        let mut tail = Tail { file, len, last };
        for repair in repairs {
            tracing::error!(path = %self.path.display(), "{repair}");
            let mut record = AuditRecord::new(REPAIR_EVENT, "*", Some(repair));
            record.signature = "n/a".into();
            self.write(&mut tail, record)?;
        }
        Ok(tail)
    }

    fn aside_name(&self, what: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{what}-{}", jiff::Timestamp::now().as_millisecond()));
        PathBuf::from(name)
    }

    /// Copies a torn record's bytes to a file of their own and cuts them off.
    fn set_aside_torn(&self, torn: &chain::Torn) -> Result<PathBuf, AuditError> {
        let io = self.io(&self.path);
        let aside = self.aside_name("torn");
        let mut source = File::open(&self.path).map_err(&io)?;
        source.seek(SeekFrom::Start(torn.offset)).map_err(&io)?;
        let mut bytes = Vec::new();
        source.read_to_end(&mut bytes).map_err(&io)?;
        std::fs::write(&aside, &bytes).map_err(self.io(&aside))?;
        let file = OpenOptions::new().write(true).open(&self.path).map_err(&io)?;
        file.set_len(torn.offset).map_err(&io)?;
        file.sync_data().map_err(io)?;
        Ok(aside)
    }

    /// Appends `record` (its `prev` and `hash` are filled in), flushed to
    /// disk, after whatever another replica appended since.
    pub fn append(&self, record: AuditRecord) -> Result<AuditRecord, AuditError> {
        let _lock = self.lock()?;
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = std::fs::metadata(&self.path).map(|m| m.len()).ok();
        // Another replica may have written (or rotated) since: then continue
        // from the file itself. After a failed write the state is empty too.
        let mut tail = match state.take() {
            Some(tail) if current == Some(tail.len) => tail,
            _ => self.recover()?,
        };
        if self.max_bytes > 0 && tail.len >= self.max_bytes {
            self.rotate(&mut tail)?;
        }
        let chained = self.write(&mut tail, record)?;
        *state = Some(tail);
        Ok(chained)
    }

    /// Moves the live file to the next numbered name and starts the new one
    /// with a record that continues the chain.
    fn rotate(&self, tail: &mut Tail) -> Result<(), AuditError> {
        let io = self.io(&self.path);
        let rotated = chain::next_rotated_name(&self.path)?;
        std::fs::rename(&self.path, &rotated).map_err(&io)?;
        tail.file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(io)?;
        tail.len = 0;
        let mut record = AuditRecord::new(ROTATE_EVENT, "*", None);
        record.signature = "n/a".into();
        record.actions.push(AuditAction {
            object: rotated.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            action: "continues".into(),
            done: true,
            fields: Vec::new(),
            error: None,
        });
        self.write(tail, record).map(drop)
    }

    /// Chains and writes one record; a failed write is cut off again so the
    /// next one does not follow half a line.
    fn write(&self, tail: &mut Tail, mut record: AuditRecord) -> Result<AuditRecord, AuditError> {
        record.prev = tail.last.clone();
        record.hash = record.compute_hash();
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        let io = self.io(&self.path);
        if let Err(error) = tail.file.write_all(line.as_bytes()).and_then(|()| tail.file.sync_data()) {
            let _ = tail.file.set_len(tail.len);
            return Err(io(error));
        }
        tail.len += line.len() as u64;
        tail.last = record.hash.clone();
        tracing::info!(target: "audit", record = %line.trim_end(), "audit");
        Ok(record)
    }
}

/// Checks the chain of the log at `path` (with the files rotated out of
/// it): the number of intact records and the last hash, or the first
/// broken record.
pub fn verify(path: &Path) -> Result<chain::ChainReport, AuditError> {
    chain::verify_all(path)
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
        let log = AuditLog::open(&path, 0).expect("open");
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
        assert_eq!(verify(&path).expect("valid").records, 3);
        AuditLog::open(&path, 0).expect("reopen").append(record("demo", 9)).expect("append");
        assert_eq!(verify(&path).expect("valid").records, 4);
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
        assert_eq!(verify(&path).expect("the untouched log verifies").records, 4);
    }

    #[test]
    fn a_torn_last_record_is_reported_then_set_aside_and_the_chain_continues() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_log(dir.path(), 3);
        let whole = std::fs::read(&path).expect("read");
        // A kill mid-write: the last record lost its second half and its line end.
        let cut = whole.len() - 40;
        std::fs::write(&path, &whole[..cut]).expect("truncate");
        let report = verify(&path).expect("a torn tail is not tampering");
        assert_eq!(report.records, 2);
        let torn = report.torn.expect("the torn record is named");
        assert_eq!(torn.line, 3);

        let log = AuditLog::open(&path, 0).expect("a torn record does not stop the agent");
        log.append(record("demo", 7)).expect("append");
        let report = verify(&path).expect("the chain verifies after the repair");
        assert_eq!((report.records, report.torn), (4, None), "2 intact + the repair record + the new one");
        let text = std::fs::read_to_string(&path).expect("read");
        let repair: AuditRecord = serde_json::from_str(text.lines().nth(2).expect("third line")).expect("record");
        assert_eq!(repair.event, REPAIR_EVENT);
        assert!(repair.error.as_deref().is_some_and(|e| e.contains("record 3 was cut short")), "{repair:?}");
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
            .collect();
        assert_eq!(aside.len(), 1, "the torn bytes are kept aside");
        assert_eq!(std::fs::read(aside[0].path()).expect("read"), whole[torn.offset as usize..cut]);
    }

    #[test]
    fn a_broken_log_is_moved_aside_and_a_new_chain_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_log(dir.path(), 3);
        let mut contents = lines(&path);
        contents.remove(1);
        std::fs::write(&path, contents.join("\n") + "\n").expect("write");
        let log = AuditLog::open(&path, 0).expect("a broken log does not stop the agent");
        log.append(record("demo", 5)).expect("append");
        assert_eq!(verify(&path).expect("the new chain verifies").records, 2);
        assert!(std::fs::read_to_string(&path).expect("read").contains("was broken at record 2"));
    }

    #[test]
    fn rotation_by_size_continues_the_chain_across_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, 1000).expect("open");
        for i in 0..12 {
            log.append(record("demo", i)).expect("append");
        }
        let report = verify(&path).expect("valid across files");
        assert!(report.files.len() >= 3, "{:?}", report.files);
        assert_eq!(report.continues, None, "the oldest file starts the chain");
        let rotations = report.files.len() - 1;
        assert_eq!(report.records, 12 + rotations, "every record, and one rotation record per file");
        // Deleting a file in the middle is not hidden.
        let middle = std::fs::read(&report.files[1]).expect("read");
        std::fs::remove_file(&report.files[1]).expect("remove a middle one");
        assert!(verify(&path).expect_err("a gap").to_string().contains("does not start the chain"));
        std::fs::write(&report.files[1], middle).expect("put it back");
        // Operators delete old files: what is left still verifies, and says it continues.
        std::fs::remove_file(&report.files[0]).expect("remove the oldest");
        let rest = verify(&path).expect("the rest verifies");
        assert!(rest.continues.is_some());
    }

    #[test]
    fn two_replicas_sharing_the_file_continue_each_others_chain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let first = AuditLog::open(&path, 0).expect("open");
        let second = AuditLog::open(&path, 0).expect("open");
        for i in 0..6 {
            let log = if i % 2 == 0 { &first } else { &second };
            log.append(record("demo", i)).expect("append");
        }
        assert_eq!(verify(&path).expect("one chain").records, 6);
    }
}
