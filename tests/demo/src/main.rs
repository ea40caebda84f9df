//! `plumb-demo`: plumb on a real local control plane, in one command.
//!
//! Builds etcd, kube-apiserver and kube-controller-manager from pinned Go
//! modules on first use (several minutes, with progress), starts them on
//! 127.0.0.1, runs the pod readiness helper in place of a kubelet, turns
//! `manifests/` into a local git repository, runs the agent (plumb's own
//! library, as `plumb run` does) against it, and prints what to try: the
//! dashboard first, then the status, metrics, drift being corrected, a commit, a revert and the audit
//! trail. Ctrl-C stops everything. It lives beside the tests, not in the
//! `plumb` binary, which ships no test harness.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use plumb::apply::SyncOptions;
use plumb::progress::Progress;
use plumb::runtime::agent::AgentConfig;
use plumb::runtime::service::{self, ServiceConfig};
use plumb::source::git::GitRef;
use plumb_testenv::git::GitRepo;
use plumb_testenv::{ControlPlane, PodReadiness, binaries};
use tokio::signal::unix::{SignalKind, signal};

/// Start a local control plane and run plumb against a git repository made from manifests/.
#[derive(Debug, Parser)]
#[command(name = "plumb-demo")]
struct Args {
    /// The sample config repo to sync.
    #[arg(long, default_value = "manifests")]
    manifests: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let filter = std::env::var("PLUMB_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).init();
    plumb::memory::limit_arenas();
    match run(args.manifests).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("plumb-demo: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// plumb's own namespace in the demo.
const NAMESPACE: &str = "plumb-system";

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs the demo until Ctrl-C or SIGTERM.
async fn run(manifests: PathBuf) -> anyhow::Result<()> {
    anyhow::ensure!(
        manifests.join("plumb.yaml").is_file(),
        "{} has no plumb.yaml; run the demo from the repository root or pass --manifests",
        manifests.display()
    );
    let mut build = Progress::start(&format!(
        "plumb demo: preparing the local control plane (Kubernetes {}, etcd {})",
        binaries::k8s_version(),
        binaries::ETCD_VERSION
    ));
    let build = tokio::task::spawn_blocking(move || {
        let result = binaries::ensure_built(|line| build.update(line));
        (build, result)
    })
    .await
    .context("the control plane build task failed")?;
    build.1?;
    build.0.finish("binaries ready");
    let plane = ControlPlane::start().await.context("starting the local control plane")?;
    let client = plane.client().await?;
    let readiness = PodReadiness::start(client.clone(), None);
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client);
    let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    namespaces.patch(NAMESPACE, &kube::api::PatchParams::apply("plumb"), &kube::api::Patch::Apply(&namespace)).await?;
    println!("plumb demo: control plane (Kubernetes {}) ready at {}", plane.version(), plane.server_url());

    let work = plane.dir().join("demo");
    let repo_dir = work.join("config");
    copy_dir(&manifests, &repo_dir).with_context(|| format!("copy {}", manifests.display()))?;
    let repo = GitRepo::init(&repo_dir)?;
    let initial = repo.commit("plumb demo: the sample config repo")?;
    let port = plumb_testenv::ports::free_port()?;
    let audit = work.join("audit.jsonl");
    let config = ServiceConfig {
        agent: AgentConfig {
            repo: repo_dir.display().to_string(),
            reference: GitRef::Branch("main".into()),
            path: String::new(),
            interval: Duration::from_secs(30),
            cache_dir: work.join("cache"),
            allow_insecure_http: false,
            credentials: Default::default(),
            verify: Default::default(),
            require_descendant: false,
            once: false,
        },
        sync: SyncOptions {
            inventory_namespace: NAMESPACE.into(),
            chart_cache: Some(work.join("cache").join("charts")),
            ..SyncOptions::default()
        },
        listen: ([127, 0, 0, 1], port).into(),
        ui_prefix: Some(String::new()),
        audit_log: Some(audit.clone()),
        audit_max_bytes: 64 << 20,
        webhook_secret: None,
        pod_name: "plumb-demo".into(),
        lease: None,
        watch_namespaces: None,
        reconcile_interval: Duration::from_secs(300),
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(plane.kubeconfig_path())?;
    let kube_config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let mut agent = tokio::spawn(service::run(config, kube_config, shutdown));

    let mut sync =
        Progress::start(&format!("plumb demo: syncing commit {} of {}", &initial[..12], manifests.display()));
    let started = Instant::now();
    loop {
        if plumb_testenv::http::get(port, "/readyz").is_ok_and(|r| r.status == 200) {
            break;
        }
        if let Ok(response) = plumb_testenv::http::get(port, "/api/v1/status") {
            let status: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
            let apps = status["apps"].as_object().map(|a| a.len()).unwrap_or(0);
            let objects: u64 =
                status["apps"].as_object().into_iter().flatten().filter_map(|(_, s)| s["objects"].as_u64()).sum();
            sync.update(&format!("{apps} apps, {objects} objects applied"));
        }
        if agent.is_finished() || started.elapsed() > Duration::from_secs(180) {
            anyhow::bail!("the agent did not become ready; its log above says why");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = plumb_testenv::http::get(port, "/api/v1/status")?.body;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
    sync.finish("first sync done");
    for (app, s) in status["apps"].as_object().into_iter().flatten() {
        println!(
            "  {app:<8} {:<8} {:<10} {} objects",
            s["mode"].as_str().unwrap_or(""),
            s["state"].as_str().unwrap_or(""),
            s["objects"]
        );
    }
    let kube = plane.kubeconfig_path().display().to_string();
    let repo_path = repo_dir.display();
    println!(
        "\nTry it:\n\
         \n  dashboard: http://127.0.0.1:{port}/   (open it in a browser: apps, drift and history, live)\
         \n\n  # in another terminal\
         \n  export KUBECONFIG={kube}\
         \n  curl -s http://127.0.0.1:{port}/api/v1/status        # apps, commits, drift\
         \n  curl -s http://127.0.0.1:{port}/metrics | grep drift  # Prometheus metrics\
         \n\n  # drift: plumb notices within a second and puts it back\
         \n  kubectl -n plumb-demo scale deployment/web --replicas=5; sleep 1\
         \n  kubectl -n plumb-demo get deployment web -o jsonpath='{{.spec.replicas}}'   # 2 again\
         \n  kubectl -n plumb-demo get events --field-selector involvedObject.name=web\
         \n\n  # a commit is applied within a second (the repo is watched), and rolled back with git revert\
         \n  cd {repo_path} && sed -i 's/hello from git/hello again/' apps/base/namespace.yaml && git commit -qam 'change the greeting'\
         \n  kubectl -n plumb-demo get configmap settings -o jsonpath='{{.data.greeting}}'\
         \n  cd {repo_path} && git revert --no-edit HEAD\
         \n\n  # the audit trail (plumb is target/release/plumb after `cargo build --release -p plumb`)\
         \n  plumb audit verify {audit}\
         \n  plumb history --namespace {NAMESPACE}\
         \n\nPress Ctrl-C to stop everything.",
        audit = audit.display()
    );
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
        result = &mut agent => {
            result.context("the agent task failed")??;
        }
    }
    println!("plumb demo: stopping");
    let _ = stop.send(true);
    // The agent stops between syncs; then the servers go.
    let _ = tokio::time::timeout(Duration::from_secs(30), agent).await;
    drop(readiness);
    plane.stop();
    Ok(())
}
