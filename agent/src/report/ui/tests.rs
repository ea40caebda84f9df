//! The dashboard's pages and routes without a cluster: escaping,
//! redaction, prefixes, live updates, bounds and the diff budget.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use serde_json::json;
use tower::Service;

use super::app::{DiffRefusal, OBJECTS_PER_PAGE, app_view, diff_view};
use super::diff::{DiffError, DiffOutcome, ObjectDiffs, redacted};
use super::overview::overview;
use super::stream::MAX_STREAMS;
use super::{Dashboard, parse_prefix};
use crate::apply::{ApplyError, Mode, ObjectAction, ObjectReport, SyncReport};
use crate::cluster::requests::ApiRequests;
use crate::live::drift::FieldDrift;
use crate::plan::ObjectKey;
use crate::report::Reporter;
use crate::report::audit::{AuditAction, AuditRecord};
use crate::report::commit::{AppOutcome, CommitReport};
use crate::report::http::{HttpState, router};
use crate::report::metrics::Metrics;
use crate::report::status::{AppStatus, DriftedField, DriftedObject, RecentRecord, SourceStatus, Status};

/// Every `href="..."`, `src="..."` and `data-*="..."` URL of `html`.
pub(super) fn urls(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["href=\"", "src=\"", "data-events=\"", "data-fragment=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            found.push(rest[..rest.find('"').unwrap_or(rest.len())].to_string());
        }
    }
    found
}

const HOSTILE: &str = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
const TOKEN: &str = "planted-url-token-7f3a";

fn drifted(object: &str, path: &str) -> DriftedObject {
    DriftedObject {
        object: object.into(),
        drift: "modified".into(),
        fields: vec![DriftedField { path: path.into(), managers: vec!["kubectl-edit (Update)".into()] }],
    }
}

fn hostile_status() -> Status {
    let mut apps = BTreeMap::new();
    apps.insert(
        HOSTILE.to_string(),
        AppStatus {
            mode: HOSTILE.into(),
            state: HOSTILE.into(),
            health: format!("Degraded: {HOSTILE}"),
            commit: Some(HOSTILE.into()),
            last_sync: Some(HOSTILE.into()),
            objects: 3,
            message: Some(format!("line one {HOSTILE}\nline two {HOSTILE}")),
            drifted: vec![drifted(&format!("ConfigMap/n/{HOSTILE}"), &format!("data.{HOSTILE}"))],
        },
    );
    Status {
        source: SourceStatus {
            repo: format!("https://robot:{TOKEN}@git.example.com/{HOSTILE}"),
            reference: HOSTILE.into(),
            revision: Some(HOSTILE.into()),
            last_poll: Some(HOSTILE.into()),
            error: Some(HOSTILE.into()),
        },
        ready: true,
        role: "leader".into(),
        apps,
    }
}

fn hostile_record() -> RecentRecord {
    let action = AuditAction {
        object: HOSTILE.into(),
        action: HOSTILE.into(),
        done: false,
        fields: vec![HOSTILE.into()],
        error: None,
    };
    let record = AuditRecord {
        commit: Some(HOSTILE.into()),
        author: Some(HOSTILE.into()),
        signature: HOSTILE.into(),
        actions: vec![action],
        ..AuditRecord::new(HOSTILE, HOSTILE, Some(HOSTILE.into()))
    };
    RecentRecord { record, actions_total: 12 }
}

/// No markup from the data survives: only its escaped form.
fn assert_inert(html: &str) {
    for raw in ["<script>", "<img", "onerror=alert(1)>", "\"><img"] {
        assert!(!html.contains(raw), "{raw} reached the page:\n{html}");
    }
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img"), "{html}");
}

#[test]
fn the_overview_escapes_every_value_and_strips_repository_credentials() {
    let html = overview(&hostile_status(), &[hostile_record()]);
    assert_inert(&html);
    assert!(!html.contains(TOKEN) && !html.contains("robot"), "credentials reached the page");
    assert!(html.contains("<code>https://git.example.com/"), "{html}");
    assert!(html.contains("kubectl-edit (Update)"), "the manager is shown");
    assert!(html.contains("and 11 more"), "actions beyond the first few are counted");
    for url in urls(&html) {
        assert!(url.starts_with("./"), "{url} is not relative");
    }
}

#[test]
fn the_app_page_escapes_and_lists_objects_in_pages_of_relative_links() {
    use crate::report::status::{ObjectHealth, ObjectStatus, SyncStamp};
    let status = hostile_status();
    let app = status.apps.get(HOSTILE);
    let stamp = Arc::new(SyncStamp { commit: "0123456789abcdef".into(), time: "2025-01-01T00:00:00Z".into() });
    let objects: Vec<ObjectStatus> = (0..OBJECTS_PER_PAGE + 10)
        .map(|i| ObjectStatus {
            object: format!("ConfigMap/n/c{i:04}"),
            action: "create",
            done: true,
            health: if i == 1 { ObjectHealth::Failed(HOSTILE.into()) } else { ObjectHealth::Healthy },
            changed: Some(stamp.clone()),
        })
        .collect();
    let html = app_view(HOSTILE, app, &objects, &[hostile_record()], 0);
    assert_inert(&html);
    assert!(html.contains("ConfigMap/n/c0000") && html.contains(&format!("ConfigMap/n/c{:04}", OBJECTS_PER_PAGE - 1)));
    assert!(!html.contains(&format!("ConfigMap/n/c{OBJECTS_PER_PAGE:04}")), "one page at a time");
    assert!(html.contains(&format!("objects 1–{OBJECTS_PER_PAGE} of {}", OBJECTS_PER_PAGE + 10)), "{html}");
    let second = app_view(HOSTILE, app, &objects, &[], OBJECTS_PER_PAGE + 3);
    assert!(second.contains(&format!("ConfigMap/n/c{:04}", OBJECTS_PER_PAGE + 9)) && !second.contains("c0000"));
    for url in urls(&html).into_iter().chain(urls(&second)) {
        assert!(url.starts_with("../"), "{url} is not relative to the app page");
    }
    let unknown = app_view(HOSTILE, None, &[], &[], 0);
    assert_inert(&unknown);
    assert!(unknown.contains("has synced on this agent"));
}

#[test]
fn diffs_show_values_but_never_a_secrets() {
    let field = |path: &str, desired: serde_json::Value, live: serde_json::Value| FieldDrift {
        path: path.into(),
        desired: Some(desired),
        live: Some(live),
        managers: vec![HOSTILE.into()],
    };
    let plain =
        redacted(false, vec![field("spec.replicas", json!(2), json!(5)), field("data.x", json!(HOSTILE), json!("y"))]);
    let html = diff_view("web", HOSTILE, Ok(&Ok(plain)));
    assert_inert(&html);
    assert!(
        html.contains("<code class=\"git\">2</code>") && html.contains("<code class=\"cluster\">5</code>"),
        "{html}"
    );

    let secret_value = "czNjcjN0LXZhbHVl";
    let fields = vec![
        field("data.token", json!(secret_value), json!("b3RoZXI=")),
        field("metadata.annotations.copy", json!({"data": {"token": secret_value}}), json!(null)),
    ];
    let html = diff_view("web", "Secret/n/creds", Ok(&Ok(redacted(true, fields))));
    assert!(!html.contains(secret_value) && !html.contains("b3RoZXI="), "a Secret value reached the page:\n{html}");
    assert!(html.contains("&lt;redacted&gt;") && html.contains("its values are never shown"));

    let refused = diff_view("web", "ConfigMap/n/x", Err(&DiffRefusal::Limited { retry_after_secs: 2 }));
    assert!(refused.contains("Reload in 2 s"));
    let failed =
        diff_view("web", "ConfigMap/n/x", Ok(&Err(DiffError::Api { object: HOSTILE.into(), reason: HOSTILE.into() })));
    assert_inert(&failed);
    for url in urls(&failed) {
        assert!(url.starts_with("../../") || url.starts_with('?'), "{url} is not relative to the diff page");
    }
}

#[test]
fn prefixes_are_plain_paths() {
    for (given, wanted) in
        [("", ""), ("/", ""), ("/plumb", "/plumb"), ("/tools/plumb/", "/tools/plumb"), (" /a.b~c-d_e ", "/a.b~c-d_e")]
    {
        assert_eq!(parse_prefix(given).as_deref(), Ok(wanted), "{given:?}");
    }
    for bad in ["plumb", "/a//b", "/a/../b", "/a b", "/<x>", "/a?b", "/a#b", "/./x"] {
        assert!(parse_prefix(bad).is_err(), "{bad:?} accepted");
    }
}

/// Diffs counted, answering with raw values (the route must not trust them for Secrets).
#[derive(Default)]
struct CountingDiffs(AtomicUsize);

impl ObjectDiffs for CountingDiffs {
    fn diff<'a>(&'a self, _app: &'a str, object: &'a str) -> BoxFuture<'a, Result<DiffOutcome, DiffError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let field = FieldDrift {
            path: "data.token".into(),
            desired: Some(json!("planted-secret-4b1d")),
            live: Some(json!("planted-secret-4b1d")),
            managers: Vec::new(),
        };
        let outcome = DiffOutcome::Fields { secret: object.starts_with("Secret/"), fields: vec![field] };
        Box::pin(async move { Ok(outcome) })
    }
}

fn reporter() -> Arc<Reporter> {
    let source = SourceStatus {
        repo: format!("https://robot:{TOKEN}@git.example.com/config.git"),
        reference: "branch main".into(),
        ..SourceStatus::default()
    };
    Arc::new(Reporter::new(Metrics::new(&ApiRequests::default()), None, None, None, None, "plumb-system", source))
}

fn app(reporter: &Reporter, name: &str, drifted: Vec<DriftedObject>) {
    reporter.update(|s| {
        s.apps.insert(
            name.into(),
            AppStatus { mode: "enforce".into(), state: "Synced".into(), drifted, ..Default::default() },
        );
    });
}

struct Served {
    router: axum::Router,
}

impl Served {
    fn new(reporter: Arc<Reporter>, ui: Option<Arc<Dashboard>>) -> Self {
        let state = HttpState {
            reporter,
            poll_now: Arc::default(),
            webhook_secret: None,
            api: Arc::new(ApiRequests::default()),
            ui,
        };
        Self { router: router(state) }
    }

    async fn get(&mut self, path: &str) -> axum::response::Response {
        let request = Request::get(path).body(Body::empty()).expect("a request");
        self.router.call(request).await.expect("infallible")
    }

    async fn text(&mut self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.into_body().collect().await.expect("a body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

async fn next_chunk(body: &mut Body) -> String {
    let frame = tokio::time::timeout(Duration::from_secs(2), body.frame()).await.expect("an event in time");
    let data = frame.expect("the stream is open").expect("a frame").into_data().expect("data");
    String::from_utf8_lossy(&data).into_owned()
}

#[tokio::test]
async fn served_under_a_prefix_with_a_strict_policy_and_only_there() {
    let reporter = reporter();
    app(&reporter, "web", Vec::new());
    let mut served = Served::new(reporter, Some(Arc::new(Dashboard::new("/plumb", None))));
    let page = served.get("/plumb/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers().get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(page.headers().get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
    let (_, html) = served.text("/plumb/").await;
    assert!(html.contains("data-app=\"web\"") && !html.contains(TOKEN), "{html}");
    for url in urls(&html) {
        // Status only: an event stream's body never ends.
        let status = served.get(&format!("/plumb/{}", url.trim_start_matches("./"))).await.status();
        assert!(status == StatusCode::OK, "{url}: {status}");
    }
    assert_eq!(served.get("/").await.status(), StatusCode::NOT_FOUND, "nothing at the root");
    let bare = served.get("/plumb").await;
    assert_eq!(bare.status(), StatusCode::FOUND);
    assert_eq!(bare.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("plumb/"));
    let (status, app_page) = served.text("/plumb/apps/web").await;
    assert_eq!(status, StatusCode::OK);
    assert!(app_page.contains("href=\"../\""), "the app page links back relatively");
    assert_eq!(served.get("/plumb/apps/nope").await.status(), StatusCode::NOT_FOUND);
    let css = served.get("/plumb/assets/plumb.css").await;
    assert_eq!(css.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("text/css; charset=utf-8"));
    assert_eq!(served.get("/api/v1/status").await.status(), StatusCode::OK, "the API stays at the root");
}

#[tokio::test]
async fn switched_off_it_serves_nothing() {
    let mut served = Served::new(reporter(), None);
    for path in ["/", "/apps/web", "/events/overview", "/assets/plumb.js"] {
        assert_eq!(served.get(path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(served.get("/healthz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn events_follow_changes_and_streams_are_bounded() {
    let reporter = reporter();
    app(&reporter, "web", Vec::new());
    let mut served = Served::new(reporter.clone(), Some(Arc::new(Dashboard::new("", None))));
    let response = served.get("/events/overview").await;
    assert_eq!(response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    assert_eq!(response.headers().get("x-accel-buffering").and_then(|v| v.to_str().ok()), Some("no"));
    let mut body = response.into_body();
    let first = next_chunk(&mut body).await;
    assert!(first.starts_with("event: view\n") && first.contains("data-app=\"web\""), "{first}");
    assert!(!first.contains(TOKEN));
    app(&reporter, "web", vec![drifted("Deployment.apps/n/web", "spec.replicas")]);
    let update = next_chunk(&mut body).await;
    assert!(update.contains("Deployment.apps/n/web") && update.contains("spec.replicas"), "{update}");

    let mut open = vec![body];
    for _ in 1..MAX_STREAMS {
        let response = served.get("/events/apps/web").await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response.into_body());
    }
    let refused = served.get("/events/overview").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "more streams than slots");
    let (status, fragment) = served.text("/fragments/overview").await;
    assert!(status == StatusCode::OK && fragment.contains("Deployment.apps/n/web"), "polling still works");
    open.pop();
    assert_eq!(served.get("/events/overview").await.status(), StatusCode::OK, "a closed stream frees its slot");
}

#[tokio::test]
async fn diffs_run_only_for_drifted_objects_of_a_leader_within_budget() {
    let reporter = reporter();
    let objects: Vec<String> = (0..6).map(|i| format!("ConfigMap/n/c{i}")).collect();
    let mut drifts: Vec<DriftedObject> = objects.iter().map(|o| drifted(o, "data.k")).collect();
    drifts.push(drifted("Secret/n/creds", "data.token"));
    app(&reporter, "web", drifts);
    let diffs = Arc::new(CountingDiffs::default());
    let mut served = Served::new(reporter.clone(), Some(Arc::new(Dashboard::new("", Some(diffs.clone())))));
    let calls = || diffs.0.load(Ordering::SeqCst);
    let diff = |object: &str| format!("/apps/web/diff?object={}", super::html::url_component(object));

    let (status, html) = served.text(&diff("ConfigMap/n/not-drifted")).await;
    assert!(status == StatusCode::OK && html.contains("not drifted now") && calls() == 0, "{html}");
    let (_, html) = served.text(&diff("Secret/n/creds")).await;
    assert_eq!(calls(), 1);
    assert!(!html.contains("planted-secret-4b1d") && html.contains("&lt;redacted&gt;"), "{html}");
    for object in &objects[..3] {
        assert_eq!(served.text(&diff(object)).await.0, StatusCode::OK);
    }
    assert_eq!(calls(), 4);
    let (_, again) = served.text(&diff(&objects[0])).await;
    assert_eq!(calls(), 4, "a fresh diff is not computed again");
    assert!(
        again.contains("<code class=\"cluster\">&quot;planted-secret-4b1d&quot;</code>"),
        "ConfigMap values are shown"
    );
    let limited = served.get(&diff(&objects[4])).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get(header::RETRY_AFTER).is_some());
    assert_eq!(calls(), 4);

    reporter.set_leading(false);
    let (_, html) = served.text(&diff(&objects[5])).await;
    assert!(html.contains("standby") && calls() == 4, "a standby computed a diff");
}

#[tokio::test]
async fn synced_apps_list_their_objects_and_records_and_wake_the_streams() {
    let reporter = reporter();
    let changes = reporter.changes();
    let key = |name: &str| ObjectKey {
        group: "".into(),
        kind: "ConfigMap".into(),
        namespace: Some("n".into()),
        name: name.into(),
    };
    let object = |name: &str, action, done| ObjectReport {
        key: key(name),
        action,
        done,
        error: None,
        duration: Duration::ZERO,
        fields: Vec::new(),
    };
    let sync = SyncReport {
        mode: Mode::Enforce,
        objects: vec![object("first", ObjectAction::Create, true), object("second", ObjectAction::Update, true)],
        result: Ok(()),
        ..SyncReport::failed("web", "c0ffee0123456789", ApplyError::Invalid(Vec::new()))
    };
    let report = CommitReport {
        commit: "c0ffee0123456789".into(),
        config_error: None,
        apps: vec![AppOutcome::Synced(sync)],
        render_times: Vec::new(),
    };
    reporter.commit_synced(&report, None, "not-checked").await;
    assert!(changes.has_changed().expect("the reporter lives"), "streams were not woken");
    let rows = reporter.objects("web");
    let names: Vec<&str> = rows.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(names, ["ConfigMap/n/first", "ConfigMap/n/second"]);
    let recent = reporter.recent_records();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].record.actions.len(), 2);
    let mut served = Served::new(reporter, Some(Arc::new(Dashboard::new("", None))));
    let (_, html) = served.text("/apps/web").await;
    assert!(html.find("ConfigMap/n/first") < html.find("ConfigMap/n/second"), "apply order");
    assert!(html.contains("c0ffee012345"), "{html}");
}
