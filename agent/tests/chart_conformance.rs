//! Real charts (`../shared/charts`: ingress-nginx, grafana, redis with
//! bitnami common, metrics-server, podinfo) rendered by plumb must equal
//! Helm's reference renders, template by template, except the templates a
//! case marks as random on every render; the error cases must fail with
//! Helm's message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plumb::render::chart::{self, Capabilities, Chart, Release};
use plumb::source::DirTree;
use plumb_gotmpl::Clock;

fn charts_dir() -> PathBuf {
    let dir = plumb_testenv::binaries::shared_charts();
    assert!(
        dir.is_dir(),
        "{} is missing: the reference charts live in shared/charts beside the repository (or set PLUMB_SHARED_CHARTS)",
        dir.display()
    );
    dir
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Renders one case of a chart as the reference did.
fn render_case(
    chart_dir: &Path,
    values_file: &Path,
    meta: &serde_json::Value,
) -> Result<BTreeMap<String, String>, String> {
    let tree = DirTree::new(chart_dir).map_err(|e| e.to_string())?;
    let loaded = Chart::from_tree(&tree, "").map_err(|e| e.to_string())?;
    let values_text = std::fs::read_to_string(values_file).map_err(|e| e.to_string())?;
    let user = plumb_gotmpl::yaml11::from_str(&values_text)?;
    let (prepared, values) = chart::values::prepare(loaded, &user);
    chart::schema::validate(&prepared, &values).map_err(|e| e.to_string())?;
    let release = Release {
        name: meta["release"].as_str().unwrap_or("rel").into(),
        namespace: meta["namespace"].as_str().unwrap_or("ns").into(),
        revision: meta["revision"].as_i64().unwrap_or(1),
        is_install: meta["is_install"].as_bool().unwrap_or(true),
    };
    let extra: Vec<String> = meta["api_versions"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let caps = Capabilities::helm_defaults(meta["kube_version"].as_str(), &extra)?;
    let clock = Clock::fixed("2024-05-06T07:08:09Z[UTC]".parse().map_err(|e: jiff::Error| e.to_string())?);
    chart::render(&prepared, &values, &release, &caps, clock).map_err(|e| e.to_string())
}

fn cases(kind: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut charts: Vec<_> =
        std::fs::read_dir(charts_dir()).expect("shared charts").flatten().map(|e| e.path()).collect();
    charts.sort();
    for chart in charts.into_iter().filter(|p| p.join("chart").is_dir()) {
        let Ok(entries) = std::fs::read_dir(chart.join(kind)) else { continue };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for values in files.into_iter().filter(|p| p.to_string_lossy().ends_with(".values.yaml")) {
            out.push((chart.join("chart"), values));
        }
    }
    out
}

fn sibling(values: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(values.to_string_lossy().replace(".values.yaml", suffix))
}

#[test]
fn reference_renders_match_template_by_template() {
    let cases = cases("cases");
    assert!(cases.len() >= 15, "expected the 15 reference cases, found {}", cases.len());
    let mut failures = Vec::new();
    let mut compared = 0;
    for (chart_dir, values) in &cases {
        let meta = read_json(&sibling(values, ".meta.json"));
        let expected = read_json(&sibling(values, ".expected.json"));
        let skip: Vec<&str> = meta["nondeterministic_templates"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let name = values.display();
        let rendered = match render_case(chart_dir, values, &meta) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: render failed: {e}"));
                continue;
            }
        };
        let expected = expected.as_object().expect("expected.json is an object");
        for (template, want) in expected {
            if skip.contains(&template.as_str()) {
                assert!(rendered.contains_key(template), "{name}: {template} was not rendered");
                continue;
            }
            compared += 1;
            match rendered.get(template) {
                Some(got) if Some(got.as_str()) == want.as_str() => {}
                Some(got) => failures.push(format!(
                    "{name}: {template} differs:\n{}",
                    first_difference(want.as_str().unwrap_or_default(), got)
                )),
                None => failures.push(format!("{name}: {template} missing")),
            }
        }
        for template in rendered.keys() {
            if !expected.contains_key(template) {
                failures.push(format!("{name}: {template} rendered but Helm has no such output"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences ({} templates compared):\n{}",
        failures.len(),
        compared,
        failures.join("\n")
    );
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("  line {}:\n    helm:  {w:?}\n    plumb: {g:?}", i + 1);
        }
    }
    format!("  lengths differ: helm {} lines, plumb {} lines", want.lines().count(), got.lines().count())
}

#[test]
fn error_cases_fail_with_helms_message() {
    let cases = cases("error-cases");
    assert!(!cases.is_empty(), "no error cases found");
    for (chart_dir, values) in &cases {
        let meta = read_json(&sibling(values, ".meta.json"));
        let want = std::fs::read_to_string(sibling(values, ".error.txt")).expect("error.txt");
        let want = want.split_once(": ").map(|(_, m)| m).unwrap_or(&want).trim();
        match render_case(chart_dir, values, &meta) {
            Ok(_) => panic!("{}: rendered, but Helm refuses it with: {want}", values.display()),
            Err(got) => assert_eq!(got.trim(), want, "{}", values.display()),
        }
    }
}

/// Helm's own render of a chart (through `tests/gotmpl/helm_render.py`).
fn helm_render(
    chart_dir: &Path,
    values: &Path,
    release: &str,
    namespace: &str,
    kube_version: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = plumb_testenv::binaries::cache_dir().join("helm-venv/bin/python");
    assert!(python.exists(), "{} is missing: run tests/setup.sh", python.display());
    let output = std::process::Command::new(python)
        .arg(repo.join("tests/gotmpl/helm_render.py"))
        .args([chart_dir.as_os_str(), values.as_os_str()])
        .args([release, namespace, kube_version])
        .output()
        .expect("run the Helm oracle");
    let helm: serde_json::Value = serde_json::from_slice(&output.stdout).expect("oracle JSON");
    helm["ok"].as_object().cloned().unwrap_or_else(|| panic!("Helm failed: {helm}"))
}

/// The sample repo's vendored chart (a library subchart, a schema, NOTES
/// and a test hook) renders exactly as Helm renders it.
#[test]
fn the_sample_chart_matches_helm() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let chart_dir = repo.join("manifests/charts/cache");
    let values = repo.join("manifests/apps/cache/values.yaml");
    let expected = helm_render(&chart_dir, &values, "cache", "plumb-demo", "v1.20.2");
    let meta = serde_json::json!({"release": "cache", "namespace": "plumb-demo", "kube_version": "v1.20.2"});
    let rendered = render_case(&chart_dir, &values, &meta).expect("plumb renders the sample chart");
    let rendered: serde_json::Map<String, serde_json::Value> =
        rendered.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    assert_eq!(rendered, expected);
}

/// Replaces generated key material (PEM blocks and their base64) with a
/// placeholder, so renders that generate certificates can be compared.
fn mask_generated(text: &str) -> String {
    let pem = regex::Regex::new(r"-----BEGIN [A-Z ]+-----[A-Za-z0-9+/=\s\\n]*-----END [A-Z ]+-----").expect("regex");
    let encoded = regex::Regex::new(r"LS0tLS1CRUdJTi[A-Za-z0-9+/=]+").expect("regex");
    encoded.replace_all(&pem.replace_all(text, "<pem>"), "<base64 pem>").into_owned()
}

/// Charts that generate their own TLS (`genCA`, `genSignedCert`,
/// `genSelfSignedCert`) render like Helm, up to the random key material.
#[test]
fn generated_certificates_render_like_helm() {
    let cases = [
        ("redis", "auth:\n  password: fixed\ntls:\n  enabled: true\n  autoGenerated: true\n"),
        ("metrics-server", "tls:\n  type: helm\n"),
    ];
    let checksum = regex::Regex::new(r"checksum/[a-z-]+: [0-9a-f]{64}").expect("regex");
    for (chart, values) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let values_file = dir.path().join("values.yaml");
        std::fs::write(&values_file, values).expect("values");
        let chart_dir = charts_dir().join(chart).join("chart");
        let expected = helm_render(&chart_dir, &values_file, "rel", "ns", "v1.30.0");
        let meta = serde_json::json!({"release": "rel", "namespace": "ns", "kube_version": "v1.30.0"});
        let rendered = render_case(&chart_dir, &values_file, &meta).unwrap_or_else(|e| panic!("{chart}: {e}"));
        let mut generated = 0;
        for (template, want) in &expected {
            let want = want.as_str().unwrap_or_default();
            let got = rendered.get(template).unwrap_or_else(|| panic!("{chart}: {template} missing"));
            if want.contains("LS0tLS1CRUdJTi") || want.contains("-----BEGIN") {
                generated += 1;
            }
            // Checksums of templates holding generated keys differ too.
            let strip = |t: &str| checksum.replace_all(&mask_generated(t), "checksum").into_owned();
            assert_eq!(strip(got), strip(want), "{chart}: {template}");
        }
        assert!(generated > 0, "{chart}: no generated certificate was compared");
    }
}
