//! The plan: what a sync of one app creates, updates, leaves unchanged and
//! prunes, with the ownership rules and guards that keep a bad commit (or
//! another app, or another plumb instance) from losing what it should not.

use std::collections::{HashMap, HashSet};

use super::hooks::hook_policy;
use super::order::{kind_rank, waves};
use super::ownership::Ownership;
use super::{DesiredObject, Inventory, InventoryEntry, ObjectKey, PlanError};

/// Live metadata of an object labelled for plumb (from a label-selected
/// list or the live cache). Objects without plumb's app label are never in
/// the map a plan is made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveMeta {
    /// Value of the `plumb.dev/app` label.
    pub app_label: Option<String>,
    /// `plumb.dev/prune: disabled` (or Helm's `helm.sh/resource-policy:
    /// keep`) is set.
    pub prune_disabled: bool,
    /// plumb's field manager holds exactly what plumb's last apply left.
    pub applied_by_plumb: bool,
    /// The object's uid: a prune deletes only this very object.
    pub uid: Option<String>,
    /// The object's resourceVersion when it was seen.
    pub resource_version: Option<String>,
}

/// How much a sync may prune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrunePolicy {
    /// The app prunes at all (`prune: true` in plumb.yaml).
    pub enabled: bool,
    /// Refuse to prune more than this share of the inventory in one sync...
    pub max_share_percent: u32,
    /// ...when more than this many objects would go (small renames pass).
    pub always_allowed: usize,
    /// The app explicitly allows large prunes.
    pub allow_large: bool,
    /// CustomResourceDefinitions may be pruned (deleting one deletes every
    /// object of its kind in the cluster).
    pub crds: bool,
    /// Namespaces may be pruned even when they hold objects the app does
    /// not own.
    pub non_empty_namespaces: bool,
}

impl Default for PrunePolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            max_share_percent: 50,
            always_allowed: 3,
            allow_large: false,
            crds: false,
            non_empty_namespaces: false,
        }
    }
}

/// What happens to the objects of an app that left plumb.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// They are pruned, with the app's guards.
    Prune,
    /// They stay, without plumb's label (plumb.yaml `orphan:`).
    Orphan,
}

/// Everything a plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The app.
    pub app: &'a str,
    /// Its rendered, normalised objects.
    pub desired: &'a [DesiredObject],
    /// What the last sync recorded, if any.
    pub inventory: Option<&'a Inventory>,
    /// Live metadata of objects labelled for plumb.
    pub live: &'a HashMap<ObjectKey, LiveMeta>,
    /// Prune limits and opt-ins.
    pub prune: PrunePolicy,
    /// The app left plumb.yaml (and how its objects go).
    pub removal: Option<Removal>,
    /// The other apps of this commit and of other instances.
    pub ownership: &'a Ownership,
}

/// What happens to a desired object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Not in the cluster yet.
    Create,
    /// In the cluster, but changed in Git or no longer owned as applied.
    Update,
    /// Same desired hash as last applied and plumb still owns it.
    Unchanged,
    /// Deleted and created again (`plumb.dev/replace: "true"` and a change
    /// the API server refuses to make in place, or a changed Helm hook with
    /// `before-hook-creation`).
    Replace,
    /// A Helm hook that ran for this manifest and was deleted as its
    /// `hook-succeeded` policy asks: nothing to do until it changes.
    Completed,
}

impl Action {
    /// Lower-case name, for metrics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
            Action::Replace => "replace",
            Action::Completed => "completed",
        }
    }

    /// True for actions that write.
    pub fn writes(self) -> bool {
        !matches!(self, Action::Unchanged | Action::Completed)
    }
}

/// One desired object in a wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Index into the desired objects.
    pub index: usize,
    /// What to do.
    pub action: Action,
}

/// Why an object that left Git (or its app) is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftAlone {
    /// It carries `plumb.dev/prune: disabled` (or `helm.sh/resource-policy: keep`).
    PruneDisabled,
    /// The app has `prune: false`.
    AppPruneDisabled,
    /// It is not labelled for this app (any more).
    NotOwned,
    /// Another app of this commit renders it now: it is that app's.
    HandedOver(String),
    /// A CustomResourceDefinition: pruning it would delete every object of
    /// its kind; the app has not opted in (`pruneCRDs: true`).
    CrdKept,
    /// A Namespace that holds objects the app does not own (named).
    NamespaceInUse(Vec<String>),
    /// Its app was removed with `orphan:`: it stays, without plumb's label.
    Orphaned,
}

impl LeftAlone {
    /// Short reason for messages.
    pub fn describe(&self) -> String {
        match self {
            LeftAlone::PruneDisabled => "prune disabled on the object".into(),
            LeftAlone::AppPruneDisabled => "the app has prune: false".into(),
            LeftAlone::NotOwned => "no longer labelled for this app".into(),
            LeftAlone::HandedOver(to) => format!("handed over to app {to}"),
            LeftAlone::CrdKept => {
                "a CustomResourceDefinition is not pruned unless the app sets pruneCRDs: true (deleting it deletes every object of its kind)".into()
            }
            LeftAlone::NamespaceInUse(what) => format!(
                "the namespace still holds {} object(s) this app does not own ({}); set pruneNonEmptyNamespaces: true to delete it anyway",
                what.len(),
                what.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            ),
            LeftAlone::Orphaned => "orphaned: the app was removed with orphan:, plumb's label is dropped".into(),
        }
    }

    /// True when the object is no longer the app's (drop it from the inventory).
    pub fn forgets(&self) -> bool {
        matches!(self, LeftAlone::NotOwned | LeftAlone::HandedOver(_) | LeftAlone::Orphaned)
    }
}

/// An object a sync deletes, and what it must still be at delete time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneTarget {
    /// Its inventory entry.
    pub entry: InventoryEntry,
    /// The uid seen when planning: a re-created object is not deleted.
    pub uid: Option<String>,
    /// The resourceVersion seen when planning: an object changed since
    /// (relabelled by another app, say) is not deleted.
    pub resource_version: Option<String>,
    /// A Namespace that may be deleted only if it holds nothing the app
    /// does not own (checked right before the delete).
    pub namespace_guard: bool,
}

/// The plan for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Desired objects in apply order.
    pub waves: Vec<Vec<Step>>,
    /// Objects to delete, in delete order (reverse kind rank).
    pub prune: Vec<PruneTarget>,
    /// Objects that left Git (or whose app left) but stay, and why.
    pub left_alone: Vec<(ObjectKey, LeftAlone)>,
    /// Objects that left Git and are already gone from the cluster.
    pub gone: Vec<ObjectKey>,
}

impl Plan {
    /// Number of steps with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.waves.iter().flatten().filter(|s| s.action == action).count()
    }

    /// True when the sync has nothing to write.
    pub fn is_noop(&self) -> bool {
        self.prune.is_empty()
            && self.waves.iter().flatten().all(|s| !s.action.writes())
            && !self.left_alone.iter().any(|(_, why)| *why == LeftAlone::Orphaned)
    }
}

/// Makes the plan for one app.
pub fn plan(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    let app = input.app;
    let managed = input.inventory.map_or(0, |i| i.entries.len());
    if input.desired.is_empty() && managed > 0 && input.removal.is_none() {
        return Err(PlanError::EmptyRender { app: app.to_string(), managed });
    }
    if let Some(instance) = input.ownership.foreign_instance(app) {
        return Err(PlanError::AppOfAnotherInstance { app: app.to_string(), instance: instance.to_string() });
    }
    // Hash lookups: apps have thousands of objects, and ordered maps of keys
    // spent most of a no-op plan comparing strings.
    let previous: HashMap<&ObjectKey, &InventoryEntry> =
        input.inventory.iter().flat_map(|i| &i.entries).map(|e| (&e.key, e)).collect();

    let mut foreign = Vec::new();
    let waves = waves(input.desired)?
        .into_iter()
        .map(|wave| {
            wave.into_iter()
                .map(|index| {
                    let o = &input.desired[index];
                    let live = input.live.get(&o.key);
                    if let Some(owner) = live.and_then(|l| l.app_label.as_deref()).filter(|owner| *owner != app)
                        && let Some(instance) = input.ownership.foreign_instance(owner)
                    {
                        foreign.push(PlanError::OwnedByAnotherInstance {
                            origin: o.origin.clone(),
                            key: o.key.to_string(),
                            owner: owner.to_string(),
                            instance: instance.to_string(),
                        });
                    }
                    let same_manifest = previous.get(&o.key).is_some_and(|e| e.hash == o.hash);
                    let action = match (live, hook_policy(o)) {
                        (None, Some(hook)) if hook.on_success && same_manifest => Action::Completed,
                        (None, _) => Action::Create,
                        (Some(live), _)
                            if live.app_label.as_deref() == Some(app) && live.applied_by_plumb && same_manifest =>
                        {
                            Action::Unchanged
                        }
                        (Some(_), Some(hook)) if hook.before_creation && !same_manifest => Action::Replace,
                        (Some(_), _) => Action::Update,
                    };
                    Step { index, action }
                })
                .collect()
        })
        .collect();
    if let Some(first) = foreign.into_iter().next() {
        return Err(first);
    }

    let desired_keys: HashSet<&ObjectKey> = input.desired.iter().map(|o| &o.key).collect();
    let (mut prune, mut left_alone, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    let policy = input.prune;
    for entry in input.inventory.iter().flat_map(|i| &i.entries) {
        if desired_keys.contains(&entry.key) {
            continue;
        }
        let key = entry.key.clone();
        let is_crd = key.group == "apiextensions.k8s.io" && key.kind == "CustomResourceDefinition";
        match input.live.get(&entry.key) {
            None => gone.push(key),
            Some(live) if live.app_label.as_deref() != Some(app) => left_alone.push((key, LeftAlone::NotOwned)),
            Some(_) if input.ownership.claimed_by_other(&entry.key, app).is_some() => {
                let to = input.ownership.claimed_by_other(&entry.key, app).unwrap_or_default().to_string();
                left_alone.push((key, LeftAlone::HandedOver(to)));
            }
            Some(_) if input.removal == Some(Removal::Orphan) => left_alone.push((key, LeftAlone::Orphaned)),
            Some(live) if live.prune_disabled => left_alone.push((key, LeftAlone::PruneDisabled)),
            Some(_) if !policy.enabled => left_alone.push((key, LeftAlone::AppPruneDisabled)),
            Some(_) if is_crd && !policy.crds => left_alone.push((key, LeftAlone::CrdKept)),
            Some(live) => prune.push(PruneTarget {
                entry: entry.clone(),
                uid: live.uid.clone(),
                resource_version: live.resource_version.clone(),
                namespace_guard: key.group.is_empty() && key.kind == "Namespace" && !policy.non_empty_namespaces,
            }),
        }
    }
    let over_share = prune.len() * 100 > policy.max_share_percent as usize * managed;
    if !policy.allow_large && input.removal.is_none() && over_share && prune.len() > policy.always_allowed {
        return Err(PlanError::PruneLimitExceeded {
            app: app.to_string(),
            would_prune: prune.len(),
            managed,
            limit_percent: policy.max_share_percent,
        });
    }
    prune.sort_by(|a, b| {
        let rank = |t: &PruneTarget| kind_rank(&t.entry.key.group, &t.entry.key.kind);
        rank(b).cmp(&rank(a)).then_with(|| a.entry.key.cmp(&b.entry.key))
    });
    Ok(Plan { waves, prune, left_alone, gone })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::object::{AppContext, Scopes, normalise};

    fn desired(names: &[&str]) -> Vec<DesiredObject> {
        let mut scopes = Scopes::default();
        scopes.insert("", "ConfigMap", true);
        scopes.insert("", "Namespace", false);
        let app = AppContext { name: "demo".into(), namespace: Some("demo".into()) };
        names
            .iter()
            .map(|n| {
                let (kind, name) = n.split_once('/').unwrap_or(("ConfigMap", n));
                let m = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": {"v": n}});
                normalise(&app, m, "t", &scopes).expect("valid")
            })
            .collect()
    }

    fn inventory_of(objects: &[DesiredObject]) -> Inventory {
        Inventory {
            app: "demo".into(),
            entries: objects
                .iter()
                .map(|o| InventoryEntry {
                    key: o.key.clone(),
                    api_version: o.api_version.clone(),
                    hash: o.hash.clone(),
                    fields: 0,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn live_of(objects: &[DesiredObject], meta: LiveMeta) -> HashMap<ObjectKey, LiveMeta> {
        objects.iter().map(|o| (o.key.clone(), meta.clone())).collect()
    }

    fn ours() -> LiveMeta {
        LiveMeta {
            app_label: Some("demo".into()),
            prune_disabled: false,
            applied_by_plumb: true,
            uid: Some("uid".into()),
            resource_version: Some("7".into()),
        }
    }

    static NOBODY_ELSE: std::sync::LazyLock<Ownership> = std::sync::LazyLock::new(Ownership::default);

    fn input<'a>(
        d: &'a [DesiredObject],
        inv: Option<&'a Inventory>,
        live: &'a HashMap<ObjectKey, LiveMeta>,
    ) -> PlanInput<'a> {
        PlanInput {
            app: "demo",
            desired: d,
            inventory: inv,
            live,
            prune: PrunePolicy::default(),
            removal: None,
            ownership: &NOBODY_ELSE,
        }
    }

    fn pruned(p: &Plan) -> Vec<&str> {
        p.prune.iter().map(|t| t.entry.key.name.as_str()).collect()
    }

    #[test]
    fn first_sync_creates_everything() {
        let d = desired(&["a", "b", "Namespace/demo"]);
        let p = plan(input(&d, None, &HashMap::new())).expect("plan");
        assert_eq!((p.count(Action::Create), p.waves.len()), (3, 2));
        assert!(p.prune.is_empty() && !p.is_noop());
    }

    #[test]
    fn same_commit_is_a_noop() {
        let d = desired(&["a", "b"]);
        let inv = inventory_of(&d);
        let live = live_of(&d, ours());
        let p = plan(input(&d, Some(&inv), &live)).expect("plan");
        assert!(p.is_noop());
        assert_eq!(p.count(Action::Unchanged), 2);
    }

    #[test]
    fn changed_hash_or_lost_ownership_is_an_update() {
        let d = desired(&["a", "b"]);
        let mut inv = inventory_of(&d);
        inv.entries[0].hash = "sha256:old".into();
        let mut live = live_of(&d, ours());
        live.insert(d[1].key.clone(), LiveMeta { applied_by_plumb: false, ..ours() });
        let p = plan(input(&d, Some(&inv), &live)).expect("plan");
        assert_eq!(p.count(Action::Update), 2);
    }

    #[test]
    fn rename_prunes_the_old_object() {
        let old = desired(&["a", "b", "c", "old"]);
        let inv = inventory_of(&old);
        let live = live_of(&old, ours());
        let new = desired(&["a", "b", "c", "new"]);
        let p = plan(input(&new, Some(&inv), &live)).expect("plan");
        assert_eq!(pruned(&p), ["old"]);
        assert_eq!((p.prune[0].uid.as_deref(), p.prune[0].resource_version.as_deref()), (Some("uid"), Some("7")));
        assert_eq!(p.count(Action::Create), 1);
    }

    #[test]
    fn prune_guards() {
        let old = desired(&["a", "b", "c", "d", "e", "f", "g", "h", "Namespace/demo"]);
        let inv = inventory_of(&old);
        let live = live_of(&old, ours());

        let empty = plan(input(&[], Some(&inv), &live)).expect_err("empty render refused");
        assert_eq!(empty, PlanError::EmptyRender { app: "demo".into(), managed: 9 });

        let few = desired(&["a", "b"]);
        let err = plan(input(&few, Some(&inv), &live)).expect_err("over the limit");
        assert!(
            err.to_string().starts_with("app demo: this sync would prune 7 of 9 objects, over the limit of 50%"),
            "{err}"
        );

        let allowed = PlanInput {
            prune: PrunePolicy { allow_large: true, ..Default::default() },
            ..input(&few, Some(&inv), &live)
        };
        let p = plan(allowed).expect("allowed");
        assert_eq!(p.prune.len(), 7);
        assert_eq!(p.prune.last().map(|t| t.entry.key.kind.as_str()), Some("Namespace"), "namespace pruned last");
        assert!(
            p.prune.last().is_some_and(|t| t.namespace_guard),
            "a namespace is pruned only if nothing else is in it"
        );
    }

    #[test]
    fn objects_kept_and_gone() {
        let old = desired(&["keep", "foreign", "gone", "x"]);
        let inv = inventory_of(&old);
        let mut live = live_of(&old, ours());
        live.insert(old[0].key.clone(), LiveMeta { prune_disabled: true, ..ours() });
        live.insert(old[1].key.clone(), LiveMeta { app_label: Some("other".into()), ..ours() });
        live.remove(&old[2].key);
        let now = desired(&["x"]);
        let p = plan(input(&now, Some(&inv), &live)).expect("plan");
        assert!(p.prune.is_empty());
        assert_eq!(
            p.left_alone,
            vec![(old[0].key.clone(), LeftAlone::PruneDisabled), (old[1].key.clone(), LeftAlone::NotOwned)]
        );
        assert_eq!(p.gone, vec![old[2].key.clone()]);

        let all_live = live_of(&old, ours());
        let removed =
            plan(PlanInput { removal: Some(Removal::Prune), ..input(&[], Some(&inv), &live) }).expect("removal plans");
        assert_eq!(
            pruned(&removed),
            ["x"],
            "removing the app prunes what it owns; kept, foreign and gone objects aside"
        );
        let orphaned =
            plan(PlanInput { removal: Some(Removal::Orphan), ..input(&[], Some(&inv), &live) }).expect("orphan plans");
        assert!(orphaned.prune.is_empty());
        assert!(orphaned.left_alone.contains(&(old[3].key.clone(), LeftAlone::Orphaned)));

        let off = PlanInput {
            prune: PrunePolicy { enabled: false, ..Default::default() },
            ..input(&now, Some(&inv), &all_live)
        };
        assert!(plan(off).expect("plan").left_alone.iter().all(|(_, why)| *why == LeftAlone::AppPruneDisabled));
    }

    #[test]
    fn objects_moving_between_apps_are_handed_over_never_pruned() {
        let old = desired(&["moving", "staying"]);
        let inv = inventory_of(&old);
        let live = live_of(&old, ours());
        let (ownership, doubles) =
            Ownership::of_commit([("demo", vec![&old[1].key]), ("other", vec![&old[0].key])], HashMap::new());
        assert!(doubles.is_empty());
        let now = desired(&["staying"]);
        let p = plan(PlanInput { ownership: &ownership, ..input(&now, Some(&inv), &live) }).expect("plan");
        assert!(p.prune.is_empty(), "the old owner syncing first does not delete it");
        assert_eq!(p.left_alone, vec![(old[0].key.clone(), LeftAlone::HandedOver("other".into()))]);

        // The new owner takes over an object still labelled for the old one.
        let mine = desired(&["moving"]);
        let theirs = live_of(&old, LiveMeta { app_label: Some("other-app".into()), ..ours() });
        let p = plan(input(&mine, None, &theirs)).expect("plan");
        assert_eq!(p.count(Action::Update), 1);
    }

    #[test]
    fn another_instances_apps_and_objects_are_refused() {
        let d = desired(&["a"]);
        let foreign = HashMap::from([("demo".to_string(), "blue".to_string())]);
        let ownership = Ownership::with_foreign(foreign);
        let live = HashMap::new();
        let err = plan(PlanInput { ownership: &ownership, ..input(&d, None, &live) }).expect_err("foreign app");
        assert_eq!(err, PlanError::AppOfAnotherInstance { app: "demo".into(), instance: "blue".into() });

        let ownership = Ownership::with_foreign(HashMap::from([("billing".to_string(), "blue".to_string())]));
        let live = live_of(&d, LiveMeta { app_label: Some("billing".into()), ..ours() });
        let err = plan(PlanInput { ownership: &ownership, ..input(&d, None, &live) }).expect_err("foreign object");
        assert!(err.to_string().contains("belongs to app billing of plumb instance blue"), "{err}");
    }

    #[test]
    fn crds_are_kept_unless_the_app_opts_in() {
        let mut scopes = Scopes::default();
        scopes.insert("apiextensions.k8s.io", "CustomResourceDefinition", false);
        let app = AppContext { name: "demo".into(), namespace: None };
        let crd = serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.x.io"}});
        let old = vec![normalise(&app, crd, "t", &scopes).expect("valid")];
        let inv = inventory_of(&old);
        let live = live_of(&old, ours());
        let keep = desired(&["a"]);
        let p = plan(input(&keep, Some(&inv), &live)).expect("plan");
        assert_eq!(p.left_alone, vec![(old[0].key.clone(), LeftAlone::CrdKept)]);
        let opted = PlanInput {
            prune: PrunePolicy { crds: true, ..PrunePolicy::default() },
            ..input(&keep, Some(&inv), &live)
        };
        assert_eq!(pruned(&plan(opted).expect("plan")), ["widgets.x.io"]);
    }
}
