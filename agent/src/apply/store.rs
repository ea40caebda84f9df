//! The inventory ConfigMap: `plumb-inventory-<app>` in plumb's namespace,
//! read at the start of a sync (so a restarted agent prunes correctly) and
//! written before the first write of a sync and after it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};

use super::ApplyError;
use crate::plan::{FIELD_MANAGER, Inventory};

/// Label naming the app of an inventory ConfigMap.
pub const INVENTORY_LABEL: &str = "plumb.dev/inventory";

/// Name of an app's inventory ConfigMap.
pub fn inventory_name(app: &str) -> String {
    format!("plumb-inventory-{app}")
}

/// Reads and writes inventories in one namespace. plumb (its leader) is
/// their only writer, so what it last read or wrote is kept in memory and
/// steady-state syncs do not read them again.
pub struct InventoryStore {
    api: Api<ConfigMap>,
    namespace: String,
    known: Mutex<HashMap<String, Inventory>>,
}

impl InventoryStore {
    /// A store in `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self { api: Api::namespaced(client, namespace), namespace: namespace.to_string(), known: Mutex::default() }
    }

    /// The app's inventory, or `None` before its first sync.
    pub async fn read(&self, app: &str) -> Result<Option<Inventory>, ApplyError> {
        if let Some(known) = self.known().get(app) {
            return Ok(Some(known.clone()));
        }
        let name = inventory_name(app);
        let found = self.api.get_opt(&name).await.map_err(|source| ApplyError::Kube {
            what: format!("read inventory ConfigMap {}/{name}", self.namespace),
            source,
        })?;
        let Some(cm) = found else { return Ok(None) };
        let has_inventory = cm.data.as_ref().is_some_and(|d| d.contains_key(crate::plan::inventory::DATA_KEY))
            || cm.binary_data.as_ref().is_some_and(|d| d.contains_key(crate::plan::inventory::COMPRESSED_KEY));
        if !has_inventory {
            // Only its history so far (the first sync failed before writing).
            return Ok(None);
        }
        let binary: BTreeMap<String, Vec<u8>> =
            cm.binary_data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
        let inventory = Inventory::decode(&cm.data.unwrap_or_default(), &binary)
            .map_err(|reason| ApplyError::CorruptInventory { namespace: self.namespace.clone(), name, reason })?;
        self.known().insert(app.to_string(), inventory.clone());
        Ok(Some(inventory))
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Inventory>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the app's inventory.
    pub async fn write(&self, inventory: &Inventory) -> Result<(), ApplyError> {
        let name = inventory_name(&inventory.app);
        let encoded = inventory.encode();
        let body = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([(INVENTORY_LABEL.to_string(), inventory.app.clone())])),
                ..ObjectMeta::default()
            },
            // Both keys are always sent so a switch between plain and
            // compressed removes the other one (server-side apply drops
            // fields plumb stops sending).
            data: Some(encoded.data),
            binary_data: Some(encoded.binary_data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
            ..ConfigMap::default()
        };
        let written = self.api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&body)).await;
        match written {
            Ok(_) => {
                self.known().insert(inventory.app.clone(), inventory.clone());
                Ok(())
            }
            Err(source) => {
                // Unknown state now: read it back next time.
                self.known().remove(&inventory.app);
                Err(ApplyError::Kube { what: format!("write inventory ConfigMap {}/{name}", self.namespace), source })
            }
        }
    }

    /// Deletes the app's inventory (after the app was removed and pruned).
    pub async fn delete(&self, app: &str) -> Result<(), ApplyError> {
        let name = inventory_name(app);
        self.known().remove(app);
        match self.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(source) => {
                Err(ApplyError::Kube { what: format!("delete inventory ConfigMap {}/{name}", self.namespace), source })
            }
        }
    }

    /// Apps that have an inventory here (synced before and not removed).
    pub async fn apps(&self) -> Result<Vec<String>, ApplyError> {
        let list = self.api.list_metadata(&ListParams::default().labels(INVENTORY_LABEL)).await.map_err(|source| {
            ApplyError::Kube { what: format!("list inventory ConfigMaps in {}", self.namespace), source }
        })?;
        let mut apps: Vec<String> =
            list.items.into_iter().filter_map(|cm| cm.metadata.labels?.get(INVENTORY_LABEL).cloned()).collect();
        apps.sort();
        Ok(apps)
    }
}
