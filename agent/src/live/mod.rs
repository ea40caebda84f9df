//! The live stage: what the cluster holds of plumb's objects, and drift.
//!
//! - [`fields`] — server-side apply field sets made readable and comparable.
//! - [`drift`] — what drifted and who changed it (pure).
//! - [`cache`] — metadata-only watches of managed kinds; suspects.
//! - [`detector`] — confirming, recording and correcting drift.

pub mod cache;
pub mod detector;
pub mod drift;
pub mod fields;

pub use cache::{Expected, LiveCache, LiveEntry};
pub use detector::{DriftDetector, DriftEvent, DriftRecord, DriftRegistry};

/// Why the live cache could not serve a sync.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A new watch did not finish listing its kind in time.
    #[error("the watch of {kind} did not list its objects within {timeout:?}; is the API server overloaded?")]
    NotSynced {
        /// The kind.
        kind: String,
        /// How long we waited.
        timeout: std::time::Duration,
    },
}
