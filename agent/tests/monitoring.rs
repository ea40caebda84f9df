//! Reporting end to end: a real Prometheus scrapes a running `plumb run`
//! through apply, drift by hand, correction, a failing commit and a
//! revert; commits arrive through the signed git webhook; events, the
//! audit chain, the dashboard and secret hygiene are checked on the way.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use plumb_testenv::git::GitRepo;
use plumb_testenv::http::{get, request};
use plumb_testenv::process::ManagedProcess;
use plumb_testenv::prometheus::Prometheus;
use plumb_testenv::{PodReadiness, TestCluster, TestNamespace};
use sha2::Sha256;

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");
const SECRET_VALUE: &str = "planted-secret-value-7f3a";
const HOOK_SECRET: &str = "hook-shared-secret-91b2";
const SCRAPE: Duration = Duration::from_secs(30);

fn config(ns: &str, mode: &str) -> String {
    format!(
        "apps:\n  - {{name: demo, namespace: {ns}, path: demo, mode: {mode}}}\n  - {{name: bulk, namespace: {ns}, path: bulk}}\n"
    )
}

fn demo_files() -> Vec<(&'static str, String)> {
    vec![
        ("demo/config.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}\n".into()),
        ("demo/secret.yaml", format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: credentials}}\nstringData: {{password: {SECRET_VALUE}}}\n")),
        (
            "demo/web.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web:1}]}\n".into(),
        ),
    ]
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Posts a push webhook and waits until plumb reports `commit` as synced.
async fn push_and_wait(port: u16, commit: &str) -> Duration {
    let body = br#"{"ref":"refs/heads/main"}"#;
    let sig = format!("sha256={}", signature(body));
    let started = Instant::now();
    let response = request(port, "POST", "/hooks/git", &[("X-Hub-Signature-256", &sig)], body).expect("webhook");
    assert_eq!(response.status, 202, "{}", response.body);
    loop {
        let status: serde_json::Value =
            serde_json::from_str(&get(port, "/api/v1/status").expect("status").body).unwrap_or_default();
        let apps_at_commit =
            status["apps"].as_object().is_some_and(|apps| apps.values().all(|a| a["commit"] == commit));
        if status["source"]["revision"] == commit && apps_at_commit {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "commit {commit} not synced: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kubectl(kubeconfig: &Path, ns: &str, args: &[&str]) {
    let output = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--namespace={ns}"))
        .args(args)
        .output()
        .expect("kubectl");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_events_audit_and_webhook_follow_a_real_scenario() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "monitoring").await?;
    let _readiness = PodReadiness::start(cluster.client(), Some(ns.name()));
    let dir = tempfile::tempdir()?;
    let repo = GitRepo::init(&dir.path().join("config"))?;
    repo.write("plumb.yaml", config(ns.name(), "enforce"))?;
    for (path, contents) in demo_files() {
        repo.write(path, contents)?;
    }
    let bulk: String = (0..500)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bulk-{i:03}}}\ndata: {{v: \"{i}\"}}\n"))
        .collect::<Vec<_>>()
        .join("---\n");
    repo.write("bulk/all.yaml", &bulk)?;
    let c1 = repo.commit("c1: demo and 500 bulk objects")?;

    let secret_file = dir.path().join("hook-secret");
    std::fs::write(&secret_file, HOOK_SECRET)?;
    let audit = dir.path().join("audit.jsonl");
    let port = plumb_testenv::ports::free_port()?;
    let kubeconfig = cluster.kubeconfig_path().as_os_str().to_owned();
    let log = dir.path().join("plumb.log");
    let args: Vec<String> = vec![
        "run".into(),
        format!("--repo={}", repo.path().display()),
        format!("--namespace={}", ns.name()),
        format!("--cache-dir={}", dir.path().join("cache").display()),
        // Only the webhook brings new commits in this test.
        "--interval=1h".into(),
        format!("--listen=127.0.0.1:{port}"),
        format!("--audit-log={}", audit.display()),
        format!("--webhook-secret-file={}", secret_file.display()),
        "--log=debug".into(),
    ];
    let env: [(&str, &OsStr); 1] = [("KUBECONFIG", &kubeconfig)];
    let mut agent = ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &log)?;
    agent.wait_for_port(port, Duration::from_secs(30)).await?;
    let prometheus = Prometheus::start(&[format!("127.0.0.1:{port}")]).await?;

    // 1. Apply.
    let ready = Instant::now();
    while get(port, "/readyz")?.status != 200 {
        agent.check_running()?;
        assert!(ready.elapsed() < Duration::from_secs(90), "never ready:\n{}", agent.log_tail(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(port, "/healthz")?.status, 200);
    prometheus.wait_for(r#"plumb_sync_total{app="demo",result="success"}"#, SCRAPE, |v| v >= 1.0).await?;
    prometheus.wait_for(r#"plumb_managed_objects{app="demo"}"#, SCRAPE, |v| v == 3.0).await?;
    prometheus.wait_for(r#"plumb_managed_objects{app="bulk"}"#, SCRAPE, |v| v == 500.0).await?;
    prometheus.wait_for(&format!(r#"plumb_source_info{{revision="{c1}"}}"#), SCRAPE, |v| v == 1.0).await?;

    // 2. Drift by hand, seen by Prometheus (report mode leaves it in place).
    repo.write("plumb.yaml", config(ns.name(), "report"))?;
    let c2 = repo.commit("c2: demo in report mode")?;
    let took = push_and_wait(port, &c2).await;
    println!("webhook to synced commit: {took:?}");
    assert!(took < Duration::from_secs(1), "the webhook-triggered sync took {took:?}");
    kubectl(cluster.kubeconfig_path(), ns.name(), &["scale", "deployment/web", "--replicas=3"]);
    prometheus.wait_for(r#"plumb_drift_objects{app="demo"}"#, SCRAPE, |v| v == 1.0).await?;
    prometheus
        .wait_for(r#"plumb_drift_object{app="demo",group="apps",kind="Deployment",name="web"}"#, SCRAPE, |v| v == 1.0)
        .await?;

    // 3. Correction: back to enforce.
    repo.write("plumb.yaml", config(ns.name(), "enforce"))?;
    let c3 = repo.commit("c3: demo enforced again")?;
    push_and_wait(port, &c3).await;
    prometheus.wait_for(r#"plumb_drift_objects{app="demo"}"#, SCRAPE, |v| v == 0.0).await?;
    prometheus.wait_for_absent(r#"plumb_drift_object{app="demo"}"#, SCRAPE).await?;
    prometheus.wait_for(r#"plumb_drift_corrected_total{app="demo"}"#, SCRAPE, |v| v >= 1.0).await?;

    // 4. A failing commit: the API server rejects a demo object, and the
    //    bulk app does not render.
    repo.write(
        "demo/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken}\ndata: {\"not a key!\": x}\n",
    )?;
    repo.write("bulk/typo.yaml", "kind: [unclosed\n")?;
    let c4 = repo.commit("c4: an invalid object and broken YAML")?;
    let body = br#"{}"#;
    let bad = request(port, "POST", "/hooks/git", &[("X-Hub-Signature-256", "sha256=00")], body)?;
    assert_eq!(bad.status, 401, "a bad signature must be refused");
    push_and_wait(port, &c4).await;
    prometheus.wait_for(r#"plumb_sync_total{app="demo",result="failure"}"#, SCRAPE, |v| v >= 1.0).await?;
    prometheus.wait_for(r#"plumb_render_errors_total{app="bulk"}"#, SCRAPE, |v| v >= 1.0).await?;

    // 5. Revert.
    repo.git(&["revert", "--no-edit", "HEAD"])?;
    let c5 = repo.git(&["rev-parse", "HEAD"])?;
    let successes = prometheus.query(r#"plumb_sync_total{app="demo",result="success"}"#)?;
    push_and_wait(port, &c5).await;
    prometheus.wait_for(r#"plumb_sync_total{app="demo",result="success"}"#, SCRAPE, |v| v > successes[0].1).await?;
    prometheus.wait_for(r#"sum(plumb_api_requests_total{verb="patch"})"#, SCRAPE, |v| v > 0.0).await?;

    // 6. A commit that would prune most of an app is refused, then reverted.
    repo.write("bulk/all.yaml", bulk.split("---\n").take(10).collect::<Vec<_>>().join("---\n"))?;
    let c6 = repo.commit("c6: drop 490 bulk objects")?;
    push_and_wait(port, &c6).await;
    prometheus.wait_for(r#"plumb_prune_blocked_total{app="bulk"}"#, SCRAPE, |v| v >= 1.0).await?;
    repo.git(&["revert", "--no-edit", "HEAD"])?;
    let c7 = repo.git(&["rev-parse", "HEAD"])?;
    push_and_wait(port, &c7).await;
    prometheus.wait_for(r#"plumb_managed_objects{app="bulk"}"#, SCRAPE, |v| v == 500.0).await?;

    // Events, with their documented reasons; none per unchanged bulk object.
    let events = Api::<Event>::namespaced(cluster.client(), ns.name()).list(&Default::default()).await?.items;
    let reasons = |kind: &str, name: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| {
                e.regarding.as_ref().is_some_and(|r| r.kind.as_deref() == Some(kind) && r.name.as_deref() == Some(name))
            })
            .filter_map(|e| e.reason.clone())
            .collect()
    };
    let inventory_reasons = reasons("ConfigMap", "plumb-inventory-demo");
    assert!(
        inventory_reasons.contains(&"Synced".to_string()) && inventory_reasons.contains(&"SyncFailed".to_string()),
        "{inventory_reasons:?}"
    );
    let bulk_reasons = reasons("ConfigMap", "plumb-inventory-bulk");
    assert!(
        bulk_reasons.contains(&"RenderFailed".to_string()) && bulk_reasons.contains(&"PruneBlocked".to_string()),
        "{bulk_reasons:?}"
    );
    let web_reasons = reasons("Deployment", "web");
    assert!(
        web_reasons.contains(&"DriftDetected".to_string()) && web_reasons.contains(&"DriftCorrected".to_string()),
        "{web_reasons:?}"
    );
    let per_object = events
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()).is_some_and(|n| n.starts_with("bulk-")))
        .count();
    assert_eq!(per_object, 0, "no event per bulk object");

    // The dashboard only queries metrics plumb exported during the scenario.
    let scrape = get(port, "/metrics")?.body;
    let exported: std::collections::BTreeSet<String> = prometheus
        .query(r#"group by (__name__) (last_over_time({__name__=~"plumb_.+"}[1h]))"#)?
        .into_iter()
        .filter_map(|(labels, _)| labels["__name__"].as_str().map(String::from))
        .collect();
    let dashboard =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/monitoring/dashboard.json"))?;
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard)?;
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(String::from))
        .collect();
    assert!(exprs.len() >= 12);
    for expr in &exprs {
        for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("plumb_")) {
            assert!(
                exported.contains(name),
                "the dashboard queries {name}, which plumb did not export; exported: {exported:?}"
            );
        }
    }

    // The audit chain verifies, and tampering is caught.
    let verify = |path: &Path| {
        std::process::Command::new(PLUMB).args(["audit", "verify"]).arg(path).output().expect("plumb audit verify")
    };
    let ok = verify(&audit);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let lines: Vec<String> = std::fs::read_to_string(&audit)?.lines().map(String::from).collect();
    assert!(lines.len() >= 6, "{} records", lines.len());
    let tampered = dir.path().join("tampered.jsonl");
    let mut edited = lines.clone();
    edited[1] = edited[1].replace("\"success\"", "\"failure\"");
    let mut deleted = lines.clone();
    deleted.remove(2);
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    for (what, contents, expected) in [
        ("edited", edited, "record 2: was edited"),
        ("deleted", deleted, "record 3: does not follow"),
        ("reordered", reordered, "record 2: does not follow"),
    ] {
        std::fs::write(&tampered, contents.join("\n") + "\n")?;
        let out = verify(&tampered);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{what}: {stderr}");
    }

    // plumb status shows the agent's view as a table.
    let table =
        std::process::Command::new(PLUMB).args(["status", &format!("--url=http://127.0.0.1:{port}")]).output()?;
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.contains(&format!("at {}", &c7[..12])), "{table}");
    assert!(table.lines().any(|l| l.starts_with("demo ") && l.contains("Synced")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("bulk ") && l.contains("500")), "{table}");

    // The correction of c3 updated web; the audit names the field.
    let c3_web = lines.iter().find(|l| l.contains(&format!("\"commit\":\"{c3}\"")) && l.contains("Deployment.apps"));
    assert!(c3_web.is_some_and(|l| l.contains("spec.replicas")), "{c3_web:?}");

    // plumb history reads the last records back from the cluster.
    let history = std::process::Command::new(PLUMB)
        .args(["history", "--app", "demo", &format!("--namespace={}", ns.name())])
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .output()?;
    let history = String::from_utf8_lossy(&history.stdout).to_string();
    assert!(history.starts_with("demo:\n"), "{history}");
    assert!(history.contains(&c4[..12]) && history.contains("failure"), "{history}");
    // One line per record (error details may continue on further lines).
    let records = history.lines().filter(|l| l.starts_with("  20")).count();
    assert!((1..=20).contains(&records), "{records} records kept:\n{history}");

    // Secret hygiene: the Secret's value and the webhook secret appear nowhere.
    let status = get(port, "/api/v1/status")?.body;
    agent.stop(Duration::from_secs(5));
    let logs = std::fs::read_to_string(&log)?;
    let events_json = serde_json::to_string(
        &Api::<Event>::namespaced(cluster.client(), ns.name()).list(&Default::default()).await?.items,
    )?;
    let audit_text = std::fs::read_to_string(&audit)?;
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE);
    for (place, text) in
        [("logs", &logs), ("events", &events_json), ("metrics", &scrape), ("audit", &audit_text), ("status", &status)]
    {
        for planted in [SECRET_VALUE, encoded.as_str(), HOOK_SECRET] {
            assert!(!text.contains(planted), "{planted} leaked into {place}");
        }
    }
    drop(prometheus);
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_in_the_repo_url_never_shows() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "token").await?;
    let dir = tempfile::tempdir()?;
    let port = plumb_testenv::ports::free_port()?;
    let listen = plumb_testenv::ports::free_port()?;
    let output = tokio::process::Command::new(PLUMB)
        .args(["run", "--once", "--log=debug"])
        .arg(format!("--repo=http://user:planted-url-token-5c1d@127.0.0.1:{port}/config.git"))
        .arg(format!("--listen=127.0.0.1:{listen}"))
        .arg(format!("--namespace={}", ns.name()))
        .arg(format!("--cache-dir={}", dir.path().display()))
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .output()
        .await?;
    let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success());
    assert!(all.contains(&format!("http://***@127.0.0.1:{port}/config.git")), "the poll was not attempted:\n{all}");
    assert!(!all.contains("planted-url-token-5c1d"), "{all}");
    ns.delete().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn https_credentials_never_show() -> anyhow::Result<()> {
    const PASSWORD: &str = "planted-git-password-0e44";
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "creds").await?;
    let dir = tempfile::tempdir()?;
    let served = dir.path().join("served");
    plumb_testenv::git::init_bare(&served.join("config.git"))?;
    let work = GitRepo::init(&dir.path().join("work"))?;
    work.write("plumb.yaml", format!("apps:\n  - {{name: creds, namespace: {}, path: app}}\n", ns.name()))?;
    work.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-http}\n")?;
    work.commit("over authenticated HTTP")?;
    work.git(&["push", "-q", &served.join("config.git").display().to_string(), "main"])?;
    let server = plumb_testenv::git_http::GitHttpServer::start(&served, Some(("robot", PASSWORD))).await?;
    std::fs::write(dir.path().join("user"), "robot\n")?;

    for (password, should_work) in [(PASSWORD, true), ("wrong-password-1d2e", false)] {
        std::fs::write(dir.path().join("pass"), format!("{password}\n"))?;
        let output = tokio::process::Command::new(PLUMB)
            .args(["run", "--once", "--log=debug"])
            .arg(format!("--repo={}", server.url("config.git")))
            .arg(format!("--git-username-file={}", dir.path().join("user").display()))
            .arg(format!("--git-password-file={}", dir.path().join("pass").display()))
            .arg(format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port()?))
            .arg(format!("--namespace={}", ns.name()))
            .arg(format!("--cache-dir={}", dir.path().join(format!("cache-{should_work}")).display()))
            .env("KUBECONFIG", cluster.kubeconfig_path())
            .output()
            .await?;
        let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.success(), should_work, "{all}");
        if !should_work {
            assert!(all.contains("refused the credentials"), "{all}");
        }
        assert!(!all.contains(password), "the password leaked:\n{all}");
    }
    let cm = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(cluster.client(), ns.name())
        .get_opt("from-http")
        .await?;
    assert!(cm.is_some(), "the commit fetched over authenticated HTTP was applied");
    ns.delete().await?;
    Ok(())
}
