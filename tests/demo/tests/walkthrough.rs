//! `plumb-demo`, driven as a user would: the printed walkthrough (the
//! dashboard first, drift corrected, a commit applied, a revert, the audit
//! trail) works, and stopping the demo stops everything it started.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use plumb_testenv::process::ManagedProcess;

const DEMO: &str = env!("CARGO_BIN_EXE_plumb-demo");

fn after<'a>(log: &'a str, prefix: &str) -> Option<&'a str> {
    log.lines().find_map(|l| l.trim().strip_prefix(prefix)).map(|rest| rest.split_whitespace().next().unwrap_or(""))
}

async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_walkthrough_works_as_printed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log_path = dir.path().join("demo.log");
    let manifests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests");
    let args = vec![format!("--manifests={}", manifests.display())];
    let mut demo = ManagedProcess::spawn("plumb-demo", Path::new(DEMO), &args, &log_path)?;
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !read().contains("Press Ctrl-C") {
        demo.check_running()?;
        assert!(Instant::now() < deadline, "the demo never got ready:\n{}", demo.log_tail(40));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = read();
    assert!(log.contains("first sync done"), "{log}");
    // The dashboard comes first in "Try it", and serves every app.
    let first = log.split("Try it:").nth(1).and_then(|rest| rest.lines().find(|l| !l.trim().is_empty()));
    let dashboard = first.and_then(|line| line.trim().strip_prefix("dashboard: http://127.0.0.1:"));
    let port: u16 = dashboard.and_then(|rest| rest.split('/').next()?.parse().ok()).expect("the dashboard's URL first");
    let page = plumb_testenv::http::get(port, "/")?;
    assert_eq!(page.status, 200);
    for app in ["base", "web", "cache", "audit"] {
        assert!(page.body.contains(&format!("data-app=\"{app}\"")), "{app} is not on the dashboard");
    }
    let kubeconfig = PathBuf::from(after(&log, "export KUBECONFIG=").expect("the demo prints KUBECONFIG"));
    let repo = PathBuf::from(after(&log, "cd ").expect("the demo prints the repo"));
    let audit = PathBuf::from(after(&log, "plumb audit verify ").expect("the demo prints the audit log"));
    let client = plumb_testenv::client_from_kubeconfig(&kubeconfig).await?;

    // Drift: scaled by hand, put back by plumb.
    // Retried briefly: right after the demo is ready, kubectl has seen the
    // object 404 once in a while (see the note on issue 9).
    let kubectl = |args: &[&str]| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = std::process::Command::new("kubectl")
                .arg(format!("--kubeconfig={}", kubeconfig.display()))
                .args(args)
                .output()
                .expect("kubectl");
            if out.status.success() {
                return;
            }
            assert!(Instant::now() < deadline, "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    kubectl(&["-n", "plumb-demo", "scale", "deployment/web", "--replicas=5"]);
    let deployments = Api::<Deployment>::namespaced(client.clone(), "plumb-demo");
    eventually("drift correction", Duration::from_secs(2), || {
        let deployments = deployments.clone();
        async move { deployments.get("web").await.ok().and_then(|d| d.spec).and_then(|s| s.replicas) == Some(2) }
    })
    .await;

    // A commit is applied, and a revert rolls it back.
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").current_dir(&repo).args(args).output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let settings = std::fs::read_to_string(repo.join("apps/base/namespace.yaml"))?;
    std::fs::write(repo.join("apps/base/namespace.yaml"), settings.replace("hello from git", "hello again"))?;
    git(&["commit", "-qam", "change the greeting"]);
    let cms = Api::<ConfigMap>::namespaced(client.clone(), "plumb-demo");
    let greeting = |want: &'static str| {
        let cms = cms.clone();
        move || {
            let cms = cms.clone();
            async move {
                cms.get("settings").await.ok().and_then(|c| c.data).and_then(|d| d.get("greeting").cloned()).as_deref()
                    == Some(want)
            }
        }
    };
    eventually("the commit", Duration::from_secs(3), greeting("hello again")).await;
    git(&["revert", "--no-edit", "HEAD"]);
    eventually("the revert", Duration::from_secs(3), greeting("hello from git")).await;

    plumb::report::audit::verify(&audit)?;

    // Stopping the demo stops and removes everything it started.
    let plane_dir = kubeconfig.parent().expect("kubeconfig folder").to_path_buf();
    demo.stop(Duration::from_secs(60));
    assert!(read().contains("plumb demo: stopping"), "{}", read());
    assert!(!plane_dir.exists(), "the demo left {} behind", plane_dir.display());
    Ok(())
}
