//! Helm chart apps synced against the real control plane: a vendored chart
//! with CRDs, hooks, NOTES and tests; a broken chart that fails alone; and
//! a remote chart pinned in plumb.lock, cached by digest and refused when
//! its bytes change upstream.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use plumb::report::commit::AppOutcome;
use plumb_e2e::{Agent, ConfigRepo};
use plumb_testenv::TestCluster;
use plumb_testenv::TestNamespace;
use plumb_testenv::helm_repo::HelmRepo;

const CHART_YAML: &str = "apiVersion: v2\nname: shop\nversion: 1.0.0\nappVersion: \"2.0\"\n";
const VALUES: &str = "greeting: hello\nwidgets: 2\n";

fn crd(group: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.{group}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n"
    )
}

/// The chart's files, for a CRD group unique to the test.
fn shop_chart(group: &str) -> Vec<(String, String)> {
    vec![
        ("Chart.yaml".into(), CHART_YAML.into()),
        ("values.yaml".into(), VALUES.into()),
        ("crds/widgets.yaml".into(), crd(group)),
        (
            "templates/_helpers.tpl".into(),
            "{{- define \"shop.labels\" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\napp.kubernetes.io/version: {{ .Chart.AppVersion | quote }}\n{{- end -}}\n".into(),
        ),
        (
            "templates/config.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n  labels:\n    {{- include \"shop.labels\" . | nindent 4 }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  widgets: {{ .Values.widgets | quote }}\n".into(),
        ),
        (
            "templates/widget.yaml".into(),
            format!("apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {{{{ .Release.Name }}}}-widget\nspec:\n  count: {{{{ .Values.widgets }}}}\n"),
        ),
        (
            "templates/migrate.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\ndata: {step: migrate}\n".into(),
        ),
        ("templates/NOTES.txt".into(), "Installed {{ .Release.Name }}.\n".into()),
        (
            "templates/tests/test-connection.yaml".into(),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations: {helm.sh/hook: test}\nspec:\n  containers: [{name: t, image: busybox}]\n".into(),
        ),
    ]
}

/// CRDs are cluster-scoped: each test removes the one it made.
async fn delete_crd(cluster: &TestCluster, group: &str) -> anyhow::Result<()> {
    let crds: Api<DynamicObject> = Api::all_with(
        cluster.client(),
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
        )),
    );
    crds.delete(&format!("widgets.{group}"), &Default::default()).await?;
    Ok(())
}

fn files<'a>(prefix: &str, chart: &'a [(String, String)]) -> Vec<(String, &'a str)> {
    chart.iter().map(|(p, c)| (format!("{prefix}/{p}"), c.as_str())).collect()
}

fn position_of(report: &plumb::apply::SyncReport, kind: &str, name: &str) -> usize {
    report
        .objects
        .iter()
        .position(|o| o.key.kind == kind && o.key.name == name)
        .unwrap_or_else(|| panic!("{kind}/{name} not in the plan"))
}

#[tokio::test(flavor = "multi_thread")]
async fn vendored_chart_app_applies_crds_first_hooks_early_and_never_notes_or_tests() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "chart").await?;
    let group = format!("{}.example.com", ns.name());
    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let chart = shop_chart(&group);
    let plumb_yaml = format!(
        "apps:\n  - name: shop\n    namespace: {}\n    chart: {{path: charts/shop}}\n    values: [apps/shop/values.yaml]\n",
        ns.name()
    );
    let mut all: Vec<(String, &str)> = files("charts/shop", &chart);
    all.push(("plumb.yaml".into(), &plumb_yaml));
    all.push(("apps/shop/values.yaml".into(), "greeting: hi\n"));
    let refs: Vec<(&str, &str)> = all.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    repo.commit(&refs, &[], "shop chart")?;
    let report = repo.sync(&agent.syncer).await?;
    assert!(report.succeeded(), "{report:#?}");
    let AppOutcome::Synced(sync) = &report.apps[0] else { panic!("not synced: {report:#?}") };

    // CRD before its objects; the pre-install hook before the rest.
    assert!(
        position_of(sync, "CustomResourceDefinition", &format!("widgets.{group}"))
            < position_of(sync, "Widget", "shop-widget")
    );
    assert!(position_of(sync, "ConfigMap", "shop-migrate") < position_of(sync, "ConfigMap", "shop-config"));

    let config = Api::<ConfigMap>::namespaced(cluster.client(), ns.name()).get("shop-config").await?;
    let data = config.data.unwrap_or_default();
    assert_eq!(data.get("greeting").map(String::as_str), Some("hi"), "the app's values file wins over the chart's");
    assert_eq!(data.get("widgets").map(String::as_str), Some("2"));
    assert_eq!(config.metadata.labels.unwrap_or_default().get("plumb.dev/app").map(String::as_str), Some("shop"));
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        cluster.client(),
        ns.name(),
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(&group, "v1", "Widget")),
    );
    assert_eq!(widgets.get("shop-widget").await?.data["spec"]["count"], serde_json::json!(2));
    assert!(
        Api::<Pod>::namespaced(cluster.client(), ns.name()).get_opt("shop-test").await?.is_none(),
        "chart tests are never applied"
    );

    // An unchanged commit renders from the cache and writes nothing.
    let again = repo.sync(&agent.syncer).await?;
    let AppOutcome::Synced(again) = &again.apps[0] else { panic!("not synced") };
    assert!(again.objects.iter().all(|o| o.action == plumb::apply::ObjectAction::Unchanged), "{again:#?}");

    delete_crd(&cluster, &group).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_chart_fails_alone_naming_file_line_and_column() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "broken").await?;
    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let plumb_yaml = format!(
        "apps:\n  - {{name: broken, namespace: {ns}, chart: {{path: charts/broken}}}}\n  - {{name: plain, namespace: {ns}, path: apps/plain}}\n",
        ns = ns.name()
    );
    repo.commit(
        &[
            ("plumb.yaml", &plumb_yaml),
            ("charts/broken/Chart.yaml", "apiVersion: v2\nname: broken\nversion: 0.1.0\n"),
            ("charts/broken/templates/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken-ok}\n"),
            (
                "charts/broken/templates/bad.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ required \"image.tag is required: set it in the app's values\" .Values.image.tag }}\n",
            ),
            ("apps/plain/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\n"),
        ],
        &[],
        "broken chart",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    let broken = report.apps.iter().find(|a| a.app() == "broken").expect("broken app reported");
    let AppOutcome::RenderFailed { error, .. } = broken else { panic!("expected a render failure: {broken:#?}") };
    let message = error.to_string();
    assert!(
        message.contains("broken/templates/bad.yaml:4:") && message.contains("nil pointer evaluating interface {}.tag"),
        "{message}"
    );
    let plain = report.apps.iter().find(|a| a.app() == "plain").expect("plain app reported");
    assert!(plain.succeeded(), "{plain:#?}");
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert!(cms.get_opt("broken-ok").await?.is_none(), "nothing of a failed render is applied");
    assert!(cms.get_opt("plain").await?.is_some());

    // Bad values (against the chart's schema) in the next commit: the chart
    // app fails with the schema's report; the unrelated app's change lands.
    let with_values = plumb_yaml
        .replace("chart: {path: charts/broken}", "chart: {path: charts/broken}, values: [values/broken.yaml]");
    repo.commit(
        &[
            ("plumb.yaml", &with_values),
            ("charts/broken/templates/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tag-{{ .Values.image.tag }}\n"),
            (
                "charts/broken/values.schema.json",
                "{\"type\": \"object\", \"properties\": {\"image\": {\"type\": \"object\", \"properties\": {\"tag\": {\"type\": \"string\"}}}}}",
            ),
            ("values/broken.yaml", "image:\n  tag: 5\n"),
            ("apps/plain/second.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain-second}\n"),
        ],
        &[],
        "bad values, and an unrelated change",
    )?;
    let report = repo.sync(&agent.syncer).await?;
    let broken = report.apps.iter().find(|a| a.app() == "broken").expect("broken app reported");
    let AppOutcome::RenderFailed { error, .. } = broken else { panic!("expected a render failure: {broken:#?}") };
    assert!(error.to_string().contains("broken:\n- at '/image/tag': got number, want string"), "{error}");
    assert!(report.apps.iter().find(|a| a.app() == "plain").is_some_and(AppOutcome::succeeded));
    assert!(cms.get_opt("plain-second").await?.is_some(), "the unrelated app's new commit was not applied");
    Ok(())
}

fn chart_archive(group: &str, greeting: &str) -> Vec<u8> {
    let mut files = BTreeMap::new();
    for (path, content) in shop_chart(group) {
        let content = if path == "values.yaml" { format!("greeting: {greeting}\nwidgets: 1\n") } else { content };
        files.insert(path, content.into_bytes());
    }
    plumb::render::chart::archive::pack("shop", &files)
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_chart_is_pinned_by_digest_cached_and_refused_when_changed_upstream() -> anyhow::Result<()> {
    let cluster = TestCluster::get().await?;
    let ns = TestNamespace::create(&cluster.client(), "remote").await?;
    let group = format!("{}.example.com", ns.name());
    let archive = chart_archive(&group, "from-repo");
    let index = "apiVersion: v1\nentries:\n  shop:\n    - name: shop\n      version: 1.0.0\n      urls: [shop-1.0.0.tgz]\n    - name: shop\n      version: 0.9.0\n      urls: [shop-0.9.0.tgz]\n";
    let helm_repo = HelmRepo::start(BTreeMap::from([
        ("index.yaml".to_string(), index.as_bytes().to_vec()),
        ("shop-1.0.0.tgz".to_string(), archive.clone()),
    ]))?;

    // `plumb lock`'s resolution: the index entry, the archive, its digest.
    let locked = plumb::render::remote::resolve(&helm_repo.url(), "shop", "1.0.0", &Default::default()).await?;
    assert_eq!(locked.digest, plumb::render::remote::sha256(&archive));
    let missing = plumb::render::remote::resolve(&helm_repo.url(), "shop", "2.0.0", &Default::default())
        .await
        .expect_err("no such version");
    assert!(missing.to_string().contains("no version 2.0.0 of shop"), "{missing}");
    let lock = plumb::render::lock::Lock { charts: vec![locked.clone()], ..Default::default() };

    let agent = Agent::start(&cluster, ns.name()).await?;
    let repo = ConfigRepo::new()?;
    let plumb_yaml = format!(
        "apps:\n  - name: shop\n    namespace: {}\n    chart: {{repo: \"{}\", name: shop, version: 1.0.0}}\n",
        ns.name(),
        helm_repo.url()
    );
    repo.commit(&[("plumb.yaml", &plumb_yaml), ("plumb.lock", &lock.to_text())], &[], "remote chart")?;
    let first = repo.sync(&agent.syncer).await?;
    assert!(first.succeeded(), "{first:#?}");
    let cms = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    assert_eq!(
        cms.get("shop-config").await?.data.unwrap_or_default().get("greeting").map(String::as_str),
        Some("from-repo")
    );
    assert_eq!(helm_repo.hits("shop-1.0.0.tgz"), 2, "one download by the lock, one by the first sync");

    // Upstream republishes different bytes under the same version: a cold
    // cache must refuse them, naming both digests, and apply nothing.
    let tampered = chart_archive(&group, "tampered");
    helm_repo.replace("shop-1.0.0.tgz", tampered.clone());
    let cold = Agent::start(&cluster, ns.name()).await?;
    repo.commit(&[("plumb.yaml", &plumb_yaml.replace("name: shop\n", "name: shop\n    values: []\n"))], &[], "touch")?;
    let refused = repo.sync(&cold.syncer).await?;
    let outcome = &refused.apps[0];
    let AppOutcome::RenderFailed { error, .. } = outcome else { panic!("expected refusal: {outcome:#?}") };
    let message = error.to_string();
    assert!(
        message.contains("digest mismatch")
            && message.contains(&locked.digest)
            && message.contains(&plumb::render::remote::sha256(&tampered)),
        "{message}"
    );
    assert_eq!(
        cms.get("shop-config").await?.data.unwrap_or_default().get("greeting").map(String::as_str),
        Some("from-repo")
    );

    // The warm cache still holds the pinned bytes: no download, same render.
    let before = helm_repo.hits("shop-1.0.0.tgz");
    let warm = repo.sync(&agent.syncer).await?;
    assert!(warm.succeeded(), "{warm:#?}");
    assert_eq!(helm_repo.hits("shop-1.0.0.tgz"), before, "the cached archive is used");

    delete_crd(&cluster, &group).await
}
