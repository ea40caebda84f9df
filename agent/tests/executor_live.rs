//! The live cache and drift detector against the fake cluster: the exact
//! requests of noticing and correcting a hand edit (and none at rest), a
//! watch whose version expired (410) lists again and misses nothing, a
//! failed correction is retried, a forbidden list fails fast, a standby
//! neither reports nor corrects, a burst of edits loses no drift, and
//! plumb's own prune is never taken for drift.

use std::sync::Arc;
use std::time::Duration;

use plumb::apply::{SyncOptions, SyncReport, SyncRequest, Syncer};
use plumb::cluster::{Resource, SharedCluster, Target};
use plumb::live::{DriftDetector, DriftEvent, LiveCache, WatchScope};
use plumb::plan::AppContext;
use plumb_fake_cluster::{FakeCluster, Fault, Verb};
use serde_json::json;
use tokio::sync::mpsc;

struct Live {
    fake: Arc<FakeCluster>,
    syncer: Arc<Syncer>,
    cache: Arc<LiveCache>,
    events: mpsc::Receiver<DriftEvent>,
    leader: tokio::sync::watch::Sender<bool>,
    detector: tokio::task::JoinHandle<()>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.detector.abort();
    }
}

async fn live() -> Live {
    let fake = FakeCluster::new();
    let cluster: SharedCluster = fake.clone();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plumb-system"}});
    cluster.apply(Target::new(&Resource::namespaces(), None), "plumb-system", &ns, "setup", false).await.expect("ns");
    let cache = LiveCache::new(cluster.clone(), WatchScope::Cluster);
    let options = SyncOptions { poll_interval: Duration::from_millis(10), ..SyncOptions::default() };
    let syncer = Arc::new(Syncer::new(cluster, options).await.expect("syncer").with_live_cache(cache.clone()));
    let (leader, leading) = tokio::sync::watch::channel(true);
    let events = cache.drift().subscribe();
    let detector = tokio::spawn(DriftDetector::new(cache.clone(), syncer.objects().clone()).with_leader(leading).run());
    fake.take_requests();
    Live { fake, syncer, cache, events, leader, detector }
}

fn app(configmaps: &[&str]) -> SyncRequest {
    let mut yaml = String::from("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n");
    for name in configmaps {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: \"1\"}}\n"
        ));
    }
    let objects = plumb::render::plain::parse_documents("app.yaml", &yaml).expect("yaml");
    SyncRequest {
        commit: Some("c1".into()),
        ..SyncRequest::new(AppContext { name: "shop".into(), namespace: Some("shop".into()) }, objects)
    }
}

fn ok(report: &SyncReport) {
    if let Err(e) = &report.result {
        panic!("sync failed: {e}");
    }
}

async fn next(events: &mut mpsc::Receiver<DriftEvent>, pick: impl Fn(&DriftEvent) -> bool) -> DriftEvent {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
            Ok(Some(event)) if pick(&event) => return event,
            Ok(Some(other)) => eprintln!("skipped {other:?}"),
            other => panic!("no such drift event: {other:?}"),
        }
    }
}

fn edit(fake: &FakeCluster, name: &str, value: &str) {
    fake.edit("", "ConfigMap", Some("shop"), name, "kubectl-edit", json!({"data": {"v": value}}));
}

#[tokio::test]
async fn a_hand_edit_costs_one_get_one_dry_run_and_one_apply_and_nothing_at_rest() {
    let mut live = live().await;
    ok(&live.syncer.sync(app(&["a"])).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    live.fake.take_requests();

    edit(&live.fake, "a", "2");
    let detected = next(&mut live.events, |e| matches!(e, DriftEvent::Detected(_))).await;
    let DriftEvent::Detected(record) = detected else { unreachable!() };
    assert_eq!(record.drift.summary(), "data.v (kubectl-edit (Update))");
    next(&mut live.events, |e| matches!(e, DriftEvent::Corrected { .. })).await;
    assert_eq!(live.fake.object("", "ConfigMap", Some("shop"), "a").map(|c| c["data"]["v"].clone()), Some(json!("1")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(live.fake.take_requests(), ["get ConfigMap/a", "dry-run ConfigMap/a", "apply ConfigMap/a"]);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(live.fake.take_requests().is_empty(), "no request at rest");
}

#[tokio::test]
async fn an_expired_watch_lists_again_and_misses_no_deletion() {
    let mut live = live().await;
    ok(&live.syncer.sync(app(&["a", "b"])).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    live.fake.take_requests();
    // The watch's version is compacted away, then an object goes.
    live.fake.expire_watches();
    live.fake.remove("", "ConfigMap", Some("shop"), "b");
    let event = next(&mut live.events, |e| matches!(e, DriftEvent::Detected(r) if r.drift.key.name == "b")).await;
    let DriftEvent::Detected(record) = event else { unreachable!() };
    assert_eq!(record.drift.summary(), "deleted");
    next(&mut live.events, |e| matches!(e, DriftEvent::Corrected { key, .. } if key.name == "b")).await;
    let requests = live.fake.take_requests();
    assert!(requests.iter().any(|r| r == "list ConfigMap"), "the ConfigMap watch listed again: {requests:?}");
    assert!(live.fake.object("", "ConfigMap", Some("shop"), "b").is_some(), "recreated");
}

#[tokio::test]
async fn a_failed_correction_is_retried_with_backoff() {
    let mut live = live().await;
    ok(&live.syncer.sync(app(&["a"])).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The correction is refused twice (422 is not retried within one
    // attempt), then accepted: the detector retries on its own (1 s, 2 s).
    live.fake.inject(Fault::status(Verb::Apply, "ConfigMap", 2, 422, "Invalid").named("a").not_dry_run());
    edit(&live.fake, "a", "2");
    let failed = next(&mut live.events, |e| matches!(e, DriftEvent::CorrectionFailed { .. })).await;
    let DriftEvent::CorrectionFailed { reason, .. } = failed else { unreachable!() };
    assert!(reason.contains("422 Invalid"), "{reason}");
    next(&mut live.events, |e| matches!(e, DriftEvent::Corrected { .. })).await;
    assert_eq!(live.fake.object("", "ConfigMap", Some("shop"), "a").map(|c| c["data"]["v"].clone()), Some(json!("1")));
}

#[tokio::test]
async fn a_forbidden_list_fails_the_sync_fast_with_the_reason() {
    let live = live().await;
    live.fake.inject(Fault::status(Verb::List, "ConfigMap", 100, 403, "Forbidden"));
    let started = std::time::Instant::now();
    let report = live.syncer.sync(app(&["a"])).await;
    let error = report.result.expect_err("forbidden").to_string();
    assert!(error.contains("cannot list ConfigMap") && error.contains("403 Forbidden"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30), "failed fast, not after the watch timeout");
    assert!(live.fake.writes().is_empty());
}

#[tokio::test]
async fn a_standby_neither_reports_nor_corrects() {
    let mut live = live().await;
    ok(&live.syncer.sync(app(&["a"])).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    live.leader.send(false).expect("leader channel");
    live.fake.take_requests();
    edit(&live.fake, "a", "2");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(live.events.try_recv().is_err(), "a standby reports nothing");
    assert!(live.fake.take_requests().is_empty(), "a standby reads and writes nothing");
    assert!(live.cache.drift().drifted(None).is_empty());
}

#[tokio::test]
async fn a_burst_of_edits_loses_no_drift() {
    let mut live = live().await;
    let names: Vec<String> = (0..300).map(|i| format!("cm-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ok(&live.syncer.sync(app(&refs)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for name in &names {
        edit(&live.fake, name, "burst");
    }
    let mut corrected = std::collections::BTreeSet::new();
    while corrected.len() < names.len() {
        if let DriftEvent::Corrected { key, .. } =
            next(&mut live.events, |e| matches!(e, DriftEvent::Corrected { .. })).await
        {
            corrected.insert(key.name);
        }
    }
    for name in &names {
        let value = live.fake.object("", "ConfigMap", Some("shop"), name).map(|c| c["data"]["v"].clone());
        assert_eq!(value, Some(json!("1")), "{name}");
    }
}

#[tokio::test]
async fn plumbs_own_prune_is_not_taken_for_drift() {
    let mut live = live().await;
    let names: Vec<String> = (0..300).map(|i| format!("cm-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ok(&live.syncer.sync(app(&refs)).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The next commit drops a third (under the prune guard's limit): their
    // delete events reach the detector while the prune is still going.
    ok(&live.syncer.sync(app(&refs[100..])).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let back: Vec<&String> =
        names[..100].iter().filter(|n| live.fake.object("", "ConfigMap", Some("shop"), n).is_some()).collect();
    assert!(back.is_empty(), "pruned objects were re-created as drift: {back:?}");
    while let Ok(event) = live.events.try_recv() {
        assert!(!matches!(event, DriftEvent::Corrected { .. }), "{event:?}");
    }
}
