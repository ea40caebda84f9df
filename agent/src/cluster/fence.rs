//! A fenced cluster: writes go through only while this replica leads.
//! Leadership lost means the very next write of an in-flight sync, drift
//! correction or report fails (non-retryable), so a replica that lost its
//! lease can never write beside the new leader. Reads, watches and
//! dry-runs pass: a standby keeps its caches warm.

use futures::stream::BoxStream;
use serde_json::Value;
use tokio::sync::watch;

use super::types::{ApiDiscovery, DeleteOptions, Deleted, MetaList, WatchEvent};
use super::{Cluster, ClusterError, SharedCluster, Target};

/// The reason of a write refused by the fence.
pub const NOT_LEADER: &str = "NotLeader";

/// `inner`, writing only while `leading` is true.
pub struct Fenced {
    inner: SharedCluster,
    leading: watch::Receiver<bool>,
}

impl Fenced {
    /// Fences `inner` with `leading`.
    pub fn new(inner: SharedCluster, leading: watch::Receiver<bool>) -> Self {
        Self { inner, leading }
    }

    fn check(&self) -> Result<(), ClusterError> {
        if *self.leading.borrow() {
            Ok(())
        } else {
            Err(ClusterError {
                code: 0,
                reason: NOT_LEADER.into(),
                message: "this replica is not the leader (any more); only the leader writes".into(),
            })
        }
    }
}

#[async_trait::async_trait]
impl Cluster for Fenced {
    async fn discover(&self) -> Result<ApiDiscovery, ClusterError> {
        self.inner.discover().await
    }

    async fn get(&self, target: Target<'_>, name: &str) -> Result<Option<Value>, ClusterError> {
        self.inner.get(target, name).await
    }

    async fn list_metadata(&self, target: Target<'_>, label_selector: &str) -> Result<MetaList, ClusterError> {
        self.inner.list_metadata(target, label_selector).await
    }

    async fn watch_metadata(
        &self,
        target: Target<'_>,
        label_selector: &str,
        resource_version: &str,
    ) -> Result<BoxStream<'static, Result<WatchEvent, ClusterError>>, ClusterError> {
        self.inner.watch_metadata(target, label_selector, resource_version).await
    }

    async fn apply(
        &self,
        target: Target<'_>,
        name: &str,
        manifest: &Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        if !dry_run {
            self.check()?;
        }
        self.inner.apply(target, name, manifest, manager, dry_run).await
    }

    async fn create(&self, target: Target<'_>, object: &Value) -> Result<Value, ClusterError> {
        self.check()?;
        self.inner.create(target, object).await
    }

    async fn update(&self, target: Target<'_>, name: &str, object: &Value) -> Result<Value, ClusterError> {
        self.check()?;
        self.inner.update(target, name, object).await
    }

    async fn delete(&self, target: Target<'_>, name: &str, options: &DeleteOptions) -> Result<Deleted, ClusterError> {
        self.check()?;
        self.inner.delete(target, name, options).await
    }
}
