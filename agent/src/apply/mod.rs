//! The apply stage: carries a sync's steps ([`crate::plan::SyncStep`]) out
//! against the cluster, through the cluster seam.
//!
//! One sync of one app: normalise the render, read the inventory and live
//! metadata, plan (pure), then run the steps: validate every changed object
//! before the first write, record the intent in the inventory, apply wave
//! by wave with server-side apply (field manager `plumb`, bounded
//! concurrency) waiting for each wave to be healthy, prune in reverse order
//! with preconditions, and record the inventory.
//!
//! - [`observe`] — live metadata for the plan (live cache or lists).
//! - [`diff`] — one object's diff (`plumb diff`, the dashboard).
//! - [`health`] — pure health rules.
//! - [`store`] — the inventory ConfigMaps.
//! - [`report`] — the change set of a sync.
//! - [`sync`] — the sync: planning and running the steps.
//! - [`waves`] — the validate, apply and health steps.
//! - [`prune`] — the prune and orphan steps.

pub mod diff;
pub mod health;
pub mod observe;
pub mod prune;
pub mod report;
pub mod store;
pub mod sync;
pub mod waves;

pub use report::{ObjectAction, ObjectReport, SyncReport};
pub use sync::{Mode, SyncOptions, SyncRequest, Syncer};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::cluster::ClusterError;
use crate::cluster::catalog::Catalog;
use crate::plan::inventory::AppSettings;
use crate::plan::{DesiredObject, Inventory, InventoryEntry, ObjectKey, Plan, PlanError};

/// What the steps of one sync share while they run.
pub(crate) struct StepRun<'a> {
    /// The catalog (refreshed when a wave needs kinds applied earlier).
    pub catalog: Arc<Catalog>,
    /// The desired objects the plan indexes.
    pub desired: &'a [DesiredObject],
    /// The plan.
    pub plan: &'a Plan,
    /// The change set being filled in.
    pub report: &'a mut SyncReport,
    /// The inventory being built.
    pub working: &'a mut Working,
    /// Objects validated only right before their wave (custom resources of
    /// a CRD this sync creates).
    pub deferred: HashSet<usize>,
    /// Objects to delete and create again.
    pub replace: HashSet<usize>,
    /// Objects as the last apply returned them, for their health check.
    pub applied: HashMap<usize, serde_json::Value>,
    /// Waves written so far.
    pub waves_applied: usize,
}

/// The inventory as a sync changes it: what was applied, pruned and
/// forgotten so far.
pub(crate) struct Working {
    inventory: Inventory,
    index: HashMap<ObjectKey, usize>,
    touched: bool,
}

impl Working {
    fn new(previous: Option<Inventory>, app: &str, options: &SyncOptions, settings: Option<AppSettings>) -> Self {
        let mut inventory = previous.unwrap_or_else(|| sync::new_inventory(app, options));
        inventory.instance = Some(options.instance.clone());
        if options.source.is_some() {
            inventory.source = options.source.clone();
        }
        if let Some(settings) = settings {
            inventory.settings = settings;
        }
        let mut working = Self { inventory, index: HashMap::new(), touched: false };
        working.reindex();
        working
    }

    fn reindex(&mut self) {
        self.inventory.sort();
        self.index = self.inventory.entries.iter().enumerate().map(|(i, e)| (e.key.clone(), i)).collect();
    }

    /// True once the sync wrote anything the inventory must record.
    fn touched(&self) -> bool {
        self.touched
    }

    /// The inventory with every object this sync may write, before the
    /// first write: a crash mid-sync still knows what to prune. Entries to
    /// write carry no hash until their apply is confirmed.
    fn intent(&mut self, desired: &[DesiredObject], plan: &Plan) -> &Inventory {
        for step in plan.waves.iter().flatten().filter(|s| s.action.writes()) {
            if let Some(o) = desired.get(step.index) {
                self.upsert(o, String::new(), 0);
            }
        }
        self.touched = true;
        self.reindex();
        &self.inventory
    }

    /// Records an applied object.
    fn applied(&mut self, o: &DesiredObject, fields: u64) {
        self.upsert(o, o.hash.clone(), fields);
        self.touched = true;
    }

    fn upsert(&mut self, o: &DesiredObject, hash: String, fields: u64) {
        match self.index.get(&o.key).and_then(|&i| self.inventory.entries.get_mut(i)) {
            Some(e) => {
                e.api_version = o.api_version.clone();
                e.hash = hash;
                e.fields = fields;
            }
            None => {
                self.index.insert(o.key.clone(), self.inventory.entries.len());
                self.inventory.entries.push(InventoryEntry {
                    key: o.key.clone(),
                    api_version: o.api_version.clone(),
                    hash,
                    fields,
                });
            }
        }
    }

    /// Marks an object as not confirmed applied (a hook deleted after it
    /// failed): the next sync writes it again.
    fn unconfirmed(&mut self, o: &DesiredObject) {
        self.upsert(o, String::new(), 0);
        self.touched = true;
    }

    /// Drops an object that is gone or no longer the app's.
    fn remove(&mut self, key: &ObjectKey) {
        self.inventory.entries.retain(|e| &e.key != key);
        self.touched = true;
        self.reindex();
    }

    /// Marks the commit and render as synced.
    fn synced(&mut self, commit: Option<String>, render_digest: Option<String>) {
        self.inventory.commit = commit;
        self.inventory.render_digest = render_digest;
        self.touched = true;
    }

    /// Drops what the plan found gone or no longer the app's.
    fn forgetting(&mut self, plan: &Plan) -> &Self {
        let forgotten: std::collections::HashSet<&ObjectKey> =
            plan.gone.iter().chain(plan.left_alone.iter().filter(|(_, why)| why.forgets()).map(|(k, _)| k)).collect();
        if !forgotten.is_empty() {
            self.inventory.entries.retain(|e| !forgotten.contains(&e.key));
            self.reindex();
        }
        self
    }

    /// The inventory now.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }
}

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
#[derive(Debug, Clone, thiserror::Error)]
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
    /// Objects checked only right before their wave (custom resources of a
    /// CRD this sync created) were rejected; earlier waves were applied.
    #[error(
        "the API server rejected {} object(s) in a dry-run before their wave; {applied} earlier wave(s) were applied, this one and later ones were not:{}",
        .failures.len(),
        list(.failures)
    )]
    LateDryRunRejected {
        /// The rejected objects.
        failures: Vec<ObjectFailure>,
        /// Waves applied before.
        applied: usize,
    },
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
        /// The API's error (code, reason, message).
        #[source]
        source: ClusterError,
    },
}
