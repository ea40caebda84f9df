//! Helm's install-time behaviour against the real control plane: an OCI
//! chart from a real registry (Debian's docker-registry with TLS and auth)
//! locked, pulled, verified and applied, and refused when its content is
//! tampered with or its tag pushed over; a chart that generates a password
//! once through `lookup` keeps it across syncs and an agent restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use plumb::render::lock::Lock;
use plumb::render::oci::auth::Registries;
use plumb::report::commit::AppOutcome;
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::registry::Registry;
use plumb_testenv::{TestCluster, TestNamespace};

fn greeting_chart(greeting: &str) -> Vec<u8> {
    let files = BTreeMap::from([
        ("Chart.yaml".to_string(), b"apiVersion: v2\nname: greeter\nversion: 1.0.0\n".to_vec()),
        (
            "templates/cm.yaml".to_string(),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: greeter}}\ndata: {{greeting: {greeting}}}\n")
                .into_bytes(),
        ),
    ]);
    plumb::render::chart::archive::pack("greeter", &files)
}

const CHART_JSON: &str = r#"{"name":"greeter","version":"1.0.0","apiVersion":"v2"}"#;

#[tokio::test(flavor = "multi_thread")]
async fn oci_chart_is_locked_pulled_verified_applied_and_refused_when_changed() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "oci").await?;
    let registry = Registry::start().await?;
    let archive = greeting_chart("from-oci");
    let pushed = registry.push_chart("charts/greeter", "1.0.0", &archive, CHART_JSON).await?;
    let files = tempfile::tempdir()?;
    let (config, ca) = (files.path().join("config.json"), files.path().join("ca.pem"));
    std::fs::write(&config, registry.docker_config())?;
    std::fs::write(&ca, registry.ca_pem())?;
    let registries = Arc::new(Registries::load(Some(&config), Some(&ca))?);

    // `plumb lock`: the manifest digest.
    let repo_url = format!("oci://{}/charts", registry.host());
    let locked = plumb::render::remote::resolve(&repo_url, "greeter", "1.0.0", &registries).await?;
    assert_eq!(locked.digest, pushed);
    let lock = Lock { charts: vec![locked], ..Lock::default() };
    let repo = ConfigRepo::new()?;
    let plumb_yaml = format!(
        "apps:\n  - name: greeter\n    namespace: {}\n    chart: {{repo: \"{repo_url}\", name: greeter, version: 1.0.0}}\n",
        ns.name()
    );
    repo.commit(&[("plumb.yaml", &plumb_yaml), ("plumb.lock", &lock.to_text())], &[], "an OCI chart")?;

    // Pulled, verified, applied.
    let cache = tempfile::tempdir()?;
    let agent = Agent::start_with(&cluster, ns.name(), cache.path(), registries.clone()).await?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let greeting = |cm: ConfigMap| cm.data.unwrap_or_default().get("greeting").cloned();
    assert_eq!(greeting(cms.get("greeter").await?).as_deref(), Some("from-oci"));

    // Tampered content in the registry: a fresh agent (cold cache) refuses
    // it, naming both digests, and changes nothing.
    let layer = plumb::render::remote::sha256(&archive);
    let evil = greeting_chart("tampered");
    std::fs::write(registry.blob_file(&layer), &evil)?;
    let cold = tempfile::tempdir()?;
    let fresh = Agent::start_with(&cluster, ns.name(), cold.path(), registries.clone()).await?;
    let report = repo.sync(&fresh.syncer).await?;
    let error = render_error(&report);
    assert!(error.contains(&layer) && error.contains(&plumb::render::remote::sha256(&evil)), "{error}");
    assert_eq!(greeting(cms.get("greeter").await?).as_deref(), Some("from-oci"));

    // The tag pushed over with other content: refused naming both manifest digests.
    let other = registry.push_chart("charts/greeter", "1.0.0", &greeting_chart("retagged"), CHART_JSON).await?;
    let colder = tempfile::tempdir()?;
    let fresh = Agent::start_with(&cluster, ns.name(), colder.path(), registries.clone()).await?;
    let report = repo.sync(&fresh.syncer).await?;
    let error = render_error(&report);
    assert!(error.contains(&pushed) && error.contains(&other) && error.contains("pushed over"), "{error}");
    assert_eq!(greeting(cms.get("greeter").await?).as_deref(), Some("from-oci"));

    // The first agent's cache still holds the verified chart.
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    Ok(())
}

fn render_error(report: &plumb::report::commit::CommitReport) -> String {
    match report.apps.iter().find(|a| a.app() == "greeter") {
        Some(AppOutcome::RenderFailed { error, .. }) => error.to_string(),
        other => panic!("expected a render failure: {other:#?}"),
    }
}

const PASSWORD_TEMPLATE: &str = r#"{{- $existing := lookup "v1" "Secret" .Release.Namespace "app-password" }}
apiVersion: v1
kind: Secret
metadata:
  name: app-password
data:
  {{- if $existing }}
  password: {{ index $existing.data "password" }}
  {{- else }}
  password: {{ randAlphaNum 24 | b64enc }}
  {{- end }}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_password_generated_through_lookup_survives_syncs_and_restarts() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "lookup").await?;
    let repo = ConfigRepo::new()?;
    let plumb_yaml = format!("apps:\n  - name: vault\n    namespace: {}\n    chart: {{path: chart}}\n", ns.name());
    let commit = |label: &str| {
        repo.commit(
            &[
                ("plumb.yaml", &plumb_yaml),
                ("chart/Chart.yaml", "apiVersion: v2\nname: vault\nversion: 1.0.0\n"),
                ("chart/templates/secret.yaml", PASSWORD_TEMPLATE),
                (
                    "chart/templates/cm.yaml",
                    &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: label}}\ndata: {{label: {label}}}\n"),
                ),
            ],
            &[],
            label,
        )
    };
    let secrets = Api::<Secret>::namespaced(cluster.client(), ns.name());
    let password = || async {
        let secret = secrets.get("app-password").await?;
        anyhow::Ok(secret.data.unwrap_or_default().get("password").map(|p| p.0.clone()).unwrap_or_default())
    };

    commit("first")?;
    let cache = tempfile::tempdir()?;
    let agent = Agent::start_with(&cluster, ns.name(), cache.path(), Arc::default()).await?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    let first = password().await?;
    assert_eq!(first.len(), 24, "a generated password");

    // A second sync of a new commit renders again: lookup finds the Secret.
    commit("second")?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(password().await?, first);

    // An agent restart with nothing kept (no memory, an empty cache folder,
    // as a new leader on another node): lookup still finds it.
    drop(agent);
    plumb::render::cache::forget_memory();
    commit("third")?;
    let empty = tempfile::tempdir()?;
    let restarted = Agent::start_with(&cluster, ns.name(), empty.path(), Arc::default()).await?;
    let report = repo.sync(&restarted.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(password().await?, first);
    Ok(())
}
