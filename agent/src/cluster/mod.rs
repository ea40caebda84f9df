//! The cluster seam: the one interface through which plumb's executors
//! (apply, live, report, runtime) reach the Kubernetes API.
//!
//! [`Cluster`] is deliberately narrow: discovery, get, metadata list and
//! watch, server-side apply (or its dry-run), create, update, and delete
//! with preconditions. Everything plumb decides is decided elsewhere, from
//! what these calls return; [`KubeCluster`] carries them out with kube, and
//! tests use an in-memory fake that records every request and injects
//! failures (the `plumb-fake-cluster` crate, a dev-dependency).
//!
//! - [`error`] — [`ClusterError`]: HTTP code, reason and message, and
//!   whether a retry can help.
//! - [`types`] — resources, metadata lists, watch events, discovery.
//! - [`kube_api`] — [`KubeCluster`], the implementation over kube.
//! - [`requests`] — counts of the requests made, for metrics and tests.
//! - [`catalog`] — what the cluster serves (discovery), refreshed on demand.
//! - [`objects`] — object I/O for the executors, with retries and redaction.
//! - [`fence`] — writes only while this replica leads.

pub mod catalog;
pub mod error;
pub mod fence;
pub mod kube_api;
pub mod objects;
pub mod requests;
pub mod types;

use std::sync::Arc;

use futures::stream::BoxStream;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

pub use error::ClusterError;
pub use kube_api::KubeCluster;
pub use types::{ApiDiscovery, DeleteOptions, Deleted, GroupVersionResources, MetaList, Resource, WatchEvent};

/// A shared handle to the cluster.
pub type SharedCluster = Arc<dyn Cluster>;

/// Where a request goes: a resource, and a namespace for namespaced ones.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The resource (kind at one version).
    pub resource: &'a Resource,
    /// The namespace; `None` for cluster-scoped resources and for
    /// lists/watches across all namespaces.
    pub namespace: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A target in `namespace` (ignored for cluster-scoped resources).
    pub fn new(resource: &'a Resource, namespace: Option<&'a str>) -> Self {
        Self { resource, namespace: if resource.namespaced { namespace } else { None } }
    }
}

/// The Kubernetes API, as plumb uses it. Every method is one request (a
/// watch is one long request); none retries on its own: callers decide
/// with [`ClusterError::retryable`].
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// The server's version and the resources of every group version it
    /// serves. Group versions that cannot be listed (an aggregated API that
    /// is down answers 503) are reported in [`ApiDiscovery::failed`]
    /// rather than failing discovery.
    async fn discover(&self) -> Result<ApiDiscovery, ClusterError>;

    /// One object, or `None` when it does not exist.
    async fn get(&self, target: Target<'_>, name: &str) -> Result<Option<Value>, ClusterError>;

    /// Metadata of the objects matching `label_selector` (empty: all).
    async fn list_metadata(&self, target: Target<'_>, label_selector: &str) -> Result<MetaList, ClusterError>;

    /// Metadata changes of matching objects after `resource_version`, with
    /// bookmarks. The stream ends when the server closes the watch; an
    /// expired version yields an error with code 410.
    async fn watch_metadata(
        &self,
        target: Target<'_>,
        label_selector: &str,
        resource_version: &str,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError>;

    /// Server-side apply of `manifest` as field manager `manager` (forced:
    /// plumb takes over conflicting fields), or its dry-run. Returns the
    /// object as the server holds (or would hold) it.
    async fn apply(
        &self,
        target: Target<'_>,
        name: &str,
        manifest: &Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Value, ClusterError>;

    /// Creates `object`; 409 when it exists.
    async fn create(&self, target: Target<'_>, object: &Value) -> Result<Value, ClusterError>;

    /// Replaces `object` (its `metadata.resourceVersion` is a precondition:
    /// 409 when the object changed since it was read).
    async fn update(&self, target: Target<'_>, name: &str, object: &Value) -> Result<Value, ClusterError>;

    /// Deletes an object, only if it still matches `options`'
    /// preconditions (409 otherwise).
    async fn delete(&self, target: Target<'_>, name: &str, options: &DeleteOptions) -> Result<Deleted, ClusterError>;
}

/// The metadata of `object` (as returned by get/apply), for callers that
/// need labels, uid or managed fields of a full object.
pub fn metadata_of(object: &Value) -> ObjectMeta {
    serde_json::from_value(object.get("metadata").cloned().unwrap_or(Value::Null)).unwrap_or_default()
}
