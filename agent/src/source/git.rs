//! Git through libgit2: list the remote's refs cheaply, fetch shallow into a
//! bare cache that survives restarts, and serve a commit's files straight
//! from the object database (no checkout).
//!
//! Everything here blocks; the runtime calls it from a blocking task.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use git2::{Direction, ErrorClass, ErrorCode, FetchOptions, ObjectType, Oid, Repository};
use sha2::{Digest, Sha256};

use super::SourceError;
use super::credentials::{self, CallbackState, Credentials};
use super::signature::{SignatureStatus, VerifyPolicy};
use super::tree::{ByteBudget, Entry, EntryKind, Identity, Tree, clean_path, resolve_link};
use super::url::{SourceUrl, Transport};

/// The local ref holding the last fetched commit in the cache repository.
const TRACKING_REF: &str = "refs/plumb/tracked";
/// Symlink hops allowed while resolving one path.
const MAX_LINK_HOPS: usize = 16;

/// What to follow on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitRef {
    /// A branch (`main`).
    Branch(String),
    /// A tag (`v1.2.3`).
    Tag(String),
    /// One exact commit (full sha).
    Commit(String),
}

impl std::fmt::Display for GitRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitRef::Branch(b) => write!(f, "branch {b}"),
            GitRef::Tag(t) => write!(f, "tag {t}"),
            GitRef::Commit(c) => write!(f, "commit {c}"),
        }
    }
}

/// Who made a commit, and when (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Time, seconds since the epoch.
    pub time: i64,
}

/// Commit metadata for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// Full sha.
    pub sha: String,
    /// Author.
    pub author: Signature,
    /// Committer.
    pub committer: Signature,
    /// First line of the message.
    pub summary: String,
    /// Parent shas.
    pub parents: Vec<String>,
}

/// The result of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// The ref still points at the commit fetched before: nothing was fetched.
    Unchanged(String),
    /// The ref moved (or this is the first poll): the commit was fetched.
    Fetched(String),
}

impl Poll {
    /// The commit the ref points at.
    pub fn commit(&self) -> &str {
        match self {
            Poll::Unchanged(c) | Poll::Fetched(c) => c,
        }
    }
}

/// The commit `reference` points at among the refs a remote advertises
/// (`ls-remote`). An annotated tag is advertised twice; the peeled entry
/// (`^{}`) is its commit. A pinned commit is not looked up.
pub fn select_ref<T: Copy>(advertised: &[(&str, T)], reference: &GitRef) -> Option<T> {
    let find = |wanted: &str| advertised.iter().find(|(name, _)| *name == wanted).map(|(_, oid)| *oid);
    match reference {
        GitRef::Branch(b) => find(&format!("refs/heads/{b}")),
        GitRef::Tag(t) => find(&format!("refs/tags/{t}^{{}}")).or_else(|| find(&format!("refs/tags/{t}"))),
        GitRef::Commit(_) => None,
    }
}

/// Sets libgit2's connect and I/O timeouts. Call once, before any thread
/// is spawned (libgit2 keeps them in unsynchronised globals).
pub fn set_timeouts(connect_ms: i32, io_ms: i32) -> Result<(), SourceError> {
    let local = |e: git2::Error| SourceError::Local { what: "set git timeouts".into(), reason: e.message().into() };
    // SAFETY: documented as callable before threads start; main() does so.
    unsafe {
        git2::opts::set_server_connect_timeout_in_milliseconds(connect_ms).map_err(local)?;
        git2::opts::set_server_timeout_in_milliseconds(io_ms).map_err(local)?;
    }
    Ok(())
}

/// A remote repository followed through a bare cache on disk.
pub struct GitSource {
    url: SourceUrl,
    reference: GitRef,
    credentials: Credentials,
    repo: Repository,
    ls_remotes: AtomicU64,
    fetches: AtomicU64,
    /// Fetch whole histories (ancestry checks need them), not one commit.
    full_history: bool,
}

impl GitSource {
    /// Opens (or creates) the bare cache for `url` under `cache_root`.
    pub fn open(url: SourceUrl, reference: GitRef, cache_root: &Path) -> Result<Self, SourceError> {
        let digest = Sha256::digest(url.url.as_bytes());
        let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let path: PathBuf = cache_root.join(format!("repo-{name}"));
        let local = |e: git2::Error| SourceError::Local {
            what: format!("open the git cache {}", path.display()),
            reason: e.message().to_string(),
        };
        let repo = match Repository::open_bare(&path) {
            Ok(repo) => repo,
            Err(_) => Repository::init_bare(&path).map_err(local)?,
        };
        Ok(Self {
            url,
            reference,
            credentials: Credentials::default(),
            repo,
            ls_remotes: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            full_history: false,
        })
    }

    /// Fetches whole histories instead of the newest commit only (for
    /// [`GitSource::descends_from`]; a shallow cache is deepened).
    pub fn with_full_history(mut self, full: bool) -> Self {
        self.full_history = full;
        self
    }

    /// Whether `commit` is `ancestor` or descends from it.
    pub fn descends_from(&self, commit: &str, ancestor: &str) -> Result<bool, SourceError> {
        if commit == ancestor {
            return Ok(true);
        }
        let oid = |sha: &str| {
            Oid::from_str(sha)
                .map_err(|e| SourceError::Local { what: format!("read commit {sha}"), reason: e.message().into() })
        };
        self.repo.graph_descendant_of(oid(commit)?, oid(ancestor)?).map_err(|e| SourceError::Local {
            what: format!("compare {commit} with {ancestor}"),
            reason: e.message().into(),
        })
    }

    /// Authenticates with `credentials`.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The source location (redacted when displayed).
    pub fn url(&self) -> &SourceUrl {
        &self.url
    }

    /// How many times the remote's refs were listed.
    pub fn ls_remote_count(&self) -> u64 {
        self.ls_remotes.load(Ordering::Relaxed)
    }

    /// How many fetches were made.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The commit fetched by the last successful poll, if any (survives restarts).
    pub fn last_fetched(&self) -> Option<String> {
        self.repo.refname_to_id(TRACKING_REF).ok().map(|oid| oid.to_string())
    }

    /// Lists the remote's refs and fetches (depth 1) only when the followed
    /// ref moved. A deleted ref is an error; the tracked commit stays.
    pub fn poll(&self) -> Result<Poll, SourceError> {
        let last = self.last_fetched();
        let target = match &self.reference {
            GitRef::Commit(sha) => Oid::from_str(sha).map_err(|_| SourceError::BadUrl {
                url: self.url.redacted.clone(),
                problem: format!("{sha:?} is not a commit sha"),
            })?,
            GitRef::Branch(_) | GitRef::Tag(_) => self.remote_target(last.clone())?,
        };
        if last.as_deref() == Some(target.to_string().as_str()) && self.repo.find_commit(target).is_ok() {
            return Ok(Poll::Unchanged(target.to_string()));
        }
        self.fetch(target)?;
        self.repo
            .reference(TRACKING_REF, target, true, "plumb: tracked commit")
            .map_err(|e| SourceError::Local { what: "record the fetched commit".into(), reason: e.message().into() })?;
        Ok(Poll::Fetched(target.to_string()))
    }

    /// The commit the followed ref points at on the remote (`ls-remote`).
    fn remote_target(&self, last: Option<String>) -> Result<Oid, SourceError> {
        self.ls_remotes.fetch_add(1, Ordering::Relaxed);
        let state = CallbackState::default();
        let mut remote = self.repo.remote_anonymous(&self.url.url).map_err(|e| self.classify(e, &state))?;
        let callbacks = self.credentials.callbacks(&state, self.url.port());
        let connection =
            remote.connect_auth(Direction::Fetch, Some(callbacks), None).map_err(|e| self.classify(e, &state))?;
        let heads = connection.list().map_err(|e| self.classify(e, &state))?;
        let advertised: Vec<(&str, Oid)> = heads.iter().map(|h| (h.name(), h.oid())).collect();
        select_ref(&advertised, &self.reference).ok_or_else(|| SourceError::RefNotFound {
            url: self.url.redacted.clone(),
            reference: self.reference.to_string(),
            last,
        })
    }

    fn fetch(&self, target: Oid) -> Result<(), SourceError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let state = CallbackState::default();
        let mut remote = self.repo.remote_anonymous(&self.url.url).map_err(|e| self.classify(e, &state))?;
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.credentials.callbacks(&state, self.url.port()));
        options.download_tags(git2::AutotagOption::None);
        let refspec = match &self.reference {
            GitRef::Branch(b) => format!("+refs/heads/{b}:refs/plumb/fetch"),
            GitRef::Tag(t) => format!("+refs/tags/{t}:refs/plumb/fetch"),
            // Servers need not serve unadvertised shas: fetch the heads in full.
            GitRef::Commit(_) => "+refs/heads/*:refs/plumb/heads/*".to_string(),
        };
        // Shallow saves the network; libgit2's local transport cannot do it
        // and a local fetch only copies objects anyway.
        if self.url.transport != Transport::File {
            if self.full_history {
                if self.repo.is_shallow() {
                    // libgit2's "unshallow": a cache fetched shallow before gets its history.
                    options.depth(i32::MAX);
                }
            } else if !matches!(self.reference, GitRef::Commit(_)) {
                options.depth(1);
            }
        }
        remote.fetch(&[refspec.as_str()], Some(&mut options), None).map_err(|e| self.classify(e, &state))?;
        self.repo.find_commit(target).map(|_| ()).map_err(|_| SourceError::RefNotFound {
            url: self.url.redacted.clone(),
            reference: self.reference.to_string(),
            last: self.last_fetched(),
        })
    }

    /// Checks `commit` against `policy`; a rejection names the commit and why.
    pub fn verify(&self, commit: &str, policy: &VerifyPolicy) -> Result<SignatureStatus, SourceError> {
        let reject = |reason: String| SourceError::SignatureRejected { commit: commit.to_string(), reason };
        if matches!(policy, VerifyPolicy::Off) {
            return Ok(SignatureStatus::NotChecked);
        }
        let oid = Oid::from_str(commit).map_err(|_| reject("not a commit sha".into()))?;
        let (signature, signed) = match self.repo.extract_signature(&oid, Some("gpgsig")) {
            Ok(parts) => parts,
            Err(e) if e.code() == ErrorCode::NotFound => return Err(reject("it is not signed".into())),
            Err(e) => return Err(reject(format!("its signature cannot be read: {}", e.message()))),
        };
        let armored = String::from_utf8_lossy(&signature).to_string();
        let ssh = armored.contains("BEGIN SSH SIGNATURE");
        match policy {
            VerifyPolicy::Ssh(signers) if ssh => {
                let committed_at = self.find_commit(commit)?.committer().when().seconds();
                let (signer, key) = signers.verify(&armored, &signed, committed_at).map_err(reject)?;
                Ok(SignatureStatus::Verified { format: "ssh".into(), key, signer })
            }
            VerifyPolicy::OpenPgp(keys) if !ssh => {
                let key = keys.verify(&armored, &signed).map_err(reject)?;
                Ok(SignatureStatus::Verified { format: "openpgp".into(), key, signer: "trusted OpenPGP key".into() })
            }
            VerifyPolicy::Ssh(_) => Err(reject("it is not signed with an SSH key (the policy is ssh)".into())),
            _ => Err(reject("it is signed with an SSH key (the policy is openpgp)".into())),
        }
    }

    /// Metadata of `commit`.
    pub fn commit_info(&self, commit: &str) -> Result<CommitInfo, SourceError> {
        let c = self.find_commit(commit)?;
        let signature = |s: git2::Signature<'_>| Signature {
            name: s.name().unwrap_or_default().to_string(),
            email: s.email().unwrap_or_default().to_string(),
            time: s.when().seconds(),
        };
        Ok(CommitInfo {
            sha: c.id().to_string(),
            author: signature(c.author()),
            committer: signature(c.committer()),
            summary: c.summary().ok().flatten().unwrap_or_default().to_string(),
            // From the raw header: in a shallow cache libgit2 hides the
            // parents it did not fetch, but the audit trail wants them.
            parents: c
                .raw_header()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.strip_prefix("parent "))
                .map(str::to_string)
                .collect(),
        })
    }

    /// The files of `commit`, read from the object database.
    pub fn tree(&self, commit: &str) -> Result<GitTree, SourceError> {
        let tree = self.find_commit(commit)?.tree_id();
        let repo = Repository::open_bare(self.repo.path())
            .map_err(|e| SourceError::Local { what: "open the git cache".into(), reason: e.message().into() })?;
        Ok(GitTree { repo: Mutex::new(repo), root: tree, commit: commit.to_string(), budget: ByteBudget::per_commit() })
    }

    fn find_commit(&self, commit: &str) -> Result<git2::Commit<'_>, SourceError> {
        Oid::from_str(commit)
            .and_then(|oid| self.repo.find_commit(oid))
            .map_err(|e| SourceError::Local { what: format!("read commit {commit}"), reason: e.message().into() })
    }

    /// Maps a libgit2 error to a typed one (credentials never appear: only
    /// the redacted URL is used).
    fn classify(&self, e: git2::Error, state: &CallbackState) -> SourceError {
        let url = self.url.redacted.clone();
        let reason = e.message().replace(&self.url.url, &self.url.redacted);
        if let Some(host_key) = state.host_key.take() {
            return SourceError::UnknownHostKey { url, reason: host_key };
        }
        let refused = e.code() == ErrorCode::Auth
            || reason.contains(credentials::REFUSED)
            || reason.contains(credentials::MISSING)
            || (e.class() == ErrorClass::Http && (reason.contains("401") || reason.contains("403")));
        if refused { SourceError::AuthFailed { url, reason } } else { SourceError::Unreachable { url, reason } }
    }
}

/// A commit's files as a [`Tree`]. Symlinks are followed only within the
/// repository; nothing is ever read from the filesystem.
pub struct GitTree {
    repo: Mutex<Repository>,
    root: Oid,
    commit: String,
    budget: ByteBudget,
}

/// What a path resolves to.
enum Resolved {
    Blob(Oid),
    Tree(Oid),
}

impl GitTree {
    /// The tree of `revision` (a branch, tag or sha) in the local repository
    /// containing `dir` (for `plumb render --ref`).
    pub fn at_revision(dir: &Path, revision: &str) -> Result<GitTree, SourceError> {
        let local =
            |what: &str, e: git2::Error| SourceError::Local { what: what.to_string(), reason: e.message().into() };
        let repo = Repository::discover(dir)
            .map_err(|e| local(&format!("open the git repository at {}", dir.display()), e))?;
        let commit = repo
            .revparse_single(revision)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| local(&format!("resolve {revision:?}"), e))?;
        let (root, sha) = (commit.tree_id(), commit.id().to_string());
        drop(commit);
        Ok(GitTree { repo: Mutex::new(repo), root, commit: sha, budget: ByteBudget::per_commit() })
    }

    /// Sets the budget of bytes read (instead of the per-commit default).
    pub fn with_byte_budget(mut self, budget: ByteBudget) -> Self {
        self.budget = budget;
        self
    }

    fn local(&self, what: &str, e: git2::Error) -> SourceError {
        SourceError::Local { what: format!("{what} in {}", self.commit), reason: e.message().into() }
    }

    /// Resolves `path`, following in-repository symlinks.
    fn resolve(&self, repo: &Repository, path: &str) -> Result<Resolved, SourceError> {
        let mut path = clean_path(path)?;
        'hops: for _ in 0..MAX_LINK_HOPS {
            let mut current = self.root;
            let parts: Vec<String> = path.split('/').filter(|p| !p.is_empty()).map(String::from).collect();
            for (i, part) in parts.iter().enumerate() {
                let tree = repo.find_tree(current).map_err(|e| self.local("read tree", e))?;
                let entry = tree
                    .get_name(part)
                    .ok_or_else(|| SourceError::NotFound { path: path.clone(), revision: self.commit.clone() })?;
                let so_far = parts[..=i].join("/");
                match (entry.kind(), entry.filemode()) {
                    (Some(ObjectType::Blob), 0o120000) => {
                        let blob = repo.find_blob(entry.id()).map_err(|e| self.local("read link", e))?;
                        let target = String::from_utf8_lossy(blob.content()).into_owned();
                        let resolved = resolve_link(&so_far, &target)?;
                        let rest = parts[i + 1..].join("/");
                        path = if rest.is_empty() { resolved } else { format!("{resolved}/{rest}") };
                        continue 'hops;
                    }
                    (Some(ObjectType::Tree), _) => current = entry.id(),
                    (Some(ObjectType::Blob), _) if i + 1 == parts.len() => return Ok(Resolved::Blob(entry.id())),
                    _ => return Err(SourceError::NotFound { path: path.clone(), revision: self.commit.clone() }),
                }
            }
            return Ok(Resolved::Tree(current));
        }
        Err(SourceError::UnsafePath { path, problem: format!("more than {MAX_LINK_HOPS} symlink hops") })
    }

    fn repo(&self) -> Result<std::sync::MutexGuard<'_, Repository>, SourceError> {
        self.repo
            .lock()
            .map_err(|_| SourceError::Local { what: "lock the git cache".into(), reason: "poisoned".into() })
    }
}

impl Tree for GitTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let repo = self.repo()?;
        let Resolved::Blob(oid) = self.resolve(&repo, path)? else {
            return Err(SourceError::NotFound { path: path.into(), revision: self.commit.clone() });
        };
        let odb = repo.odb().map_err(|e| self.local("open object database", e))?;
        let (size, _) = odb.read_header(oid).map_err(|e| self.local("read object header", e))?;
        self.budget.charge(path, size as u64)?;
        let blob = repo.find_blob(oid).map_err(|e| self.local("read file", e))?;
        Ok(blob.content().to_vec())
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>, SourceError> {
        let repo = self.repo()?;
        let Resolved::Tree(oid) = self.resolve(&repo, dir)? else {
            return Err(SourceError::NotFound { path: dir.into(), revision: self.commit.clone() });
        };
        let tree = repo.find_tree(oid).map_err(|e| self.local("read tree", e))?;
        let base = clean_path(dir)?;
        let mut entries = Vec::new();
        for entry in tree.iter() {
            let Ok(name) = entry.name() else { continue };
            let kind = match (entry.kind(), entry.filemode()) {
                (Some(ObjectType::Tree), _) => EntryKind::Dir,
                // A symlink to a directory inside the repo is a directory;
                // any other link is listed as a file so reading it explains.
                (Some(ObjectType::Blob), 0o120000) => {
                    let path = if base.is_empty() { name.to_string() } else { format!("{base}/{name}") };
                    match self.resolve(&repo, &path) {
                        Ok(Resolved::Tree(_)) => EntryKind::Dir,
                        _ => EntryKind::File,
                    }
                }
                (Some(ObjectType::Blob), _) => EntryKind::File,
                _ => continue, // submodules
            };
            entries.push(Entry { name: name.to_string(), kind });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn revision(&self) -> String {
        self.commit.clone()
    }

    fn identity(&self, path: &str) -> Option<Identity> {
        let repo = self.repo().ok()?;
        match self.resolve(&repo, path) {
            Ok(Resolved::Blob(oid) | Resolved::Tree(oid)) => Some(Identity::Object(oid.to_string())),
            Err(SourceError::NotFound { .. }) => Some(Identity::Absent),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_branches_and_peeled_tags() {
        let advertised = [
            ("HEAD", 1),
            ("refs/heads/main", 1),
            ("refs/heads/release", 2),
            ("refs/tags/v1", 3),
            ("refs/tags/v2", 4),
            ("refs/tags/v2^{}", 5),
        ];
        let table = [
            (GitRef::Branch("main".into()), Some(1)),
            (GitRef::Branch("release".into()), Some(2)),
            (GitRef::Branch("gone".into()), None),
            (GitRef::Tag("v1".into()), Some(3)),
            (GitRef::Tag("v2".into()), Some(5)),
            (GitRef::Tag("main".into()), None),
            (GitRef::Commit("abc".into()), None),
        ];
        for (reference, want) in table {
            assert_eq!(select_ref(&advertised, &reference), want, "{reference}");
        }
    }
}
