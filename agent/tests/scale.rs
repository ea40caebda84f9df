//! An app at the scale of a real cluster, with the `plumb` binary: 25,000
//! objects sync (their inventory is sharded: a single ConfigMap would
//! overflow), a commit removing 1,000 of them prunes exactly those, and an
//! agent killed in the middle of that prune converges after a restart,
//! deleting nothing else and re-creating nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::{TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");
const FILES: usize = 25;
const PER_FILE: usize = 1_000;

fn file(chunk: usize) -> String {
    (chunk * PER_FILE..(chunk + 1) * PER_FILE)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{v: \"{i}\"}}\n"))
        .collect()
}

fn start_agent(repo: &Path, namespace: &str, kubeconfig: &Path, dir: &Path, log: &str) -> (ManagedProcess, u16) {
    let port = plumb_testenv::ports::free_port().expect("port");
    let args = vec![
        "run".to_string(),
        format!("--repo={}", repo.display()),
        format!("--namespace={namespace}"),
        format!("--cache-dir={}", dir.join("cache").display()),
        "--interval=1s".into(),
        format!("--listen=127.0.0.1:{port}"),
        "--concurrency=32".into(),
        "--log=warn".into(),
    ];
    let env = [("KUBECONFIG", kubeconfig.as_os_str())];
    let process =
        ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.join(log)).expect("plumb run");
    (process, port)
}

fn synced(port: u16, commit: &str) -> bool {
    let status = plumb_testenv::http::get(port, "/api/v1/status").map(|r| r.body).unwrap_or_default();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
    status["apps"]["big"]["commit"] == commit && status["apps"]["big"]["state"] == "Synced"
}

async fn wait_synced(port: u16, commit: &str, agent: &mut ManagedProcess, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !synced(port, commit) {
        agent.check_running().expect("the agent runs");
        assert!(Instant::now() < deadline, "{commit} not synced within {timeout:?}:\n{}", agent.log_tail(20));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn uids(api: &Api<ConfigMap>) -> anyhow::Result<BTreeMap<String, String>> {
    let list = api.list_metadata(&ListParams::default().labels("plumb.dev/app=big")).await?;
    Ok(list.items.into_iter().map(|m| (m.name_any(), m.uid().unwrap_or_default())).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_five_thousand_objects_sync_and_a_prune_interrupted_by_a_kill_converges() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "scale").await?;
    let n = ns.name().to_string();
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("repo"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: big, namespace: {n}, path: app, healthTimeout: 20m}}\n"))?;
    for chunk in 0..FILES {
        repo.write(&format!("app/cms-{chunk:02}.yaml"), file(chunk))?;
    }
    let first = repo.commit("25,000 ConfigMaps")?;
    let (mut agent, port) = start_agent(repo.path(), &n, cluster.kubeconfig_path(), dir.path(), "first.log");
    let started = Instant::now();
    wait_synced(port, &first, &mut agent, Duration::from_secs(900)).await;
    println!("25,000 objects synced in {:.1} s", started.elapsed().as_secs_f64());
    let api = Api::<ConfigMap>::namespaced(client.clone(), &n);
    let before = uids(&api).await?;
    assert_eq!(before.len(), FILES * PER_FILE);
    let shards = Api::<ConfigMap>::namespaced(client.clone(), &n)
        .list_metadata(&ListParams::default().labels("plumb.dev/inventory-shard=big"))
        .await?;
    assert!(shards.items.len() >= 4, "the inventory of 25,000 objects is sharded ({} shards)", shards.items.len());

    // Remove 1,000 (one file); kill the agent while it prunes them.
    repo.remove("app/cms-07.yaml")?;
    let second = repo.commit("drop cm-7000..cm-7999")?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let now = uids(&api).await?.len();
        if now < FILES * PER_FILE && now > (FILES - 1) * PER_FILE {
            break;
        }
        assert!(now == FILES * PER_FILE, "the prune finished before the kill could land ({now} objects)");
        assert!(Instant::now() < deadline, "the prune never started:\n{}", agent.log_tail(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.stop(Duration::ZERO);
    let (mut restarted, port) = start_agent(repo.path(), &n, cluster.kubeconfig_path(), dir.path(), "restarted.log");
    wait_synced(port, &second, &mut restarted, Duration::from_secs(600)).await;

    let after = uids(&api).await?;
    let expected: BTreeMap<String, String> = before
        .into_iter()
        .filter(|(name, _)| {
            let i: usize = name.trim_start_matches("cm-").parse().unwrap_or(usize::MAX);
            !(7_000..8_000).contains(&i)
        })
        .collect();
    assert_eq!(after.len(), expected.len(), "exactly the 1,000 removed objects were pruned");
    assert!(after == expected, "the survivors kept their uids (nothing deleted or re-created)");
    restarted.stop(Duration::from_secs(10));
    ns.delete().await?;
    Ok(())
}
