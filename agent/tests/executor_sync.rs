//! The sync executor against the fake cluster: the exact requests of a
//! cold sync, a no-op and a prune, and what plumb does next when the API
//! fails (409 on apply, 500 in the middle of a wave, a timeout, a
//! forbidden list): retries where a retry can help, stops before the next
//! wave, keeps the inventory consistent, and reports the reason.

use std::sync::Arc;
use std::time::Duration;

use plumb::apply::{ApplyError, ObjectAction, SyncOptions, SyncReport, SyncRequest, Syncer};
use plumb::cluster::{Resource, SharedCluster, Target};
use plumb::plan::{AppContext, RenderedObject};
use plumb_fake_cluster::{FakeCluster, Fault, FaultKind, Verb};
use serde_json::json;

const NAMESPACE: &str = "plumb-system";

const APP: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}\n---\n\
apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n\
spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: web:1}]}}}\n";

async fn fixture() -> (Arc<FakeCluster>, Syncer) {
    let fake = FakeCluster::new();
    let cluster: SharedCluster = fake.clone();
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    cluster
        .apply(Target::new(&Resource::namespaces(), None), NAMESPACE, &namespace, "setup", false)
        .await
        .expect("plumb's namespace");
    let options = SyncOptions {
        health_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(10),
        ..SyncOptions::default()
    };
    let syncer = Syncer::new(cluster, options).await.expect("syncer");
    fake.take_requests();
    (fake, syncer)
}

fn request(yaml: &str, commit: &str) -> SyncRequest {
    let objects: Vec<RenderedObject> = plumb::render::plain::parse_documents("app.yaml", yaml).expect("test YAML");
    let app = AppContext { name: "shop".into(), namespace: Some("shop".into()) };
    SyncRequest { commit: Some(commit.into()), ..SyncRequest::new(app, objects) }
}

fn ok(report: &SyncReport) {
    if let Err(e) = &report.result {
        panic!("sync failed: {e}");
    }
}

/// The requests, with each run of concurrent requests (same verb, one
/// after another) sorted, so the order within a wave does not matter.
fn taken(fake: &FakeCluster) -> Vec<String> {
    let mut requests = fake.take_requests();
    let mut start = 0;
    while start < requests.len() {
        let verb = |r: &String| r.split(' ').next().unwrap_or_default().to_string();
        let first = verb(&requests[start]);
        let end = (start..requests.len()).find(|&i| verb(&requests[i]) != first).unwrap_or(requests.len());
        if first == "list" || first == "dry-run" {
            requests[start..end].sort();
        }
        start = end;
    }
    requests
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn cold_sync_noop_and_prune_make_exactly_these_requests() {
    let (fake, syncer) = fixture().await;
    ok(&syncer.sync(request(APP, "c1")).await);
    let validated_in = fake.requests().into_iter().find(|r| r.dry_run && r.name.as_deref() == Some("settings"));
    assert_eq!(validated_in.and_then(|r| r.namespace).as_deref(), Some(NAMESPACE));
    assert_eq!(
        taken(&fake),
        strings(&[
            "get ConfigMap/plumb-inventory-shop",
            "list ConfigMap",
            "list Deployment",
            "list Namespace",
            // Everything is validated before the first write; objects whose
            // namespace this sync creates are dry-run in plumb's own.
            "dry-run ConfigMap/settings",
            "dry-run Deployment/web",
            "dry-run Namespace/shop",
            "apply ConfigMap/plumb-inventory-shop",
            "apply Namespace/shop",
            "apply ConfigMap/settings",
            "apply Deployment/web",
            "apply ConfigMap/plumb-inventory-shop",
        ])
    );

    // The same commit again: one list per kind, nothing else.
    ok(&syncer.sync(request(APP, "c1")).await);
    assert_eq!(taken(&fake), strings(&["list ConfigMap", "list Deployment", "list Namespace"]));

    // A new commit with the same objects: health is re-checked (reads only,
    // and only kinds that have health), the inventory records the commit.
    ok(&syncer.sync(request(APP, "c2")).await);
    assert_eq!(
        taken(&fake),
        strings(&[
            "list ConfigMap",
            "list Deployment",
            "list Namespace",
            "get Namespace/shop",
            "get Deployment/web",
            "apply ConfigMap/plumb-inventory-shop",
        ])
    );

    // The ConfigMap leaves Git: it is deleted with its uid as precondition.
    let without =
        APP.replace("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}\n---\n", "");
    let pruned = syncer.sync(request(&without, "c3")).await;
    ok(&pruned);
    assert_eq!(pruned.done(ObjectAction::Prune), 1);
    assert_eq!(
        taken(&fake),
        strings(&[
            "list ConfigMap",
            "list Deployment",
            "list Namespace",
            "get Namespace/shop",
            "get Deployment/web",
            "delete ConfigMap/settings",
            "apply ConfigMap/plumb-inventory-shop",
        ])
    );
    assert!(fake.object("", "ConfigMap", Some("shop"), "settings").is_none());
}

#[tokio::test]
async fn a_conflict_on_apply_stops_before_the_next_wave_and_the_inventory_keeps_what_was_applied() {
    let (fake, syncer) = fixture().await;
    fake.inject(Fault::status(Verb::Apply, "ConfigMap", 1, 409, "Conflict").named("settings").not_dry_run());
    let report = syncer.sync(request(APP, "c1")).await;
    let Err(ApplyError::ApplyFailed(failures)) = &report.result else { panic!("{:?}", report.result) };
    assert_eq!(failures.len(), 1);
    assert!(failures[0].message.contains("409 Conflict"), "{}", failures[0].message);
    assert!(fake.object("apps", "Deployment", Some("shop"), "web").is_none(), "the next wave was not applied");
    let writes: Vec<String> = fake.writes().iter().map(|r| r.short()).collect();
    assert!(!writes.contains(&"apply Deployment/web".to_string()), "{writes:?}");
    // The inventory lists what may exist (intent), the namespace confirmed.
    let inventory = syncer.store().read("shop").await.expect("readable").expect("written");
    let entry = |name: &str| inventory.entries.iter().find(|e| e.key.name == name).map(|e| e.hash.clone());
    assert!(entry("shop").is_some_and(|h| !h.is_empty()), "the applied namespace is recorded with its hash");
    assert_eq!(entry("web"), Some(String::new()), "the unapplied Deployment is recorded as intent only");
    assert_eq!(inventory.commit, None, "the commit is not recorded as synced");

    // The next attempt converges.
    ok(&syncer.sync(request(APP, "c1")).await);
    assert!(fake.object("apps", "Deployment", Some("shop"), "web").is_some());
}

#[tokio::test]
async fn a_server_error_mid_wave_is_retried_and_a_lasting_one_reported() {
    let (fake, syncer) = fixture().await;
    // One 500: retried, the sync succeeds.
    fake.inject(Fault::status(Verb::Apply, "ConfigMap", 1, 500, "InternalError").named("settings").not_dry_run());
    ok(&syncer.sync(request(APP, "c1")).await);
    let applies = fake.requests().iter().filter(|r| r.short() == "apply ConfigMap/settings").count();
    assert_eq!(applies, 2, "one failed attempt, one retry");

    // A 500 that lasts: reported with its code, later waves not applied.
    let changed = APP.replace("hello", "bonjour").replace("web:1", "web:2");
    fake.inject(Fault::status(Verb::Apply, "ConfigMap", 10, 500, "InternalError").named("settings").not_dry_run());
    let report = syncer.sync(request(&changed, "c2")).await;
    let Err(ApplyError::ApplyFailed(failures)) = &report.result else { panic!("{:?}", report.result) };
    assert!(failures[0].message.contains("500 InternalError"), "{}", failures[0].message);
    let image = fake
        .object("apps", "Deployment", Some("shop"), "web")
        .map(|d| d["spec"]["template"]["spec"]["containers"][0]["image"].clone());
    assert_eq!(image, Some(json!("web:1")), "the Deployment's wave never ran");
}

#[tokio::test]
async fn a_stalled_api_times_out_and_nothing_is_half_applied() {
    let (fake, syncer) = fixture().await;
    let stall = Fault {
        verb: Verb::Apply,
        kind: Some("Deployment".into()),
        name: None,
        dry_run: Some(true),
        times: 10,
        kind_of_fault: FaultKind::Stall(Duration::from_millis(50)),
    };
    fake.inject(stall);
    let report = syncer.sync(request(APP, "c1")).await;
    let Err(ApplyError::DryRunRejected(failures)) = &report.result else { panic!("{:?}", report.result) };
    assert!(failures[0].message.contains("Timeout"), "{}", failures[0].message);
    assert!(fake.writes().is_empty(), "validation failed: nothing at all was written");
    assert!(report.result.as_ref().err().is_some_and(|e| e.to_string().contains("nothing was applied")));
}

#[tokio::test]
async fn a_forbidden_list_fails_the_sync_with_the_reason_before_any_write() {
    let (fake, syncer) = fixture().await;
    fake.inject(Fault::status(Verb::List, "Deployment", 1, 403, "Forbidden"));
    let report = syncer.sync(request(APP, "c1")).await;
    let error = report.result.as_ref().expect_err("forbidden").to_string();
    assert!(error.contains("list Deployment objects") && error.contains("403 Forbidden"), "{error}");
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn report_mode_never_writes() {
    let (fake, syncer) = fixture().await;
    let report = syncer.sync(SyncRequest { mode: plumb::apply::Mode::Report, ..request(APP, "c1") }).await;
    ok(&report);
    assert_eq!(report.planned(ObjectAction::Create).len(), 3);
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
}

#[tokio::test]
async fn a_replica_that_is_not_the_leader_cannot_write() {
    let (fake, _) = fixture().await;
    let (leading, fence) = tokio::sync::watch::channel(true);
    let fenced: SharedCluster = Arc::new(plumb::cluster::fence::Fenced::new(fake.clone(), fence));
    let options = SyncOptions { health_timeout: Duration::from_secs(2), ..SyncOptions::default() };
    let syncer = Syncer::new(fenced, options).await.expect("syncer");
    leading.send(false).expect("fence");
    fake.take_requests();
    let report = syncer.sync(request(APP, "c1")).await;
    let error = report.result.expect_err("fenced").to_string();
    assert!(error.contains("not the leader"), "{error}");
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
}
