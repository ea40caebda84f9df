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
    /// Apps by name.
    pub apps: BTreeMap<String, AppStatus>,
}
