//! The change set of a sync: every object the plan covered, what was
//! decided for it, whether it was carried out, how long it took and why it
//! failed. Reporting (metrics, events, audit) consumes it.

use std::time::Duration;

use super::ApplyError;
use super::sync::{Mode, SyncRequest};
use crate::plan::{Action, DesiredObject, LeftAlone, ObjectKey, Plan};

/// What the plan decided for an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectAction {
    /// Created (or would be).
    Create,
    /// Updated (or would be).
    Update,
    /// Deleted and created again (`plumb.dev/replace`).
    Replace,
    /// Already as desired.
    Unchanged,
    /// Deleted because it left Git (or would be).
    Prune,
    /// Left Git but kept.
    LeftAlone(LeftAlone),
    /// Left Git and was already gone.
    Gone,
}

impl ObjectAction {
    /// Lower-case name for metrics and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            ObjectAction::Create => "create",
            ObjectAction::Update => "update",
            ObjectAction::Replace => "replace",
            ObjectAction::Unchanged => "unchanged",
            ObjectAction::Prune => "prune",
            ObjectAction::LeftAlone(_) => "left-alone",
            ObjectAction::Gone => "gone",
        }
    }
}

/// One object's part in a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectReport {
    /// The object.
    pub key: ObjectKey,
    /// What the plan decided.
    pub action: ObjectAction,
    /// The action was carried out (false in report mode or after a failure).
    pub done: bool,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Time the write took.
    pub duration: Duration,
    /// For updates: the field paths whose value or ownership changed.
    pub fields: Vec<String>,
}

/// The change set of one sync.
#[derive(Debug)]
pub struct SyncReport {
    /// The app.
    pub app: String,
    /// The commit synced.
    pub commit: Option<String>,
    /// Digest of the render synced.
    pub render_digest: Option<String>,
    /// The app was being removed (it left plumb.yaml).
    pub removal: bool,
    /// Enforce or report.
    pub mode: Mode,
    /// Every object the plan covered, in plan order.
    pub objects: Vec<ObjectReport>,
    /// Number of apply waves.
    pub waves: usize,
    /// Success, or why the sync failed.
    pub result: Result<(), ApplyError>,
    /// Wall time.
    pub duration: Duration,
    /// Position of each object in `objects`.
    pub(crate) index: std::collections::HashMap<ObjectKey, usize>,
}

impl SyncReport {
    /// An empty report for `request`, nothing planned yet.
    pub fn new(request: &SyncRequest) -> Self {
        Self {
            app: request.app.name.clone(),
            commit: request.commit.clone(),
            render_digest: request.render_digest.clone(),
            removal: request.removal.is_some(),
            mode: request.mode,
            objects: Vec::new(),
            waves: 0,
            result: Ok(()),
            duration: Duration::ZERO,
            index: Default::default(),
        }
    }

    /// A report for a sync that could not start.
    pub fn failed(app: &str, commit: &str, error: ApplyError) -> Self {
        Self {
            app: app.to_string(),
            commit: Some(commit.to_string()),
            render_digest: None,
            removal: false,
            mode: Mode::Enforce,
            objects: Vec::new(),
            waves: 0,
            result: Err(error),
            duration: Duration::ZERO,
            index: Default::default(),
        }
    }

    /// Objects with `action`, carried out or not.
    pub fn planned(&self, action: ObjectAction) -> Vec<&ObjectKey> {
        self.objects.iter().filter(|o| o.action == action).map(|o| &o.key).collect()
    }

    /// Number of objects with `action` that were carried out.
    pub fn done(&self, action: ObjectAction) -> usize {
        self.objects.iter().filter(|o| o.action == action && o.done).count()
    }

    /// True when anything of the sync was written.
    pub fn wrote(&self) -> bool {
        self.objects.iter().any(|o| {
            o.done && !matches!(o.action, ObjectAction::Unchanged | ObjectAction::LeftAlone(_) | ObjectAction::Gone)
        })
    }

    /// `created 1, configured 2, pruned 0, unchanged 5`.
    pub fn summary(&self) -> String {
        format!(
            "created {}, configured {}, pruned {}, unchanged {}",
            self.done(ObjectAction::Create),
            self.done(ObjectAction::Update) + self.done(ObjectAction::Replace),
            self.done(ObjectAction::Prune),
            self.planned(ObjectAction::Unchanged).len()
        )
    }

    /// Records which fields an update changed.
    /// The entry of `key` (found by a map: apps have thousands of objects).
    fn entry(&mut self, key: &ObjectKey) -> Option<&mut ObjectReport> {
        if self.index.len() != self.objects.len() {
            self.index = self.objects.iter().enumerate().map(|(i, o)| (o.key.clone(), i)).collect();
        }
        let i = *self.index.get(key)?;
        self.objects.get_mut(i)
    }

    pub(crate) fn record_fields(&mut self, key: &ObjectKey, fields: Vec<String>) {
        if let Some(o) = self.entry(key) {
            o.fields = fields;
        }
    }

    /// Records that the plan's action for `key` became `action` (a replace).
    pub(crate) fn record_action(&mut self, key: &ObjectKey, action: Action) {
        self.record_action_kind(key, action_of(action));
    }

    /// Records what became of `key` when it was not what the plan said.
    pub(crate) fn record_action_kind(&mut self, key: &ObjectKey, action: ObjectAction) {
        if let Some(o) = self.entry(key) {
            o.action = action;
        }
    }

    pub(crate) fn record(&mut self, key: &ObjectKey, outcome: Result<(), String>, duration: Duration) {
        if let Some(o) = self.entry(key) {
            o.done = outcome.is_ok();
            o.error = outcome.err();
            o.duration = duration;
        }
    }
}

/// Lists every object of `plan` in `report`, nothing carried out yet.
pub(crate) fn fill_report(report: &mut SyncReport, plan: &Plan, desired: &[DesiredObject]) {
    report.waves = plan.waves.len();
    let entry = |key: &ObjectKey, action| ObjectReport {
        key: key.clone(),
        action,
        done: false,
        error: None,
        duration: Duration::ZERO,
        fields: Vec::new(),
    };
    for step in plan.waves.iter().flatten() {
        report.objects.push(entry(&desired[step.index].key, action_of(step.action)));
    }
    report.objects.extend(plan.prune.iter().map(|t| entry(&t.entry.key, ObjectAction::Prune)));
    report.objects.extend(plan.left_alone.iter().map(|(k, why)| entry(k, ObjectAction::LeftAlone(why.clone()))));
    report.objects.extend(plan.gone.iter().map(|k| entry(k, ObjectAction::Gone)));
}

fn action_of(action: Action) -> ObjectAction {
    match action {
        Action::Create => ObjectAction::Create,
        Action::Update => ObjectAction::Update,
        Action::Unchanged | Action::Completed => ObjectAction::Unchanged,
        Action::Replace => ObjectAction::Replace,
    }
}
