//! The last audit records of each app, kept in its inventory ConfigMap
//! (`history.jsonl`, written under a field manager of its own so the
//! inventory's server-side applies never remove it), for `plumb history`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;
use tokio::sync::Mutex;

use super::audit::AuditRecord;
use crate::apply::store::{INVENTORY_LABEL, inventory_name};

/// ConfigMap data key of the history.
pub const HISTORY_KEY: &str = "history.jsonl";
/// Field manager of the history key.
pub const HISTORY_MANAGER: &str = "plumb-history";
/// Records kept per app.
pub const HISTORY_LEN: usize = 20;

/// Actions kept per history record: the ConfigMap also holds the inventory
/// and must stay under 1 MiB; the audit log keeps every action.
pub const HISTORY_ACTIONS: usize = 50;

/// Writes the history of each app.
pub struct History {
    api: Api<ConfigMap>,
    namespace: String,
    recent: Mutex<HashMap<String, VecDeque<String>>>,
}

impl History {
    /// History in the inventory ConfigMaps of `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self { api: Api::namespaced(client, namespace), namespace: namespace.to_string(), recent: Mutex::default() }
    }

    /// Adds `record` to its app's history.
    pub async fn record(&self, record: &AuditRecord) -> Result<(), kube::Error> {
        let name = inventory_name(&record.app);
        let mut recent = self.recent.lock().await;
        if !recent.contains_key(&record.app) {
            let existing = self.api.get_opt(&name).await?;
            let lines = existing
                .and_then(|cm| cm.data)
                .and_then(|d| d.get(HISTORY_KEY).cloned())
                .map(|text| text.lines().map(String::from).collect())
                .unwrap_or_default();
            recent.insert(record.app.clone(), lines);
        }
        let lines = recent.entry(record.app.clone()).or_default();
        lines.push_back(serde_json::to_string(&trimmed(record)).unwrap_or_default());
        while lines.len() > HISTORY_LEN {
            lines.pop_front();
        }
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let body = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self.namespace, "labels": {INVENTORY_LABEL: record.app}},
            "data": {HISTORY_KEY: text},
        });
        self.api.patch(&name, &PatchParams::apply(HISTORY_MANAGER).force(), &Patch::Apply(&body)).await?;
        Ok(())
    }
}

/// A copy of `record` with at most [`HISTORY_ACTIONS`] actions, the rest
/// counted in a last one.
fn trimmed(record: &AuditRecord) -> AuditRecord {
    let mut copy = record.clone();
    if copy.actions.len() > HISTORY_ACTIONS {
        let more = copy.actions.len() - HISTORY_ACTIONS;
        copy.actions.truncate(HISTORY_ACTIONS);
        copy.actions.push(crate::report::audit::AuditAction {
            object: format!("{more} more objects (the audit log lists every one)"),
            action: "more".into(),
            done: true,
            fields: Vec::new(),
            error: None,
        });
    }
    copy
}

/// The recorded history of every app (or one) in `namespace`, oldest first.
pub async fn read(
    client: kube::Client,
    namespace: &str,
    app: Option<&str>,
) -> Result<BTreeMap<String, Vec<AuditRecord>>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let selector = match app {
        Some(app) => format!("{INVENTORY_LABEL}={app}"),
        None => INVENTORY_LABEL.to_string(),
    };
    let mut history = BTreeMap::new();
    for cm in api.list(&ListParams::default().labels(&selector)).await?.items {
        let Some(app) = cm.metadata.labels.as_ref().and_then(|l| l.get(INVENTORY_LABEL)).cloned() else { continue };
        let text = cm.data.as_ref().and_then(|d| d.get(HISTORY_KEY)).cloned().unwrap_or_default();
        let records = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        history.insert(app, records);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::audit::AuditAction;

    #[test]
    fn large_syncs_are_trimmed_in_the_configmap_copy() {
        let mut record = AuditRecord::new("sync", "big", None);
        record.actions = (0..10_000)
            .map(|i| AuditAction {
                object: format!("ConfigMap/ns/cm-{i}"),
                action: "create".into(),
                done: true,
                fields: Vec::new(),
                error: None,
            })
            .collect();
        let copy = trimmed(&record);
        assert_eq!(copy.actions.len(), HISTORY_ACTIONS + 1);
        assert_eq!(copy.actions[HISTORY_ACTIONS].object, "9950 more objects (the audit log lists every one)");
        assert!(serde_json::to_string(&copy).unwrap_or_default().len() < 10_000);
        let small = AuditRecord::new("sync", "small", None);
        assert_eq!(trimmed(&small), small);
    }
}
