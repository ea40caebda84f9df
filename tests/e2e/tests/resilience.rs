//! Faults injected against the real control plane: one bad part of the
//! cluster or of the repository fails only what depends on it, quickly,
//! with a message that names it, and never leaks a Secret's value.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use plumb::report::commit::{AppOutcome, CommitReport};
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::{TestCluster, TestNamespace};

fn cm(name: &str, ns: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{k: v}}\n")
}

/// The error of `app` in `report` (empty when it succeeded).
fn error_of(report: &CommitReport, app: &str) -> String {
    match report.apps.iter().find(|a| a.app() == app) {
        Some(AppOutcome::RenderFailed { error, .. }) => error.to_string(),
        Some(AppOutcome::Synced(sync)) => sync.result.as_ref().err().map(ToString::to_string).unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

/// An APIService answering 503 (its Service does not exist) stops nothing
/// but the app whose objects need its group, within seconds, naming it.
/// On a private control plane: a broken APIService slows every other
/// test's discovery.
#[tokio::test(flavor = "multi_thread")]
async fn an_unavailable_aggregated_api_fails_only_the_apps_that_need_it() -> anyhow::Result<()> {
    let cluster = TestCluster::private().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "res-apiservice").await?;
    let n = ns.name().to_string();
    let group = "metrics.resilience.example.com";
    let apiservice = plumb_testenv::faults::unavailable_apiservice(&client, group, &n).await?;

    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            (
                "plumb.yaml",
                &format!("apps:\n  - {{name: plain, namespace: {n}, path: plain}}\n  - {{name: needs, namespace: {n}, path: needs}}\n"),
            ),
            ("plain/cm.yaml", &cm("plain", &n)),
            ("needs/usage.yaml", &format!("apiVersion: {group}/v1beta1\nkind: NodeUsage\nmetadata: {{name: u, namespace: {n}}}\n")),
        ],
        &[],
        "an app on an aggregated API that is down",
    )?;
    let started = Instant::now();
    let agent = Agent::start(&cluster, &n).await?;
    let report = repo.sync(&agent.syncer).await?;
    let took = started.elapsed();
    println!("start and sync with {apiservice} down: {took:?}");
    assert!(took < Duration::from_secs(60), "the sync waited {took:?} on an unavailable API");
    assert_eq!(error_of(&report, "plain"), "", "{report:#?}");
    let error = error_of(&report, "needs");
    assert!(error.contains(&format!("APIService {apiservice}")) && error.contains("unavailable"), "{error}");
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &n);
    assert!(cms.get_opt("plain").await?.is_some(), "the plain app was not applied");
    Ok(())
}

/// `x -> .` links in an app's directory: the render stops at once naming
/// the link, the other app syncs.
#[tokio::test(flavor = "multi_thread")]
async fn symlink_loops_in_the_repository_fail_their_app_at_once_naming_the_link() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "res-links").await?;
    let n = ns.name().to_string();
    let repo = ConfigRepo::new()?;
    let mut files = vec![
        (
            "plumb.yaml".to_string(),
            format!(
                "apps:\n  - {{name: looped, namespace: {n}, path: looped}}\n  - {{name: good, namespace: {n}, path: good}}\n"
            ),
        ),
        ("good/cm.yaml".to_string(), cm("good", &n)),
    ];
    for i in 0..20 {
        files.push((format!("looped/cm-{i}.yaml"), cm(&format!("looped-{i}"), &n)));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    repo.commit(&files, &[], "apps")?;
    for link in ["x", "y", "z"] {
        std::os::unix::fs::symlink(".", repo.repo.path().join("looped").join(link))?;
    }
    repo.commit(&[], &[], "three links to the directory itself")?;
    let agent = Agent::start(&cluster, &n).await?;
    let started = Instant::now();
    let report = repo.sync(&agent.syncer).await?;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "{took:?}");
    let error = error_of(&report, "looped");
    assert!(error.contains("looped/x") && error.contains("a loop"), "{error}");
    assert_eq!(error_of(&report, "good"), "", "{report:#?}");
    assert!(Api::<ConfigMap>::namespaced(cluster.client(), &n).get_opt("good").await?.is_some());
    Ok(())
}

/// A Secret the API server rejects and whose value it echoes in its error
/// text: the value reaches neither the report, nor the Events, nor the
/// inventory's history.
#[tokio::test(flavor = "multi_thread")]
async fn an_api_error_echoing_a_secret_value_is_redacted_everywhere() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "res-echo").await?;
    let n = ns.name().to_string();
    let planted = "planted-secret-value-7f3a";
    let planted_b64 = "cGxhbnRlZC1zZWNyZXQtdmFsdWUtN2YzYQ==";
    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: echo, namespace: {n}, path: echo}}\n")),
            // `data` values must be base64 strings: a map is refused, and
            // the API server quotes the object in its error.
            (
                "echo/secret.yaml",
                &format!(
                    "apiVersion: v1\nkind: Secret\nmetadata: {{name: leaky, namespace: {n}}}\n\
                     stringData: {{password: {planted}}}\ndata: {{token: {planted_b64}, broken: {{nested: {planted}}}}}\n"
                ),
            ),
        ],
        &[],
        "a Secret the API server rejects",
    )?;
    let agent = Agent::start(&cluster, &n).await?;
    let report = repo.sync(&agent.syncer).await?;
    let error = error_of(&report, "echo");
    assert!(!error.is_empty(), "the broken Secret was accepted: {report:#?}");
    println!("refused: {error}");
    let everything = format!("{report:?}");
    for value in [planted, planted_b64] {
        assert!(!everything.contains(value), "the report holds {value}: {everything}");
    }
    let events = Api::<Event>::namespaced(client.clone(), &n).list(&Default::default()).await?.items;
    let histories = Api::<ConfigMap>::namespaced(client.clone(), &n).list(&Default::default()).await?.items;
    let stored = format!("{events:?}{histories:?}");
    for value in [planted, planted_b64] {
        assert!(!stored.contains(value), "an Event or ConfigMap holds {value}");
    }
    Ok(())
}

/// A CRD deleted and created again by hand while the agent runs: an app
/// using its kind fails while it is gone, naming the kind, and syncs
/// once it is back; the other app syncs throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_crd_that_vanishes_and_comes_back_fails_only_its_app_meanwhile() -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "res-crd").await?;
    let n = ns.name().to_string();
    let group = format!("{}.plumb.test", plumb_testenv::unique_name("v"));
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("tools.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": "Tool", "plural": "tools", "singular": "tool", "listKind": "ToolList"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
    }))?;
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let create_crd = || async {
        crds.create(&Default::default(), &crd).await?;
        // Served once established.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = crds.get(&format!("tools.{group}")).await?;
            let established = now
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                return anyhow::Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "the CRD was not established");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    create_crd().await?;
    let repo = ConfigRepo::new()?;
    let config = format!(
        "apps:\n  - {{name: plain, namespace: {n}, path: plain}}\n  - {{name: tools, namespace: {n}, path: tools}}\n"
    );
    let tool = format!("apiVersion: {group}/v1\nkind: Tool\nmetadata: {{name: hammer, namespace: {n}}}\n");
    let commit = |value: &str| {
        repo.commit(
            &[("plumb.yaml", config.as_str()), ("plain/cm.yaml", &cm(value, &n)), ("tools/tool.yaml", &tool)],
            &[],
            value,
        )
    };
    commit("one")?;
    let agent = Agent::start(&cluster, &n).await?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");

    crds.delete(&format!("tools.{group}"), &Default::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while crds.get_opt(&format!("tools.{group}")).await?.is_some() {
        anyhow::ensure!(Instant::now() < deadline, "the CRD was not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    commit("two")?;
    let report = repo.sync(&agent.syncer).await?;
    assert_eq!(error_of(&report, "plain"), "", "{report:#?}");
    let error = error_of(&report, "tools");
    assert!(error.contains("Tool"), "{error}");
    assert!(Api::<ConfigMap>::namespaced(client.clone(), &n).get_opt("two").await?.is_some());

    create_crd().await?;
    commit("three")?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "after the CRD came back: {report:#?}");
    crds.delete(&format!("tools.{group}"), &Default::default()).await?;
    Ok(())
}
