//! deploy/: every object is accepted by the API server (server-side
//! dry-run), and plumb's service account may do what a sync needs
//! (SubjectAccessReview) and not more than that.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::Discovery;
use plumb_testenv::TestCluster;
use serde_json::json;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn documents(file: &str) -> Vec<serde_json::Value> {
    let path = deploy().join(file);
    let text = std::fs::read_to_string(&path).expect("read deploy file");
    plumb::render::plain::parse_documents(file, &text).expect("valid YAML").into_iter().map(|o| o.manifest).collect()
}

/// A CRD that accepts anything, standing in for the Prometheus Operator's.
fn stand_in_crd(plural: &str, kind: &str) -> serde_json::Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.monitoring.coreos.com")},
        "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

async fn apply(
    client: &kube::Client,
    discovery: &Discovery,
    object: &serde_json::Value,
    dry_run: bool,
) -> Result<(), String> {
    let (group, version) = object["apiVersion"]
        .as_str()
        .unwrap_or("")
        .rsplit_once('/')
        .map_or(("", object["apiVersion"].as_str().unwrap_or("")), |(g, v)| (g, v));
    let kind = object["kind"].as_str().unwrap_or("");
    let (resource, caps) =
        discovery.resolve_gvk(&GroupVersionKind::gvk(group, version, kind)).ok_or(format!("{kind} is not served"))?;
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(ns) if caps.scope == kube::discovery::Scope::Namespaced => {
            Api::namespaced_with(client.clone(), ns, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply("plumb-deploy-test").force();
    if dry_run {
        params = params.dry_run();
    }
    api.patch(name, &params, &Patch::Apply(object)).await.map(|_| ()).map_err(|e| format!("{kind}/{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_deploy_object_is_accepted_and_rbac_allows_a_sync() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    for (plural, kind) in [("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")] {
        crds.patch(
            &format!("{plural}.monitoring.coreos.com"),
            &PatchParams::apply("plumb-deploy-test"),
            &Patch::Apply(stand_in_crd(plural, kind)),
        )
        .await?;
        let established = kube::runtime::wait::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(crds.clone(), &format!("{plural}.monitoring.coreos.com"), established),
        )
        .await??;
    }
    let discovery = Discovery::new(client.clone()).run().await?;

    // The namespace and RBAC for real (RBAC must exist to be reviewed), the
    // namespace the namespaced variant targets, then everything else dry.
    for object in documents("namespace.yaml").iter().chain(&documents("rbac.yaml")) {
        apply(&client, &discovery, object, false).await.map_err(anyhow::Error::msg)?;
    }
    apply(&client, &discovery, &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}), false)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut checked = 0;
    for file in [
        "rbac-namespaced.yaml",
        "secret-template.yaml",
        "deployment.yaml",
        "monitoring/servicemonitor.yaml",
        "monitoring/prometheusrule.yaml",
    ] {
        for object in documents(file) {
            apply(&client, &discovery, &object, true).await.map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "every object of deploy/ was dry-run");

    let reviews = Api::<SubjectAccessReview>::all(client.clone());
    let can = |verb: &'static str, group: &'static str, resource: &'static str, namespace: &'static str| {
        let reviews = reviews.clone();
        async move {
            let review: SubjectAccessReview = serde_json::from_value(json!({
                "spec": {"user": "system:serviceaccount:plumb-system:plumb",
                         "resourceAttributes": {"verb": verb, "group": group, "resource": resource, "namespace": namespace}}
            }))
            .expect("review");
            let answer = reviews.create(&PostParams::default(), &review).await.expect("review answered");
            answer.status.is_some_and(|s| s.allowed)
        }
    };
    for (verb, group, resource, namespace) in [
        ("patch", "apps", "deployments", "any-namespace"),
        ("delete", "", "configmaps", "any-namespace"),
        ("list", "", "secrets", ""),
        ("watch", "apiextensions.k8s.io", "customresourcedefinitions", ""),
        ("patch", "", "configmaps", "plumb-system"),
        ("create", "events.k8s.io", "events", "any-namespace"),
        ("update", "coordination.k8s.io", "leases", "plumb-system"),
    ] {
        assert!(
            can(verb, group, resource, namespace).await,
            "plumb may not {verb} {resource}.{group} in {namespace:?}"
        );
    }
    assert!(!can("impersonate", "", "users", "").await, "plumb must not impersonate");
    assert!(!can("escalate", "rbac.authorization.k8s.io", "clusterroles", "").await, "plumb must not escalate");

    let gone = DeleteParams::default();
    for name in ["plumb-system", "apps"] {
        plumb_testenv::namespace::delete_namespace(&client, name, Duration::from_secs(60)).await?;
    }
    Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(client.clone()).delete("plumb-manager", &gone).await?;
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(client.clone()).delete("plumb-manager", &gone).await?;
    for plural in ["servicemonitors", "prometheusrules"] {
        crds.delete(&format!("{plural}.monitoring.coreos.com"), &gone).await?;
    }
    Ok(())
}
