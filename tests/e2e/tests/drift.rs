//! Drift against the real control plane, caused by the real kubectl:
//! noticed within a second from metadata-only watches, explained with the
//! field and the other manager, corrected in enforce mode, left alone in
//! report mode, never raised for defaults, status or foreign labels, and
//! free of API requests at rest.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use plumb::apply::{Mode, SyncRequest};
use plumb::live::drift::DriftKind;
use plumb::live::{DriftEvent, DriftRecord};
use plumb_e2e::{Agent, assert_ok, request};
use plumb_testenv::webhook::MutatingWebhook;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};
use serde_json::json;
use tokio::sync::mpsc;

const APP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 1000m}}
"#;

/// Runs kubectl against `kubeconfig` in `namespace`.
fn kubectl(kubeconfig: &Path, namespace: &str, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) {
    use std::io::Write;
    let mut command = std::process::Command::new("kubectl");
    command.arg(format!("--kubeconfig={}", kubeconfig.display())).arg(format!("--namespace={namespace}")).args(args);
    command.envs(env.iter().copied()).stdin(std::process::Stdio::piped());
    command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("run kubectl");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).expect("write kubectl stdin");
    }
    let output = child.wait_with_output().expect("kubectl output");
    assert!(output.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Waits for the first event matching `pick`, returning it with the time
/// it took from `since`.
async fn next_event<T>(
    events: &mut mpsc::Receiver<DriftEvent>,
    timeout: Duration,
    mut pick: impl FnMut(&DriftEvent) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => {
                if let Some(found) = pick(&event) {
                    return Some(found);
                }
            }
            _ => return None,
        }
    }
}

fn detected(name: &'static str) -> impl FnMut(&DriftEvent) -> Option<DriftRecord> {
    move |event| match event {
        DriftEvent::Detected(record) if record.drift.key.name == name => Some(record.clone()),
        _ => None,
    }
}

fn corrected(name: &'static str) -> impl FnMut(&DriftEvent) -> Option<()> {
    move |event| matches!(event, DriftEvent::Corrected { key, .. } if key.name == name).then_some(())
}

struct Case {
    what: &'static str,
    object: &'static str,
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
    stdin: Option<&'static str>,
    /// Expected drifted field and manager (`""`: none recorded); `None` for
    /// a deletion.
    field: Option<(&'static str, &'static str)>,
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_edit_is_detected_within_a_second_and_corrected() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "drift").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let agent = Agent::start_live(&cluster, ns.name()).await?;
    assert_ok(&agent.sync("drift", ns.name(), APP, "c1").await);
    let registry = agent.drift.clone().expect("live agent");
    let kubeconfig = cluster.kubeconfig_path();
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let deployments = Api::<Deployment>::namespaced(cluster.client(), ns.name());

    let client_side =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: applied-by-hand}\n";
    let forced = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: forced}\n";
    let cases = vec![
        Case {
            what: "kubectl edit",
            object: "settings",
            args: vec!["edit", "configmap/settings"],
            env: vec![("KUBE_EDITOR", "sed -i s/greeting:.hello/greeting:\\ edited/")],
            stdin: None,
            field: Some(("data.greeting", "kubectl-edit (Update)")),
        },
        Case {
            what: "kubectl patch",
            object: "web",
            args: vec![
                "patch",
                "deployment/web",
                "--type=merge",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"patched:2"}]}}}}"#,
            ],
            env: vec![],
            stdin: None,
            field: Some(("spec.template.spec.containers[name=web].image", "kubectl-patch (Update)")),
        },
        Case {
            what: "kubectl scale",
            object: "web",
            args: vec!["scale", "deployment/web", "--replicas=5"],
            env: vec![],
            stdin: None,
            // The scale subresource records its manager (since Kubernetes 1.22).
            field: Some(("spec.replicas", "kubectl (Update)")),
        },
        Case {
            what: "client-side kubectl apply",
            object: "settings",
            args: vec!["apply", "-f", "-"],
            env: vec![],
            stdin: Some(client_side),
            field: Some(("data.greeting", "kubectl-client-side-apply (Update)")),
        },
        Case {
            what: "forced server-side apply by another manager",
            object: "settings",
            args: vec!["apply", "--server-side", "--force-conflicts", "--field-manager=intruder", "-f", "-"],
            env: vec![],
            stdin: Some(forced),
            field: Some(("data.greeting", "intruder (Apply)")),
        },
        Case {
            what: "kubectl delete",
            object: "settings",
            args: vec!["delete", "configmap/settings"],
            env: vec![],
            stdin: None,
            field: None,
        },
    ];

    for case in cases {
        let mut events = registry.subscribe();
        kubectl(kubeconfig, ns.name(), &case.args, &case.env, case.stdin);
        let done = Instant::now();
        let record = next_event(&mut events, Duration::from_secs(1), detected(case.object))
            .await
            .unwrap_or_else(|| panic!("{}: no drift detected within 1 s", case.what));
        println!(
            "{:<46} detected {:>4} ms after kubectl returned: {}",
            case.what,
            done.elapsed().as_millis(),
            record.drift.summary()
        );
        match case.field {
            Some((path, manager)) => {
                assert_eq!(record.drift.kind, DriftKind::Modified, "{}", case.what);
                let field = record.drift.fields.iter().find(|f| f.path == path);
                let field = field.unwrap_or_else(|| panic!("{}: {path} not in {:?}", case.what, record.drift.fields));
                assert!(field.managers.iter().any(|m| m == manager), "{}: managers {:?}", case.what, field.managers);
            }
            None => assert_eq!(record.drift.kind, DriftKind::Deleted),
        }
        assert!(
            next_event(&mut events, Duration::from_secs(5), corrected(case.object)).await.is_some(),
            "{}: not corrected",
            case.what
        );
    }

    // Everything is back as Git says.
    let cm = cms.get("settings").await?;
    assert_eq!(cm.data.and_then(|d| d.get("greeting").cloned()).as_deref(), Some("hello"));
    let spec = deployments.get("web").await?.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(
        spec.template.spec.and_then(|s| s.containers[0].image.clone()).as_deref(),
        Some("registry.invalid/web:1")
    );
    assert!(registry.drifted(Some("drift")).is_empty(), "{:?}", registry.drifted(None));

    // Watches follow what plumb manages: removing the app stops them.
    let cache = agent.cache.clone().expect("live agent");
    let kinds = |k: Vec<(String, String)>| k.into_iter().map(|(_, kind)| kind).collect::<Vec<_>>();
    assert_eq!(kinds(cache.watched_kinds()), ["ConfigMap", "Deployment"]);
    let app = plumb::plan::AppContext { name: "drift".into(), namespace: Some(ns.name().into()) };
    assert_ok(&agent.syncer.sync(SyncRequest::removal(app, plumb::plan::Removal::Prune)).await);
    assert!(cache.watched_kinds().is_empty(), "{:?}", cache.watched_kinds());
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn report_mode_reports_drift_and_leaves_it() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "report-drift").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let agent = Agent::start_live(&cluster, ns.name()).await?;
    assert_ok(&agent.sync("watch-only", ns.name(), APP, "c1").await);
    // From now on the app is in report mode.
    assert_ok(
        &agent.syncer.sync(SyncRequest { mode: Mode::Report, ..request("watch-only", ns.name(), APP, "c1") }).await,
    );
    let registry = agent.drift.clone().expect("live agent");
    let mut events = registry.subscribe();
    let writes = agent.requests.writes();

    kubectl(cluster.kubeconfig_path(), ns.name(), &["scale", "deployment/web", "--replicas=4"], &[], None);
    let record = next_event(&mut events, Duration::from_secs(1), detected("web")).await.expect("drift detected");
    assert_eq!(record.drift.fields[0].path, "spec.replicas");
    assert_eq!(record.drift.fields[0].desired, Some(serde_json::json!(2)));
    assert_eq!(record.drift.fields[0].live, Some(serde_json::json!(4)));
    assert!(
        next_event(&mut events, Duration::from_secs(2), corrected("web")).await.is_none(),
        "report mode corrected drift"
    );
    assert_eq!(agent.requests.writes(), writes, "report mode wrote to the cluster");
    let replicas =
        Api::<Deployment>::namespaced(cluster.client(), ns.name()).get("web").await?.spec.and_then(|s| s.replicas);
    assert_eq!(replicas, Some(4));
    let drifted = registry.drifted(Some("watch-only"));
    assert_eq!(drifted.len(), 1);
    assert_eq!(drifted[0].drift.managers(), ["kubectl (Update)"], "the scale subresource names its manager");
    ns.delete().await?;
    Ok(())
}

/// Registers `webhook` for objects in namespace `ns` only, and waits until
/// the API server calls it.
async fn register_webhook(client: &kube::Client, ns: &str, webhook: &MutatingWebhook) -> anyhow::Result<()> {
    let namespaces = Api::<Namespace>::all(client.clone());
    let label = json!({"metadata": {"labels": {"webhook.plumb.test/inject": ns}}});
    namespaces.patch(ns, &PatchParams::default(), &Patch::Merge(label)).await?;
    let config: MutatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": ns},
        "webhooks": [{
            "name": "inject.plumb.test",
            "clientConfig": {"url": webhook.url(), "caBundle": webhook.ca_bundle()},
            "rules": [{"apiGroups": ["", "apps", "batch"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                       "resources": ["configmaps", "services", "deployments", "jobs"], "scope": "Namespaced"}],
            "namespaceSelector": {"matchLabels": {"webhook.plumb.test/inject": ns}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "failurePolicy": "Fail",
            "timeoutSeconds": 5,
        }],
    }))?;
    Api::<MutatingWebhookConfiguration>::all(client.clone()).create(&PostParams::default(), &config).await?;
    // The API server picks the configuration up asynchronously.
    let probes = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(20);
    for attempt in 0.. {
        let name = format!("webhook-probe-{attempt}");
        let probe = probes
            .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": name}}))?)
            .await?;
        probes.delete(&name, &Default::default()).await?;
        if probe.labels().contains_key("injected.plumb.test/by") {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "the webhook never got called");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_false_drift_from_defaults_status_webhooks_or_foreign_labels() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "quiet").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    // A mutating webhook injects a label and an annotation on every create and update.
    let webhook =
        MutatingWebhook::start(("injected.plumb.test/by", "webhook"), ("injected.plumb.test/note", "hello")).await?;
    register_webhook(&cluster.client(), ns.name(), &webhook).await?;
    let agent = Agent::start_live(&cluster, ns.name()).await?;
    // Nothing defaulted is set: no imagePullPolicy, terminationMessagePath,
    // protocol, clusterIP; quantities as 1000m.
    let yaml = format!(
        "{APP}---\napiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {{name: once}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: c, image: job:1, resources: {{limits: {{memory: 1Gi, cpu: 1000m}}}}}}]\n"
    );
    let registry = agent.drift.clone().expect("live agent");
    let mut events = registry.subscribe();
    assert_ok(&agent.sync("quiet", ns.name(), &yaml, "c1").await);
    let deployment = Api::<Deployment>::namespaced(cluster.client(), ns.name()).get("web").await?;
    assert_eq!(
        deployment.labels().get("injected.plumb.test/by").map(String::as_str),
        Some("webhook"),
        "the webhook ran on plumb's apply"
    );
    // A label added by hand, on a field plumb does not own.
    kubectl(cluster.kubeconfig_path(), ns.name(), &["label", "deployment/web", "team=payments"], &[], None);
    kubectl(cluster.kubeconfig_path(), ns.name(), &["annotate", "service/web", "note=by-hand"], &[], None);
    // Controllers keep updating status meanwhile (rollout, job completion).
    let quiet = next_event(&mut events, Duration::from_secs(30), |e| Some(e.clone())).await;
    assert!(quiet.is_none(), "false drift: {quiet:?}");
    assert!(registry.drifted(None).iter().all(|r| r.app != "quiet"));
    println!("webhook served {} admission requests; no drift reported over 30 s", webhook.calls());
    Api::<MutatingWebhookConfiguration>::all(cluster.client()).delete(ns.name(), &Default::default()).await?;
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_unchanged_syncs_of_500_objects_make_no_request() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "rest").await?;
    let agent = Agent::start_live(&cluster, ns.name()).await?;
    let yaml: String = (0..500)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i:03}}}\ndata: {{v: \"{i}\"}}\n"))
        .collect::<Vec<_>>()
        .join("---\n");
    assert_ok(&agent.sync("rest", ns.name(), &yaml, "c1").await);
    let before = agent.requests.count(|_| true);
    let started = Instant::now();
    for _ in 0..10 {
        let report = agent.sync("rest", ns.name(), &yaml, "c1").await;
        assert_ok(&report);
        assert_eq!(report.planned(plumb::apply::ObjectAction::Unchanged).len(), 500);
    }
    println!(
        "10 no-change syncs of 500 objects: {:?}, {} requests",
        started.elapsed(),
        agent.requests.count(|_| true) - before
    );
    assert_eq!(agent.requests.count(|_| true), before, "steady state must cost no API request");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watch_reconnects_after_an_api_server_restart_and_catches_up() -> anyhow::Result<()> {
    let mut cluster = TestCluster::private().await?;
    let client = cluster.client();
    let ns = TestNamespace::create(&client, "restart").await?;
    let agent = Agent::start_live(&cluster, ns.name()).await?;
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: edited}\ndata: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: deleted}\ndata: {k: v}\n";
    assert_ok(&agent.sync("restart", ns.name(), yaml, "c1").await);
    let registry = agent.drift.clone().expect("live agent");
    let mut events = registry.subscribe();

    cluster.control_plane().expect("private").restart_apiserver().await?;
    // Right after the restart the agent's watches are still backing off:
    // these changes happen while they are down.
    let cms = Api::<ConfigMap>::namespaced(client.clone(), ns.name());
    cms.patch(
        "edited",
        &kube::api::PatchParams { field_manager: Some("hand".into()), ..Default::default() },
        &kube::api::Patch::Merge(serde_json::json!({"data": {"k": "changed"}})),
    )
    .await?;
    cms.delete("deleted", &Default::default()).await?;

    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 2 && Instant::now() < deadline {
        if let Some(record) = next_event(&mut events, Duration::from_secs(5), |e| match e {
            DriftEvent::Detected(r) => Some(r.clone()),
            _ => None,
        })
        .await
        {
            seen.insert((record.drift.key.name.clone(), record.drift.kind == DriftKind::Deleted));
        }
    }
    assert_eq!(seen, [("deleted".to_string(), true), ("edited".to_string(), false)].into_iter().collect());
    ns.delete().await?;
    Ok(())
}

/// A CRD and its custom resource in one commit: the resource is watched
/// from then on, so a hand edit of it is detected and corrected.
#[tokio::test(flavor = "multi_thread")]
async fn a_custom_resource_applied_with_its_crd_is_watched_and_corrected() -> anyhow::Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "crdrift").await?;
    let agent = Agent::start_live(&cluster, ns.name()).await?;
    let group = format!("{}.plumb.test", plumb_testenv::unique_name("d"));
    let yaml = format!(
        "apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: one}}\nspec: {{size: 3}}\n---\n{}",
        plumb_e2e::sized_crd(&group, "Gadget")
    );
    assert_ok(&agent.sync("gadgets", ns.name(), &yaml, "c1").await);
    let registry = agent.drift.clone().expect("live agent");
    let mut events = registry.subscribe();
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(&group, "v1", "Gadget"), "gadgets");
    let gadgets = Api::<DynamicObject>::namespaced_with(cluster.client(), ns.name(), &resource);
    let edited = Instant::now();
    gadgets
        .patch(
            "one",
            &PatchParams { field_manager: Some("hand".into()), ..Default::default() },
            &Patch::Merge(json!({"spec": {"size": 9}})),
        )
        .await?;
    let corrected = next_event(&mut events, Duration::from_secs(10), |e| match e {
        DriftEvent::Corrected { key, .. } if key.kind == "Gadget" => Some(key.clone()),
        _ => None,
    })
    .await;
    assert!(corrected.is_some(), "the hand edit of the custom resource was not corrected");
    println!("custom resource corrected {:?} after the edit", edited.elapsed());
    assert_eq!(gadgets.get("one").await?.data["spec"]["size"], 3);
    Api::<CustomResourceDefinition>::all(cluster.client())
        .delete(&format!("gadgets.{group}"), &Default::default())
        .await?;
    ns.delete().await?;
    Ok(())
}
