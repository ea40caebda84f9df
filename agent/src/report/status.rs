//! The agent's state as served at `/api/v1/status` and shown by
//! `plumb status`, and what the dashboard lists beside it (each app's
//! objects, the recent audit records). Only names, paths, managers and
//! messages: never object values.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::audit::AuditRecord;

/// The source and what was last polled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// Repo URL, credentials removed.
    pub repo: String,
    /// Followed branch, tag or commit.
    pub reference: String,
    /// Commit last fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Time of the last successful poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll: Option<String>,
    /// Error of the last poll, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One drifted field: where and who (no values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftedField {
    /// Field path.
    pub path: String,
    /// Managers owning it now.
    pub managers: Vec<String>,
}

/// One drifted object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftedObject {
    /// `Kind.group/namespace/name`.
    pub object: String,
    /// `deleted` or `modified`.
    pub drift: String,
    /// The drifted fields.
    pub fields: Vec<DriftedField>,
}

/// One app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppStatus {
    /// `enforce` or `report`.
    pub mode: String,
    /// `Synced`, `SyncFailed`, `RenderFailed` or `Blocked`.
    pub state: String,
    /// Health of the last sync's waves: `Healthy` or the failure.
    pub health: String,
    /// Commit of the last sync attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Time of the last sync attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<String>,
    /// Objects managed.
    pub objects: usize,
    /// What went wrong, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Drifted objects now.
    #[serde(default)]
    pub drifted: Vec<DriftedObject>,
}

/// The whole status document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The source.
    pub source: SourceStatus,
    /// The first sync is done.
    pub ready: bool,
    /// `leader` or `standby` (with leader election).
    #[serde(default)]
    pub role: String,
    /// Apps by name.
    pub apps: BTreeMap<String, AppStatus>,
}

/// The sync that last changed an object: shared by all its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStamp {
    /// The commit synced.
    pub commit: String,
    /// When (RFC 3339).
    pub time: String,
}

/// An object's health as the last sync of its app left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectHealth {
    /// Became healthy when applied, or unchanged in a successful sync.
    Healthy,
    /// Written, but the sync failed before its health was confirmed.
    Applied,
    /// Still converging when the sync gave up waiting (the reason says on what).
    Progressing(String),
    /// Reached a terminal condition (the reason).
    Degraded(String),
    /// Its write failed (the API server's message).
    Failed(String),
    /// Not written: report mode, or the sync stopped before its wave.
    NotApplied,
    /// Deleted because it left Git.
    Pruned,
    /// Left Git but was not deleted yet (report mode, or the sync failed).
    NotPruned,
    /// Left Git and is kept (prune disabled or not owned).
    LeftAlone,
    /// Left Git and was already gone.
    Gone,
    /// Not known since this agent started (unchanged in a failed sync).
    Unknown,
}

impl ObjectHealth {
    /// A short label: `Healthy`, `Progressing`...
    pub fn label(&self) -> &'static str {
        match self {
            ObjectHealth::Healthy => "Healthy",
            ObjectHealth::Applied => "Applied",
            ObjectHealth::Progressing(_) => "Progressing",
            ObjectHealth::Degraded(_) => "Degraded",
            ObjectHealth::Failed(_) => "Failed",
            ObjectHealth::NotApplied => "NotApplied",
            ObjectHealth::Pruned => "Pruned",
            ObjectHealth::NotPruned => "NotPruned",
            ObjectHealth::LeftAlone => "LeftAlone",
            ObjectHealth::Gone => "Gone",
            ObjectHealth::Unknown => "Unknown",
        }
    }

    /// Why, for the states that have a reason.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ObjectHealth::Progressing(r) | ObjectHealth::Degraded(r) | ObjectHealth::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// One object of an app, in apply order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStatus {
    /// `Kind.group/namespace/name`.
    pub object: String,
    /// The last action decided for it: create, update, prune, left-alone,
    /// gone; `unchanged` when nothing was decided since the agent started.
    pub action: &'static str,
    /// That action was carried out (false in report mode or after a failure).
    pub done: bool,
    /// Its health at the last sync.
    pub health: ObjectHealth,
    /// The sync that decided the action (none for `unchanged`).
    pub changed: Option<Arc<SyncStamp>>,
}

/// An audit record as the dashboard lists it, with its first actions only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentRecord {
    /// The record, its actions cut to the first few.
    pub record: AuditRecord,
    /// How many actions the record has in all.
    pub actions_total: usize,
}

/// The status as a table for `plumb status`.
pub fn table(status: &Status) -> String {
    let short =
        |c: &Option<String>| c.as_deref().map(|c| c[..c.len().min(12)].to_string()).unwrap_or_else(|| "-".into());
    let source = &status.source;
    let mut out = format!("source  {} ({}) at {}", source.repo, source.reference, short(&source.revision));
    if let Some(error) = &source.error {
        out.push_str(&format!("\n        error: {error}"));
    }
    out.push_str(&format!(
        "\n\n{:<16} {:<8} {:<13} {:<10} {:<13} {:>7} {:>7}  MESSAGE\n",
        "APP", "MODE", "STATE", "HEALTH", "COMMIT", "OBJECTS", "DRIFTED"
    ));
    for (name, app) in &status.apps {
        let message = app.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("");
        out.push_str(&format!(
            "{:<16} {:<8} {:<13} {:<10} {:<13} {:>7} {:>7}  {}\n",
            name,
            app.mode,
            app.state,
            app.health.split(':').next().unwrap_or(""),
            short(&app.commit),
            app.objects,
            app.drifted.len(),
            message
        ));
        for drifted in &app.drifted {
            let fields: Vec<String> =
                drifted.fields.iter().map(|f| crate::live::drift::describe_field(&f.path, &f.managers)).collect();
            out.push_str(&format!("  drifted: {} {}: {}\n", drifted.object, drifted.drift, fields.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_table() {
        let mut status = Status {
            source: SourceStatus {
                repo: "https://***@git/x".into(),
                reference: "branch main".into(),
                revision: Some("0123456789abcdef".into()),
                ..Default::default()
            },
            ready: true,
            role: "leader".into(),
            apps: BTreeMap::new(),
        };
        status.apps.insert(
            "web".into(),
            AppStatus {
                mode: "enforce".into(),
                state: "Synced".into(),
                health: "Healthy".into(),
                commit: Some("0123456789abcdef".into()),
                objects: 2,
                drifted: vec![DriftedObject {
                    object: "Deployment.apps/n/web".into(),
                    drift: "modified".into(),
                    fields: vec![DriftedField {
                        path: "spec.replicas".into(),
                        managers: vec!["kubectl (Update)".into()],
                    }],
                }],
                ..Default::default()
            },
        );
        let text = table(&status);
        assert!(text.starts_with("source  https://***@git/x (branch main) at 0123456789ab"), "{text}");
        assert!(
            text.contains("web              enforce  Synced        Healthy    0123456789ab        2       1"),
            "{text}"
        );
        assert!(text.contains("  drifted: Deployment.apps/n/web modified: spec.replicas (kubectl (Update))"), "{text}");
    }
}
