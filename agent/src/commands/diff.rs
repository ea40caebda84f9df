//! `plumb diff`: what a sync would change; exit 1 when there is a difference.

use super::{Outcome, user_cache_dir};

/// Runs `plumb diff`.
pub async fn diff(source: &std::path::Path, namespace: &str) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let tree: std::sync::Arc<dyn crate::source::Tree> = std::sync::Arc::new(crate::source::DirTree::new(source)?);
    let config = kube::Config::infer().await.context("no Kubernetes config found (in-cluster or KUBECONFIG)")?;
    let cluster: crate::cluster::SharedCluster = std::sync::Arc::new(crate::cluster::KubeCluster::new(config)?);
    let options = crate::apply::SyncOptions {
        inventory_namespace: namespace.to_string(),
        chart_cache: Some(user_cache_dir().join("charts")),
        ..Default::default()
    };
    let syncer = crate::apply::Syncer::new(cluster, options).await?;
    let text = crate::runtime::diff::diff(&syncer, tree).await.map_err(anyhow::Error::msg)?;
    print!("{text}");
    Ok(if text.is_empty() { Outcome::Success } else { Outcome::Difference })
}
