//! The inventory: what plumb applied for an app, so a later sync (or a
//! restarted agent) knows what to prune. Stored by the apply stage in a
//! ConfigMap `plumb-inventory-<app>`; this module owns the model and its
//! encoding.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::ObjectKey;

/// ConfigMap data key holding the inventory as JSON.
pub const DATA_KEY: &str = "inventory.json";
/// ConfigMap binaryData key holding a large inventory, gzip-compressed.
pub const COMPRESSED_KEY: &str = "inventory.json.gz";
/// JSON larger than this is stored compressed.
pub const COMPRESS_ABOVE: usize = 128 * 1024;

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
    /// Fingerprint of plumb's managed fields after that apply (0: unknown),
    /// so a restarted agent notices drift that happened while it was down.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fields: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// Sorts entries by key so the stored bytes are stable.
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.entries.dedup_by(|a, b| a.key == b.key);
    }

    /// The ConfigMap contents holding this inventory: plain JSON in `data`,
    /// or gzip-compressed in `binaryData` once it is large (a ConfigMap
    /// holds at most 1 MiB; compressed, an inventory of 10,000 objects fits).
    pub fn encode(&self) -> Encoded {
        let json = serde_json::to_string(self).unwrap_or_default();
        if json.len() <= COMPRESS_ABOVE {
            return Encoded { data: BTreeMap::from([(DATA_KEY.to_string(), json)]), binary_data: BTreeMap::new() };
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let compressed = gz.write_all(json.as_bytes()).and_then(|()| gz.finish()).unwrap_or_default();
        Encoded { data: BTreeMap::new(), binary_data: BTreeMap::from([(COMPRESSED_KEY.to_string(), compressed)]) }
    }

    /// Reads an inventory from ConfigMap contents written by [`Inventory::encode`].
    pub fn decode(data: &BTreeMap<String, String>, binary_data: &BTreeMap<String, Vec<u8>>) -> Result<Self, String> {
        let json = match (data.get(DATA_KEY), binary_data.get(COMPRESSED_KEY)) {
            (Some(json), _) => json.clone(),
            (None, Some(compressed)) => {
                let mut json = String::new();
                flate2::read::GzDecoder::new(compressed.as_slice())
                    .read_to_string(&mut json)
                    .map_err(|e| format!("{COMPRESSED_KEY} is not valid gzip: {e}"))?;
                json
            }
            (None, None) => return Err(format!("neither {DATA_KEY} nor {COMPRESSED_KEY} is present")),
        };
        serde_json::from_str(&json).map_err(|e| format!("not a valid inventory: {e}"))
    }
}

/// An inventory as ConfigMap `data` and `binaryData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Text entries.
    pub data: BTreeMap<String, String>,
    /// Binary entries.
    pub binary_data: BTreeMap<String, Vec<u8>>,
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
                    fields: 0,
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
                    fields: 7,
                },
            ],
        };
        inv.sort();
        let encoded = inv.encode();
        assert!(encoded.binary_data.is_empty());
        let json = &encoded.data[DATA_KEY];
        assert!(
            json.contains(r#""kind":"Deployment","namespace":"demo","name":"web","apiVersion":"apps/v1""#),
            "{json}"
        );
        assert_eq!(Inventory::decode(&encoded.data, &encoded.binary_data), Ok(inv));
        assert!(Inventory::decode(&BTreeMap::new(), &BTreeMap::new()).is_err());
    }

    #[test]
    fn large_inventories_are_compressed() {
        let entries: Vec<InventoryEntry> = (0..10_000)
            .map(|i| InventoryEntry {
                key: ObjectKey {
                    group: "".into(),
                    kind: "ConfigMap".into(),
                    namespace: Some("bench".into()),
                    name: format!("config-{i:05}"),
                },
                api_version: "v1".into(),
                hash: format!("sha256:{i:064x}"),
                fields: i,
            })
            .collect();
        let inv = Inventory { app: "big".into(), commit: Some("c".into()), render_digest: None, entries };
        let encoded = inv.encode();
        assert!(encoded.data.is_empty());
        let size = encoded.binary_data[COMPRESSED_KEY].len();
        assert!(size < 512 * 1024, "10,000 entries compress to {size} bytes");
        assert_eq!(Inventory::decode(&encoded.data, &encoded.binary_data), Ok(inv));
    }
}
