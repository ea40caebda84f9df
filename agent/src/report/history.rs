//! The last audit records of each app, kept in its inventory ConfigMap
//! (`history.jsonl`, written under a field manager of its own so the
//! inventory's server-side applies never remove it), for `plumb history`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::json;
use tokio::sync::Mutex;

use super::audit::AuditRecord;
use crate::apply::store::{INVENTORY_LABEL, inventory_name};
use crate::cluster::objects::retry;
use crate::cluster::{ClusterError, Resource, SharedCluster, Target};

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
    cluster: SharedCluster,
    config_maps: Resource,
    namespace: String,
    recent: Mutex<HashMap<String, VecDeque<String>>>,
}

impl History {
    /// History in the inventory ConfigMaps of `namespace`.
    pub fn new(cluster: SharedCluster, namespace: &str) -> Self {
        Self {
            cluster,
            config_maps: Resource::config_maps(),
            namespace: namespace.to_string(),
            recent: Mutex::default(),
        }
    }

    /// Forgets the history kept in memory of an app whose inventory was
    /// deleted (its removal): nothing is written for it any more.
    pub async fn forget(&self, app: &str) {
        self.recent.lock().await.remove(app);
    }

    /// Adds `record` to its app's history.
    pub async fn record(&self, record: &AuditRecord) -> Result<(), ClusterError> {
        let name = inventory_name(&record.app);
        let target = Target::new(&self.config_maps, Some(&self.namespace));
        let mut recent = self.recent.lock().await;
        if !recent.contains_key(&record.app) {
            let existing = retry(|| self.cluster.get(target, &name)).await?;
            let lines = existing
                .and_then(|cm| cm["data"][HISTORY_KEY].as_str().map(|text| text.lines().map(String::from).collect()))
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
        retry(|| self.cluster.apply(target, &name, &body, HISTORY_MANAGER, false)).await?;
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
    cluster: &SharedCluster,
    namespace: &str,
    app: Option<&str>,
) -> Result<BTreeMap<String, Vec<AuditRecord>>, ClusterError> {
    let config_maps = Resource::config_maps();
    let target = Target::new(&config_maps, Some(namespace));
    let selector = match app {
        Some(app) => format!("{INVENTORY_LABEL}={app}"),
        None => INVENTORY_LABEL.to_string(),
    };
    let mut history = BTreeMap::new();
    for meta in cluster.list_metadata(target, &selector).await?.items {
        let Some(app) = meta.labels.as_ref().and_then(|l| l.get(INVENTORY_LABEL)).cloned() else { continue };
        let Some(name) = meta.name else { continue };
        let Some(cm) = cluster.get(target, &name).await? else { continue };
        let text = cm["data"][HISTORY_KEY].as_str().unwrap_or_default();
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
