//! The inventory: what plumb applied for an app, so a later sync (or a
//! restarted agent) knows what to prune, and who owns the app. This module
//! owns the model and its encoding into ConfigMaps (pure); the apply
//! stage's store reads and writes them.
//!
//! A small inventory is one ConfigMap, `plumb-inventory-<app>`. A large
//! one keeps its header there and its entries in shards
//! `plumb-inventory-<app>-<generation>-<n>`, each key in the shard its hash
//! picks. A shard holds the same keys whatever else changes, so a crash
//! between shard writes leaves each key either as before or as after (never
//! lost); a new shard count writes a new generation and switches the header
//! to it only once every shard of it is written.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::ObjectKey;

/// ConfigMap data key holding an inventory (or a shard) as JSON.
pub const DATA_KEY: &str = "inventory.json";
/// ConfigMap binaryData key holding it gzip-compressed.
pub const COMPRESSED_KEY: &str = "inventory.json.gz";
/// JSON larger than this is stored compressed.
pub const COMPRESS_ABOVE: usize = 128 * 1024;
/// Entries per shard (about 200 KiB compressed with realistic hashes, far
/// below a ConfigMap's 1 MiB).
pub const ENTRIES_PER_SHARD: usize = 5_000;

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// Identity.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// The apiVersion it was applied with (pruning uses it).
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Hash of the desired manifest last applied (empty: about to be
    /// applied, not yet confirmed).
    pub hash: String,
    /// Fingerprint of plumb's managed fields after that apply (0: unknown),
    /// so a restarted agent notices drift that happened while it was down.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fields: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The app's settings a removal honours once the app has left plumb.yaml.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppSettings {
    /// The app was in report mode (its removal deletes nothing).
    #[serde(default)]
    pub report: bool,
    /// The app had `prune: false`.
    #[serde(default)]
    pub no_prune: bool,
    /// The app had `pruneCRDs: true`.
    #[serde(default)]
    pub prune_crds: bool,
    /// The app had `pruneNonEmptyNamespaces: true`.
    #[serde(default)]
    pub prune_non_empty_namespaces: bool,
}

/// Everything plumb manages for one app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The app.
    pub app: String,
    /// The plumb instance that owns the app (absent in inventories written
    /// before instances were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Where the instance reads its config (repository URL without
    /// credentials, and path), for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The app's settings when last synced.
    #[serde(default)]
    pub settings: AppSettings,
    /// Commit last synced, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Render digest last synced, when known.
    #[serde(default, rename = "renderDigest", skip_serializing_if = "Option::is_none")]
    pub render_digest: Option<String>,
    /// Managed objects, sorted by key.
    pub entries: Vec<InventoryEntry>,
}

/// Where the entries of a sharded inventory are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLayout {
    /// Bumped whenever the shard count changes.
    pub generation: u32,
    /// Number of shards (a power of two).
    pub count: u32,
}

/// The header ConfigMap's document: the inventory without its entries
/// when they are sharded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    inventory: Inventory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shards: Option<ShardLayout>,
}

/// One shard's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// The app.
    pub app: String,
    /// The layout it belongs to.
    pub generation: u32,
    /// Its position.
    pub index: u32,
    /// Its entries, sorted by key.
    pub entries: Vec<InventoryEntry>,
}

/// An inventory encoded for storage: the header's contents, and each
/// shard's by name suffix (`<generation>-<index>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The header ConfigMap's contents.
    pub header: Encoded,
    /// The shard layout, when sharded.
    pub layout: Option<ShardLayout>,
    /// Each shard's name suffix and contents.
    pub shards: Vec<(String, Encoded)>,
}

impl Inventory {
    /// Sorts entries by key (and drops repeats) so the stored bytes are stable.
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.entries.dedup_by(|a, b| a.key == b.key);
    }

    /// The inventory for storage. `previous` is the layout in use: it is
    /// kept while the entries fit it, so shards keep their keys.
    pub fn store(&self, previous: Option<ShardLayout>) -> Stored {
        let wanted = shard_count(self.entries.len());
        let layout = match previous {
            Some(p) if p.count == wanted => Some(p),
            Some(p) if wanted > 1 => Some(ShardLayout { generation: p.generation + 1, count: wanted }),
            None if wanted > 1 => Some(ShardLayout { generation: 1, count: wanted }),
            _ => None,
        };
        let Some(layout) = layout else {
            let header = Header { inventory: self.clone(), shards: None };
            return Stored { header: encode(&header), layout: None, shards: Vec::new() };
        };
        let mut shards: Vec<Shard> = (0..layout.count)
            .map(|index| Shard { app: self.app.clone(), generation: layout.generation, index, entries: Vec::new() })
            .collect();
        for entry in &self.entries {
            let i = shard_of(&entry.key, layout.count) as usize;
            if let Some(shard) = shards.get_mut(i) {
                shard.entries.push(entry.clone());
            }
        }
        Stored {
            header: self.store_header(layout),
            layout: Some(layout),
            shards: shards.iter().map(|s| (format!("{}-{}", s.generation, s.index), encode(s))).collect(),
        }
    }

    /// The header of a sharded inventory stored in `layout`: everything but
    /// the entries (for a commit that changes no object, all that is new).
    pub fn store_header(&self, layout: ShardLayout) -> Encoded {
        encode(&Header { inventory: self.without_entries(), shards: Some(layout) })
    }

    /// A copy of everything but the entries.
    pub fn without_entries(&self) -> Inventory {
        Inventory {
            app: self.app.clone(),
            instance: self.instance.clone(),
            source: self.source.clone(),
            settings: self.settings,
            commit: self.commit.clone(),
            render_digest: self.render_digest.clone(),
            entries: Vec::new(),
        }
    }

    /// Reads the header ConfigMap's contents: the inventory (with its
    /// entries when it is not sharded) and the shard layout, if any.
    pub fn read_header(contents: &Encoded) -> Result<(Inventory, Option<ShardLayout>), String> {
        let header: Header = decode(contents)?;
        let mut inventory = header.inventory;
        canonical_keys(&mut inventory.entries);
        Ok((inventory, header.shards))
    }

    /// Adds the entries of the shards of `layout` found among `shards`.
    /// Every shard must be there: an inventory missing entries would let
    /// objects escape pruning.
    pub fn add_shards(&mut self, layout: ShardLayout, shards: &[Encoded]) -> Result<(), String> {
        let mut seen = vec![false; layout.count as usize];
        for contents in shards {
            let shard: Shard = decode(contents)?;
            if shard.generation != layout.generation || shard.app != self.app {
                continue;
            }
            match seen.get_mut(shard.index as usize) {
                Some(slot) => *slot = true,
                None => return Err(format!("shard {} is outside the layout of {} shards", shard.index, layout.count)),
            }
            self.entries.extend(shard.entries);
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(format!(
                "shard {missing} of generation {} ({} shards) is missing",
                layout.generation, layout.count
            ));
        }
        canonical_keys(&mut self.entries);
        self.sort();
        Ok(())
    }
}

fn canonical_keys(entries: &mut [InventoryEntry]) {
    for e in entries {
        e.key = std::mem::take(&mut e.key).canonical();
    }
}

/// Shards for `entries` entries: one, or a power of two.
pub fn shard_count(entries: usize) -> u32 {
    let needed = entries.div_ceil(ENTRIES_PER_SHARD).max(1);
    u32::try_from(needed.next_power_of_two()).unwrap_or(u32::MAX)
}

/// The shard `key` lives in (FNV-1a of its identity: stable across
/// versions and machines, unlike std's hasher).
pub fn shard_of(key: &ObjectKey, count: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [&key.group, &key.kind, key.namespace.as_deref().unwrap_or(""), &key.name] {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    u32::try_from(hash % u64::from(count.max(1))).unwrap_or(0)
}

/// Contents of one ConfigMap: `data` and `binaryData`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoded {
    /// Text entries.
    pub data: BTreeMap<String, String>,
    /// Binary entries.
    pub binary_data: BTreeMap<String, Vec<u8>>,
}

impl Encoded {
    /// True when the ConfigMap holds an inventory document at all.
    pub fn has_inventory(&self) -> bool {
        self.data.contains_key(DATA_KEY) || self.binary_data.contains_key(COMPRESSED_KEY)
    }
}

/// Plain JSON in `data`, or gzip-compressed in `binaryData` once it is large.
fn encode(document: &impl Serialize) -> Encoded {
    let json = serde_json::to_string(document).unwrap_or_default();
    if json.len() <= COMPRESS_ABOVE {
        return Encoded { data: BTreeMap::from([(DATA_KEY.to_string(), json)]), binary_data: BTreeMap::new() };
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = gz.write_all(json.as_bytes()).and_then(|()| gz.finish()).unwrap_or_default();
    Encoded { data: BTreeMap::new(), binary_data: BTreeMap::from([(COMPRESSED_KEY.to_string(), compressed)]) }
}

fn decode<T: serde::de::DeserializeOwned>(contents: &Encoded) -> Result<T, String> {
    let json = match (contents.data.get(DATA_KEY), contents.binary_data.get(COMPRESSED_KEY)) {
        (Some(json), _) => json.clone(),
        (None, Some(compressed)) => {
            let mut json = String::new();
            flate2::read::GzDecoder::new(compressed.as_slice())
                .take(64 * 1024 * 1024)
                .read_to_string(&mut json)
                .map_err(|e| format!("{COMPRESSED_KEY} is not valid gzip: {e}"))?;
            json
        }
        (None, None) => return Err(format!("neither {DATA_KEY} nor {COMPRESSED_KEY} is present")),
    };
    serde_json::from_str(&json).map_err(|e| format!("not a valid inventory: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<InventoryEntry> {
        (0..n)
            .map(|i| InventoryEntry {
                key: ObjectKey::new("", "ConfigMap", Some("bench"), &format!("config-{i:05}")),
                api_version: "v1".into(),
                hash: format!("sha256:{:064x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                fields: i as u64,
            })
            .collect()
    }

    fn inventory(n: usize) -> Inventory {
        let mut inv = Inventory {
            app: "big".into(),
            instance: Some("plumb".into()),
            commit: Some("c".into()),
            entries: entries(n),
            ..Inventory::default()
        };
        inv.sort();
        inv
    }

    fn read(stored: &Stored) -> Inventory {
        let (mut inv, layout) = Inventory::read_header(&stored.header).expect("header");
        if let Some(layout) = layout {
            let shards: Vec<Encoded> = stored.shards.iter().map(|(_, e)| e.clone()).collect();
            inv.add_shards(layout, &shards).expect("shards");
        }
        inv
    }

    #[test]
    fn small_inventories_are_one_plain_config_map() {
        let inv = inventory(3);
        let stored = inv.store(None);
        assert!(stored.layout.is_none() && stored.shards.is_empty());
        let json = &stored.header.data[DATA_KEY];
        assert!(
            json.contains(r#""kind":"ConfigMap","namespace":"bench","name":"config-00000","apiVersion":"v1""#),
            "{json}"
        );
        assert_eq!(read(&stored), inv);
        assert!(Inventory::read_header(&Encoded::default()).is_err());
    }

    #[test]
    fn large_inventories_are_sharded_compressed_and_stable() {
        let inv = inventory(50_000);
        let stored = inv.store(None);
        let layout = stored.layout.expect("sharded");
        assert_eq!((layout.generation, layout.count), (1, 16));
        for (name, shard) in &stored.shards {
            let size = shard.binary_data.get(COMPRESSED_KEY).map_or(0, Vec::len)
                + shard.data.get(DATA_KEY).map_or(0, String::len);
            assert!(size < 512 * 1024, "shard {name} is {size} bytes");
        }
        assert_eq!(read(&stored), inv);

        // One more object changes only its own shard.
        let mut more = inv.clone();
        more.entries.push(entries(50_001).pop().expect("one"));
        more.sort();
        let again = more.store(stored.layout);
        assert_eq!(again.layout, stored.layout, "same layout while the entries fit");
        let changed: Vec<&String> =
            again.shards.iter().zip(&stored.shards).filter(|(a, b)| a.1 != b.1).map(|(a, _)| &a.0).collect();
        assert_eq!(changed.len(), 1, "{changed:?}");

        // Growing past the layout starts a new generation.
        let grown = inventory(90_000).store(stored.layout).layout.expect("sharded");
        assert_eq!((grown.generation, grown.count), (2, 32));
    }

    #[test]
    fn a_missing_shard_is_an_error_not_a_smaller_inventory() {
        let stored = inventory(12_000).store(None);
        let (mut inv, layout) = Inventory::read_header(&stored.header).expect("header");
        let shards: Vec<Encoded> = stored.shards.iter().skip(1).map(|(_, e)| e.clone()).collect();
        let error = inv.add_shards(layout.expect("sharded"), &shards).expect_err("incomplete");
        assert!(error.contains("shard 0 of generation 1 (4 shards) is missing"), "{error}");
    }

    #[test]
    fn legacy_keys_become_canonical() {
        let legacy = r#"{"app":"web","entries":[{"group":"extensions","kind":"Ingress","namespace":"w","name":"site","apiVersion":"extensions/v1beta1","hash":"h"}]}"#;
        let contents = Encoded { data: BTreeMap::from([(DATA_KEY.into(), legacy.into())]), ..Encoded::default() };
        let (inv, layout) = Inventory::read_header(&contents).expect("legacy inventories read");
        assert!(layout.is_none() && inv.instance.is_none());
        assert_eq!(inv.entries[0].key.group, "networking.k8s.io");
    }
}
