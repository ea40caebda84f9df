//! The source stage: turns "a repo URL and a ref" into "this commit, its
//! tree, who made it".
//!
//! - [`url`] — parsing source locations (https, http, ssh, scp-like, git, file, local path).
//! - [`tree`] — the read-only [`Tree`] view of a commit or a directory, with path safety.
//! - [`credentials`] — HTTPS user and password or token, from files or environment.
//! - [`signature`] — commit signature verification.
//! - [`watch`] — notify-based watching of a local repository's refs.
//! - [`known_hosts`] — the SSH host keys plumb trusts.
//! - [`git`] — polling a remote cheaply and fetching shallow into a bare cache; reading commits.

pub mod credentials;
pub mod git;
pub mod known_hosts;
pub mod signature;
pub mod tree;
pub mod url;
pub mod watch;

pub use tree::{ByteBudget, DirTree, Entry, EntryKind, Tree};

/// Why the source stage failed. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The URL is not one plumb can fetch from.
    #[error("source {url:?}: {problem}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The remote could not be reached (network, DNS, timeout): retried with backoff.
    #[error("cannot reach {url}: {reason}; plumb retries with backoff and keeps the last good commit applied")]
    Unreachable {
        /// The remote (credentials removed).
        url: String,
        /// libgit2's message.
        reason: String,
    },
    /// A commit failed signature verification.
    #[error(
        "commit {commit} rejected: {reason}; plumb stays at the last verified commit (sign it with a trusted key, or add the key)"
    )]
    SignatureRejected {
        /// The commit.
        commit: String,
        /// Unsigned, unknown key, or bad signature.
        reason: String,
    },
    /// The SSH server's host key is not trusted.
    #[error("{url}: {reason}; add the host's key to the known_hosts file (ssh-keyscan -p PORT HOST) if it is right")]
    UnknownHostKey {
        /// The remote.
        url: String,
        /// Unknown, mismatched or revoked, with the key's fingerprint.
        reason: String,
    },
    /// The remote refused the credentials.
    #[error("{url} refused the credentials: {reason}; check the credentials files (not retried until they change)")]
    AuthFailed {
        /// The remote (credentials removed).
        url: String,
        /// libgit2's message.
        reason: String,
    },
    /// The watched ref does not exist on the remote (deleted, or a typo).
    #[error("{url} has no {reference}; keeping the last good commit{}", last.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    RefNotFound {
        /// The remote.
        url: String,
        /// The ref looked for.
        reference: String,
        /// The commit still applied, if any.
        last: Option<String>,
    },
    /// A path in the tree is unsafe to read.
    #[error("{path}: {problem}")]
    UnsafePath {
        /// The path in the repository.
        path: String,
        /// Why it is refused.
        problem: String,
    },
    /// Reading a file would take the bytes read from one commit over the
    /// budget (a defence against a commit built to exhaust memory).
    #[error(
        "{path}: reading its {size} bytes takes this commit to {total} bytes, over the {limit}-byte budget per commit; \
         if the repository really is this large, raise it with --max-commit-bytes (PLUMB_MAX_COMMIT_BYTES)"
    )]
    OverByteBudget {
        /// The path in the repository.
        path: String,
        /// Its size.
        size: u64,
        /// The bytes of the commit read with it.
        total: u64,
        /// The budget.
        limit: u64,
    },
    /// A path does not exist in the tree.
    #[error("{path}: no such file or directory in {revision}")]
    NotFound {
        /// The path in the repository.
        path: String,
        /// The commit or directory.
        revision: String,
    },
    /// Reading the local cache or directory failed.
    #[error("{what}: {reason}")]
    Local {
        /// The operation.
        what: String,
        /// The error.
        reason: String,
    },
}
