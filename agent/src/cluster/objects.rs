//! Object I/O for the executors: finding each object's resource in the
//! catalog, server-side apply (or its dry-run) as field manager `plumb`,
//! reads and deletes with preconditions, each retried with backoff while
//! the error is retryable, and every message about a Secret scrubbed of
//! its values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use serde_json::Value;

use super::catalog::{Catalog, Discovery};
use super::types::{DeleteOptions, Deleted, Resource};
use super::{ClusterError, SharedCluster, Target};
use crate::plan::{DesiredObject, FIELD_MANAGER, ObjectKey};
use crate::redact;

/// Attempts of one request while its error is retryable.
const ATTEMPTS: u32 = 4;
/// First pause between attempts (doubling).
const FIRST_PAUSE: Duration = Duration::from_millis(250);

/// Why a request about one object failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The cluster does not serve the object's kind at that version.
    #[error("the cluster does not serve {api_version} {kind}{}", unavailable_text(.unavailable))]
    NotServed {
        /// The apiVersion asked for.
        api_version: String,
        /// The kind.
        kind: String,
        /// The group version of that group discovery could not list, and why
        /// (an aggregated API whose APIService is down).
        unavailable: Option<Box<(String, ClusterError)>>,
    },
    /// The API server refused or failed the request (after retries, if it
    /// was worth retrying).
    #[error("{0}")]
    Api(ClusterError),
}

fn unavailable_text(failure: &Option<Box<(String, ClusterError)>>) -> String {
    match failure.as_deref() {
        Some((gv, error)) => format!(
            " right now: its APIService {} is unavailable ({error}); check that API's service and pods",
            apiservice_name(gv)
        ),
        None => String::new(),
    }
}

/// The APIService serving `group/version` (`v1beta1.metrics.k8s.io`).
pub fn apiservice_name(group_version: &str) -> String {
    match group_version.split_once('/') {
        Some((group, version)) => format!("{version}.{group}"),
        None => group_version.to_string(),
    }
}

impl ObjectError {
    /// The API error, when there was one.
    pub fn api(&self) -> Option<&ClusterError> {
        match self {
            ObjectError::Api(e) => Some(e),
            ObjectError::NotServed { .. } => None,
        }
    }
}

/// An object as the server returned it, or why not.
pub type Applied = Result<Value, ObjectError>;

/// Object I/O against one cluster.
pub struct Objects {
    cluster: SharedCluster,
    discovery: Arc<Discovery>,
    concurrency: usize,
}

impl Objects {
    /// Object I/O through `discovery`'s cluster, `concurrency` requests in flight.
    pub fn new(discovery: Arc<Discovery>, concurrency: usize) -> Self {
        Self { cluster: discovery.cluster().clone(), discovery, concurrency: concurrency.max(1) }
    }

    /// The cluster.
    pub fn cluster(&self) -> &SharedCluster {
        &self.cluster
    }

    /// The discovery cache.
    pub fn discovery(&self) -> &Arc<Discovery> {
        &self.discovery
    }

    /// The catalog last loaded.
    pub async fn catalog(&self) -> Arc<Catalog> {
        self.discovery.catalog().await
    }

    /// Requests allowed in flight at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Where requests about `key` (applied as `api_version`) go.
    pub fn resource(catalog: &Catalog, api_version: &str, key: &ObjectKey) -> Result<Resource, ObjectError> {
        catalog.locate(api_version, &key.group, &key.kind).cloned().ok_or_else(|| ObjectError::NotServed {
            api_version: api_version.to_string(),
            kind: key.kind.clone(),
            unavailable: catalog.failure_of(&key.group).map(|(gv, e)| Box::new((gv.to_string(), e.clone()))),
        })
    }

    /// Server-side applies `o` (forced), or dry-runs it.
    pub async fn apply(&self, catalog: &Catalog, o: &DesiredObject, dry_run: bool) -> Applied {
        let resource = Self::resource(catalog, &o.api_version, &o.key)?;
        let target = Target::new(&resource, o.key.namespace.as_deref());
        retry(|| self.cluster.apply(target, &o.key.name, &o.manifest, FIELD_MANAGER, dry_run))
            .await
            .map_err(|e| ObjectError::Api(scrubbed(e, &o.manifest)))
    }

    /// Dry-runs `o` as if it lived in `namespace` (one that exists), to
    /// validate an object whose own namespace this sync creates.
    pub async fn dry_run_in(&self, catalog: &Catalog, o: &DesiredObject, namespace: &str) -> Applied {
        let resource = Self::resource(catalog, &o.api_version, &o.key)?;
        let mut manifest = o.manifest.clone();
        if let Some(meta) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        }
        let target = Target::new(&resource, Some(namespace));
        retry(|| self.cluster.apply(target, &o.key.name, &manifest, FIELD_MANAGER, true))
            .await
            .map_err(|e| ObjectError::Api(scrubbed(e, &o.manifest)))
    }

    /// Applies (or dry-runs) `indexes` of `desired`, concurrently.
    pub async fn apply_many(
        &self,
        catalog: &Catalog,
        desired: &[DesiredObject],
        indexes: &[usize],
        dry_run: bool,
    ) -> Vec<(usize, Applied, Duration)> {
        stream::iter(indexes.iter().copied().filter(|&i| i < desired.len()))
            .map(|i| async move {
                let started = Instant::now();
                (i, self.apply(catalog, &desired[i], dry_run).await, started.elapsed())
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await
    }

    /// Reads `key` (applied as `api_version`) as it is in the cluster
    /// (`None` when absent).
    pub async fn get(
        &self,
        catalog: &Catalog,
        api_version: &str,
        key: &ObjectKey,
    ) -> Result<Option<Value>, ObjectError> {
        let resource = Self::resource(catalog, api_version, key)?;
        let target = Target::new(&resource, key.namespace.as_deref());
        retry(|| self.cluster.get(target, &key.name)).await.map_err(ObjectError::Api)
    }

    /// Deletes `key` only if it still matches `options`' preconditions.
    pub async fn delete(
        &self,
        catalog: &Catalog,
        api_version: &str,
        key: &ObjectKey,
        options: &DeleteOptions,
    ) -> Result<Deleted, ObjectError> {
        let resource = Self::resource(catalog, api_version, key)?;
        let target = Target::new(&resource, key.namespace.as_deref());
        retry(|| self.cluster.delete(target, &key.name, options)).await.map_err(ObjectError::Api)
    }
}

fn scrubbed(mut error: ClusterError, manifest: &Value) -> ClusterError {
    error.message = redact::scrub(&error.message, manifest);
    error
}

/// Runs `request` until it succeeds, fails for good, or has been tried
/// [`ATTEMPTS`] times. Only retryable errors (no response, 429, 5xx) are
/// retried: every request plumb retries is idempotent (apply, get, delete
/// with preconditions).
pub async fn retry<T, F, Fut>(mut request: F) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClusterError>>,
{
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1;
    loop {
        match request().await {
            Err(e) if e.retryable() && attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}
