//! Chart renders kept in memory and on disk (the agent's cache directory),
//! keyed by the chart's files, the values, the release and the
//! capabilities, so a chart with random values renders the same objects
//! across agent restarts. An entry also records what the render looked up
//! ([`super::lookup::Looked`]) and is reused only while the cluster answers
//! the same. A damaged, unreadable or foreign entry is a miss (and is
//! removed); entries are written whole (temporary file, then rename), with
//! mode 0600 (rendered Secrets), and the folder keeps at most
//! [`MAX_ENTRIES`] files, the oldest removed first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::RenderedObject;
use super::lookup::Looked;

/// Entries kept on disk.
pub const MAX_ENTRIES: usize = 256;

/// Entries kept in memory.
const MEMORY_ENTRIES: usize = 64;

/// The largest entry file read.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// A cached render.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The objects.
    pub objects: Vec<RenderedObject>,
    /// What the render looked up.
    pub looked: Vec<Looked>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredObject {
    origin: String,
    manifest: serde_json::Value,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    key: String,
    objects: Vec<StoredObject>,
    looked: Vec<Looked>,
}

static MEMORY: Mutex<Option<HashMap<String, Entry>>> = Mutex::new(None);

fn file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.json"))
}

/// The cached render for `key`: from memory, else from `dir`.
pub fn get(dir: Option<&Path>, key: &str) -> Option<Entry> {
    if let Some(hit) = MEMORY.lock().ok().and_then(|m| m.as_ref().and_then(|m| m.get(key).cloned())) {
        return Some(hit);
    }
    let path = file(dir?, key);
    let entry = read(&path, key);
    if entry.is_none() && path.exists() {
        // Damaged or foreign: render again and replace it.
        let _ = std::fs::remove_file(&path);
    }
    let entry = entry?;
    remember(key, &entry);
    Some(entry)
}

fn read(path: &Path, key: &str) -> Option<Entry> {
    if std::fs::metadata(path).ok()?.len() > MAX_ENTRY_BYTES {
        return None;
    }
    let stored: Stored = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if stored.key != key {
        return None;
    }
    let objects = stored
        .objects
        .into_iter()
        .map(|o| o.manifest.is_object().then_some(RenderedObject { origin: o.origin, manifest: o.manifest }))
        .collect::<Option<Vec<_>>>()?;
    Some(Entry { objects, looked: stored.looked })
}

fn remember(key: &str, entry: &Entry) {
    if let Ok(mut memory) = MEMORY.lock() {
        let memory = memory.get_or_insert_with(HashMap::new);
        if memory.len() >= MEMORY_ENTRIES {
            memory.clear();
        }
        memory.insert(key.to_string(), entry.clone());
    }
}

/// Forgets every render kept in memory, as a restart of the process does
/// (the entries on disk stay).
pub fn forget_memory() {
    if let Ok(mut memory) = MEMORY.lock() {
        *memory = None;
    }
}

/// Forgets `key` (its recorded lookups no longer hold).
pub fn forget(dir: Option<&Path>, key: &str) {
    if let Ok(mut memory) = MEMORY.lock()
        && let Some(memory) = memory.as_mut()
    {
        memory.remove(key);
    }
    if let Some(dir) = dir {
        let _ = std::fs::remove_file(file(dir, key));
    }
}

/// Stores a render in memory and, when `dir` is set, on disk.
pub fn put(dir: Option<&Path>, key: &str, entry: &Entry) {
    remember(key, entry);
    let Some(dir) = dir else { return };
    let stored = Stored {
        key: key.to_string(),
        objects: entry
            .objects
            .iter()
            .map(|o| StoredObject { origin: o.origin.clone(), manifest: o.manifest.clone() })
            .collect(),
        looked: entry.looked.clone(),
    };
    let Ok(bytes) = serde_json::to_vec(&stored) else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let path = file(dir, key);
    let tmp = path.with_extension("tmp");
    if write_private(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, &path).is_ok() {
        prune(dir);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

/// Keeps the newest [`MAX_ENTRIES`] entries.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= MAX_ENTRIES {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - MAX_ENTRIES] {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        Entry {
            objects: vec![RenderedObject {
                origin: "c/templates/a.yaml".into(),
                manifest: serde_json::json!({"kind": name}),
            }],
            looked: Vec::new(),
        }
    }

    #[test]
    fn disk_entries_survive_restarts_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = "k-disk-test";
        put(Some(dir.path()), key, &entry("A"));
        forget(None, key); // a restart: memory is empty
        assert_eq!(get(Some(dir.path()), key), Some(entry("A")));
        forget(None, key);
        std::fs::write(file(dir.path(), key), b"{not json").expect("damage");
        assert_eq!(get(Some(dir.path()), key), None);
        assert!(!file(dir.path(), key).exists(), "a damaged entry is removed");
        // An entry stored under another key is not used.
        put(Some(dir.path()), "other", &entry("B"));
        forget(None, "other");
        std::fs::rename(file(dir.path(), "other"), file(dir.path(), key)).expect("move");
        assert_eq!(get(Some(dir.path()), key), None);
    }

    #[test]
    fn the_folder_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..MAX_ENTRIES + 5 {
            put(Some(dir.path()), &format!("bound-{i}"), &entry("X"));
        }
        let count = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(count, MAX_ENTRIES);
    }
}
