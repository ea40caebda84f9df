//! The plan as the ordered steps a sync carries out (pure): what to
//! validate before the first write, when to record the inventory, which
//! objects each wave writes and waits for, and when to prune. The apply
//! stage runs these steps and decides nothing of its own.

use std::collections::HashSet;

use super::changes::{Action, LeftAlone, Plan};
use super::hooks::hook_policy;
use super::{DesiredObject, ObjectKey};

/// One step of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStep {
    /// Validate these objects with server-side dry-runs before anything is
    /// written; any rejection ends the sync with nothing applied.
    Validate(Vec<usize>),
    /// Record the inventory before the first write (the intent: every key
    /// this sync may create), so a crash mid-sync still prunes correctly.
    RecordIntent,
    /// Write one wave's changed objects (deleting first those to replace).
    Apply {
        /// The wave's position.
        wave: usize,
        /// Objects to create, update or replace.
        writes: Vec<usize>,
    },
    /// Wait until every object of a wave is healthy, written this sync or
    /// not: an unhealthy object holds back later waves, prunes and
    /// dependent apps every time, not only on the sync that changed it.
    AwaitHealthy {
        /// The wave's position.
        wave: usize,
        /// Objects whose kind has a health rule.
        objects: Vec<usize>,
    },
    /// Delete Helm hooks of a wave that succeeded, as their
    /// `hook-succeeded` policy asks (their inventory entries stay, so they
    /// do not run again until their manifest changes).
    DeleteHooks {
        /// The wave's position.
        wave: usize,
        /// The hooks.
        objects: Vec<usize>,
    },
    /// Delete what left Git, in the plan's order, each with preconditions.
    Prune,
    /// Drop plumb's label from objects of an app removed with `orphan:`.
    Orphan,
    /// Record the inventory as synced (commit and render digest).
    RecordResult,
    /// Delete the inventory of an app that left plumb.yaml.
    DropInventory,
    /// Report mode: compare these existing objects with what a sync would
    /// apply (a read and a dry-run each, never a write), so drift shows
    /// even for objects plumb never applied.
    CheckDrift(Vec<usize>),
}

/// A plan and the steps that carry it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    /// What happens to each object.
    pub plan: Plan,
    /// In what order.
    pub steps: Vec<SyncStep>,
}

/// What besides the plan decides the steps.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The desired objects the plan indexes.
    pub desired: &'a [DesiredObject],
    /// Enforce mode (report mode writes nothing, ever).
    pub enforce: bool,
    /// The app is being removed.
    pub removal: bool,
    /// The inventory already records this commit and render as synced:
    /// nothing changed, and the last sync of exactly this succeeded.
    pub already_synced: bool,
    /// Whether a kind has health rules worth reading the object for.
    pub has_health: fn(&ObjectKey) -> bool,
}

/// The steps of `plan`.
pub fn steps(plan: Plan, context: StepContext<'_>) -> SyncPlan {
    let mut steps = Vec::new();
    if !context.enforce {
        // Report mode: plan, validate (dry-runs write nothing) and report;
        // not even bookkeeping writes. Objects plumb would create may exist
        // already, without its label.
        let writes: Vec<usize> = plan.waves.iter().flatten().filter(|s| s.action.writes()).map(|s| s.index).collect();
        if !writes.is_empty() && !context.removal {
            steps.push(SyncStep::Validate(writes));
        }
        let existing: Vec<usize> = plan
            .waves
            .iter()
            .flatten()
            .filter(|s| matches!(s.action, Action::Update | Action::Create))
            .map(|s| s.index)
            .collect();
        if !existing.is_empty() && !context.removal {
            steps.push(SyncStep::CheckDrift(existing));
        }
        return SyncPlan { plan, steps };
    }
    if context.removal {
        if !plan.prune.is_empty() {
            steps.push(SyncStep::RecordIntent);
            steps.push(SyncStep::Prune);
        }
        if plan.left_alone.iter().any(|(_, why)| *why == LeftAlone::Orphaned) {
            steps.push(SyncStep::Orphan);
        }
        steps.push(SyncStep::DropInventory);
        return SyncPlan { plan, steps };
    }
    if plan.is_noop() && plan.gone.is_empty() && context.already_synced {
        return SyncPlan { plan, steps };
    }
    let writes: Vec<usize> = plan.waves.iter().flatten().filter(|s| s.action.writes()).map(|s| s.index).collect();
    if !writes.is_empty() {
        steps.push(SyncStep::Validate(writes));
        steps.push(SyncStep::RecordIntent);
    }
    for (wave, objects) in plan.waves.iter().enumerate() {
        let writes: Vec<usize> = objects.iter().filter(|s| s.action.writes()).map(|s| s.index).collect();
        if !writes.is_empty() {
            steps.push(SyncStep::Apply { wave, writes });
        }
        let watched: Vec<usize> = objects
            .iter()
            .filter(|s| match s.action {
                Action::Completed => false,
                Action::Unchanged => (context.has_health)(&context.desired[s.index].key),
                _ => true,
            })
            .map(|s| s.index)
            .collect();
        if !watched.is_empty() {
            steps.push(SyncStep::AwaitHealthy { wave, objects: watched });
        }
        let succeeded_hooks: Vec<usize> = objects
            .iter()
            .filter(|s| s.action.writes())
            .filter(|s| hook_policy(&context.desired[s.index]).is_some_and(|h| h.on_success))
            .map(|s| s.index)
            .collect();
        if !succeeded_hooks.is_empty() {
            steps.push(SyncStep::DeleteHooks { wave, objects: succeeded_hooks });
        }
    }
    if !plan.prune.is_empty() {
        steps.push(SyncStep::Prune);
    }
    steps.push(SyncStep::RecordResult);
    SyncPlan { plan, steps }
}

/// True when a dry-run `error` of `o` asks for delete-and-recreate: the
/// API server refused a change it cannot make in place (an immutable
/// field), and the object carries `plumb.dev/replace: "true"`.
pub fn replaceable(o: &DesiredObject, code: u16, message: &str) -> bool {
    o.annotation(super::REPLACE_ANNOTATION) == Some("true") && immutable(code, message)
}

/// True when the API server refused a change it cannot make in place.
pub fn immutable(code: u16, message: &str) -> bool {
    code == 422
        && (message.contains("immutable")
            || message.contains("may not be changed")
            || message.contains("cannot change"))
}

/// Keys of objects that a sync of `plan` writes.
pub fn written_keys<'a>(plan: &Plan, desired: &'a [DesiredObject]) -> HashSet<&'a ObjectKey> {
    plan.waves.iter().flatten().filter(|s| s.action.writes()).map(|s| &desired[s.index].key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::changes::{PruneTarget, Step};
    use crate::plan::{AppContext, InventoryEntry, Scopes, normalise};

    fn desired(kinds: &[(&str, &str)]) -> Vec<DesiredObject> {
        let mut scopes = Scopes::default();
        scopes.insert("", "ConfigMap", true);
        scopes.insert("apps", "Deployment", true);
        let app = AppContext { name: "demo".into(), namespace: Some("demo".into()) };
        kinds
            .iter()
            .map(|(api_version, kind)| {
                let m = serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": kind.to_lowercase()}});
                normalise(&app, m, "t", &scopes).expect("valid")
            })
            .collect()
    }

    fn deployments(key: &ObjectKey) -> bool {
        key.kind == "Deployment"
    }

    fn context(desired: &[DesiredObject]) -> StepContext<'_> {
        StepContext { desired, enforce: true, removal: false, already_synced: false, has_health: deployments }
    }

    fn prune_target() -> PruneTarget {
        PruneTarget {
            entry: InventoryEntry {
                key: ObjectKey::new("", "ConfigMap", Some("demo"), "old"),
                api_version: "v1".into(),
                hash: String::new(),
                fields: 0,
            },
            uid: Some("u".into()),
            resource_version: Some("1".into()),
            namespace_guard: false,
        }
    }

    #[test]
    fn a_change_validates_records_intent_applies_waits_prunes_and_records() {
        let d = desired(&[("v1", "ConfigMap"), ("apps/v1", "Deployment")]);
        let plan = Plan {
            waves: vec![
                vec![Step { index: 0, action: Action::Update }],
                vec![Step { index: 1, action: Action::Unchanged }],
            ],
            prune: vec![prune_target()],
            left_alone: Vec::new(),
            gone: Vec::new(),
        };
        let steps = steps(plan, context(&d)).steps;
        assert_eq!(
            steps,
            vec![
                SyncStep::Validate(vec![0]),
                SyncStep::RecordIntent,
                SyncStep::Apply { wave: 0, writes: vec![0] },
                SyncStep::AwaitHealthy { wave: 0, objects: vec![0] },
                SyncStep::AwaitHealthy { wave: 1, objects: vec![1] },
                SyncStep::Prune,
                SyncStep::RecordResult,
            ],
            "the unchanged Deployment's health is awaited too"
        );
    }

    #[test]
    fn noops_report_mode_and_removals() {
        let d = desired(&[("v1", "ConfigMap"), ("apps/v1", "Deployment")]);
        let unchanged = Plan {
            waves: vec![vec![
                Step { index: 0, action: Action::Unchanged },
                Step { index: 1, action: Action::Unchanged },
            ]],
            prune: Vec::new(),
            left_alone: Vec::new(),
            gone: Vec::new(),
        };
        let synced = StepContext { already_synced: true, ..context(&d) };
        assert!(steps(unchanged.clone(), synced).steps.is_empty(), "nothing to do, nothing read");
        assert_eq!(
            steps(unchanged.clone(), context(&d)).steps,
            vec![SyncStep::AwaitHealthy { wave: 0, objects: vec![1] }, SyncStep::RecordResult],
            "a new commit (or a retry) re-checks health, never the ConfigMap"
        );
        let report = StepContext { enforce: false, ..context(&d) };
        let mut changed = unchanged.clone();
        changed.waves[0][0].action = Action::Create;
        changed.waves[0][1].action = Action::Update;
        changed.prune.push(prune_target());
        assert_eq!(
            steps(changed, report).steps,
            vec![SyncStep::Validate(vec![0, 1]), SyncStep::CheckDrift(vec![0, 1])],
            "report mode writes nothing; it validates and compares what exists"
        );

        let removal = Plan {
            waves: Vec::new(),
            prune: vec![prune_target()],
            left_alone: vec![(ObjectKey::new("", "ConfigMap", Some("demo"), "kept"), LeftAlone::Orphaned)],
            gone: Vec::new(),
        };
        assert_eq!(
            steps(removal, StepContext { removal: true, ..context(&[]) }).steps,
            vec![SyncStep::RecordIntent, SyncStep::Prune, SyncStep::Orphan, SyncStep::DropInventory]
        );
    }
}
