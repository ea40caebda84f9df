//! `plumb demo`: a real local control plane to try plumb on.
//!
//! Builds kube-apiserver and kube-controller-manager on first use (about ten
//! minutes, with progress), starts them with etcd on 127.0.0.1, runs the pod
//! readiness helper in place of a kubelet, prints how to reach the cluster,
//! and stops everything on Ctrl-C. The agent joins this as its stages land.

use anyhow::Context;
use plumb_testenv::{ControlPlane, PodReadiness, binaries};
use tokio::signal::unix::{SignalKind, signal};

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run() -> anyhow::Result<()> {
    println!("plumb demo: preparing the local control plane (Kubernetes {})", plumb_testenv::K8S_VERSION);
    tokio::task::spawn_blocking(|| binaries::ensure_built(|line| println!("  build: {line}")))
        .await
        .context("the control plane build task failed")??;
    let plane = ControlPlane::start().await.context("starting the local control plane")?;
    let client = plane.client().await?;
    let readiness = PodReadiness::start(client, None);
    println!("plumb demo: control plane ready at {}", plane.server_url());
    println!("  export KUBECONFIG={}", plane.kubeconfig_path().display());
    println!("  kubectl get namespaces");
    println!("plumb demo: press Ctrl-C to stop (every process is stopped and its data removed)");
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    println!("plumb demo: stopping");
    drop(readiness);
    plane.stop();
    Ok(())
}
