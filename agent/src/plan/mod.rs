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
//! - [`hooks`] — Helm hooks' delete policies.
//! - [`ownership`] — who owns what across apps and plumb instances.
//! - [`changes`] — the plan itself and its prune guards.
//! - [`steps`] — the plan as the ordered steps a sync carries out.
//! - [`prune`] — the guards decided at delete time (what a Namespace holds).
//! - [`schema`] — custom resources checked against a CRD of the same commit.

pub mod changes;
pub mod graph;
pub mod hooks;
pub mod inventory;
pub mod key;
pub mod object;
pub mod order;
pub mod ownership;
pub mod prune;
pub mod schema;
pub mod steps;

pub use changes::{Action, LeftAlone, LiveMeta, Plan, PlanInput, PrunePolicy, PruneTarget, Removal, Step};
pub use inventory::{Inventory, InventoryEntry};
pub use key::ObjectKey;
pub use object::{AppContext, DesiredObject, RenderedObject, Scopes, identify, key_of, normalise};
pub use ownership::{DoubleClaim, Ownership};
pub use steps::{SyncPlan, SyncStep};

/// Label carried by every object plumb manages; its value is the app name.
pub const APP_LABEL: &str = "plumb.dev/app";
/// Annotation listing objects that must be applied and healthy first.
pub const DEPENDS_ON_ANNOTATION: &str = "plumb.dev/depends-on";
/// Annotation that keeps an object from being pruned (`disabled`).
pub const PRUNE_ANNOTATION: &str = "plumb.dev/prune";
/// Helm's `helm.sh/resource-policy: keep`: never pruned, like `plumb.dev/prune: disabled`.
pub const HELM_RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";
/// Annotation asking for delete-and-recreate when a change cannot be made in place (`"true"`).
pub const REPLACE_ANNOTATION: &str = "plumb.dev/replace";
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
    /// The kind's API group is served by an aggregated API that is down.
    #[error(
        "{origin}: kind {kind} (apiVersion {api_version}) cannot be used right now: its APIService {apiservice} is unavailable ({reason}); other apps are not affected — check that API's service and pods"
    )]
    KindUnavailable {
        /// File the object came from.
        origin: String,
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
        /// The APIService (`v1beta1.metrics.k8s.io`).
        apiservice: String,
        /// Why discovery failed.
        reason: String,
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
    /// The app belongs to another plumb instance (its inventory says so).
    #[error(
        "app {app} belongs to plumb instance {instance} (its inventory says so); two instances cannot manage one app: rename the app here, or remove it from that instance's repository first"
    )]
    AppOfAnotherInstance {
        /// The app.
        app: String,
        /// The instance that owns it.
        instance: String,
    },
    /// An object this app renders is owned by an app of another plumb instance.
    #[error(
        "{origin}: {key} belongs to app {owner} of plumb instance {instance}; plumb never takes over another instance's objects: remove it from this app, or from that instance first"
    )]
    OwnedByAnotherInstance {
        /// File the object came from.
        origin: String,
        /// The object.
        key: String,
        /// The app owning it.
        owner: String,
        /// The instance owning that app.
        instance: String,
    },
    /// Two apps of one commit render the same object.
    #[error(
        "{key} is rendered by two apps, {first} and {second}; one object has one owner: remove it from one of them (nothing of either app was applied)"
    )]
    RenderedByTwoApps {
        /// The object.
        key: String,
        /// The first app (config order).
        first: String,
        /// The second app.
        second: String,
    },
    /// Removing apps would prune too much of what this instance manages.
    #[error(
        "removing app(s) {} would prune {would_prune} of the {managed} objects this plumb instance manages{}; they stay. If that is intended, set allowLargePrune: true at the top of plumb.yaml",
        apps.join(", "),
        if *everything { " (every app would be gone)" } else { "" }
    )]
    RemovalRefused {
        /// The apps that left plumb.yaml.
        apps: Vec<String>,
        /// Their objects.
        would_prune: usize,
        /// Every object the instance manages.
        managed: usize,
        /// plumb.yaml has no app left.
        everything: bool,
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
