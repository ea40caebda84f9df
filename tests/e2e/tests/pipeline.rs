//! Syncing from git commits: plumb.yaml, apps in dependency order, git
//! revert as a rollback, removed apps, and failures that stay contained.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, ResourceExt};
use plumb::report::commit::AppOutcome;
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};

fn cm(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: \"{value}\"}}\n")
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: \"{image}\"}}]}}\n"
    )
}

/// `(name, data.v)` of the app's ConfigMaps.
async fn app_config_maps(api: &Api<ConfigMap>, app: &str) -> anyhow::Result<Vec<(String, String)>> {
    let list = api.list(&kube::api::ListParams::default().labels(&format!("plumb.dev/app={app}"))).await?;
    Ok(list
        .items
        .iter()
        .map(|c| (c.name_any(), c.data.as_ref().and_then(|d| d.get("v").cloned()).unwrap_or_default()))
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn git_revert_restores_the_cluster_exactly() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let web_ns = TestNamespace::create(&cluster.client(), "web").await?;
    let other_ns = TestNamespace::create(&cluster.client(), "other").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(web_ns.name()));
    let agent = Agent::start(&cluster, web_ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let plumb_yaml = format!(
        "apps:\n  - {{name: web, namespace: {}, path: apps/web}}\n  - {{name: other, namespace: {}, path: apps/other}}\n",
        web_ns.name(),
        other_ns.name()
    );
    repo.commit(
        &[
            ("plumb.yaml", &plumb_yaml),
            ("apps/web/config.yaml", &cm("settings", "one")),
            ("apps/web/deploy.yaml", &deployment("web:1")),
            ("apps/other/cm.yaml", &cm("unrelated", "x")),
        ],
        &[],
        "a: initial",
    )?;
    let first = repo.sync(&agent.syncer).await?;
    assert!(first.succeeded(), "{first:#?}");

    let web_cms = Api::<ConfigMap>::namespaced(cluster.client(), web_ns.name());
    let other_cms = Api::<ConfigMap>::namespaced(cluster.client(), other_ns.name());
    let before = app_config_maps(&web_cms, "web").await?;
    let unrelated_version = other_cms.get("unrelated").await?.resource_version();

    // A commit that adds objects and changes others...
    repo.commit(
        &[
            ("apps/web/config.yaml", &cm("settings", "two")),
            ("apps/web/extra.yaml", &format!("{}---\n{}", cm("added-a", "a"), cm("added-b", "b"))),
            ("apps/web/deploy.yaml", &deployment("web:2")),
        ],
        &[],
        "b: change",
    )?;
    let changed = repo.sync(&agent.syncer).await?;
    assert!(changed.succeeded(), "{changed:#?}");
    assert_eq!(app_config_maps(&web_cms, "web").await?.len(), 3);

    // ...rolled back with git revert.
    repo.repo.git(&["revert", "--no-edit", "HEAD"])?;
    let reverted = repo.sync(&agent.syncer).await?;
    assert!(reverted.succeeded(), "{reverted:#?}");
    assert_eq!(app_config_maps(&web_cms, "web").await?, before, "ConfigMaps differ from before the reverted commit");
    let image = Api::<Deployment>::namespaced(cluster.client(), web_ns.name())
        .get("web")
        .await?
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.first().and_then(|c| c.image.clone()));
    assert_eq!(image.as_deref(), Some("web:1"));
    assert_eq!(other_cms.get("unrelated").await?.resource_version(), unrelated_version, "an unrelated app was touched");
    web_ns.delete().await?;
    other_ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_an_app_from_plumb_yaml_prunes_it() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "removal").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let both = format!(
        "apps:\n  - {{name: keep, namespace: {0}, path: keep}}\n  - {{name: drop, namespace: {0}, path: drop}}\n",
        ns.name()
    );
    repo.commit(
        &[("plumb.yaml", &both), ("keep/a.yaml", &cm("keep-a", "1")), ("drop/b.yaml", &cm("drop-b", "1"))],
        &[],
        "two apps",
    )?;
    assert!(repo.sync(&agent.syncer).await?.succeeded());
    assert_eq!(agent.syncer.managed_apps().await?, ["drop", "keep"]);

    let one = format!("apps:\n  - {{name: keep, namespace: {}, path: keep}}\n", ns.name());
    repo.commit(&[("plumb.yaml", &one)], &["drop"], "remove the drop app")?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("drop-b").await?.is_none(), "the removed app's object survived");
    assert!(cms.get_opt("keep-a").await?.is_some());
    assert_eq!(agent.syncer.managed_apps().await?, ["keep"], "the removed app's inventory is gone");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_cycle_in_plumb_yaml_is_named_and_nothing_is_written() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "appcycle").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let config = "apps:\n  - {name: a, path: a, dependsOn: [b]}\n  - {name: b, path: b, dependsOn: [a]}\n";
    repo.commit(&[("plumb.yaml", config), ("a/cm.yaml", &cm("a", "1")), ("b/cm.yaml", &cm("b", "1"))], &[], "cycle")?;
    let writes = agent.requests.writes();
    let report = repo.sync(&agent.syncer).await?;
    let error = report.config_error.as_ref().expect("a config error").to_string();
    assert_eq!(error, "plumb.yaml: apps depend on each other in a cycle: a -> b -> a; remove one dependsOn");
    assert!(report.apps.is_empty());
    assert_eq!(agent.requests.writes(), writes);
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_app_blocks_only_its_dependents() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "contained").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let config = format!(
        "apps:\n  - {{name: broken, namespace: {0}, path: broken}}\n  - {{name: fine, namespace: {0}, path: fine}}\n  - {{name: needs-broken, namespace: {0}, path: needs, dependsOn: [broken]}}\n",
        ns.name()
    );
    repo.commit(
        &[
            ("plumb.yaml", &config),
            ("broken/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n"),
            ("fine/cm.yaml", &cm("fine", "1")),
            ("needs/cm.yaml", &cm("needs", "1")),
        ],
        &[],
        "one broken app",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    match report.app("broken") {
        Some(AppOutcome::RenderFailed { error, .. }) => {
            assert_eq!(error.to_string(), "broken/cm.yaml: line 3 column 18: unclosed bracket '['")
        }
        other => panic!("expected a render failure, got {other:?}"),
    }
    assert!(report.app("fine").is_some_and(AppOutcome::succeeded));
    match report.app("needs-broken") {
        Some(AppOutcome::Blocked { by, .. }) => assert_eq!(by, &["broken"]),
        other => panic!("expected the dependent to be blocked, got {other:?}"),
    }
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("fine").await?.is_some() && cms.get_opt("needs").await?.is_none());
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_health_timeout_from_plumb_yaml_bounds_the_wait() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "timeout").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let config = format!("apps:\n  - {{name: slow, namespace: {}, path: slow, healthTimeout: 2s}}\n", ns.name());
    let never_ready = deployment("slow:1").replace(
        "    metadata: {labels: {app: web}}",
        "    metadata: {labels: {app: web}, annotations: {testenv.plumb.dev/outcome: never-ready}}",
    );
    repo.commit(&[("plumb.yaml", &config), ("slow/deploy.yaml", &never_ready)], &[], "slow")?;
    let started = std::time::Instant::now();
    let report = repo.sync(&agent.syncer).await?;
    let Some(AppOutcome::Synced(sync)) = report.app("slow") else { panic!("{report:#?}") };
    let message = sync.result.as_ref().expect_err("times out").to_string();
    assert!(message.contains("not healthy after 2s: 0 of 1 updated replicas available"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    ns.delete().await?;
    Ok(())
}
