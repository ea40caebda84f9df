//! The local control plane is real: server-side apply works, the real
//! controllers drive a Deployment to available, namespaces are finalized,
//! and tests are isolated from each other.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use plumb_e2e::wait_for;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace, unique_name};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_reaches_available_and_namespace_is_finalized() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = unique_name("foundation");
    let apply = PatchParams::apply("plumb").force();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .patch(&ns, &apply, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})))
        .await?;
    let _readiness = PodReadiness::start(client.clone(), Some(&ns));

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = config_maps
        .patch(
            "settings",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings"}, "data": {"greeting": "hello"}})),
        )
        .await?;
    let managers: Vec<_> = cm.managed_fields().iter().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert_eq!(managers, vec![(Some("plumb".to_string()), Some("Apply".to_string()))]);

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .patch(
            "web",
            &apply,
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1",
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}}})),
        )
        .await?;

    let available = |d: Option<&Deployment>| {
        d.and_then(|d| Some((d.metadata.generation?, d.status.as_ref()?))).is_some_and(|(generation, s)| {
            s.observed_generation == Some(generation)
                && s.updated_replicas == Some(2)
                && s.available_replicas == Some(2)
                && s.ready_replicas == Some(2)
        })
    };
    wait_for(deployments.clone(), "web", Duration::from_secs(60), available).await?;

    plumb_testenv::namespace::delete_namespace(&client, &ns, Duration::from_secs(60)).await?;
    assert!(namespaces.get_opt(&ns).await?.is_none(), "namespace {ns} still exists");
    Ok(())
}

/// Two tests run in parallel on the shared control plane, each in its own
/// namespace, writing an object of the same name with different contents:
/// neither sees the other's.
async fn isolated_probe(value: &str) -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "isolation").await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let probe = json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "probe"}, "data": {"value": value}});
    config_maps.patch("probe", &PatchParams::apply("plumb"), &Patch::Apply(&probe)).await?;
    for _ in 0..10 {
        let all = config_maps.list(&Default::default()).await?;
        let probes: Vec<_> = all.items.iter().filter(|cm| cm.name_any() == "probe").collect();
        assert_eq!(probes.len(), 1, "exactly one probe in {}", ns.name());
        assert_eq!(probes[0].data.as_ref().and_then(|d| d.get("value")).map(String::as_str), Some(value));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn isolation_left() -> anyhow::Result<()> {
    isolated_probe("left").await
}

#[tokio::test(flavor = "multi_thread")]
async fn isolation_right() -> anyhow::Result<()> {
    isolated_probe("right").await
}

/// A private control plane is a separate cluster, and stopping it stops
/// every process it started (checked by pid).
#[tokio::test(flavor = "multi_thread")]
async fn private_control_plane_is_separate_and_stops_by_pid() -> anyhow::Result<()> {
    let shared = TestCluster::get().await?;
    let marker = TestNamespace::create(&shared.client(), "marker").await?;

    let mut private = TestCluster::private().await?;
    let namespaces: Api<Namespace> = Api::all(private.client());
    assert!(namespaces.get_opt(marker.name()).await?.is_none(), "private cluster sees the shared namespace");

    let plane = private.control_plane().expect("private cluster owns its control plane");
    let pids = plane.pids();
    assert_eq!(pids.len(), 3, "etcd, kube-apiserver, kube-controller-manager");
    let dir = plane.dir().to_path_buf();
    drop(private);
    for pid in pids {
        assert!(!plumb_testenv::process::pid_alive(pid), "pid {pid} survived stop");
    }
    assert!(!dir.exists(), "control plane folder {} left behind", dir.display());
    marker.delete().await?;
    Ok(())
}

/// `plumb render` offline assumes the newest Kubernetes plumb supports: its
/// default version and API versions are exactly what the test control plane
/// (of that version) serves, so bumping the control plane without the
/// defaults fails here.
#[tokio::test(flavor = "multi_thread")]
async fn offline_capabilities_follow_the_newest_supported_kubernetes() -> anyhow::Result<()> {
    use plumb::render::chart::capabilities::{DEFAULT_API_VERSIONS, DEFAULT_KUBE_VERSION};
    if plumb_testenv::binaries::k8s_version() != plumb_testenv::K8S_VERSION {
        return Ok(()); // the compatibility job runs an older server on purpose
    }
    let cluster = TestCluster::get().await?;
    let client = cluster.client();
    let served = client.apiserver_version().await?;
    let minor = |v: &str| v.trim_start_matches('v').split('.').take(2).collect::<Vec<_>>().join(".");
    assert_eq!(minor(DEFAULT_KUBE_VERSION), minor(&served.git_version), "DEFAULT_KUBE_VERSION");
    assert_eq!(minor(plumb_testenv::K8S_VERSION), minor(&served.git_version));

    let mut versions: Vec<String> = client.list_core_api_versions().await?.versions;
    for group in client.list_api_groups().await?.groups {
        versions.extend(group.versions.into_iter().map(|v| v.group_version));
    }
    versions.sort();
    let mut defaults: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|v| v.to_string()).collect();
    defaults.sort();
    assert_eq!(defaults, versions, "DEFAULT_API_VERSIONS must list what the newest supported API server serves");
    Ok(())
}
