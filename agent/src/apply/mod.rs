//! The apply stage: carries a [`crate::plan::Plan`] out against the cluster.
//!
//! One sync of one app: discover kinds, normalise and plan (pure), validate
//! every changed object with a server-side dry-run before the first write,
//! record the intent in the inventory, apply wave by wave with server-side
//! apply (field manager `plumb`, bounded concurrency) waiting for each wave
//! to be healthy, prune in reverse order, and write the inventory.
//!
//! - [`catalog`] — discovery.
//! - [`objects`] — single-object apply, dry-run and reads.
//! - [`observe`] — live metadata for the plan (live cache or lists).
//! - [`health`] — pure health rules.
//! - [`store`] — the inventory ConfigMap.
//! - [`report`] — the change set of a sync.
//! - [`sync`] — the sync itself.

pub mod catalog;
pub mod health;
pub mod objects;
pub mod observe;
pub mod report;
pub mod store;
pub mod sync;

pub use report::{ObjectAction, ObjectReport, SyncReport};
pub use sync::{Mode, SyncOptions, SyncRequest, Syncer};

use crate::plan::PlanError;

/// One object's failure, for errors that list several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFailure {
    /// The object (`Kind.group/namespace/name`).
    pub object: String,
    /// Where it came from.
    pub origin: String,
    /// The API server's (or plumb's) message.
    pub message: String,
}

impl std::fmt::Display for ObjectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.object, self.origin, self.message)
    }
}

fn list(failures: &[ObjectFailure]) -> String {
    failures.iter().map(|f| format!("\n  - {f}")).collect()
}

/// Why a sync failed. Messages name the objects and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The render has objects plumb cannot plan (bad fields, unknown kinds...).
    #[error("{} object(s) are invalid; nothing was applied:{}", .0.len(), .0.iter().map(|e| format!("\n  - {e}")).collect::<String>())]
    Invalid(Vec<PlanError>),
    /// Two objects in the render have the same identity.
    #[error("{key} is defined twice: in {first} and in {second}; remove one")]
    Duplicate {
        /// The object.
        key: String,
        /// Where it is first defined.
        first: String,
        /// Where it is defined again.
        second: String,
    },
    /// The plan was refused (cycle, empty render, prune limit).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The API server rejected objects in the dry-run; nothing was written.
    #[error("the API server rejected {} object(s) in a dry-run; nothing was applied:{}", .0.len(), list(.0))]
    DryRunRejected(Vec<ObjectFailure>),
    /// Server-side apply of objects failed mid-sync.
    #[error("applying {} object(s) failed; objects of later waves were not applied:{}", .0.len(), list(.0))]
    ApplyFailed(Vec<ObjectFailure>),
    /// An object reached a state it will not recover from.
    #[error("{object} is unhealthy: {reason}; later waves were not applied")]
    Unhealthy {
        /// The object.
        object: String,
        /// The terminal condition.
        reason: String,
    },
    /// Objects did not become healthy in time.
    #[error(
        "{object} not healthy after {timeout:?}: {reason}; later waves were not applied (raise the app's health timeout if it needs longer)"
    )]
    HealthTimeout {
        /// The first object still waiting.
        object: String,
        /// Its last state.
        reason: String,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// plumb is shutting down; the sync stopped at a wave boundary.
    #[error(
        "plumb is shutting down: stopped after {done} of {total} waves; what was applied is in the inventory and the next start resumes"
    )]
    Interrupted {
        /// Waves applied (and healthy, or written and left to settle).
        done: usize,
        /// Waves planned.
        total: usize,
    },
    /// Objects could not be pruned; they stay in the inventory and are retried.
    #[error("pruning {} object(s) failed; they stay in the inventory and will be retried:{}", .0.len(), list(.0))]
    PruneFailed(Vec<ObjectFailure>),
    /// The inventory ConfigMap is unreadable.
    #[error(
        "inventory ConfigMap {namespace}/{name} is unreadable ({reason}); fix or delete it (plumb then re-applies, but cannot prune objects it lost track of)"
    )]
    CorruptInventory {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The live cache could not serve the sync.
    #[error(transparent)]
    Live(crate::live::LiveError),
    /// An API request failed.
    #[error("could not {what}: {source}")]
    Kube {
        /// The request.
        what: String,
        /// kube's error.
        #[source]
        source: kube::Error,
    },
}
