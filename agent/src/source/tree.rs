//! A read-only view of a commit's (or a directory's) files.
//!
//! Paths are `/`-separated and relative to the root. `..` components are
//! refused, as is any symlink whose target leaves the root: nothing outside
//! the repository is ever read. Every read is charged to the tree's
//! [`ByteBudget`], so one commit cannot make plumb read (and parse) more
//! than a bounded number of bytes, however its files are split.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::SourceError;

/// Default bytes plumb reads from one commit (all apps, all files): room
/// for tens of thousands of objects and multi-megabyte CRD bundles.
pub const DEFAULT_MAX_COMMIT_BYTES: u64 = 128 * 1024 * 1024;

/// The budget of trees opened from now on; set once from `--max-commit-bytes`.
static COMMIT_BYTE_LIMIT: AtomicU64 = AtomicU64::new(DEFAULT_MAX_COMMIT_BYTES);

/// Sets the byte budget of every tree opened after this call (the
/// `--max-commit-bytes` flag of `plumb run` and `plumb render`).
pub fn set_commit_byte_limit(limit: u64) {
    COMMIT_BYTE_LIMIT.store(limit, Ordering::Relaxed);
}

/// The bytes one tree (one commit) may still be read for. Clones share the
/// count, so a tree and the views of its sub-directories spend one budget.
#[derive(Debug, Clone)]
pub struct ByteBudget {
    limit: u64,
    read: Arc<AtomicU64>,
}

impl ByteBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self { limit, read: Arc::default() }
    }

    /// A budget of the limit set by [`set_commit_byte_limit`] (default
    /// [`DEFAULT_MAX_COMMIT_BYTES`]).
    pub fn per_commit() -> Self {
        Self::new(COMMIT_BYTE_LIMIT.load(Ordering::Relaxed))
    }

    /// Charges `size` bytes for reading `path`, before they are read;
    /// refuses them (charging nothing) if they would take the total over
    /// the limit.
    pub fn charge(&self, path: &str, size: u64) -> Result<(), SourceError> {
        let within = |read: u64| read.checked_add(size).filter(|total| *total <= self.limit);
        self.read.fetch_update(Ordering::Relaxed, Ordering::Relaxed, within).map(drop).map_err(|read| {
            SourceError::OverByteBudget {
                path: path.to_string(),
                size,
                total: read.saturating_add(size),
                limit: self.limit,
            }
        })
    }
}

/// A file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (or a symlink to one inside the root).
    File,
    /// A directory.
    Dir,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name (no `/`).
    pub name: String,
    /// File or directory.
    pub kind: EntryKind,
}

/// Read-only access to a tree of files.
pub trait Tree: Send + Sync {
    /// Reads a file.
    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError>;

    /// Lists a directory, sorted by name (`""` is the root).
    fn list(&self, dir: &str) -> Result<Vec<Entry>, SourceError>;

    /// A name for messages (commit sha or directory path).
    fn revision(&self) -> String;

    /// What `path` holds, by content (following symlinks as reads do):
    /// two trees whose identities of a path are equal hold the same bytes
    /// there, or both nothing. `None` when this tree cannot tell (a plain
    /// directory) or the path is unsafe.
    fn identity(&self, _path: &str) -> Option<Identity> {
        None
    }

    /// Reads a UTF-8 file.
    fn read_string(&self, path: &str) -> Result<String, SourceError> {
        String::from_utf8(self.read(path)?)
            .map_err(|_| SourceError::UnsafePath { path: path.to_string(), problem: "is not UTF-8 text".into() })
    }

    /// Every file under `dir`, recursively, sorted by path. A symlink to a
    /// directory that contains it (`x -> .`) is refused, naming it, and the
    /// walk lists at most [`MAX_WALK_ENTRIES`] entries: links cannot make a
    /// small repository look endless.
    fn walk(&self, dir: &str) -> Result<Vec<String>, SourceError> {
        let mut files = Vec::new();
        let mut listed = 0usize;
        let root = clean_path(dir)?;
        let root_identity = self.identity(&root);
        let mut pending = vec![(root, root_identity.into_iter().collect::<Vec<Identity>>())];
        while let Some((dir, ancestors)) = pending.pop() {
            for entry in self.list(&dir)? {
                listed += 1;
                if listed > MAX_WALK_ENTRIES {
                    return Err(SourceError::UnsafePath {
                        path: dir,
                        problem: format!(
                            "holds more than {MAX_WALK_ENTRIES} files and directories (with those its symlinks reach); \
                             plumb reads at most that many per app"
                        ),
                    });
                }
                let path = if dir.is_empty() { entry.name } else { format!("{dir}/{}", entry.name) };
                match entry.kind {
                    EntryKind::File => files.push(path),
                    EntryKind::Dir => {
                        let mut ancestors = ancestors.clone();
                        if let Some(identity) = self.identity(&path).filter(|i| matches!(i, Identity::Object(_))) {
                            if ancestors.contains(&identity) {
                                return Err(SourceError::UnsafePath {
                                    path,
                                    problem: "is a symlink to a directory that contains it (a loop); plumb does \
                                              not follow it: remove the link or point it elsewhere"
                                        .into(),
                                });
                            }
                            ancestors.push(identity);
                        }
                        pending.push((path, ancestors));
                    }
                }
            }
        }
        files.sort();
        Ok(files)
    }
}

/// The most entries [`Tree::walk`] lists under one directory.
pub const MAX_WALK_ENTRIES: usize = 100_000;

/// The content identity of a path in a tree ([`Tree::identity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A file or directory, by object id.
    Object(String),
    /// Nothing there.
    Absent,
}

/// Normalises a repository path: drops empty and `.` components, refuses
/// `..` and absolute paths.
pub fn clean_path(path: &str) -> Result<String, SourceError> {
    if path.starts_with('/') {
        return Err(SourceError::UnsafePath { path: path.into(), problem: "absolute paths are not allowed".into() });
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(SourceError::UnsafePath {
                    path: path.into(),
                    problem: "`..` is not allowed in repository paths".into(),
                });
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a symlink `target` found at `link` (both repository paths),
/// refusing targets that leave the root.
pub fn resolve_link(link: &str, target: &str) -> Result<String, SourceError> {
    let escape = || SourceError::UnsafePath {
        path: link.to_string(),
        problem: format!("is a symlink to {target:?}, outside the repository; plumb never follows it"),
    };
    if target.starts_with('/') {
        return Err(escape());
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(escape)?;
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// A plain directory as a [`Tree`] (for `plumb render ./dir` and tests).
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
    budget: ByteBudget,
}

impl DirTree {
    /// A tree rooted at `root`.
    pub fn new(root: &Path) -> Result<Self, SourceError> {
        let root = root.canonicalize().map_err(|e| SourceError::Local {
            what: format!("open directory {}", root.display()),
            reason: e.to_string(),
        })?;
        Ok(Self { root, budget: ByteBudget::per_commit() })
    }

    /// Sets the budget of bytes read (instead of the per-commit default).
    pub fn with_byte_budget(mut self, budget: ByteBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The real path of `path`, which must stay inside the root after
    /// following symlinks.
    fn real(&self, path: &str) -> Result<(String, PathBuf), SourceError> {
        let clean = clean_path(path)?;
        let joined = self.root.join(&clean);
        let real = joined.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound { path: clean.clone(), revision: self.revision() },
            _ => SourceError::Local { what: format!("read {clean}"), reason: e.to_string() },
        })?;
        if !real.starts_with(&self.root) {
            return Err(SourceError::UnsafePath {
                path: clean,
                problem: format!("resolves to {}, outside the repository; plumb never follows it", real.display()),
            });
        }
        Ok((clean, real))
    }
}

impl Tree for DirTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let (clean, real) = self.real(path)?;
        let local = |e: std::io::Error| SourceError::Local { what: format!("read {clean}"), reason: e.to_string() };
        let size = real.metadata().map_err(local)?.len();
        self.budget.charge(&clean, size)?;
        std::fs::read(&real).map_err(local)
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, SourceError> {
        let (clean, real) = self.real(dir)?;
        let local = |e: std::io::Error| SourceError::Local { what: format!("list {clean}"), reason: e.to_string() };
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&real).map_err(local)? {
            let entry = entry.map_err(local)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            // Follows symlinks; a dangling one is listed as a file so that
            // reading it gives a clear error.
            let kind = match std::fs::metadata(entry.path()) {
                Ok(m) if m.is_dir() => EntryKind::Dir,
                _ => EntryKind::File,
            };
            entries.push(Entry { name, kind });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn revision(&self) -> String {
        self.root.display().to_string()
    }
}

/// A sub-directory of another tree, as a tree of its own (the `--path`
/// of a config repo).
pub struct Subdir {
    inner: std::sync::Arc<dyn Tree>,
    prefix: String,
}

impl Subdir {
    /// `dir` of `inner`.
    pub fn new(inner: std::sync::Arc<dyn Tree>, dir: &str) -> Result<Self, SourceError> {
        Ok(Self { inner, prefix: clean_path(dir)? })
    }

    fn full(&self, path: &str) -> Result<String, SourceError> {
        let path = clean_path(path)?;
        Ok(if path.is_empty() { self.prefix.clone() } else { format!("{}/{path}", self.prefix) })
    }
}

impl Tree for Subdir {
    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.inner.read(&self.full(path)?)
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, SourceError> {
        self.inner.list(&self.full(dir)?)
    }

    fn revision(&self) -> String {
        format!("{}:{}", self.inner.revision(), self.prefix)
    }

    fn identity(&self, path: &str) -> Option<Identity> {
        self.inner.identity(&self.full(path).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("./apps//web/").ok().as_deref(), Some("apps/web"));
        assert_eq!(clean_path("").ok().as_deref(), Some(""));
        assert!(clean_path("apps/../../etc").is_err());
        assert!(clean_path("/etc/passwd").is_err());
    }

    #[test]
    fn link_targets() {
        assert_eq!(resolve_link("apps/web/cm.yaml", "../shared/cm.yaml").ok().as_deref(), Some("apps/shared/cm.yaml"));
        assert_eq!(resolve_link("a.yaml", "b.yaml").ok().as_deref(), Some("b.yaml"));
        assert!(resolve_link("a.yaml", "/etc/passwd").is_err());
        assert!(resolve_link("apps/a.yaml", "../../etc/passwd").is_err());
    }

    #[test]
    fn dir_tree_refuses_escapes_and_reads_over_budget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("apps/web")).expect("mkdir");
        std::fs::write(root.join("apps/web/cm.yaml"), "a: 1\n").expect("write");
        std::fs::write(root.join("big.yaml"), vec![b'#'; 1000]).expect("write");
        std::os::unix::fs::symlink("/etc/passwd", root.join("apps/passwd.yaml")).expect("symlink");
        std::os::unix::fs::symlink("web/cm.yaml", root.join("apps/alias.yaml")).expect("symlink");
        let tree = DirTree::new(root).expect("tree").with_byte_budget(ByteBudget::new(1024));

        assert_eq!(tree.read_string("apps/web/cm.yaml").expect("read"), "a: 1\n");
        assert_eq!(tree.read_string("apps/alias.yaml").expect("in-repo link"), "a: 1\n");
        let err = tree.read("apps/passwd.yaml").expect_err("escape").to_string();
        assert!(err.starts_with("apps/passwd.yaml: resolves to /etc/passwd, outside the repository"), "{err}");
        // 5 + 5 bytes read so far; 1000 more fit once, not twice.
        assert_eq!(tree.read("big.yaml").expect("within budget").len(), 1000);
        let err = tree.read("big.yaml").expect_err("over budget").to_string();
        assert_eq!(tree.read("apps/web/cm.yaml").expect("a refused read charges nothing").len(), 5);
        assert_eq!(
            err,
            "big.yaml: reading its 1000 bytes takes this commit to 2010 bytes, over the 1024-byte budget \
             per commit; if the repository really is this large, raise it with --max-commit-bytes \
             (PLUMB_MAX_COMMIT_BYTES)"
        );
        assert!(matches!(tree.read("apps/../../etc/passwd"), Err(SourceError::UnsafePath { .. })));
        assert_eq!(tree.walk("apps").expect("walk"), ["apps/alias.yaml", "apps/passwd.yaml", "apps/web/cm.yaml"]);
    }
}
