//! Single-object API calls for any kind: finding its resource through
//! discovery, server-side apply (or its dry-run) with field manager
//! `plumb`, and reads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;
use tokio::sync::RwLock;

use super::ApplyError;
use super::catalog::Catalog;
use crate::plan::{DesiredObject, FIELD_MANAGER, ObjectKey};

/// An object as the server returned it, or the server's message.
pub type Applied = Result<Value, String>;

/// Object I/O against one cluster, with its discovery cached.
pub struct Objects {
    client: kube::Client,
    catalog: RwLock<Arc<Catalog>>,
    concurrency: usize,
}

impl Objects {
    /// Discovers the cluster's kinds; `concurrency` bounds requests in flight.
    pub async fn new(client: kube::Client, concurrency: usize) -> Result<Self, ApplyError> {
        let catalog = Catalog::discover(&client).await?;
        Ok(Self { client, catalog: RwLock::new(Arc::new(catalog)), concurrency: concurrency.max(1) })
    }

    /// The client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The discovery last loaded.
    pub async fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().await.clone()
    }

    /// Runs discovery again (after CRDs changed).
    pub async fn refresh_catalog(&self) -> Result<Arc<Catalog>, ApplyError> {
        let fresh = Arc::new(Catalog::discover(&self.client).await?);
        *self.catalog.write().await = fresh.clone();
        Ok(fresh)
    }

    /// The API of `key`'s kind at `api_version` (or the preferred version).
    pub fn api_for(&self, catalog: &Catalog, api_version: &str, key: &ObjectKey) -> Result<Api<DynamicObject>, String> {
        let (resource, namespaced) = catalog
            .resolve(api_version, &key.kind)
            .or_else(|| catalog.preferred(&key.group, &key.kind))
            .ok_or_else(|| format!("the cluster does not serve {api_version} {}", key.kind))?;
        Ok(match (&key.namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// Server-side applies `o` (forced), or dry-runs it.
    pub async fn apply(&self, catalog: &Catalog, o: &DesiredObject, dry_run: bool) -> Applied {
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        let api = self.api_for(catalog, &o.api_version, &o.key)?;
        let applied = api.patch(&o.key.name, &params, &Patch::Apply(&o.manifest)).await.map_err(api_message)?;
        serde_json::to_value(applied).map_err(|e| e.to_string())
    }

    /// Applies (or dry-runs) `indexes` of `desired`, `concurrency` at a time.
    pub async fn apply_many(
        &self,
        catalog: &Catalog,
        desired: &[DesiredObject],
        indexes: &[usize],
        dry_run: bool,
    ) -> Vec<(usize, Applied, Duration)> {
        stream::iter(indexes.iter().copied())
            .map(|i| async move {
                let started = Instant::now();
                (i, self.apply(catalog, &desired[i], dry_run).await, started.elapsed())
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await
    }

    /// Reads `o` as it is in the cluster (`None` when absent).
    pub async fn get(&self, catalog: &Catalog, o: &DesiredObject) -> Result<Option<Value>, String> {
        let api = self.api_for(catalog, &o.api_version, &o.key)?;
        match api.get_opt(&o.key.name).await.map_err(api_message)? {
            Some(object) => serde_json::to_value(object).map(Some).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }
}

/// The API server's message for a failed request (its Status message).
pub fn api_message(error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    }
}
