//! The `plumb run` process against the real control plane: killed with
//! SIGKILL in the middle of a sync, then restarted, it converges and prunes
//! what it applied before dying (the inventory is written before the first
//! write of a sync); a managed namespace deleted by hand comes back at the
//! periodic re-check; an API server restart mid-sync is ridden out.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

fn app_files(outcome: &str, with_early: bool) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "app/stays.yaml".to_string(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stays}\ndata: {k: v}\n".to_string(),
        ),
        (
            "app/slow.yaml".to_string(),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: slow}}\nspec:\n  replicas: 1\n  progressDeadlineSeconds: 600\n  selector: {{matchLabels: {{app: slow}}}}\n  template:\n    metadata:\n      labels: {{app: slow}}\n      annotations: {{testenv.plumb.dev/outcome: {outcome}}}\n    spec: {{containers: [{{name: c, image: slow:1}}]}}\n"
            ),
        ),
    ];
    if with_early {
        files.push((
            "app/early.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: early}\ndata: {k: v}\n".into(),
        ));
    }
    files
}

/// Waits until the agent has applied the `slow` Deployment (and so waits on its rollout).
async fn wait_for_rollout_wave(
    cluster: &TestCluster,
    namespace: &str,
    agent: &mut ManagedProcess,
) -> anyhow::Result<()> {
    let deployments = Api::<Deployment>::namespaced(cluster.client(), namespace);
    let deadline = Instant::now() + Duration::from_secs(60);
    while deployments.get_opt("slow").await?.is_none() {
        agent.check_running()?;
        assert!(Instant::now() < deadline, "the agent never reached the Deployment wave:\n{}", agent.log_tail(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn run_args(repo: &Path, namespace: &str, cache: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        format!("--repo={}", repo.display()),
        format!("--namespace={namespace}"),
        format!("--cache-dir={}", cache.display()),
        "--interval=1s".into(),
        "--health-timeout=60s".into(),
        format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port().expect("a free port")),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_mid_sync_converges_after_restart() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "killed").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: killed, namespace: {}, path: app}}\n", ns.name()))?;
    for (path, contents) in app_files("never-ready", true) {
        repo.write(&path, contents)?;
    }
    repo.commit("first: a rollout that never finishes")?;

    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let cache = dir.path().join("cache");
    let mut agent = ManagedProcess::spawn_with_env(
        "plumb run",
        Path::new(PLUMB),
        &run_args(repo.path(), ns.name(), &cache, &[]),
        &env,
        &dir.path().join("plumb-1.log"),
    )?;
    // Wait until the early waves are applied and the agent waits on the rollout.
    wait_for_rollout_wave(&cluster, ns.name(), &mut agent).await?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("early").await?.is_some());
    // SIGKILL: no cleanup of any kind.
    agent.stop(Duration::ZERO);

    // The next commit drops `early` and lets the rollout finish.
    repo.remove("app/early.yaml")?;
    for (path, contents) in app_files("ready", false) {
        repo.write(&path, contents)?;
    }
    let second = repo.commit("second: drop early, rollout can finish")?;

    let output = tokio::process::Command::new(PLUMB)
        .args(run_args(repo.path(), ns.name(), &cache, &["--once"]))
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .await?;
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "plumb run --once failed:\n{log}");
    assert!(cms.get_opt("early").await?.is_none(), "early was not pruned after the restart:\n{log}");
    assert!(cms.get_opt("stays").await?.is_some());
    let inventory = cms.get("plumb-inventory-killed").await?;
    let stored = inventory.data.and_then(|d| d.get("inventory.json").cloned()).unwrap_or_default();
    assert!(stored.contains(&format!("\"commit\":\"{second}\"")), "{stored}");
    ns.delete().await?;
    Ok(())
}

#[test]
fn run_once_fails_with_a_clear_error_on_a_bad_repo() {
    let output = std::process::Command::new(PLUMB)
        .args(["run", "--repo=ftp://example.com/repo", "--once"])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .expect("run plumb");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("source \"ftp://example.com/repo\": unsupported scheme \"ftp\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_commit_is_applied_within_two_seconds() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "notify").await?;
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: notify, namespace: {}, path: app}}\n", ns.name()))?;
    repo.write("app/first.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n")?;
    repo.commit("first")?;
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    // An hour between polls: only the watch can bring the next commit in.
    let mut args = run_args(repo.path(), ns.name(), &dir.path().join("cache"), &[]);
    args.retain(|a| !a.starts_with("--interval"));
    args.push("--interval=1h".into());
    let mut agent =
        ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.path().join("plumb.log"))?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let deadline = Instant::now() + Duration::from_secs(60);
    while cms.get_opt("first").await?.is_none() {
        agent.check_running()?;
        assert!(Instant::now() < deadline, "the first commit was never applied:\n{}", agent.log_tail(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    repo.write("app/second.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\n")?;
    repo.commit("second")?;
    let committed = Instant::now();
    while cms.get_opt("second").await?.is_none() {
        assert!(
            committed.elapsed() < Duration::from_secs(2),
            "the local commit was not applied within 2 s:\n{}",
            agent.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("local commit applied {:?} after it was made", committed.elapsed());
    agent.stop(Duration::from_secs(5));
    ns.delete().await?;
    Ok(())
}

/// SIGTERM while a wave waits on a rollout: the agent stops at the wave
/// boundary within seconds (long before the health timeout), later waves
/// are not applied, the inventory holds what was applied, and the audit
/// file's chain verifies with the interrupted sync as its last record.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_sync_stops_at_a_wave_boundary_with_a_consistent_inventory_and_audit() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "sigterm").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: stopped, namespace: {}, path: app}}\n", ns.name()))?;
    for (path, contents) in app_files("never-ready", true) {
        repo.write(&path, contents)?;
    }
    repo.write(
        "app/after.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n  annotations: {plumb.dev/depends-on: Deployment.apps/slow}\n",
    )?;
    repo.commit("a rollout that never finishes, and a wave after it")?;

    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let audit = dir.path().join("audit.jsonl");
    let audit_arg = format!("--audit-log={}", audit.display());
    let mut args = run_args(repo.path(), ns.name(), &dir.path().join("cache"), &[&audit_arg]);
    // Far longer than the test waits: only the shutdown can end the wave.
    args.retain(|a| !a.starts_with("--health-timeout"));
    args.push("--health-timeout=10m".into());
    let mut agent =
        ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.path().join("plumb.log"))?;
    wait_for_rollout_wave(&cluster, ns.name(), &mut agent).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let signalled = Instant::now();
    agent.stop(Duration::from_secs(15));
    let status = agent.exited().expect("the agent exited");
    assert!(status.code().is_some(), "the agent was killed, not stopped: {status:?}\n{}", agent.log_tail(30));
    assert!(signalled.elapsed() < Duration::from_secs(10), "stopping took {:?}", signalled.elapsed());
    let log = agent.log_tail(40);
    assert!(log.contains("shutting down"), "{log}");

    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("after").await?.is_none(), "a wave after the interrupted one was applied");
    let inventory = cms.get("plumb-inventory-stopped").await?;
    let stored = inventory.data.and_then(|d| d.get("inventory.json").cloned()).unwrap_or_default();
    for name in ["\"slow\"", "\"early\"", "\"stays\""] {
        assert!(stored.contains(name), "{name} missing from the inventory: {stored}");
    }
    let verify = std::process::Command::new(PLUMB).args(["audit", "verify"]).arg(&audit).output()?;
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let records = std::fs::read_to_string(&audit)?;
    let last = records.lines().last().unwrap_or_default();
    assert!(last.contains("shutting down"), "the last audit record is not the interrupted sync: {last}");
    ns.delete().await?;
    Ok(())
}

/// The periodic re-check: a managed namespace deleted by hand comes back
/// with everything in it, without a new commit.
#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_deleted_by_hand_comes_back_with_its_objects_without_a_commit() -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let cluster = TestCluster::get().await?;
    let state = TestNamespace::create(&cluster.client(), "recheck").await?;
    let tenant = format!("{}-t", state.name());
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: tenant, namespace: {tenant}, path: app}}\n"))?;
    repo.write("app/ns.yaml", format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {tenant}}}\n"))?;
    repo.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inside}\ndata: {k: v}\n")?;
    repo.commit("a namespace and a ConfigMap in it")?;

    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let args = run_args(repo.path(), state.name(), &dir.path().join("cache"), &["--reconcile-interval=2s"]);
    let mut agent =
        ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.path().join("plumb.log"))?;
    let namespaces = Api::<Namespace>::all(cluster.client());
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), &tenant);
    let wait = |what: &'static str| {
        let deadline = Instant::now() + Duration::from_secs(90);
        move || {
            assert!(Instant::now() < deadline, "{what}");
        }
    };
    let check = wait("the first sync did not apply the ConfigMap");
    while cms.get_opt("inside").await?.is_none() {
        agent.check_running()?;
        check();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let original = cms.get("inside").await?.metadata.uid;

    let old_namespace = namespaces.get(&tenant).await?.metadata.uid;
    namespaces.delete(&tenant, &Default::default()).await?;
    let check = wait("the namespace was not deleted");
    // Gone once it is absent, or back under a new uid.
    while namespaces.get_opt(&tenant).await?.is_some_and(|ns| ns.metadata.uid == old_namespace) {
        check();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deleted = Instant::now();
    let check = wait("plumb did not bring the namespace and its ConfigMap back");
    loop {
        agent.check_running()?;
        if let Some(cm) = cms.get_opt("inside").await?
            && cm.metadata.uid != original
        {
            break;
        }
        check();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("namespace and ConfigMap back {:?} after the namespace was gone", deleted.elapsed());
    agent.stop(Duration::from_secs(10));
    namespaces.delete(&tenant, &Default::default()).await?;
    Ok(())
}

/// The API server restarts in the middle of a first sync of 1,500
/// objects: the agent does not exit, retries, and converges.
#[tokio::test(flavor = "multi_thread")]
async fn an_api_server_restart_mid_sync_converges_without_the_agent_exiting() -> anyhow::Result<()> {
    let mut cluster = TestCluster::private().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "apirestart").await?;
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: bulk, namespace: {}, path: app}}\n", ns.name()))?;
    for chunk in 0..3 {
        let docs: String = (chunk * 500..(chunk + 1) * 500)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{k: v}}\n"))
            .collect();
        repo.write(&format!("app/cms-{chunk}.yaml"), docs)?;
    }
    repo.commit("1,500 objects")?;
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let args = run_args(repo.path(), ns.name(), &dir.path().join("cache"), &[]);
    let mut agent =
        ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.path().join("plumb.log"))?;
    let cms = Api::<ConfigMap>::namespaced(client.clone(), ns.name());
    let applied = || async {
        let selector = kube::api::ListParams::default().labels("plumb.dev/app=bulk");
        cms.list_metadata(&selector).await.map(|l| l.items.len()).unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while applied().await < 100 {
        agent.check_running()?;
        assert!(Instant::now() < deadline, "the sync did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at = applied().await;
    cluster.control_plane().expect("private").restart_apiserver().await?;
    println!("API server restarted with {at} of 1500 objects applied");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        agent.check_running()?;
        let log = std::fs::read_to_string(dir.path().join("plumb.log"))?;
        if applied().await == 1500 && log.contains("commit synced") {
            break;
        }
        assert!(Instant::now() < deadline, "no convergence after the restart");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = std::fs::read_to_string(dir.path().join("plumb.log"))?;
    assert!(!log.contains("panicked"), "{log}");
    agent.stop(Duration::from_secs(10));
    Ok(())
}

/// A sync blocked by an unavailable aggregated API shows within seconds in
/// `/api/v1/status` (the app failed, naming the APIService; the other app
/// synced) and in the metrics, never a stale Synced. On a private control
/// plane: a broken APIService slows every other test's discovery.
#[tokio::test(flavor = "multi_thread")]
async fn a_sync_blocked_by_an_unavailable_api_shows_in_status_and_metrics_within_seconds() -> anyhow::Result<()> {
    let cluster = TestCluster::private().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "blocked").await?;
    let n = ns.name().to_string();
    let group = "usage.blocked.example.com";
    let apiservice = plumb_testenv::faults::unavailable_apiservice(&client, group, &n).await?;
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write(
        "plumb.yaml",
        format!("apps:\n  - {{name: plain, namespace: {n}, path: plain}}\n  - {{name: needs, namespace: {n}, path: needs}}\n"),
    )?;
    repo.write("plain/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n")?;
    repo.write("needs/usage.yaml", format!("apiVersion: {group}/v1beta1\nkind: Usage\nmetadata: {{name: u}}\n"))?;
    let commit = repo.commit("an app on an API that is down")?;
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
    let started = Instant::now();
    let mut agent =
        ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.path().join("plumb.log"))?;
    let status = loop {
        agent.check_running()?;
        let body = plumb_testenv::http::get(port, "/api/v1/status").map(|r| r.body).unwrap_or_default();
        let status: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let needs = &status["apps"]["needs"];
        if needs["commit"].as_str() == Some(commit.as_str()) && needs["state"].as_str() != Some("Synced") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no status for {commit} after 30 s: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("status {:?} after start: {}", started.elapsed(), status["apps"]["needs"]);
    let message = status["apps"]["needs"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("APIService {apiservice}")), "{status}");
    assert_eq!(status["apps"]["plain"]["state"].as_str(), Some("Synced"), "{status}");
    let metrics = plumb_testenv::http::get(port, "/metrics")?.body;
    assert!(
        metrics.lines().any(|l| l.starts_with("plumb_sync_total{")
            && l.contains("app=\"needs\"")
            && l.contains("result=\"failure\"")),
        "no failed sync of needs in the metrics"
    );
    agent.stop(Duration::from_secs(10));
    Ok(())
}
