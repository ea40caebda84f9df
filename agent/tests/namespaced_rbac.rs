//! `plumb run` with nothing but the rights of `deploy/rbac-namespaced.yaml`
//! (as its ServiceAccount, by impersonation) and `--watch-namespaces`:
//! it syncs its namespace, watches only there, corrects a hand edit, and
//! never gets a 403 for a cluster-wide list or watch.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::{TestCluster, TestNamespace};

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

#[tokio::test(flavor = "multi_thread")]
async fn namespaced_rbac_alone_syncs_watches_and_corrects() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let apps = TestNamespace::create(&client, "rbac-apps").await?;
    let system = TestNamespace::create(&client, "rbac-system").await?;
    let sa: ServiceAccount = serde_json::from_value(serde_json::json!({"metadata": {"name": "plumb"}}))?;
    Api::<ServiceAccount>::namespaced(client.clone(), system.name()).create(&PostParams::default(), &sa).await?;
    // The shipped RBAC, for these two namespaces.
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rbac-namespaced.yaml"))?;
    let rbac = shipped
        .replace("namespace: apps", &format!("namespace: {}", apps.name()))
        .replace("namespace: plumb-system", &format!("namespace: {}", system.name()));
    for document in rbac.split("\n---\n") {
        let object: DynamicObject = document_object(document)?;
        let (kind, name, ns) = (
            object.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default(),
            object.metadata.name.clone().unwrap_or_default(),
            object.metadata.namespace.clone().unwrap_or_default(),
        );
        let resource = match kind.as_str() {
            "Role" => kube::api::ApiResource::erase::<k8s_openapi::api::rbac::v1::Role>(&()),
            "RoleBinding" => kube::api::ApiResource::erase::<k8s_openapi::api::rbac::v1::RoleBinding>(&()),
            other => anyhow::bail!("unexpected {other} in rbac-namespaced.yaml"),
        };
        Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource)
            .patch(&name, &PatchParams::apply("plumb-test").force(), &Patch::Apply(&object))
            .await?;
    }
    // A kubeconfig that acts as the ServiceAccount.
    let admin = std::fs::read_to_string(cluster.kubeconfig_path())?;
    let user = format!("system:serviceaccount:{}:plumb", system.name());
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, admin.replace("  user:\n", &format!("  user:\n    as: {user}\n")))?;
    // The kubeconfig really is the ServiceAccount: a cluster-wide list is refused.
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let everywhere = Api::<ConfigMap>::all(kube::Client::try_from(config)?).list(&Default::default()).await;
    assert!(
        matches!(&everywhere, Err(kube::Error::Api(status)) if status.code == 403),
        "the impersonating kubeconfig is not restricted: {everywhere:?}"
    );

    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", format!("apps:\n  - {{name: web, namespace: {}, path: web}}\n", apps.name()))?;
    repo.write("web/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {k: from-git}\n")?;
    repo.commit("one namespaced app")?;
    let args: Vec<String> = vec![
        "run".into(),
        format!("--repo={}", repo.path().display()),
        format!("--namespace={}", system.name()),
        format!("--watch-namespaces={},{}", apps.name(), system.name()),
        format!("--cache-dir={}", dir.path().join("cache").display()),
        "--interval=1s".into(),
        format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port()?),
    ];
    let kubeconfig_env = kubeconfig.as_os_str().to_owned();
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig_env)];
    let log = dir.path().join("plumb.log");
    let mut agent = ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &log)?;
    let cms = Api::<ConfigMap>::namespaced(client.clone(), apps.name());
    let value = |cm: Option<ConfigMap>| cm.and_then(|c| c.data).and_then(|d| d.get("k").cloned());
    let deadline = Instant::now() + Duration::from_secs(60);
    while value(cms.get_opt("settings").await?).as_deref() != Some("from-git") {
        agent
            .check_running()
            .map_err(|e| anyhow::anyhow!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))?;
        assert!(Instant::now() < deadline, "not synced:\n{}", std::fs::read_to_string(&log)?);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A hand edit is corrected: the watch in the namespace works.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let params = PatchParams { field_manager: Some("hand".into()), ..Default::default() };
    cms.patch("settings", &params, &Patch::Merge(serde_json::json!({"data": {"k": "by hand"}}))).await?;
    let edited = Instant::now();
    while value(cms.get_opt("settings").await?).as_deref() != Some("from-git") {
        assert!(edited.elapsed() < Duration::from_secs(15), "not corrected:\n{}", std::fs::read_to_string(&log)?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("corrected {:?} after the hand edit, as {user}", edited.elapsed());
    let text = std::fs::read_to_string(&log)?;
    assert!(!text.contains("403") && !text.contains("forbidden"), "{text}");
    agent.stop(Duration::from_secs(10));
    Ok(())
}

/// One YAML document as a dynamic object (through plumb's own YAML reader).
fn document_object(document: &str) -> anyhow::Result<DynamicObject> {
    let mut objects = plumb::render::plain::parse_documents("rbac-namespaced.yaml", document)?;
    let object = objects.pop().ok_or_else(|| anyhow::anyhow!("an empty document"))?;
    Ok(serde_json::from_value(object.manifest)?)
}
