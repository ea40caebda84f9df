//! Two agents against one cluster with leader election: exactly one
//! writes; when it dies (mid audit write: the shared audit file ends in a
//! torn record), the other takes over within the lease duration, applies
//! the next commit, sets the torn record aside and continues the chain.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::{TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");
const LEASE: Duration = Duration::from_secs(3);

/// Non-dry-run write requests an agent reports on /metrics.
/// Successful writes an agent made. (Both agents may race to create the
/// Lease at start; the loser's create is refused with 409 and wrote nothing.)
fn writes(port: u16) -> f64 {
    let metrics = plumb_testenv::http::get(port, "/metrics").map(|r| r.body).unwrap_or_default();
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("plumb_api_requests_total{")
                && l.contains("code=\"2")
                && ["\"patch\"", "\"create\"", "\"update\"", "\"delete\""]
                    .iter()
                    .any(|v| l.contains(&format!("verb={v}")))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// `plumb run` as replica `name` with leader election.
fn replica_args(repo: &Path, namespace: &str, cache: &Path, port: u16, name: &str) -> Vec<String> {
    vec![
        "run".to_string(),
        format!("--repo={}", repo.display()),
        format!("--namespace={namespace}"),
        format!("--cache-dir={}", cache.display()),
        "--interval=1s".into(),
        format!("--listen=127.0.0.1:{port}"),
        "--leader-election".into(),
        format!("--lease-duration={}s", LEASE.as_secs()),
        format!("--pod-name={name}"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn one_leader_writes_and_a_standby_takes_over() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "ha").await?;
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: ha, namespace: {}, path: app}}\n", ns.name()))?;
    repo.write("app/first.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n")?;
    repo.commit("first")?;
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let audit = dir.path().join("audit").join("audit.jsonl");
    let mut agents = Vec::new();
    for name in ["alpha", "beta"] {
        let port = plumb_testenv::ports::free_port()?;
        let mut args = replica_args(repo.path(), ns.name(), &dir.path().join(format!("cache-{name}")), port, name);
        // Both replicas share one audit file (one volume): only the leader
        // writes, and a new leader continues the chain.
        args.push(format!("--audit-log={}", audit.display()));
        let process = ManagedProcess::spawn_with_env(
            name,
            Path::new(PLUMB),
            &args,
            &env,
            &dir.path().join(format!("{name}.log")),
        )?;
        agents.push((name, port, process));
    }
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let leases = Api::<Lease>::namespaced(cluster.client(), ns.name());
    let deadline = Instant::now() + Duration::from_secs(60);
    while cms.get_opt("first").await?.is_none() {
        for (_, _, p) in agents.iter_mut() {
            p.check_running()?;
        }
        assert!(Instant::now() < deadline, "nothing was applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let holder = leases.get("plumb-leader").await?.spec.and_then(|s| s.holder_identity).expect("a leader");
    let (leader, standby): (Vec<_>, Vec<_>) = agents.into_iter().partition(|(name, _, _)| *name == holder);
    let (mut leader, standby) =
        (leader.into_iter().next().expect("leader"), standby.into_iter().next().expect("standby"));
    assert!(writes(leader.1) > 0.0, "the leader wrote nothing");
    assert_eq!(writes(standby.1), 0.0, "the standby wrote");
    let ready = plumb_testenv::http::get(standby.1, "/readyz")?;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready (standby)"));

    // The leader dies without releasing its lease, in the middle of an
    // audit write: the file ends in half a record.
    leader.2.stop(Duration::ZERO);
    let killed = Instant::now();
    let before = std::fs::read_to_string(&audit)?;
    let last = before.lines().last().expect("the leader audited its sync").to_string();
    std::fs::write(&audit, format!("{before}{}", &last[..last.len() / 2]))?;
    repo.write("app/second.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\n")?;
    let second = repo.commit("second")?;
    while cms.get_opt("second").await?.is_none() {
        assert!(killed.elapsed() < LEASE * 4, "the standby did not take over within {:?}", LEASE * 4);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "standby {} applied the next commit {:?} after the leader was killed (lease {:?})",
        standby.0,
        killed.elapsed(),
        LEASE
    );
    let holder = leases.get("plumb-leader").await?.spec.and_then(|s| s.holder_identity);
    assert_eq!(holder.as_deref(), Some(standby.0));

    // The new leader set the torn record aside and continued the chain.
    while !std::fs::read_to_string(&audit)?.contains(&second) {
        assert!(killed.elapsed() < LEASE * 8, "the new leader did not audit {second}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let verify = std::process::Command::new(PLUMB).args(["audit", "verify"]).arg(&audit).output()?;
    let out = String::from_utf8_lossy(&verify.stdout).to_string() + &String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success() && out.contains("chain intact") && !out.contains("torn"), "{out}");
    let after = std::fs::read_to_string(&audit)?;
    assert!(after.starts_with(before.as_str()), "the intact records were kept as they were");
    assert!(after.contains("was cut short"), "no record says what was set aside:\n{after}");
    drop(standby);
    ns.delete().await?;
    Ok(())
}

/// A lease taken by another holder: the agent stops writing at once (it
/// is a standby now, and applies nothing of the next commit) and takes
/// over again only when the lease is free.
#[tokio::test(flavor = "multi_thread")]
async fn a_stolen_lease_stops_every_write_until_it_is_free_again() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "stolen").await?;
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: ha, namespace: {}, path: app}}\n", ns.name()))?;
    repo.write("app/first.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n")?;
    repo.commit("first")?;
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let port = plumb_testenv::ports::free_port()?;
    let args = replica_args(repo.path(), ns.name(), &dir.path().join("cache"), port, "alpha");
    let mut agent =
        ManagedProcess::spawn_with_env("alpha", Path::new(PLUMB), &args, &env, &dir.path().join("alpha.log"))?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let leases = Api::<Lease>::namespaced(cluster.client(), ns.name());
    let deadline = Instant::now() + Duration::from_secs(60);
    while cms.get_opt("first").await?.is_none() {
        agent.check_running()?;
        assert!(Instant::now() < deadline, "nothing was applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Another holder takes the lease for an hour.
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string();
    let stolen = serde_json::json!({"spec": {"holderIdentity": "thief", "leaseDurationSeconds": 3600,
        "acquireTime": now, "renewTime": now}});
    leases.patch("plumb-leader", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&stolen)).await?;
    let stolen_at = Instant::now();
    loop {
        let ready = plumb_testenv::http::get(port, "/readyz")?;
        if ready.body == "ready (standby)" {
            break;
        }
        assert!(stolen_at.elapsed() < LEASE * 2, "still leading {:?} after the lease was taken", stolen_at.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("standby {:?} after the lease was taken", stolen_at.elapsed());
    let before = writes(port);
    repo.write("app/second.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\n")?;
    repo.commit("second")?;
    tokio::time::sleep(LEASE * 2).await;
    agent.check_running()?;
    assert!(cms.get_opt("second").await?.is_none(), "a replica without the lease applied a commit");
    assert_eq!(writes(port), before, "a replica without the lease wrote");
    let holder = leases.get("plumb-leader").await?.spec.and_then(|s| s.holder_identity);
    assert_eq!(holder.as_deref(), Some("thief"), "the lease was taken back while held");

    // The lease is free again: the agent takes it and applies the commit.
    leases.delete("plumb-leader", &Default::default()).await?;
    let freed = Instant::now();
    while cms.get_opt("second").await?.is_none() {
        agent.check_running()?;
        assert!(freed.elapsed() < LEASE * 4, "the agent did not take the free lease back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(agent);
    ns.delete().await?;
    Ok(())
}
