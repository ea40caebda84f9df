//! The plan: what a sync of one app creates, updates, leaves unchanged and
//! prunes, with the guards that keep a bad commit from deleting what it
//! should not.

use std::collections::{HashMap, HashSet};

use super::order::{kind_rank, waves};
use super::{DesiredObject, Inventory, InventoryEntry, ObjectKey, PlanError};

/// Live metadata of a managed object (from a label-selected list or the
/// live cache). Objects without plumb's app label are never in this map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveMeta {
    /// Value of the `plumb.dev/app` label.
    pub app_label: Option<String>,
    /// `plumb.dev/prune: disabled` is set.
    pub prune_disabled: bool,
    /// plumb's field manager has an Apply entry in managedFields.
    pub applied_by_plumb: bool,
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
}

impl Default for PrunePolicy {
    fn default() -> Self {
        Self { enabled: true, max_share_percent: 50, always_allowed: 3, allow_large: false }
    }
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
    /// Live metadata of objects labelled for this app.
    pub live: &'a HashMap<ObjectKey, LiveMeta>,
    /// Prune limits.
    pub prune: PrunePolicy,
    /// The app was removed from plumb.yaml: prune all of it on purpose
    /// (the empty-render guard and the prune limit do not apply).
    pub remove_app: bool,
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
}

impl Action {
    /// Lower-case name, for metrics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
        }
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

/// Why an object that left Git is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftAlone {
    /// It carries `plumb.dev/prune: disabled`.
    PruneDisabled,
    /// The app has `prune: false`.
    AppPruneDisabled,
    /// It is not labelled for this app (any more).
    NotOwned,
}

/// The plan for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Desired objects in apply order.
    pub waves: Vec<Vec<Step>>,
    /// Objects to delete, in delete order (reverse kind rank).
    pub prune: Vec<InventoryEntry>,
    /// Objects that left Git but stay, and why.
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
        self.prune.is_empty() && self.waves.iter().flatten().all(|s| s.action == Action::Unchanged)
    }
}

/// Makes the plan for one app.
pub fn plan(input: PlanInput<'_>) -> Result<Plan, PlanError> {
    let managed = input.inventory.map_or(0, |i| i.entries.len());
    if input.desired.is_empty() && managed > 0 && !input.remove_app {
        return Err(PlanError::EmptyRender { app: input.app.to_string(), managed });
    }
    // Hash lookups: apps have thousands of objects, and ordered maps of keys
    // spent most of a no-op plan comparing strings.
    let previous: HashMap<&ObjectKey, &InventoryEntry> =
        input.inventory.iter().flat_map(|i| &i.entries).map(|e| (&e.key, e)).collect();

    let waves = waves(input.desired)?
        .into_iter()
        .map(|wave| {
            wave.into_iter()
                .map(|index| {
                    let o = &input.desired[index];
                    let action = match input.live.get(&o.key) {
                        None => Action::Create,
                        Some(live)
                            if live.applied_by_plumb && previous.get(&o.key).is_some_and(|e| e.hash == o.hash) =>
                        {
                            Action::Unchanged
                        }
                        Some(_) => Action::Update,
                    };
                    Step { index, action }
                })
                .collect()
        })
        .collect();

    let desired_keys: HashSet<&ObjectKey> = input.desired.iter().map(|o| &o.key).collect();
    let (mut prune, mut left_alone, mut gone) = (Vec::new(), Vec::new(), Vec::new());
    for entry in input.inventory.iter().flat_map(|i| &i.entries) {
        if desired_keys.contains(&entry.key) {
            continue;
        }
        match input.live.get(&entry.key) {
            None => gone.push(entry.key.clone()),
            Some(live) if live.app_label.as_deref() != Some(input.app) => {
                left_alone.push((entry.key.clone(), LeftAlone::NotOwned))
            }
            Some(live) if live.prune_disabled => left_alone.push((entry.key.clone(), LeftAlone::PruneDisabled)),
            Some(_) if !input.prune.enabled && !input.remove_app => {
                left_alone.push((entry.key.clone(), LeftAlone::AppPruneDisabled))
            }
            Some(_) => prune.push(entry.clone()),
        }
    }
    let policy = input.prune;
    let over_share = prune.len() * 100 > policy.max_share_percent as usize * managed;
    if !policy.allow_large && !input.remove_app && over_share && prune.len() > policy.always_allowed {
        return Err(PlanError::PruneLimitExceeded {
            app: input.app.to_string(),
            would_prune: prune.len(),
            managed,
            limit_percent: policy.max_share_percent,
        });
    }
    prune.sort_by(|a, b| {
        let rank = |e: &InventoryEntry| kind_rank(&e.key.group, &e.key.kind);
        rank(b).cmp(&rank(a)).then_with(|| a.key.cmp(&b.key))
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
        LiveMeta { app_label: Some("demo".into()), prune_disabled: false, applied_by_plumb: true }
    }

    fn input<'a>(
        d: &'a [DesiredObject],
        inv: Option<&'a Inventory>,
        live: &'a HashMap<ObjectKey, LiveMeta>,
    ) -> PlanInput<'a> {
        PlanInput { app: "demo", desired: d, inventory: inv, live, prune: PrunePolicy::default(), remove_app: false }
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
        assert_eq!(p.prune.iter().map(|e| e.key.name.as_str()).collect::<Vec<_>>(), ["old"]);
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
        assert_eq!(p.prune.last().map(|e| e.key.kind.as_str()), Some("Namespace"), "namespace pruned last");
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
        let removed = plan(PlanInput { remove_app: true, ..input(&[], Some(&inv), &live) }).expect("removal plans");
        let pruned: Vec<_> = removed.prune.iter().map(|e| e.key.name.as_str()).collect();
        assert_eq!(pruned, ["x"], "removing the app prunes what it owns; kept, foreign and gone objects aside");

        let off = PlanInput {
            prune: PrunePolicy { enabled: false, ..Default::default() },
            ..input(&now, Some(&inv), &all_live)
        };
        assert!(plan(off).expect("plan").left_alone.iter().all(|(_, why)| *why == LeftAlone::AppPruneDisabled));
    }
}
