//! `plumb history`: the last sync and drift records of each app, from
//! the inventory ConfigMaps.

use clap::Args;

/// `plumb history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this app.
    #[arg(long)]
    pub app: Option<String>,
    /// plumb's namespace (where the inventories are).
    #[arg(long, env = "PLUMB_NAMESPACE", default_value = "plumb-system")]
    pub namespace: String,
}

/// Runs `plumb history`.
pub async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let config = kube::Config::infer().await.context("no Kubernetes config found (in-cluster or KUBECONFIG)")?;
    let cluster: crate::cluster::SharedCluster = std::sync::Arc::new(crate::cluster::KubeCluster::new(config)?);
    let history = crate::report::history::read(&cluster, &args.namespace, args.app.as_deref()).await?;
    if history.is_empty() {
        println!("no history in namespace {} (has plumb synced there?)", args.namespace);
    }
    for (app, records) in history {
        println!("{app}:");
        for r in records {
            let commit = r.commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("-");
            let changes: Vec<String> = r
                .actions
                .iter()
                .map(|a| {
                    if a.fields.is_empty() {
                        format!("{} {}", a.action, a.object)
                    } else {
                        format!("{} {} ({})", a.action, a.object, a.fields.join(", "))
                    }
                })
                .collect();
            let detail = match (&r.error, changes.is_empty()) {
                (Some(e), _) => e.clone(),
                (None, true) => "no changes".to_string(),
                (None, false) => changes.join("; "),
            };
            println!("  {}  {:<5} {:<12} {:<7} {}", r.time, r.event, commit, r.result, detail);
        }
    }
    Ok(())
}
