//! Apps removed from `plumb.yaml` leave nothing of plumb's behind: an
//! enforced app's objects and inventory go, a report-mode app's drift
//! series leave `/metrics` (its objects stay as they are), and the app
//! still in `plumb.yaml` is untouched.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::{TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

fn metrics(port: u16) -> String {
    plumb_testenv::http::get(port, "/metrics").map(|r| r.body).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_apps_drift_series_and_inventory_disappear() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "removed").await?;
    let n = ns.name().to_string();
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    let keep = format!("  - {{name: keep, namespace: {n}, path: keep}}\n");
    let others = format!(
        "  - {{name: gone, namespace: {n}, path: gone}}\n  - {{name: watched, namespace: {n}, path: watched, mode: report}}\n"
    );
    repo.write("plumb.yaml", format!("apps:\n{keep}{others}"))?;
    for name in ["kept-1", "kept-2", "kept-3"] {
        let object = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{k: v}}\n");
        repo.write(&format!("keep/{name}.yaml"), object)?;
    }
    repo.write("gone/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\ndata: {k: v}\n")?;
    repo.write("watched/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {k: v}\n")?;
    repo.commit("three apps, one in report mode")?;
    // The report-mode app's object exists (made by hand); plumb only watches it.
    let watched: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "watched"}, "data": {"k": "v"}}))?;
    Api::<ConfigMap>::namespaced(cluster.client(), &n).create(&Default::default(), &watched).await?;
    let port = plumb_testenv::ports::free_port()?;
    let args: Vec<String> = vec![
        "run".into(),
        format!("--repo={}", repo.path().display()),
        format!("--namespace={n}"),
        format!("--cache-dir={}", dir.path().join("cache").display()),
        "--interval=1s".into(),
        format!("--listen=127.0.0.1:{port}"),
    ];
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let log = dir.path().join("plumb.log");
    let mut agent = ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &log)?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), &n);
    let until = |what: &'static str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        move || assert!(Instant::now() < deadline, "{what}")
    };
    let started = Instant::now();
    while cms.get_opt("plumb-inventory-gone").await?.is_none() || cms.get_opt("gone").await?.is_none() {
        agent.check_running()?;
        let log = std::fs::read_to_string(&log)?;
        assert!(started.elapsed() < Duration::from_secs(60), "the first sync did not happen:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A hand edit of the report-mode app: reported, left as it is.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let params = PatchParams { field_manager: Some("hand".into()), ..Default::default() };
    cms.patch("watched", &params, &Patch::Merge(serde_json::json!({"data": {"k": "by hand"}}))).await?;
    let series = |m: &str| m.lines().any(|l| l.starts_with("plumb_drift_object{") && l.contains("app=\"watched\""));
    let check = until("the drift was not reported");
    while !series(&metrics(port)) {
        agent.check_running()?;
        check();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Both apps leave plumb.yaml.
    repo.write("plumb.yaml", format!("apps:\n{keep}"))?;
    repo.commit("gone and watched are no longer plumb's")?;
    let check = until("a removed app's drift series, inventory or object stayed");
    loop {
        agent.check_running()?;
        let gone = !series(&metrics(port))
            && cms.get_opt("plumb-inventory-gone").await?.is_none()
            && cms.get_opt("plumb-inventory-watched").await?.is_none()
            && cms.get_opt("gone").await?.is_none();
        if gone {
            break;
        }
        check();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(cms.get_opt("kept-1").await?.is_some(), "the remaining app's object went");
    let left = cms.get("watched").await?;
    assert_eq!(left.data.and_then(|d| d.get("k").cloned()).as_deref(), Some("by hand"), "report mode wrote");
    assert!(cms.get_opt("plumb-inventory-keep").await?.is_some(), "the remaining app's inventory went");
    agent.stop(Duration::from_secs(10));
    Ok(())
}
