//! Reconcile end to end: plan, apply in dependency order, wait for health,
//! prune safely, against the real control plane.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use plumb::apply::{ApplyError, Mode, ObjectAction, SyncRequest};
use plumb::plan::{AppContext, LeftAlone};
use plumb_e2e::{Agent, assert_ok, request, sized_crd};
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace, unique_name};
use serde_json::json;

/// Namespace, ServiceAccount, RBAC, ConfigMap, Secret, Service, Deployment.
fn sample_app(ns: &str, greeting: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: web}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: web-reader}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: web-reader}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-reader}}
subjects: [{{kind: ServiceAccount, name: web, namespace: {ns}}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-config}}
data: {{greeting: {greeting}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: web-secret}}
stringData: {{token: not-a-real-token}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: registry.invalid/web:1
        ports: [{{containerPort: 8080}}]
        resources: {{requests: {{cpu: 100m}}}}
"#
    )
}

fn config_maps(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}}}\ndata: {{v: \"{n}\"}}\n"))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn sample_app_becomes_healthy_resync_writes_nothing_and_removal_prunes_namespace_last() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let plumb_ns = TestNamespace::create(&cluster.client(), "plumb").await?;
    let agent = Agent::start(&cluster, plumb_ns.name()).await?;
    let ns = unique_name("sample");
    let _readiness = PodReadiness::start(cluster.client(), Some(&ns));

    let first = agent.sync("sample", &ns, &sample_app(&ns, "hello"), "c1").await;
    assert_ok(&first);
    assert_eq!(first.done(ObjectAction::Create), 8, "{:#?}", first.objects);
    assert!(first.waves >= 6, "namespace, SA, role, binding, config, service, workload waves: {}", first.waves);

    // Health was awaited: the Deployment is fully available already.
    let deploy = Api::<Deployment>::namespaced(cluster.client(), &ns).get("web").await?;
    assert_eq!(deploy.status.and_then(|s| s.available_replicas), Some(2));
    // Ports without protocol apply as written; the API server defaults TCP.
    let svc = Api::<Service>::namespaced(cluster.client(), &ns).get("web").await?;
    assert_eq!(svc.spec.and_then(|s| s.ports).and_then(|p| p[0].protocol.clone()).as_deref(), Some("TCP"));

    let writes = agent.requests.writes();
    let again = agent.sync("sample", &ns, &sample_app(&ns, "hello"), "c1").await;
    assert_ok(&again);
    assert_eq!(agent.requests.writes() - writes, 0, "a re-sync of the same commit must not write");
    assert_eq!(again.planned(ObjectAction::Unchanged).len(), 8);

    let writes = agent.requests.writes();
    let changed = agent.sync("sample", &ns, &sample_app(&ns, "bonjour"), "c2").await;
    assert_ok(&changed);
    assert_eq!((changed.done(ObjectAction::Create), changed.done(ObjectAction::Update)), (0, 1));
    assert_eq!(agent.requests.writes() - writes, 3, "one apply and two inventory writes (intent, result)");
    let update = changed.objects.iter().find(|o| o.action == ObjectAction::Update).expect("an update");
    assert_eq!(update.fields, ["data.greeting"], "the change set names the changed field");
    let cm = Api::<ConfigMap>::namespaced(cluster.client(), &ns).get("web-config").await?;
    assert_eq!(cm.data.and_then(|d| d.get("greeting").cloned()).as_deref(), Some("bonjour"));

    // Removing the app prunes everything; the Namespace goes last and the
    // sync returns only once it is gone.
    let app = AppContext { name: "sample".into(), namespace: Some(ns.clone()) };
    let removed = agent.syncer.sync(SyncRequest::removal(app, plumb::plan::Removal::Prune)).await;
    assert_ok(&removed);
    assert_eq!(removed.done(ObjectAction::Prune), 8);
    let order: Vec<_> = removed.planned(ObjectAction::Prune).iter().map(|k| k.kind.clone()).collect();
    assert_eq!(order.last().map(String::as_str), Some("Namespace"), "{order:?}");
    assert!(Api::<Namespace>::all(cluster.client()).get_opt(&ns).await?.is_none());
    plumb_ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn crd_and_its_objects_apply_in_one_sync() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "crd").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let group = format!("{}.plumb.test", unique_name("g"));
    let yaml = format!(
        "apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: first}}\nspec: {{size: 3}}\n---\n{}",
        sized_crd(&group, "Widget")
    );
    let report = agent.sync("widgets", ns.name(), &yaml, "c1").await;
    assert_ok(&report);
    assert_eq!(report.done(ObjectAction::Create), 2);

    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(&group, "v1", "Widget"), "widgets");
    let widget = Api::<DynamicObject>::namespaced_with(cluster.client(), ns.name(), &resource).get("first").await?;
    assert_eq!(widget.data["spec"]["size"], 3);

    Api::<CustomResourceDefinition>::all(cluster.client())
        .delete(&format!("widgets.{group}"), &DeleteParams::default())
        .await?;
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn rename_prunes_the_old_object_and_revert_restores_exactly() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "revert").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());

    // An object made by hand in the managed namespace: never touched.
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "by-hand"}, "data": {"k": "v"}}))?,
    )
    .await?;
    let by_hand_version = cms.get("by-hand").await?.resource_version();

    let deployment = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: api}}}}\n  template:\n    metadata: {{labels: {{app: api}}}}\n    spec: {{containers: [{{name: api, image: \"{image}\"}}]}}\n"
        )
    };
    let commit_a = format!("{}---\n{}", config_maps(&["alpha", "beta", "gamma", "old"]), deployment("api:1"));
    assert_ok(&agent.sync("revert", ns.name(), &commit_a, "a").await);

    // Rename: old -> new.
    let commit_b = format!("{}---\n{}", config_maps(&["alpha", "beta", "gamma", "new"]), deployment("api:1"));
    let renamed = agent.sync("revert", ns.name(), &commit_b, "b").await;
    assert_ok(&renamed);
    assert_eq!(renamed.done(ObjectAction::Create), 1);
    assert_eq!(renamed.done(ObjectAction::Prune), 1);
    assert!(cms.get_opt("old").await?.is_none() && cms.get_opt("new").await?.is_some());

    // Commit c adds objects and changes others; reverting it (syncing b's
    // content again) restores b exactly.
    let commit_c = format!(
        "{}---\n{}---\n{}",
        config_maps(&["alpha", "beta", "gamma", "new", "added-1", "added-2"]).replace("v: \"alpha\"", "v: \"changed\""),
        deployment("api:2"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec: {ports: [{port: 80}]}\n"
    );
    assert_ok(&agent.sync("revert", ns.name(), &commit_c, "c").await);
    assert_eq!(cms.get("alpha").await?.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("changed"));

    let reverted = agent.sync("revert", ns.name(), &commit_b, "revert-of-c").await;
    assert_ok(&reverted);
    assert_eq!(reverted.done(ObjectAction::Prune), 3, "added-1, added-2 and the Service");
    assert_eq!(cms.get("alpha").await?.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("alpha"));
    let image = Api::<Deployment>::namespaced(cluster.client(), ns.name())
        .get("api")
        .await?
        .spec
        .and_then(|s| s.template.spec.and_then(|p| p.containers.first().and_then(|c| c.image.clone())));
    assert_eq!(image.as_deref(), Some("api:1"));
    for gone in ["added-1", "added-2"] {
        assert!(cms.get_opt(gone).await?.is_none(), "{gone} was not pruned");
    }
    assert!(Api::<Service>::namespaced(cluster.client(), ns.name()).get_opt("api").await?.is_none());
    assert_eq!(cms.get("by-hand").await?.resource_version(), by_hand_version, "unrelated object was touched");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_object_writes_nothing_and_the_next_good_commit_applies() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "invalid").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let good = config_maps(&["one", "two", "three"]);
    // ConfigMap keys must be alphanumerics, '-', '_' or '.': the API server rejects this.
    let bad = format!(
        "{good}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: broken}}\ndata: {{\"not a key!\": x}}\n"
    );

    let writes = agent.requests.writes();
    let report = agent.sync("invalid", ns.name(), &bad, "bad").await;
    let Err(ApplyError::DryRunRejected(failures)) = &report.result else {
        panic!("expected a dry-run rejection, got {:?}", report.result);
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].object, format!("ConfigMap/{}/broken", ns.name()));
    assert!(failures[0].message.contains("not a key!"), "{}", failures[0].message);
    assert_eq!(agent.requests.writes(), writes, "nothing may be written when validation fails");
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("one").await?.is_none());

    assert_ok(&agent.sync("invalid", ns.name(), &good, "good").await);
    assert!(cms.get_opt("one").await?.is_some());
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_rollout_fails_fast_and_dependents_wait() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "stuck").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: stuck}}
  template:
    metadata:
      labels: {app: stuck}
      annotations: {testenv.plumb.dev/outcome: never-ready}
    spec: {containers: [{name: c, image: stuck:1}]}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: after-stuck
  annotations: {plumb.dev/depends-on: Deployment.apps/stuck}
data: {k: v}
"#;
    let started = std::time::Instant::now();
    let report = agent.sync("stuck", ns.name(), yaml, "c1").await;
    let Err(ApplyError::Unhealthy { object, reason }) = &report.result else {
        panic!("expected an unhealthy rollout, got {:?}", report.result);
    };
    println!("rollout failure reported after {:?}: {object}: {reason}", started.elapsed());
    assert_eq!(object, &format!("Deployment.apps/{}/stuck", ns.name()));
    assert!(reason.starts_with("ProgressDeadlineExceeded"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(45), "failed fast, well before the 60 s health timeout");
    assert!(Api::<ConfigMap>::namespaced(cluster.client(), ns.name()).get_opt("after-stuck").await?.is_none());
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_guards_protect_what_plumb_does_not_own() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "guards").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let kept = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  annotations: {plumb.dev/prune: disabled}\n";
    assert_ok(&agent.sync("guards", ns.name(), &format!("{}---\n{kept}", config_maps(&names)), "c1").await);
    cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "by-hand"}}))?).await?;

    let writes = agent.requests.writes();
    let empty = agent.sync("guards", ns.name(), "", "empty").await;
    let message = empty.result.as_ref().expect_err("empty render refused").to_string();
    assert!(
        message.starts_with("app guards rendered no objects but manages 9; refusing to prune everything"),
        "{message}"
    );

    let most = agent.sync("guards", ns.name(), &config_maps(&["a", "b"]), "most-gone").await;
    let message = most.result.as_ref().expect_err("large prune refused").to_string();
    assert!(
        message.starts_with("app guards: this sync would prune 6 of 9 objects, over the limit of 50%"),
        "{message}"
    );
    assert_eq!(agent.requests.writes(), writes, "refused plans write nothing");

    // Drop the kept object and one other: the first is left alone, the other pruned.
    let report = agent.sync("guards", ns.name(), &config_maps(&names[1..]), "c2").await;
    assert_ok(&report);
    assert_eq!(report.planned(ObjectAction::Prune).iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(report.planned(ObjectAction::LeftAlone(LeftAlone::PruneDisabled)).len(), 1);
    assert!(cms.get_opt("kept").await?.is_some() && cms.get_opt("by-hand").await?.is_some());
    assert!(cms.get_opt("a").await?.is_none());
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dependency_cycle_is_named_and_nothing_is_written() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "cycle").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let yaml = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: a, annotations: {plumb.dev/depends-on: "ConfigMap/b"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, annotations: {plumb.dev/depends-on: "ConfigMap/a"}}
"#;
    let writes = agent.requests.writes();
    let report = agent.sync("cycle", ns.name(), yaml, "c1").await;
    let message = report.result.as_ref().expect_err("cycle").to_string();
    let n = ns.name();
    assert_eq!(
        message,
        format!(
            "dependency cycle: ConfigMap/{n}/a -> ConfigMap/{n}/b -> ConfigMap/{n}/a; remove one of these dependencies"
        )
    );
    assert_eq!(agent.requests.writes(), writes);
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn report_mode_changes_nothing_but_reports_the_same_plan() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "report").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert_ok(&agent.sync("report", ns.name(), &config_maps(&["a", "b", "c", "d"]), "c1").await);
    let before: Vec<_> =
        cms.list(&Default::default()).await?.items.iter().map(|c| (c.name_any(), c.resource_version())).collect();

    let next = config_maps(&["a", "b", "c", "e"]).replace("v: \"a\"", "v: \"changed\"");
    let writes = agent.requests.writes();
    let report =
        agent.syncer.sync(SyncRequest { mode: Mode::Report, ..request("report", ns.name(), &next, "c2") }).await;
    assert_ok(&report);
    assert_eq!(agent.requests.writes(), writes, "report mode must not write");
    let after: Vec<_> =
        cms.list(&Default::default()).await?.items.iter().map(|c| (c.name_any(), c.resource_version())).collect();
    assert_eq!(before, after, "report mode changed the cluster");
    let names = |a| report.planned(a).iter().map(|k| k.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(ObjectAction::Create), ["e"]);
    assert_eq!(names(ObjectAction::Update), ["a"]);
    assert_eq!(names(ObjectAction::Prune), ["d"]);
    assert!(report.objects.iter().all(|o| !o.done));

    // Enforce carries out exactly what report mode predicted.
    let enforced = agent.sync("report", ns.name(), &next, "c2").await;
    assert_ok(&enforced);
    assert_eq!(
        (enforced.done(ObjectAction::Create), enforced.done(ObjectAction::Update), enforced.done(ObjectAction::Prune)),
        (1, 1, 1)
    );
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_killed_mid_sync_converges_after_restart_and_prunes_from_the_inventory() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "restart").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let slow = |outcome: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: slow}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: slow}}}}\n  template:\n    metadata:\n      labels: {{app: slow}}\n      annotations: {{testenv.plumb.dev/outcome: {outcome}}}\n    spec: {{containers: [{{name: c, image: slow:1}}]}}\n"
        )
    };
    // Commit 1: ConfigMaps (an early wave) and a Deployment that never gets ready.
    let commit_1 = format!("{}---\n{}", config_maps(&["early", "stays"]), slow("never-ready"));
    let agent = Agent::start(&cluster, ns.name()).await?;
    let app_ns = ns.name().to_string();
    let sync = tokio::spawn(async move { agent.sync("restart", &app_ns, &commit_1, "c1").await });
    // Kill the agent once the first wave is applied, while it waits on the Deployment.
    let deployments = Api::<Deployment>::namespaced(cluster.client(), ns.name());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while deployments.get_opt("slow").await?.is_none() {
        assert!(std::time::Instant::now() < deadline, "the sync never reached the Deployment wave");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sync.abort();
    let _ = sync.await;
    assert!(cms.get_opt("early").await?.is_some());

    // A new agent (no memory) syncs commit 2, which dropped `early`: it must
    // know from the inventory written before the first write that `early`
    // is plumb's, and prune it.
    let restarted = Agent::start(&cluster, ns.name()).await?;
    let commit_2 = format!("{}---\n{}", config_maps(&["stays"]), slow("ready"));
    let report = restarted.sync("restart", ns.name(), &commit_2, "c2").await;
    assert_ok(&report);
    assert!(cms.get_opt("early").await?.is_none(), "early was not pruned after the restart");
    assert!(cms.get_opt("stays").await?.is_some());
    let inventory = cms.get("plumb-inventory-restart").await?;
    let stored = inventory.data.and_then(|d| d.get("inventory.json").cloned()).unwrap_or_default();
    assert!(stored.contains("\"commit\":\"c2\"") && !stored.contains("\"name\":\"early\""), "{stored}");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_is_server_side_with_field_manager_plumb() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "ssa").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    assert_ok(&agent.sync("ssa", ns.name(), &config_maps(&["managed"]), "c1").await);
    let cm = Api::<ConfigMap>::namespaced(cluster.client(), ns.name()).get("managed").await?;
    let managers: Vec<_> = cm.managed_fields().iter().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert_eq!(managers, vec![(Some("plumb".into()), Some("Apply".into()))]);
    assert_eq!(cm.labels().get("plumb.dev/app").map(String::as_str), Some("ssa"));
    // A foreign manager's change is overwritten by the next (forced) apply of a new commit.
    Api::<ConfigMap>::namespaced(cluster.client(), ns.name())
        .patch(
            "managed",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"v": "theirs"}})),
        )
        .await?;
    assert_ok(
        &agent.sync("ssa", ns.name(), &config_maps(&["managed"]).replace("v: \"managed\"", "v: \"ours\""), "c2").await,
    );
    let cm = Api::<ConfigMap>::namespaced(cluster.client(), ns.name()).get("managed").await?;
    assert_eq!(cm.data.and_then(|d| d.get("v").cloned()).as_deref(), Some("ours"));
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_app_keeps_a_compressed_inventory_and_resyncs_for_free() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "large").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let names: Vec<String> = (0..1200).map(|i| format!("config-{i:04}")).collect();
    let yaml = config_maps(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let started = std::time::Instant::now();
    let first = agent.sync("large", ns.name(), &yaml, "c1").await;
    assert_ok(&first);
    println!("cold sync of 1200 ConfigMaps (dry-run + apply): {:?}", started.elapsed());
    assert_eq!(first.done(ObjectAction::Create), 1200);

    let inventory = Api::<ConfigMap>::namespaced(cluster.client(), ns.name()).get("plumb-inventory-large").await?;
    assert!(inventory.data.unwrap_or_default().is_empty());
    assert!(
        inventory.binary_data.unwrap_or_default().contains_key("inventory.json.gz"),
        "large inventories are compressed"
    );

    let writes = agent.requests.writes();
    let started = std::time::Instant::now();
    let again = agent.sync("large", ns.name(), &yaml, "c1").await;
    assert_ok(&again);
    println!("no-op re-sync of 1200 ConfigMaps: {:?}", started.elapsed());
    assert_eq!(agent.requests.writes(), writes, "a no-op sync writes nothing");
    assert_eq!(again.planned(ObjectAction::Unchanged).len(), 1200);
    ns.delete().await?;
    Ok(())
}
