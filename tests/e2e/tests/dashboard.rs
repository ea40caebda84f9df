//! The dashboard in a real browser against a running agent on the real
//! control plane, syncing the demo's config repo over authenticated HTTP:
//! every app shows, offline; a hand edit makes the drifted object and its
//! field appear within 2 s without a reload and disappear after the
//! correction; plumb's own corrections show in the records; a failing
//! commit shows its error; a planted Secret value and the repository's
//! credentials appear nowhere in the pages, the event streams or the
//! assets. Saves screenshots into docs/images and prints the page weight
//! and the time to first render.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use plumb::apply::SyncOptions;
use plumb::runtime::agent::AgentConfig;
use plumb::runtime::service::{self, ServiceConfig};
use plumb::source::credentials::Credentials;
use plumb::source::git::GitRef;
use plumb_testenv::browser::Browser;
use plumb_testenv::git::GitRepo;
use plumb_testenv::git_http::GitHttpServer;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};
use serde_json::{Value, json};

const PASSWORD: &str = "planted-git-password-91c2";
const SECRET_VALUE: &str = "planted-secret-value-3e8d";
const PATCHED_VALUE: &str = "planted-patched-value-d04f";
const PREFIX: &str = "/plumb";

/// Copies the files under `dir` (inside the demo's config repo `root`)
/// into `repo`, with the demo's namespace replaced by `namespace`.
fn copy_demo(root: &Path, dir: &Path, repo: &GitRepo, namespace: &str) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            copy_demo(root, &path, repo, namespace)?;
        } else {
            let relative = path.strip_prefix(root)?.display().to_string();
            repo.write(&relative, std::fs::read_to_string(&path)?.replace("plumb-demo", namespace))?;
        }
    }
    Ok(())
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) {
    let mut child = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).expect("write kubectl stdin");
    }
    let output = child.wait_with_output().expect("kubectl output");
    assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// What a server-sent event stream sends within `listen`.
fn capture_stream(port: u16, path: &str, listen: Duration) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n").expect("send");
    let (mut seen, mut buffer, deadline) = (Vec::new(), [0u8; 16 * 1024], Instant::now() + listen);
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// The JavaScript that finds `selector` in the live region (or `null`).
fn present(selector: &str) -> String {
    format!("return document.querySelector({}) !== null;", json!(format!("#view {selector}")))
}

fn absent(selector: &str) -> String {
    format!("return document.querySelector({}) === null;", json!(format!("#view {selector}")))
}

/// A marker that a reload would wipe out.
const MARK: &str = "window.plumbTestMark = 'no reload'; return true;";
const STILL_MARKED: &str = "return window.plumbTestMark === 'no reload';";

fn docs_images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_apps_drift_and_errors_live_and_never_a_secret() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let inventories = TestNamespace::create(&cluster.client(), "dashboard").await?;
    // The demo's apps create their namespace themselves.
    let apps = format!("{}-demo", inventories.name());
    let _readiness = PodReadiness::start(cluster.client(), Some(&apps));

    // The demo's config repo, plus a Secret with a planted value in its
    // report-mode app, served over HTTP with Basic credentials.
    let dir = tempfile::tempdir()?;
    let work_dir = dir.path().join("work");
    let work = GitRepo::init(&work_dir)?;
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests");
    copy_demo(&manifests, &manifests, &work, &apps)?;
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\ntype: Opaque\nstringData: {{token: {SECRET_VALUE}}}\n"
    );
    work.write("apps/audit/secret.yaml", &secret)?;
    // Report mode never writes: the audit app is applied in enforce mode
    // first, then watched in report mode.
    let plumb_yaml = std::fs::read_to_string(work_dir.join("plumb.yaml"))?;
    work.write("plumb.yaml", plumb_yaml.replace("    mode: report\n", ""))?;
    work.commit("the demo, with a secret, all enforced")?;
    let served = dir.path().join("served");
    plumb_testenv::git::init_bare(&served.join("config.git"))?;
    let push = || work.git(&["push", "-q", &served.join("config.git").display().to_string(), "main"]);
    push()?;
    let server = GitHttpServer::start(&served, Some(("robot", PASSWORD))).await?;
    let repo_url = server.url("config.git").replacen("http://", &format!("http://robot:{PASSWORD}@"), 1);
    std::fs::write(dir.path().join("user"), "robot\n")?;
    std::fs::write(dir.path().join("pass"), format!("{PASSWORD}\n"))?;

    let port = plumb_testenv::ports::free_port()?;
    let config = ServiceConfig {
        agent: AgentConfig {
            repo: repo_url,
            reference: GitRef::Branch("main".into()),
            path: String::new(),
            interval: Duration::from_secs(1),
            cache_dir: dir.path().join("cache"),
            allow_insecure_http: false,
            credentials: Credentials::load(Some(&dir.path().join("user")), Some(&dir.path().join("pass")))?,
            verify: Default::default(),
            require_descendant: false,
            once: false,
        },
        sync: SyncOptions {
            inventory_namespace: inventories.name().into(),
            health_timeout: Duration::from_secs(120),
            chart_cache: Some(dir.path().join("charts")),
            ..SyncOptions::default()
        },
        listen: ([127, 0, 0, 1], port).into(),
        ui_prefix: Some(PREFIX.into()),
        audit_log: Some(dir.path().join("audit.jsonl")),
        audit_max_bytes: 0,
        webhook_secret: None,
        pod_name: "plumb-dashboard-test".into(),
        lease: None,
        watch_namespaces: None,
        reconcile_interval: Duration::from_secs(300),
    };
    let kube_config =
        kube::Config::from_custom_kubeconfig(kube::config::Kubeconfig::read_from(&kubeconfig)?, &Default::default())
            .await?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(service::run(config, kube_config, shutdown));
    let deadline = Instant::now() + Duration::from_secs(180);
    while !plumb_testenv::http::get(port, "/readyz").is_ok_and(|r| r.status == 200) {
        anyhow::ensure!(!agent.is_finished(), "the agent stopped: {:?}", agent.await);
        anyhow::ensure!(Instant::now() < deadline, "the agent was not ready in 180 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    work.write("plumb.yaml", plumb_yaml)?;
    work.commit("the audit app in report mode")?;
    push()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Value = serde_json::from_str(&plumb_testenv::http::get(port, "/api/v1/status")?.body)?;
        if status["apps"]["audit"]["mode"] == "report" && status["apps"]["audit"]["state"] == "Synced" {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the audit app never synced in report mode: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let base = format!("http://127.0.0.1:{port}{PREFIX}/");
    let browser = Browser::start(1280, 900).await?;
    let mut pages = Vec::new(); // every page's HTML, for the secret check

    // The overview loads offline and shows every app. (A page of the same
    // origin first: a fresh browser's first navigation also pays for
    // starting its renderer, which is not the page's time.)
    browser.goto(&format!("http://127.0.0.1:{port}/healthz")).await?;
    browser.goto(&base).await?;
    let (_, connected) = browser
        .wait_for("return document.getElementById('live').textContent === 'live';", Duration::from_secs(5))
        .await?;
    let shown = browser
        .execute("return [...document.querySelectorAll('tr[data-app]')].map(r => r.dataset.app);", json!([]))
        .await?;
    assert_eq!(shown, json!(["audit", "base", "cache", "web"]));
    let (loaded, _) = browser
        .wait_for(
            "const nav = performance.getEntriesByType('navigation')[0];
             const paint = performance.getEntriesByName('first-contentful-paint')[0];
             if (!nav || !paint) return null;
             const resources = performance.getEntriesByType('resource').map(r => ({name: r.name, size: r.decodedBodySize}));
             return {fcp: paint.startTime, request: nav.requestStart, response: nav.responseEnd,
                     dom: nav.domContentLoadedEventEnd, html: nav.decodedBodySize, resources};",
            Duration::from_secs(5),
        )
        .await?;
    let resources = loaded["resources"].as_array().cloned().unwrap_or_default();
    for resource in &resources {
        let name = resource["name"].as_str().unwrap_or_default();
        assert!(name.starts_with(&base), "the page loaded {name} from elsewhere");
    }
    let size = |part: &str| {
        let named = |r: &&Value| r["name"].as_str().is_some_and(|n| n.contains(part));
        resources.iter().filter(named).map(|r| r["size"].as_u64().unwrap_or(0)).sum::<u64>()
    };
    let (html, css, js, icon) =
        (loaded["html"].as_u64().unwrap_or(0), size("plumb.css"), size("plumb.js"), size("icon.svg"));
    let weight = html + css + js;
    let ms = |name: &str| loaded[name].as_f64().unwrap_or(f64::NAN);
    println!(
        "page weight: {weight} bytes (HTML {html}, CSS {css}, JS {js}; icon {icon} more); time to first render \
         (first contentful paint) {:.0} ms after navigation start, {:.0} ms after the request was sent \
         (response complete {:.0} ms, DOMContentLoaded {:.0} ms); live updates connected after {connected:?}",
        ms("fcp"),
        ms("fcp") - ms("request"),
        ms("response"),
        ms("dom"),
    );
    assert!(html > 0 && css > 0 && js > 0, "{loaded}");
    assert!(weight < 100 * 1024, "the page weighs {weight} bytes");

    // A hand edit of the report-mode app: drift appears within 2 s, live.
    browser.execute(MARK, json!([])).await?;
    let quota = format!("ResourceQuota/{apps}/demo-quota");
    kubectl(
        &kubeconfig,
        &[
            "-n",
            &apps,
            "patch",
            "resourcequota",
            "demo-quota",
            "--type=merge",
            "-p",
            r#"{"spec":{"hard":{"pods":"50"}}}"#,
        ],
        None,
    );
    let (_, appeared) =
        browser.wait_for(&present(&format!("#drift tr[data-object='{quota}']")), Duration::from_secs(2)).await?;
    let row = browser
        .execute(
            &format!("return document.querySelector(\"#drift tr[data-object='{quota}']\").textContent;"),
            json!([]),
        )
        .await?;
    assert!(
        row.as_str().is_some_and(|t| t.contains("spec.hard.pods") && t.contains("kubectl-patch (Update)")),
        "{row}"
    );
    println!("hand edit shown {appeared:?} after kubectl returned, without a reload");
    let patch = format!(r#"{{"stringData":{{"token":"{PATCHED_VALUE}"}}}}"#);
    kubectl(&kubeconfig, &["-n", &apps, "patch", "secret", "creds", "--type=merge", "-p", &patch], None);
    browser
        .wait_for(&present(&format!("#drift tr[data-object='Secret/{apps}/creds']")), Duration::from_secs(2))
        .await?;
    assert_eq!(browser.execute(STILL_MARKED, json!([])).await?, json!(true), "the page was reloaded");
    std::fs::create_dir_all(docs_images())?;
    std::fs::write(docs_images().join("dashboard-overview.png"), browser.screenshot().await?)?;
    pages.push(browser.source().await?);

    // The app's page: objects in apply order, the drifted one linked to its diff.
    browser.goto(&format!("{base}apps/audit")).await?;
    let order = browser
        .execute(
            "return [...document.querySelectorAll('table.objects tr[data-object]')].map(r => r.dataset.object);",
            json!([]),
        )
        .await?;
    assert_eq!(
        order,
        json!([format!("ResourceQuota/{apps}/demo-quota"), format!("Secret/{apps}/creds")]),
        "apply order"
    );
    pages.push(browser.source().await?);
    browser.execute("document.querySelector('table.objects a.badge').click(); return true;", json!([])).await?;
    browser.wait_for("return document.querySelector('table.diff') !== null;", Duration::from_secs(5)).await?;
    let diff = browser.execute("return document.querySelector('table.diff').textContent;", json!([])).await?;
    assert!(
        diff.as_str().is_some_and(|t| t.contains("spec.hard.pods") && t.contains("\"20\"") && t.contains("\"50\"")),
        "{diff}"
    );
    std::fs::write(docs_images().join("dashboard-drift.png"), browser.screenshot().await?)?;
    pages.push(browser.source().await?);
    browser
        .goto(&format!("{base}apps/audit/diff?object={}", plumb_testenv::http::encode(&format!("Secret/{apps}/creds"))))
        .await?;
    let secret_diff = browser.source().await?;
    assert!(secret_diff.contains("data.token") && secret_diff.contains("&lt;redacted&gt;"), "{secret_diff}");
    pages.push(secret_diff);

    // Corrected by hand (applied back as plumb): the drift disappears, live.
    browser.goto(&base).await?;
    browser.wait_for(&present(&format!("#drift tr[data-object='{quota}']")), Duration::from_secs(5)).await?;
    browser.execute(MARK, json!([])).await?;
    let original = std::fs::read_to_string(manifests.join("apps/audit/quota.yaml"))?.replace(
        "  name: demo-quota\n",
        &format!("  name: demo-quota\n  namespace: {apps}\n  labels: {{plumb.dev/app: audit}}\n"),
    );
    kubectl(
        &kubeconfig,
        &["apply", "--server-side", "--force-conflicts", "--field-manager=plumb", "-f", "-"],
        Some(&original),
    );
    let (_, gone) = browser
        .wait_for(&absent(&format!("#drift tr[data-object='{quota}']")), Duration::from_secs(2))
        .await
        .map_err(|e| anyhow::anyhow!("{e}\nstatus: {:?}", plumb_testenv::http::get(port, "/api/v1/status")))?;
    assert_eq!(browser.execute(STILL_MARKED, json!([])).await?, json!(true), "the page was reloaded");
    println!("correction shown {gone:?} after kubectl returned");

    // Enforce mode: plumb corrects at once; the records say so, live.
    kubectl(&kubeconfig, &["-n", &apps, "scale", "deployment/web", "--replicas=5"], None);
    let corrected = format!(
        "return [...document.querySelectorAll('#view table.records tr')].some(r => r.textContent.includes('correct') && r.textContent.includes('Deployment.apps/{apps}/web'));"
    );
    browser.wait_for(&corrected, Duration::from_secs(2)).await?;
    assert_eq!(browser.execute(STILL_MARKED, json!([])).await?, json!(true));

    // A failing commit shows its error, live.
    work.write("apps/web/broken.yaml", "kind: [unclosed\n")?;
    work.commit("a broken manifest")?;
    push()?;
    let failed = "const row = document.querySelector(\"#view tr[data-app='web']\"); return row !== null && row.textContent.includes('RenderFailed') && row.textContent.includes('broken.yaml');";
    browser.wait_for(failed, Duration::from_secs(15)).await?;
    assert_eq!(browser.execute(STILL_MARKED, json!([])).await?, json!(true));
    pages.push(browser.source().await?);

    // Nothing secret anywhere: pages, fragments, event streams, assets.
    for path in [
        "",
        "apps/audit",
        "apps/web",
        "apps/base",
        "apps/cache",
        "fragments/overview",
        "fragments/apps/audit",
        "assets/plumb.css",
        "assets/plumb.js",
        "assets/icon.svg",
    ] {
        let response = plumb_testenv::http::get(port, &format!("{PREFIX}/{path}"))?;
        assert_eq!(response.status, 200, "{path}");
        pages.push(response.body);
    }
    pages.push(capture_stream(port, &format!("{PREFIX}/events/overview"), Duration::from_secs(1)));
    pages.push(capture_stream(port, &format!("{PREFIX}/events/apps/audit?from=0"), Duration::from_secs(1)));
    assert!(pages.iter().any(|p| p.contains("event: view")), "no event stream captured");
    let encoded = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    for page in &pages {
        for planted in
            [SECRET_VALUE, &encoded(SECRET_VALUE), PATCHED_VALUE, &encoded(PATCHED_VALUE), PASSWORD, "robot:"]
        {
            assert!(!page.contains(planted), "{planted} reached the dashboard:\n{page}");
        }
    }

    drop(browser);
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), agent).await;
    plumb_testenv::namespace::delete_namespace(&cluster.client(), &apps, Duration::from_secs(60)).await?;
    inventories.delete().await?;
    Ok(())
}
