//! OCI charts against a real registry (Debian's docker-registry, the CNCF
//! distribution server, with TLS and htpasswd auth): `plumb lock`'s
//! resolution pins the manifest digest, the chart is pulled, verified and
//! cached by digest, and a pushed-over tag or tampered content is refused
//! naming both digests. Credentials come from a Docker config.json, trust
//! from a CA file.

use std::collections::BTreeMap;

use plumb::render::lock::Lock;
use plumb::render::oci::auth::Registries;
use plumb::render::remote::{RemoteCharts, resolve, sha256};
use plumb::source::DirTree;
use plumb_testenv::registry::Registry;

fn chart(version: &str, greeting: &str) -> Vec<u8> {
    let mut files = BTreeMap::new();
    files.insert("Chart.yaml".to_string(), format!("apiVersion: v2\nname: hello\nversion: {version}\n").into_bytes());
    files.insert(
        "templates/cm.yaml".to_string(),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: hello}}\ndata: {{greeting: {greeting}}}\n")
            .into_bytes(),
    );
    plumb::render::chart::archive::pack("hello", &files)
}

fn registries(registry: &Registry, dir: &std::path::Path, with_credentials: bool) -> Registries {
    let config = dir.join("config.json");
    std::fs::write(&config, registry.docker_config()).expect("config.json");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, registry.ca_pem()).expect("ca");
    Registries::load(with_credentials.then_some(config.as_path()), Some(&ca)).expect("registries")
}

#[tokio::test(flavor = "multi_thread")]
async fn oci_charts_are_pinned_pulled_verified_and_refused_when_changed() {
    let registry = Registry::start().await.expect("start docker-registry");
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = format!("oci://{}/charts", registry.host());
    let archive = chart("1.0.0", "first");
    let pushed = registry
        .push_chart("charts/hello", "1.0.0", &archive, r#"{"name":"hello","version":"1.0.0"}"#)
        .await
        .expect("push");
    let auth = registries(&registry, dir.path(), true);

    // Anonymous access is refused by this registry, with a hint.
    let anonymous = registries(&registry, dir.path(), false);
    let error = resolve(&repo, "hello", "1.0.0", &anonymous).await.expect_err("anonymous").to_string();
    assert!(error.contains("asks for credentials and none are configured"), "{error}");
    // Without the CA, TLS fails.
    let error = resolve(&repo, "hello", "1.0.0", &Registries::default()).await.expect_err("untrusted").to_string();
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    // `plumb lock`: the manifest digest, after checking the chart inside.
    let locked = resolve(&repo, "hello", "1.0.0", &auth).await.expect("resolve");
    assert_eq!(locked.digest, pushed);
    assert_eq!(locked.url, format!("oci://{}/charts/hello", registry.host()));
    let error = resolve(&repo, "hello", "9.9.9", &auth).await.expect_err("no such tag").to_string();
    assert!(error.contains("not found"), "{error}");

    // The agent's pull: by tag, checked against the lock, cached by digest.
    let lock = Lock { charts: vec![locked.clone()], ..Lock::default() };
    let config_repo = tempfile::tempdir().expect("repo");
    std::fs::write(config_repo.path().join("plumb.lock"), lock.to_text()).expect("lock");
    let tree = DirTree::new(config_repo.path()).expect("tree");
    let cache = dir.path().join("cache");
    let charts = RemoteCharts::new(cache.clone()).with_registries(std::sync::Arc::new(auth.clone()));
    let loaded = tokio::task::block_in_place(|| charts.load(&tree, &repo, "hello", "1.0.0")).expect("pull");
    assert_eq!(loaded.name(), "hello");
    assert!(cache.join(format!("{}.manifest.json", pushed.replace(':', "-"))).exists(), "cached by manifest digest");

    // Tampered content in the registry: refused naming both digests (a
    // cold cache, so the registry is asked).
    let layer = sha256(&archive);
    let blob = registry.blob_file(&layer);
    std::fs::write(&blob, chart("1.0.0", "evil")).expect("tamper");
    let cold = RemoteCharts::new(dir.path().join("cold")).with_registries(std::sync::Arc::new(auth.clone()));
    let error = tokio::task::block_in_place(|| cold.load(&tree, &repo, "hello", "1.0.0")).expect_err("tampered");
    let error = error.to_string();
    assert!(error.contains(&layer) && error.contains(&sha256(&chart("1.0.0", "evil"))), "{error}");
    // The warm cache still serves the verified bytes.
    assert!(tokio::task::block_in_place(|| charts.load(&tree, &repo, "hello", "1.0.0")).is_ok());

    // The tag pushed over with other content: refused naming both digests.
    let other = registry
        .push_chart("charts/hello", "1.0.0", &chart("1.0.0", "second"), r#"{"name":"hello","version":"1.0.0"}"#)
        .await
        .expect("push over");
    let cold = RemoteCharts::new(dir.path().join("cold2")).with_registries(std::sync::Arc::new(auth));
    let error =
        tokio::task::block_in_place(|| cold.load(&tree, &repo, "hello", "1.0.0")).expect_err("retagged").to_string();
    assert!(error.contains(&pushed) && error.contains(&other) && error.contains("pushed over"), "{error}");
}
