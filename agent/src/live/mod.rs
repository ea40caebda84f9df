//! The live stage: what the cluster holds of plumb's objects, and drift.
//!
//! - [`fields`] — server-side apply field sets made readable and comparable.
//! - [`drift`] — what drifted and who changed it, and what to check (pure).
//! - [`watcher`] — one kind's list-and-watch, resumed and re-listed as needed.
//! - [`cache`] — metadata-only watches of managed kinds; suspects.
//! - [`detector`] — confirming, recording and correcting drift.

pub mod cache;
pub mod detector;
pub mod drift;
pub mod fields;
pub mod watcher;

pub use cache::{Expected, LiveCache, LiveEntry, WatchScope};
pub use detector::{DriftDetector, DriftEvent, DriftRecord, DriftRegistry};

/// Why the live cache could not serve a sync.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LiveError {
    /// A new watch did not finish listing its kind in time.
    #[error(
        "the watch of {kind} did not list its objects within {timeout:?}; is the API server overloaded (or is listing it forbidden)?"
    )]
    NotSynced {
        /// The kind.
        kind: String,
        /// How long we waited.
        timeout: std::time::Duration,
    },
    /// The API refused to list a kind plumb manages.
    #[error(
        "cannot list {kind}: {error}; plumb needs list and watch on every kind it manages (check its RBAC, or --watch-namespaces)"
    )]
    ListFailed {
        /// The kind.
        kind: String,
        /// The API's answer.
        error: crate::cluster::ClusterError,
    },
}
