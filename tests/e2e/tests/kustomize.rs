//! Kustomize apps against the real control plane: a base and two overlays
//! sync; a generator's new input rolls the workload to the new hashed
//! ConfigMap and prunes the old one; `git revert` restores it exactly; a
//! broken overlay applies nothing and does not stop the other; a remote
//! base pinned in plumb.lock is fetched from a local git server, and an
//! unpinned one is refused with a message saying how to pin it.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, ResourceExt};
use plumb::report::commit::AppOutcome;
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::git::{GitRepo, init_bare};
use plumb_testenv::git_http::GitHttpServer;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};

const BASE: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deploy.yaml, svc.yaml]
configMapGenerator:
- name: web-config
  literals: [GREETING=hello]
";

const DEPLOY: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        envFrom: [{configMapRef: {name: web-config}}]
";

const SVC: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
";

fn overlay(namespace: &str, greeting: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {namespace}\nnamePrefix: {namespace}-\nresources: [../../base]\ncommonLabels: {{env: {namespace}}}\nconfigMapGenerator:\n- name: web-config\n  behavior: merge\n  literals: [GREETING={greeting}]\n{extra}"
    )
}

/// The ConfigMap the Deployment reads, and the app's ConfigMaps.
async fn state(cluster: &TestCluster, ns: &str, app: &str) -> anyhow::Result<(String, Vec<String>)> {
    let deploys = Api::<Deployment>::namespaced(cluster.client(), ns);
    let deploy = deploys.get(&format!("{ns}-web")).await?;
    let used = deploy
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().next())
        .and_then(|c| c.env_from)
        .and_then(|e| e.into_iter().next())
        .and_then(|e| e.config_map_ref)
        .map(|r| r.name)
        .unwrap_or_default();
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns);
    let mut names: Vec<String> = cms
        .list(&kube::api::ListParams::default().labels(&format!("plumb.dev/app={app}")))
        .await?
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    names.sort();
    Ok((used, names))
}

#[tokio::test(flavor = "multi_thread")]
async fn overlays_sync_roll_to_new_generated_config_and_revert_exactly() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let staging = TestNamespace::create(&cluster.client(), "kstaging").await?;
    let production = TestNamespace::create(&cluster.client(), "kprod").await?;
    let _r1 = PodReadiness::start(cluster.client(), Some(staging.name()));
    let _r2 = PodReadiness::start(cluster.client(), Some(production.name()));
    let agent = Agent::start(&cluster, staging.name()).await?;
    let repo = ConfigRepo::new()?;
    let (s, p) = (staging.name(), production.name());
    let plumb_yaml = format!(
        "apps:\n  - {{name: staging, namespace: {s}, path: overlays/staging}}\n  - {{name: production, namespace: {p}, path: overlays/production}}\n"
    );
    repo.commit(
        &[
            ("plumb.yaml", &plumb_yaml),
            ("base/kustomization.yaml", BASE),
            ("base/deploy.yaml", DEPLOY),
            ("base/svc.yaml", SVC),
            ("overlays/staging/kustomization.yaml", &overlay(s, "hello-staging", "")),
            ("overlays/production/kustomization.yaml", &overlay(p, "hello-production", "")),
        ],
        &[],
        "base and two overlays",
    )?;
    let first = repo.sync(&agent.syncer).await?;
    assert!(first.succeeded(), "{first:#?}");
    let (staging_used, staging_cms) = state(&cluster, s, "staging").await?;
    assert!(staging_used.starts_with(&format!("{s}-web-config-")), "hashed name: {staging_used}");
    assert_eq!(staging_cms, vec![staging_used.clone()], "the Deployment reads the generated ConfigMap");
    let production_before = state(&cluster, p, "production").await?;
    assert_eq!(production_before.1, vec![production_before.0.clone()]);

    // A new generator input: a new hash, the workload follows, the old ConfigMap is pruned.
    repo.commit(&[("overlays/staging/kustomization.yaml", &overlay(s, "hola-staging", ""))], &[], "new greeting")?;
    let changed = repo.sync(&agent.syncer).await?;
    assert!(changed.succeeded(), "{changed:#?}");
    let (rolled_used, rolled_cms) = state(&cluster, s, "staging").await?;
    assert_ne!(rolled_used, staging_used, "the hash changes with the data");
    assert_eq!(rolled_cms, vec![rolled_used.clone()], "the old generated ConfigMap is pruned");
    let cm = Api::<ConfigMap>::namespaced(cluster.client(), s).get(&rolled_used).await?;
    assert_eq!(cm.data.and_then(|d| d.get("GREETING").cloned()).as_deref(), Some("hola-staging"));
    assert_eq!(state(&cluster, p, "production").await?, production_before, "the other overlay is untouched");

    // git revert restores exactly.
    repo.repo.git(&["revert", "--no-edit", "HEAD"])?;
    let reverted = repo.sync(&agent.syncer).await?;
    assert!(reverted.succeeded(), "{reverted:#?}");
    assert_eq!(state(&cluster, s, "staging").await?, (staging_used.clone(), staging_cms.clone()));

    // A patch whose target is absent: staging applies nothing, production still syncs.
    let broken = "patches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: absent}\n    spec: {replicas: 2}\n";
    repo.commit(
        &[
            ("overlays/staging/kustomization.yaml", &overlay(s, "changed-but-broken", broken)),
            ("overlays/production/kustomization.yaml", &overlay(p, "hello-production-2", "")),
        ],
        &[],
        "broken staging",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    match report.app("staging") {
        Some(AppOutcome::RenderFailed { error, .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("overlays/staging/kustomization.yaml")
                    && message.contains("patches")
                    && message.contains("absent"),
                "the error names the file, field and target: {message}"
            );
        }
        other => panic!("staging must fail to render: {other:#?}"),
    }
    assert!(matches!(report.app("production"), Some(AppOutcome::Synced(r)) if r.result.is_ok()), "{report:#?}");
    assert_eq!(state(&cluster, s, "staging").await?, (staging_used, staging_cms), "nothing of staging applied");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_bases_are_fetched_only_when_pinned() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "kremote").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;

    // The platform repository, served over smart HTTP on loopback, tagged v1.
    let served = tempfile::tempdir()?;
    init_bare(&served.path().join("platform.git"))?;
    let work = GitRepo::init(&served.path().join("work"))?;
    work.write(
        "base/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n",
    )?;
    work.write(
        "base/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: platform}\ndata: {from: remote-v1}\n",
    )?;
    work.commit("platform v1")?;
    work.git(&["tag", "v1"])?;
    work.git(&["remote", "add", "origin", &served.path().join("platform.git").display().to_string()])?;
    work.git(&["push", "-q", "origin", "main", "v1"])?;
    let server = GitHttpServer::start(served.path(), None).await?;
    let base_url = format!("{}//base?ref=v1", server.url("platform.git"));

    let repo = ConfigRepo::new()?;
    let app = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {}\nresources: [\"{base_url}\"]\n",
        ns.name()
    );
    repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: remote, namespace: {}, path: apps/remote}}\n", ns.name())),
            ("apps/remote/kustomization.yaml", &app),
        ],
        &[],
        "an unpinned remote base",
    )?;
    let refused = repo.sync(&agent.syncer).await?;
    match refused.app("remote") {
        Some(AppOutcome::RenderFailed { error, .. }) => {
            let message = error.to_string();
            assert!(message.contains("not pinned") && message.contains("plumb lock"), "says how to pin: {message}");
        }
        other => panic!("an unpinned remote base must be refused: {other:#?}"),
    }
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("platform").await?.is_none(), "nothing applied");

    // `plumb lock` pins the tag to its commit; the base is then fetched.
    let cache = tempfile::tempdir()?;
    let tree: std::sync::Arc<dyn plumb::source::Tree> =
        std::sync::Arc::new(plumb::source::DirTree::new(repo.repo.path())?);
    let mut lock = plumb::render::lock::Lock::default();
    for spec in plumb::render::kustomize::remote_bases(&tree, "apps/remote") {
        lock.bases.push(plumb::render::kustomize::resolve_base(&spec, cache.path()).map_err(anyhow::Error::msg)?);
    }
    assert_eq!(lock.bases.len(), 1);
    assert_eq!(lock.bases[0].commit, work.git(&["rev-parse", "v1"])?.trim());
    repo.commit(&[("plumb.lock", &lock.to_text())], &[], "pin the remote base")?;
    let pinned = repo.sync(&agent.syncer).await?;
    assert!(pinned.succeeded(), "{pinned:#?}");
    let cm = cms.get("platform").await?;
    assert_eq!(cm.data.and_then(|d| d.get("from").cloned()).as_deref(), Some("remote-v1"));
    assert!(server.requests() > 0, "fetched from the git server");

    // The tag moving upstream changes nothing until the lock is updated.
    work.write(
        "base/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: platform}\ndata: {from: remote-v2}\n",
    )?;
    work.commit("platform v2")?;
    work.git(&["tag", "-f", "v1"])?;
    work.git(&["push", "-q", "-f", "origin", "main", "v1"])?;
    repo.commit(&[("apps/remote/note.txt", "unrelated change\n")], &[], "touch")?;
    let again = repo.sync(&agent.syncer).await?;
    assert!(again.succeeded(), "{again:#?}");
    let cm = cms.get("platform").await?;
    assert_eq!(cm.data.and_then(|d| d.get("from").cloned()).as_deref(), Some("remote-v1"), "the pinned commit is used");
    Ok(())
}
