//! The chaos run: one `plumb run` agent syncs 1,500 objects in three apps
//! on a private control plane while a driver, from a fixed seed, commits
//! changes, kills the agent with SIGKILL and starts it again, restarts the
//! API server and edits live objects by hand. At the end every object
//! matches Git, objects plumb does not own are untouched, and the audit
//! chain verifies. The driver prints what it did (`PLUMB_CHAOS_SEED`,
//! `PLUMB_CHAOS_ROUNDS` replay or lengthen a run).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use plumb_testenv::faults::Rng;
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::{TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");
const APPS: usize = 3;
const PER_APP: usize = 500;

/// What Git holds: app -> object name -> value.
type Desired = BTreeMap<String, BTreeMap<String, String>>;

fn write_repo(repo: &GitRepo, ns: &str, desired: &Desired) -> anyhow::Result<String> {
    let mut config = String::from("apps:\n");
    for (app, objects) in desired {
        config.push_str(&format!("  - {{name: {app}, namespace: {ns}, path: {app}}}\n"));
        let docs: String = objects
            .iter()
            .map(|(name, value)| {
                format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: \"{value}\"}}\n")
            })
            .collect();
        repo.write(&format!("{app}/objects.yaml"), docs)?;
    }
    repo.write("plumb.yaml", config)?;
    Ok(repo.commit("chaos step")?)
}

fn start(repo: &Path, ns: &str, dir: &Path, kubeconfig: &OsStr, n: usize) -> anyhow::Result<ManagedProcess> {
    let args: Vec<String> = vec![
        "run".into(),
        format!("--repo={}", repo.display()),
        format!("--namespace={ns}"),
        format!("--cache-dir={}", dir.join("cache").display()),
        format!("--audit-log={}", dir.join("audit.jsonl").display()),
        "--interval=1s".into(),
        "--reconcile-interval=3s".into(),
        format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port()?),
    ];
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", kubeconfig)];
    Ok(ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.join(format!("plumb-{n}.log")))?)
}

/// Live managed objects: name -> value.
async fn live(cms: &Api<ConfigMap>) -> anyhow::Result<BTreeMap<String, String>> {
    let list = cms.list(&ListParams::default().labels("plumb.dev/app")).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|cm| {
            let value = cm.data.as_ref().and_then(|d| d.get("v")).cloned().unwrap_or_default();
            Some((cm.metadata.name?, value))
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_under_kills_api_restarts_and_hand_edits_converges_to_git() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("PLUMB_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0xc4a0_5eed);
    let rounds: usize = std::env::var("PLUMB_CHAOS_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    println!("chaos: seed {seed}, {rounds} round(s) (PLUMB_CHAOS_SEED / PLUMB_CHAOS_ROUNDS)");
    let mut rng = Rng::new(seed);
    // Each round: 3 commits, 3 kills, 2 API server restarts, 3 hand edits, in an order from the seed.
    let mut actions: Vec<usize> = (0..rounds).flat_map(|_| [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3]).collect();
    for i in (1..actions.len()).rev() {
        actions.swap(i, rng.below(i + 1));
    }
    let mut cluster = TestCluster::private().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "chaos").await?;
    let n = ns.name().to_string();
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &n);
    // Objects plumb does not own: they must come out untouched.
    let mut foreign = BTreeMap::new();
    for i in 0..5 {
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("hand-{i}")}, "data": {"v": "mine"}}))?;
        let created = cms.create(&PostParams::default(), &cm).await?;
        foreign.insert(format!("hand-{i}"), created.metadata.uid);
    }

    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    let mut desired: Desired = (0..APPS)
        .map(|a| (format!("app{a}"), (0..PER_APP).map(|i| (format!("a{a}-cm-{i}"), "0".to_string())).collect()))
        .collect();
    write_repo(&repo, &n, &desired)?;
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let mut starts = 0;
    let mut agent = start(repo.path(), &n, dir.path(), &kubeconfig, starts)?;
    let mut next_value = 1;
    let started = Instant::now();
    for (step, action) in actions.into_iter().enumerate() {
        // Let the agent work for a random moment first.
        tokio::time::sleep(Duration::from_millis(200 + rng.below(2_000) as u64)).await;
        let what = match action {
            0 => {
                // A commit: change, add and remove objects.
                let app = format!("app{}", rng.below(APPS));
                let objects = desired.entry(app.clone()).or_default();
                for _ in 0..20 {
                    let i = rng.below(PER_APP + 50);
                    let name = format!("{}-cm-{i}", app.replace("app", "a"));
                    match rng.below(3) {
                        0 => {
                            objects.remove(&name);
                        }
                        _ => {
                            objects.insert(name, next_value.to_string());
                        }
                    }
                }
                next_value += 1;
                let commit = write_repo(&repo, &n, &desired)?;
                format!("commit {} changing {app}", &commit[..12])
            }
            1 => {
                agent.stop(Duration::ZERO);
                starts += 1;
                agent = start(repo.path(), &n, dir.path(), &kubeconfig, starts)?;
                "SIGKILL the agent and start it again".to_string()
            }
            2 => {
                cluster.control_plane().expect("private").restart_apiserver().await?;
                "restart the API server".to_string()
            }
            _ => {
                // Hand edits of managed objects (they exist once the first sync is far enough).
                let names: Vec<String> = live(&cms).await.unwrap_or_default().into_keys().collect();
                let mut edited = Vec::new();
                for _ in 0..3.min(names.len()) {
                    let name = &names[rng.below(names.len())];
                    let patch = serde_json::json!({"data": {"v": "edited by hand"}});
                    let params = PatchParams { field_manager: Some("hand".into()), ..Default::default() };
                    if cms.patch(name, &params, &Patch::Merge(&patch)).await.is_ok() {
                        edited.push(name.clone());
                    }
                }
                format!("edit {edited:?} by hand")
            }
        };
        println!("chaos step {step} at {:.1}s: {what}", started.elapsed().as_secs_f64());
    }

    // Converge: every object as Git has it, nothing else managed.
    let expected: BTreeMap<String, String> = desired.values().flat_map(|o| o.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        agent.check_running()?;
        let now = live(&cms).await.unwrap_or_default();
        if now == expected {
            break;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = expected.iter().filter(|(k, v)| now.get(*k) != Some(v)).take(10).collect();
            let extra: Vec<_> = now.keys().filter(|k| !expected.contains_key(*k)).take(10).collect();
            let mut logs = String::new();
            for i in 0..=starts {
                let log = std::fs::read_to_string(dir.path().join(format!("plumb-{i}.log"))).unwrap_or_default();
                let lines = log.lines().filter(|l| {
                    extra.iter().chain(missing.iter().map(|(k, _)| k)).any(|k| l.contains(k.as_str()))
                        || l.contains("prune")
                        || l.contains("WARN")
                        || l.contains("ERROR")
                });
                logs.push_str(&format!("--- plumb-{i}.log\n{}\n", lines.take(40).collect::<Vec<_>>().join("\n")));
            }
            anyhow::bail!("no convergence (seed {seed}): wrong or missing {missing:?}, extra {extra:?}\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("chaos: converged {:.1}s after the start, {} objects", started.elapsed().as_secs_f64(), expected.len());
    for (name, uid) in &foreign {
        let cm = cms.get(name).await?;
        assert_eq!(&cm.metadata.uid, uid, "{name} was re-created");
        assert_eq!(cm.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("mine"), "{name} was changed");
    }
    agent.stop(Duration::from_secs(10));
    let verify =
        std::process::Command::new(PLUMB).args(["audit", "verify"]).arg(dir.path().join("audit.jsonl")).output()?;
    let out = String::from_utf8_lossy(&verify.stdout).to_string() + &String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{out}");
    println!("chaos: {}", out.trim());
    Ok(())
}
