//! The plan stage: pure decisions about what a sync will do.
//!
//! Given the desired objects of an app (rendered), the previous inventory and
//! the live metadata of managed objects, it returns a [`Plan`]: which objects
//! to create, update or leave unchanged, in which waves, and what to prune.
//! Nothing here does I/O; the apply stage carries the plan out.
//!
//! - [`key`] — object identity (group/kind/namespace/name).
//! - [`object`] — normalising a rendered manifest into a [`DesiredObject`].
//! - [`order`] — kind ranks, dependency annotations and waves.
//! - [`inventory`] — what plumb applied for an app, as stored in the cluster.
//! - [`changes`] — the plan itself and its prune guards.

pub mod changes;
pub mod graph;
pub mod inventory;
pub mod key;
pub mod object;
pub mod order;

pub use changes::{Action, LeftAlone, LiveMeta, Plan, PlanInput, PrunePolicy, Step};
pub use inventory::{Inventory, InventoryEntry};
pub use key::ObjectKey;
pub use object::{AppContext, DesiredObject, RenderedObject, Scopes, identify, normalise};

/// Label carried by every object plumb manages; its value is the app name.
pub const APP_LABEL: &str = "plumb.dev/app";
/// Annotation listing objects that must be applied and healthy first.
pub const DEPENDS_ON_ANNOTATION: &str = "plumb.dev/depends-on";
/// Annotation that keeps an object from being pruned (`disabled`).
pub const PRUNE_ANNOTATION: &str = "plumb.dev/prune";
/// Argo CD's ordering hint, honoured as a wave number.
pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";
/// Helm hook kinds (`pre-install`, `post-upgrade`, ...), honoured as ordering hints.
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
/// Helm hook weight, ordering hooks among themselves.
pub const HELM_HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
/// The field manager of every plumb write.
pub const FIELD_MANAGER: &str = "plumb";

/// Why a plan could not be made. Each message names the object (and the
/// file it came from) and says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A manifest lacks a required field or has one of the wrong type.
    #[error("{origin}: {field} {problem}")]
    InvalidObject {
        /// File (and document) the object came from.
        origin: String,
        /// The field, as a dotted path.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The kind is neither served by the cluster nor defined by a CRD in this render.
    #[error(
        "{origin}: kind {kind} (apiVersion {api_version}) is not served by the cluster and no CustomResourceDefinition in this commit defines it; install its CRD first or fix apiVersion/kind"
    )]
    UnknownKind {
        /// File the object came from.
        origin: String,
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// A namespaced object has no namespace and its app sets none.
    #[error("{origin}: {key} is namespaced but has no metadata.namespace and app {app} sets no default namespace")]
    MissingNamespace {
        /// File the object came from.
        origin: String,
        /// The object.
        key: String,
        /// The app.
        app: String,
    },
    /// The object is labelled for another app.
    #[error(
        "{origin}: {key} carries label {APP_LABEL}={other} but is rendered by app {app}; remove the label or move the object"
    )]
    ForeignAppLabel {
        /// File the object came from.
        origin: String,
        /// The object.
        key: String,
        /// The label's value.
        other: String,
        /// The app rendering it.
        app: String,
    },
    /// An ordering annotation could not be read.
    #[error("{origin}: {key} annotation {annotation}={value:?}: {problem}")]
    BadAnnotation {
        /// File the object came from.
        origin: String,
        /// The object.
        key: String,
        /// The annotation.
        annotation: String,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// Objects depend on each other in a circle.
    #[error("dependency cycle: {}; remove one of these dependencies", members.join(" -> "))]
    DependencyCycle {
        /// The members in order, the first repeated at the end.
        members: Vec<String>,
    },
    /// The render is empty but the app has objects: almost always a wrong path or branch.
    #[error(
        "app {app} rendered no objects but manages {managed}; refusing to prune everything (check the app's path and the branch; to remove an app, delete it from plumb.yaml)"
    )]
    EmptyRender {
        /// The app.
        app: String,
        /// How many objects its inventory holds.
        managed: usize,
    },
    /// Too large a share of the app would be pruned in one sync.
    #[error(
        "app {app}: this sync would prune {would_prune} of {managed} objects, over the limit of {limit_percent}%; if that is intended, set allowLargePrune: true (or raise pruneLimitPercent) for this app in plumb.yaml"
    )]
    PruneLimitExceeded {
        /// The app.
        app: String,
        /// Objects the plan would prune.
        would_prune: usize,
        /// Objects in the inventory.
        managed: usize,
        /// The configured limit.
        limit_percent: u32,
    },
}
