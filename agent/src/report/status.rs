//! The agent's state as served at `/api/v1/status` and shown by
//! `plumb status`. Only names, paths, managers and messages: never
//! object values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
