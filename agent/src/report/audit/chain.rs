//! Reading the audit chain back: one file at a time (how far it verifies,
//! where a torn last record starts) and across the files rotation leaves
//! (`audit.jsonl.000001`, `audit.jsonl.000002`, …, then `audit.jsonl`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{AuditError, AuditRecord, GENESIS, ROTATE_EVENT};

/// A last line without a line end: a write cut short by a kill or a full disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// 1-based line of the torn record.
    pub line: usize,
    /// Byte offset where it starts (the length of the intact part).
    pub offset: u64,
    /// Its length in bytes.
    pub bytes: u64,
}

/// What one file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChain {
    /// Intact records.
    pub records: usize,
    /// Hash of the last intact record (`prev` of the next one).
    pub last: String,
    /// Set when the file starts with a rotation record whose predecessor
    /// was not checked: the `prev` it continues.
    pub continues: Option<String>,
    /// A torn last record, when there is one.
    pub torn: Option<Torn>,
}

/// Checks one file. `start` is the hash the first record must follow:
/// [`GENESIS`] for the first file, the last hash of the previous file for
/// the next; `None` when the previous file is not available, in which case
/// a file that starts with a rotation record is accepted as a continuation.
pub fn check_file(path: &Path, start: Option<&str>) -> Result<FileChain, AuditError> {
    let io = |source| AuditError::Io { path: path.to_path_buf(), source };
    let broken = |line: usize, problem: String| AuditError::Broken { path: path.to_path_buf(), line, problem };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut previous = start.unwrap_or(GENESIS).to_string();
    let mut chain = FileChain { records: 0, last: previous.clone(), continues: None, torn: None };
    let mut offset = 0u64;
    let mut buffer = Vec::new();
    for n in 1.. {
        buffer.clear();
        let read = reader.read_until(b'\n', &mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        let complete = buffer.last() == Some(&b'\n');
        let text = String::from_utf8_lossy(&buffer);
        if text.trim().is_empty() {
            offset += read as u64;
            continue;
        }
        let record = serde_json::from_str::<AuditRecord>(&text);
        if !complete && !record.as_ref().is_ok_and(|r| r.hash == r.compute_hash()) {
            chain.torn = Some(Torn { line: n, offset, bytes: read as u64 });
            break;
        }
        let record = record.map_err(|e| broken(n, format!("is not a valid record: {e}")))?;
        if record.hash != record.compute_hash() {
            return Err(broken(n, "was edited: its hash does not match its contents".into()));
        }
        if record.prev != previous {
            if chain.records == 0 && start.is_none() && record.event == ROTATE_EVENT {
                chain.continues = Some(record.prev.clone());
            } else {
                let problem = if chain.records == 0 {
                    "does not start the chain: records before it were removed".to_string()
                } else {
                    "does not follow the record before it: a record was deleted, inserted or reordered".to_string()
                };
                return Err(broken(n, problem));
            }
        }
        previous = record.hash;
        chain.records += 1;
        offset += read as u64;
    }
    chain.last = previous;
    Ok(chain)
}

/// The rotated files of the log at `path`, oldest first.
pub fn rotated_files(path: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let io = |source| AuditError::Io { path: path.to_path_buf(), source };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(Vec::new());
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{name}.");
    let mut numbered = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let file_name = entry.file_name();
        let Some(suffix) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        if let Ok(number) = suffix.parse::<u64>()
            && suffix.len() == 6
        {
            numbered.push((number, entry.path()));
        }
    }
    numbered.sort();
    Ok(numbered.into_iter().map(|(_, p)| p).collect())
}

/// The name the next rotation moves the live file to.
pub fn next_rotated_name(path: &Path) -> Result<PathBuf, AuditError> {
    let last = rotated_files(path)?.last().and_then(|p| p.extension()?.to_str()?.parse::<u64>().ok()).unwrap_or(0);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{:06}", last + 1));
    Ok(PathBuf::from(name))
}

/// The whole chain: the rotated files and then the live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Files checked, oldest first.
    pub files: Vec<PathBuf>,
    /// Intact records in all of them.
    pub records: usize,
    /// Hash of the last intact record.
    pub last: String,
    /// When the oldest file continues a chain whose earlier files are gone.
    pub continues: Option<String>,
    /// A torn last record of the live file (the agent sets it aside at its next start).
    pub torn: Option<Torn>,
}

/// Verifies the log at `path` with the files rotated out of it before.
pub fn verify_all(path: &Path) -> Result<ChainReport, AuditError> {
    let mut files = rotated_files(path)?;
    files.push(path.to_path_buf());
    let mut report = ChainReport { files: Vec::new(), records: 0, last: GENESIS.into(), continues: None, torn: None };
    for (i, file) in files.iter().enumerate() {
        let start = if i == 0 { None } else { Some(report.last.as_str()) };
        let chain = check_file(file, start)?;
        if let Some(torn) = &chain.torn
            && i + 1 < files.len()
        {
            return Err(AuditError::Broken {
                path: file.clone(),
                line: torn.line,
                problem: "is cut short in a rotated file: it was damaged after rotation".into(),
            });
        }
        if i == 0 {
            report.continues = chain.continues;
        }
        report.records += chain.records;
        report.last = chain.last;
        report.torn = chain.torn;
        report.files.push(file.clone());
    }
    Ok(report)
}
