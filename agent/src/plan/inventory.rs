//! The inventory: what plumb applied for an app, so a later sync (or a
//! restarted agent) knows what to prune. Stored by the apply stage in a
//! ConfigMap `plumb-inventory-<app>`; this module owns the model and its
//! encoding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ObjectKey;

/// ConfigMap data key holding the inventory as JSON.
pub const DATA_KEY: &str = "inventory.json";

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// Identity.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// The apiVersion it was applied with (pruning uses it).
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Hash of the desired manifest last applied.
    pub hash: String,
}

/// Everything plumb manages for one app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The app.
    pub app: String,
    /// Commit last synced, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Render digest last synced, when known.
    #[serde(default, rename = "renderDigest", skip_serializing_if = "Option::is_none")]
    pub render_digest: Option<String>,
    /// Managed objects, sorted by key.
    pub entries: Vec<InventoryEntry>,
}

impl Inventory {
    /// Entries by key.
    pub fn by_key(&self) -> BTreeMap<&ObjectKey, &InventoryEntry> {
        self.entries.iter().map(|e| (&e.key, e)).collect()
    }

    /// Sorts entries by key so the stored bytes are stable.
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.entries.dedup_by(|a, b| a.key == b.key);
    }

    /// The ConfigMap data holding this inventory.
    pub fn to_data(&self) -> BTreeMap<String, String> {
        let json = serde_json::to_string(self).unwrap_or_default();
        BTreeMap::from([(DATA_KEY.to_string(), json)])
    }

    /// Reads an inventory from ConfigMap data.
    pub fn from_data(data: &BTreeMap<String, String>) -> Result<Self, String> {
        let json = data.get(DATA_KEY).ok_or_else(|| format!("no {DATA_KEY} key"))?;
        serde_json::from_str(json).map_err(|e| format!("{DATA_KEY} is not a valid inventory: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_config_map_data() {
        let mut inv = Inventory {
            app: "demo".into(),
            commit: Some("abc".into()),
            render_digest: None,
            entries: vec![
                InventoryEntry {
                    key: ObjectKey { group: "".into(), kind: "Namespace".into(), namespace: None, name: "demo".into() },
                    api_version: "v1".into(),
                    hash: "sha256:1".into(),
                },
                InventoryEntry {
                    key: ObjectKey {
                        group: "apps".into(),
                        kind: "Deployment".into(),
                        namespace: Some("demo".into()),
                        name: "web".into(),
                    },
                    api_version: "apps/v1".into(),
                    hash: "sha256:2".into(),
                },
            ],
        };
        inv.sort();
        let data = inv.to_data();
        assert!(
            data[DATA_KEY].contains(r#""kind":"Deployment","namespace":"demo","name":"web","apiVersion":"apps/v1""#),
            "{}",
            data[DATA_KEY]
        );
        assert_eq!(Inventory::from_data(&data), Ok(inv));
        assert!(Inventory::from_data(&BTreeMap::new()).is_err());
    }
}
