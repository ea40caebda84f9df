//! An app removed from `plumb.yaml` leaves nothing of plumb's behind: its
//! drift series leave `/metrics`, its inventory ConfigMap goes, and the
//! app still in `plumb.yaml` is untouched.

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
    repo.write(
        "plumb.yaml",
        format!("apps:\n{keep}  - {{name: watched, namespace: {n}, path: watched, mode: report}}\n"),
    )?;
    repo.write("keep/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {k: v}\n")?;
    repo.write("watched/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {k: v}\n")?;
    repo.commit("two apps, one in report mode")?;
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
    let check = until("the first sync did not happen");
    while cms.get_opt("plumb-inventory-watched").await?.is_none() || cms.get_opt("watched").await?.is_none() {
        agent.check_running()?;
        check();
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

    // The app leaves plumb.yaml.
    repo.write("plumb.yaml", format!("apps:\n{keep}"))?;
    repo.commit("watched is no longer plumb's")?;
    let check = until("the removed app's drift series or inventory stayed");
    loop {
        agent.check_running()?;
        let gone = !series(&metrics(port)) && cms.get_opt("plumb-inventory-watched").await?.is_none();
        if gone {
            break;
        }
        check();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(cms.get_opt("kept").await?.is_some(), "the remaining app's object went");
    assert!(cms.get_opt("plumb-inventory-keep").await?.is_some(), "the remaining app's inventory went");
    agent.stop(Duration::from_secs(10));
    Ok(())
}
