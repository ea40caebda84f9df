//! Helm hooks and chart CRDs as plumb applies a chart, on the real control
//! plane: `pre-install` hooks before the release's objects, a
//! `hook-succeeded` hook deleted once done and not run again while
//! unchanged, a `before-hook-creation` migration Job changed between two
//! syncs replaced instead of failing as immutable, a `pre-delete` hook never
//! run; a CRD from `crds/` kept with its objects when a chart version drops it.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::{Api, ResourceExt};
use plumb::apply::ObjectAction;
use plumb::report::commit::{AppOutcome, CommitReport};
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace, unique_name};
use serde_json::json;

fn job(name: &str, hook: &str, policy: &str, image: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n    helm.sh/hook: {hook}\n{policy}spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: {name}, image: \"{image}\"}}]\n"
    )
}

fn synced(report: &CommitReport) -> &plumb::apply::SyncReport {
    match report.app("shop") {
        Some(AppOutcome::Synced(sync)) => {
            if let Err(e) = &sync.result {
                panic!("the chart app failed: {e}");
            }
            sync
        }
        other => panic!("{other:#?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_run_as_helm_defines_them_and_chart_crds_are_never_pruned() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "hooks").await?;
    let n = ns.name().to_string();
    let _readiness = PodReadiness::start(client.clone(), Some(&n));
    let group = format!("{}.example.com", unique_name("h"));
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: widgets.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Widget, plural: widgets}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}\n"
    );
    let agent = Agent::start(&cluster, &n).await?;
    let repo = ConfigRepo::new()?;
    repo.commit(
        &[
            ("plumb.yaml", &format!("apps:\n  - {{name: shop, namespace: {n}, chart: {{path: chart}}, values: [values.yaml]}}\n")),
            ("values.yaml", "version: \"1\"\n"),
            ("chart/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\n"),
            ("chart/crds/widgets.yaml", &crd),
            (
                "chart/templates/setup.yaml",
                &job("setup", "pre-install,pre-upgrade", "    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: hook-succeeded\n", "setup:1"),
            ),
            ("chart/templates/migrate.yaml", &job("migrate", "pre-install,pre-upgrade", "    helm.sh/hook-delete-policy: before-hook-creation\n", "migrate:{{ .Values.version }}")),
            ("chart/templates/cleanup.yaml", &job("cleanup", "pre-delete", "", "cleanup:1")),
            ("chart/templates/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {version: \"{{ .Values.version }}\"}\n"),
        ],
        &[],
        "chart 1.0.0",
    )?;
    let first = repo.sync(&agent.syncer).await?;
    let sync = synced(&first);
    let position = |name: &str| sync.objects.iter().position(|o| o.key.name == name);
    assert!(position("setup") < position("config") && position("migrate") < position("config"), "{:#?}", sync.objects);
    assert_eq!(position("cleanup"), None, "a pre-delete hook is never part of a sync");
    let jobs = Api::<Job>::namespaced(client.clone(), &n);
    assert!(jobs.get_opt("setup").await?.is_none(), "hook-succeeded: deleted once it succeeded");
    assert!(jobs.get_opt("cleanup").await?.is_none());
    let migrate_uid = jobs.get("migrate").await?.uid();
    assert_eq!(
        Api::<ConfigMap>::namespaced(client.clone(), &n)
            .get("config")
            .await?
            .data
            .and_then(|d| d.get("version").cloned())
            .as_deref(),
        Some("1")
    );

    // A new version: the changed migration Job is replaced, not refused as
    // immutable; the unchanged succeeded hook does not run again.
    repo.commit(&[("values.yaml", "version: \"2\"\n")], &[], "version 2")?;
    let second = repo.sync(&agent.syncer).await?;
    let sync = synced(&second);
    let migrate = jobs.get("migrate").await?;
    assert_ne!(migrate.uid(), migrate_uid, "deleted and created again");
    let image =
        migrate.spec.and_then(|s| s.template.spec).and_then(|p| p.containers.first().and_then(|c| c.image.clone()));
    assert_eq!(image.as_deref(), Some("migrate:2"));
    assert!(sync.objects.iter().any(|o| o.key.name == "migrate" && o.action == ObjectAction::Replace && o.done));
    assert!(jobs.get_opt("setup").await?.is_none(), "an unchanged hook-succeeded hook did not run again");
    assert!(jobs.get_opt("cleanup").await?.is_none());

    // Objects of the chart's CRD exist; the next chart version drops the CRD.
    let resource = kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(&group, "v1", "Widget"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &n, &resource);
    let widget =
        json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
    widgets.patch("w", &PatchParams::apply("kubectl"), &Patch::Apply(widget)).await?;
    repo.commit(
        &[("chart/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 2.0.0\n")],
        &["chart/crds/widgets.yaml"],
        "chart 2.0.0 without its CRD",
    )?;
    let third = repo.sync(&agent.syncer).await?;
    synced(&third);
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    assert!(crds.get_opt(&format!("widgets.{group}")).await?.is_some(), "the chart's CRD was kept");
    assert!(widgets.get_opt("w").await?.is_some(), "its objects too");
    crds.delete(&format!("widgets.{group}"), &Default::default()).await?;
    ns.delete().await?;
    Ok(())
}
