//! The inventory ConfigMaps in plumb's namespace: `plumb-inventory-<app>`
//! (the header, labelled with the app and the owning instance) and, for
//! large apps, its shards. Read at the start of a sync (so a restarted
//! agent prunes correctly), written before the first write of a sync and
//! after it. Shards are written before the header that points at them,
//! and only shards whose contents changed are written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use serde_json::{Value, json};

use super::ApplyError;
use crate::cluster::objects::retry;
use crate::cluster::{ClusterError, DeleteOptions, Resource, SharedCluster, Target};
use crate::plan::inventory::{Encoded, ShardLayout, Stored, shard_count};
use crate::plan::{FIELD_MANAGER, Inventory};

/// Label naming the app of an inventory header ConfigMap.
pub const INVENTORY_LABEL: &str = "plumb.dev/inventory";
/// Label naming the plumb instance that owns an inventory.
pub const INSTANCE_LABEL: &str = "plumb.dev/instance";
/// The instance that owns inventories written before instances were
/// recorded: the default instance name.
pub const LEGACY_INSTANCE: &str = "plumb";
/// Label naming the app of an inventory shard ConfigMap.
pub const SHARD_LABEL: &str = "plumb.dev/inventory-shard";

/// Name of an app's inventory (header) ConfigMap.
pub fn inventory_name(app: &str) -> String {
    format!("plumb-inventory-{app}")
}

fn shard_name(app: &str, suffix: &str) -> String {
    format!("plumb-inventory-{app}-{suffix}")
}

/// An app with an inventory, and the instance that owns it (`None` for
/// inventories written before instances were recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApp {
    /// The app.
    pub app: String,
    /// Its owner.
    pub instance: Option<String>,
}

/// What was last read or written of one app.
#[derive(Clone)]
struct Known {
    inventory: Inventory,
    layout: Option<ShardLayout>,
    shards: BTreeMap<String, Encoded>,
}

/// Reads and writes inventories in one namespace. The leader is their only
/// writer, so what it last read or wrote is kept in memory and steady-state
/// syncs do not read them again.
pub struct InventoryStore {
    cluster: SharedCluster,
    namespace: String,
    config_maps: Resource,
    known: Mutex<HashMap<String, Known>>,
}

impl InventoryStore {
    /// A store in `namespace`.
    pub fn new(cluster: SharedCluster, namespace: &str) -> Self {
        Self {
            cluster,
            namespace: namespace.to_string(),
            config_maps: Resource::config_maps(),
            known: Mutex::default(),
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn target(&self) -> Target<'_> {
        Target::new(&self.config_maps, Some(&self.namespace))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets what was read, so the next read asks the cluster (after a
    /// leadership change another replica may have written).
    pub fn forget_all(&self) {
        self.known().clear();
    }

    fn kube(&self, what: String) -> impl FnOnce(ClusterError) -> ApplyError {
        move |source| ApplyError::Kube { what, source }
    }

    fn corrupt(&self, name: &str, reason: String) -> ApplyError {
        ApplyError::CorruptInventory { namespace: self.namespace.clone(), name: name.to_string(), reason }
    }

    async fn read_contents(&self, name: &str) -> Result<Option<Encoded>, ApplyError> {
        let found = retry(|| self.cluster.get(self.target(), name))
            .await
            .map_err(self.kube(format!("read inventory ConfigMap {}/{name}", self.namespace)))?;
        Ok(found.map(|cm| contents_of(&cm)))
    }

    /// The app's inventory, or `None` before its first sync.
    pub async fn read(&self, app: &str) -> Result<Option<Inventory>, ApplyError> {
        if let Some(known) = self.known().get(app) {
            return Ok(Some(known.inventory.clone()));
        }
        let name = inventory_name(app);
        let Some(header) = self.read_contents(&name).await? else { return Ok(None) };
        if !header.has_inventory() {
            // Only its history so far (the first sync failed before writing).
            return Ok(None);
        }
        let (mut inventory, layout) = Inventory::read_header(&header).map_err(|r| self.corrupt(&name, r))?;
        let mut shards = BTreeMap::new();
        if let Some(layout) = layout {
            for index in 0..layout.count {
                let suffix = format!("{}-{index}", layout.generation);
                let shard_cm = shard_name(app, &suffix);
                let contents = self
                    .read_contents(&shard_cm)
                    .await?
                    .ok_or_else(|| self.corrupt(&name, format!("its shard {shard_cm} is missing")))?;
                shards.insert(suffix, contents);
            }
            let all: Vec<Encoded> = shards.values().cloned().collect();
            inventory.add_shards(layout, &all).map_err(|r| self.corrupt(&name, r))?;
        }
        self.known().insert(app.to_string(), Known { inventory: inventory.clone(), layout, shards });
        Ok(Some(inventory))
    }

    /// Writes the app's inventory: changed shards first, then the header,
    /// then shards of an older layout are deleted.
    pub async fn write(&self, inventory: &Inventory) -> Result<(), ApplyError> {
        let app = inventory.app.clone();
        // A sharded inventory whose entries are unchanged (a commit that
        // changes no object) needs only its header: no shard is encoded,
        // compared or copied.
        let same_shards = self.known().get(&app).and_then(|k| {
            let layout = k.layout.filter(|l| l.count == shard_count(inventory.entries.len()))?;
            (k.inventory.entries == inventory.entries).then_some(layout)
        });
        if let Some(layout) = same_shards {
            let result =
                self.apply(&inventory_name(&app), self.header_labels(inventory), &inventory.store_header(layout)).await;
            let mut known = self.known();
            match (&result, known.get_mut(&app)) {
                (Ok(()), Some(k)) => {
                    let entries = std::mem::take(&mut k.inventory.entries);
                    k.inventory = Inventory { entries, ..inventory.without_entries() };
                }
                _ => {
                    known.remove(&app);
                }
            }
            return result;
        }
        let previous = self.known().get(&app).cloned();
        let stored: Stored = inventory.store(previous.as_ref().and_then(|k| k.layout));
        let result = self.write_stored(inventory, &stored, previous.as_ref()).await;
        match &result {
            Ok(()) => {
                let shards = stored.shards.into_iter().collect();
                self.known().insert(app, Known { inventory: inventory.clone(), layout: stored.layout, shards });
            }
            // Unknown state now: read it back next time.
            Err(_) => {
                self.known().remove(&app);
            }
        }
        result
    }

    async fn write_stored(
        &self,
        inventory: &Inventory,
        stored: &Stored,
        previous: Option<&Known>,
    ) -> Result<(), ApplyError> {
        let app = &inventory.app;
        for (suffix, contents) in &stored.shards {
            if previous.is_some_and(|k| k.shards.get(suffix) == Some(contents)) {
                continue;
            }
            let name = shard_name(app, suffix);
            let labels = json!({SHARD_LABEL: app});
            self.apply(&name, labels, contents).await?;
        }
        self.apply(&inventory_name(app), self.header_labels(inventory), &stored.header).await?;
        let old_layout = previous.and_then(|k| k.layout).filter(|old| Some(*old) != stored.layout);
        if let Some(old) = old_layout {
            for index in 0..old.count {
                self.delete_config_map(&shard_name(app, &format!("{}-{index}", old.generation))).await?;
            }
        }
        Ok(())
    }

    fn header_labels(&self, inventory: &Inventory) -> Value {
        let mut labels = serde_json::Map::new();
        labels.insert(INVENTORY_LABEL.into(), Value::String(inventory.app.clone()));
        if let Some(instance) = &inventory.instance {
            labels.insert(INSTANCE_LABEL.into(), Value::String(instance.clone()));
        }
        Value::Object(labels)
    }

    async fn apply(&self, name: &str, labels: Value, contents: &Encoded) -> Result<(), ApplyError> {
        let base64 = base64::engine::general_purpose::STANDARD;
        let binary: BTreeMap<&String, String> =
            contents.binary_data.iter().map(|(k, v)| (k, base64.encode(v))).collect();
        // Both keys are always sent so a switch between plain and compressed
        // removes the other one (server-side apply drops fields plumb stops
        // sending).
        let body = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels},
            "data": contents.data, "binaryData": binary,
        });
        retry(|| self.cluster.apply(self.target(), name, &body, FIELD_MANAGER, false))
            .await
            .map(|_| ())
            .map_err(self.kube(format!("write inventory ConfigMap {}/{name}", self.namespace)))
    }

    async fn delete_config_map(&self, name: &str) -> Result<(), ApplyError> {
        let options = DeleteOptions::default();
        retry(|| self.cluster.delete(self.target(), name, &options))
            .await
            .map(|_| ())
            .map_err(self.kube(format!("delete inventory ConfigMap {}/{name}", self.namespace)))
    }

    /// Deletes the app's inventory (after the app was removed): its shards,
    /// then the header.
    pub async fn delete(&self, app: &str) -> Result<(), ApplyError> {
        self.known().remove(app);
        let selector = format!("{SHARD_LABEL}={app}");
        let shards = retry(|| self.cluster.list_metadata(self.target(), &selector))
            .await
            .map_err(self.kube(format!("list the inventory shards of {app} in {}", self.namespace)))?;
        for shard in shards.items {
            if let Some(name) = shard.name {
                self.delete_config_map(&name).await?;
            }
        }
        self.delete_config_map(&inventory_name(app)).await
    }

    /// Apps that have an inventory here, with their owners.
    pub async fn apps(&self) -> Result<Vec<StoredApp>, ApplyError> {
        let list = retry(|| self.cluster.list_metadata(self.target(), INVENTORY_LABEL))
            .await
            .map_err(self.kube(format!("list inventory ConfigMaps in {}", self.namespace)))?;
        let mut apps: Vec<StoredApp> = list
            .items
            .into_iter()
            .filter_map(|cm| {
                let labels = cm.labels?;
                Some(StoredApp {
                    app: labels.get(INVENTORY_LABEL)?.clone(),
                    instance: labels.get(INSTANCE_LABEL).cloned(),
                })
            })
            .collect();
        apps.sort_by(|a, b| a.app.cmp(&b.app));
        Ok(apps)
    }
}

/// A ConfigMap's `data` and `binaryData` (base64-decoded).
fn contents_of(config_map: &Value) -> Encoded {
    let data = config_map["data"]
        .as_object()
        .map(|d| d.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    let binary_data = config_map["binaryData"]
        .as_object()
        .map(|d| {
            d.iter()
                .filter_map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok()?;
                    Some((k.clone(), bytes))
                })
                .collect()
        })
        .unwrap_or_default();
    Encoded { data, binary_data }
}
