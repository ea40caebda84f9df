//! `plumb run --verify-commits ssh`: a signed commit is applied and its
//! signature recorded; an unsigned one is refused with SignatureRejected,
//! and the cluster stays at the last verified commit; with
//! `--require-descendant` a force-push back to an older signed commit is
//! refused too.

use std::path::Path;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use plumb_testenv::git::GitRepo;
use plumb_testenv::{TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_commits_are_refused_and_the_cluster_stays_put() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "signed").await?;
    let dir = tempfile::tempdir()?;
    let (key, public) = plumb_testenv::sshd::client_key(dir.path(), "release")?;
    let signers = dir.path().join("allowed_signers");
    std::fs::write(&signers, format!("release@plumb.invalid {public}"))?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    let cm =
        |value: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: guarded}}\ndata: {{v: {value}}}\n");
    repo.write("plumb.yaml", format!("apps:\n  - {{name: signed, namespace: {}, path: app}}\n", ns.name()))?;
    repo.write("app/cm.yaml", cm("one"))?;
    repo.git(&["add", "-A"])?;
    repo.git(&[
        "-c",
        "gpg.format=ssh",
        "-c",
        &format!("user.signingkey={}", key.display()),
        "commit",
        "-q",
        "-S",
        "-m",
        "signed",
    ])?;

    let audit = dir.path().join("audit.jsonl");
    let run = |tag: &str| {
        let mut command = tokio::process::Command::new(PLUMB);
        command
            .args(["run", "--once", "--verify-commits=ssh"])
            .arg(format!("--allowed-signers={}", signers.display()))
            .arg(format!("--repo={}", repo.path().display()))
            .arg(format!("--namespace={}", ns.name()))
            .arg(format!("--cache-dir={}", dir.path().join("cache").display()))
            .arg(format!("--audit-log={}", audit.display()))
            .arg(format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port().expect("port")))
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .env("POD_NAME", tag);
        command
    };
    let value = |cms: Option<ConfigMap>| cms.and_then(|c| c.data).and_then(|d| d.get("v").cloned());
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());

    let first = run("first").output().await?;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(value(cms.get_opt("guarded").await?).as_deref(), Some("one"));

    repo.write("app/cm.yaml", cm("two"))?;
    let unsigned = repo.commit("unsigned change")?;
    let second = run("second").output().await?;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("commit {unsigned} rejected: it is not signed")), "{stderr}");
    assert_eq!(value(cms.get_opt("guarded").await?).as_deref(), Some("one"), "an unsigned commit changed the cluster");

    let events = Api::<Event>::namespaced(cluster.client(), ns.name()).list(&Default::default()).await?.items;
    assert!(events.iter().any(|e| e.reason.as_deref() == Some("SignatureRejected")), "no SignatureRejected event");
    let log = std::fs::read_to_string(&audit)?;
    assert!(log.contains("\"signature\":\"verified ssh SHA256:") && log.contains("(release@plumb.invalid)"), "{log}");
    assert!(log.contains("\"signature\":\"rejected: commit") && log.contains("it is not signed"), "{log}");
    let verify = std::process::Command::new(PLUMB).args(["audit", "verify"]).arg(Path::new(&audit)).output()?;
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    ns.delete().await?;
    Ok(())
}

/// `--require-descendant`: a force-push back to an older commit, validly
/// signed, is refused after a restart too, and the cluster stays put.
#[tokio::test(flavor = "multi_thread")]
async fn a_force_push_back_to_an_older_signed_commit_is_refused() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "descend").await?;
    let dir = tempfile::tempdir()?;
    let (key, public) = plumb_testenv::sshd::client_key(dir.path(), "release")?;
    let signers = dir.path().join("allowed_signers");
    std::fs::write(&signers, format!("release@plumb.invalid {public}"))?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    let cm =
        |value: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: guarded}}\ndata: {{v: {value}}}\n");
    let signed_commit = |message: &str| -> anyhow::Result<String> {
        repo.git(&["add", "-A"])?;
        let signing_key = format!("user.signingkey={}", key.display());
        repo.git(&["-c", "gpg.format=ssh", "-c", &signing_key, "commit", "-q", "-S", "-m", message])?;
        Ok(repo.git(&["rev-parse", "HEAD"])?.trim().to_string())
    };
    repo.write("plumb.yaml", format!("apps:\n  - {{name: guarded, namespace: {}, path: app}}\n", ns.name()))?;
    repo.write("app/cm.yaml", cm("old"))?;
    let old = signed_commit("old")?;
    repo.write("app/cm.yaml", cm("new"))?;
    let new = signed_commit("new")?;
    let run = || {
        let mut command = std::process::Command::new(PLUMB);
        command
            .args(["run", "--once", "--verify-commits=ssh", "--require-descendant"])
            .arg(format!("--allowed-signers={}", signers.display()))
            .arg(format!("--repo={}", repo.path().display()))
            .arg(format!("--namespace={}", ns.name()))
            .arg(format!("--cache-dir={}", dir.path().join("cache").display()))
            .arg(format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port().expect("port")))
            .env("KUBECONFIG", cluster.kubeconfig_path());
        command.output()
    };
    let value = |cms: Option<ConfigMap>| cms.and_then(|c| c.data).and_then(|d| d.get("v").cloned());
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let first = run()?;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(value(cms.get_opt("guarded").await?).as_deref(), Some("new"));

    // main forced back to the old, validly signed commit.
    repo.git(&["reset", "-q", "--hard", &old])?;
    let second = run()?;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("commit {old} rejected: it does not descend from {new}")), "{stderr}");
    assert_eq!(value(cms.get_opt("guarded").await?).as_deref(), Some("new"), "the cluster went back");
    ns.delete().await?;
    Ok(())
}
