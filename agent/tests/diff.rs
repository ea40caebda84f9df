//! `plumb diff`: nothing and exit 0 when the cluster matches the repo; a
//! readable diff and exit 1 after a hand edit, with Secret values redacted.

use plumb_testenv::git::GitRepo;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

#[tokio::test(flavor = "multi_thread")]
async fn diff_is_empty_in_sync_and_readable_after_a_hand_edit() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "diff").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: diffed, namespace: {}, path: app}}\n", ns.name()))?;
    repo.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\ndata: {k: v}\n")?;
    repo.write(
        "app/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: planted-diff-secret}\n",
    )?;
    repo.write(
        "app/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web:1}]}\n",
    )?;
    repo.commit("initial")?;
    let kubeconfig = cluster.kubeconfig_path();
    let run = std::process::Command::new(PLUMB)
        .args(["run", "--once"])
        .arg(format!("--repo={}", repo.path().display()))
        .arg(format!("--namespace={}", ns.name()))
        .arg(format!("--cache-dir={}", dir.path().join("cache").display()))
        .arg(format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port()?))
        .env("KUBECONFIG", kubeconfig)
        .output()?;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let diff = || {
        let out = std::process::Command::new(PLUMB)
            .arg("diff")
            .arg(repo.path())
            .arg(format!("--namespace={}", ns.name()))
            .env("KUBECONFIG", kubeconfig)
            .output()
            .expect("plumb diff");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string())
    };
    assert_eq!(diff(), (Some(0), String::new()), "in sync: nothing to show");

    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!("--namespace={}", ns.name()))
            .args(args)
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    kubectl(&["scale", "deployment/web", "--replicas=3"]);
    kubectl(&["patch", "secret/creds", "--type=merge", "-p", r#"{"stringData":{"token":"changed-by-hand"}}"#]);
    repo.write("app/new.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new}\n")?;
    repo.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {k: v}\n")?;

    let (code, text) = diff();
    println!("{text}");
    assert_eq!(code, Some(1), "{text}");
    let n = ns.name();
    for expected in [
        "diffed:".to_string(),
        format!("+ ConfigMap/{n}/new (would be created)"),
        format!("- ConfigMap/{n}/old (would be pruned)"),
        format!("~ Deployment.apps/{n}/web"),
        "spec.replicas (kubectl (Update)): git 1 -> cluster 3".to_string(),
        format!("~ Secret/{n}/creds"),
        "data.token (kubectl-patch (Update)): git <redacted> -> cluster <redacted>".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("planted-diff-secret") && !text.contains("changed-by-hand"), "{text}");
    assert!(!text.contains(&format!("ConfigMap/{n}/kept")), "an unchanged object was listed:\n{text}");
    ns.delete().await?;
    Ok(())
}
