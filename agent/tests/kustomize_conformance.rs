//! Kustomize conformance: every case of `../shared/kustomize` rendered as a
//! plumb app `{name: k, namespace: kdefault, path: <entry>}` by `plumb
//! render` gives exactly the objects of kustomize v5.5.0's recorded output,
//! compared as the corpus README says (sets of objects by
//! apiVersion/kind/namespace/name, values with their types; plumb's
//! `plumb.dev/app` label, the app namespace plumb fills in and a namespace
//! it drops from a cluster-scoped object are not compared). Each error case
//! fails naming the problem, the kustomization file and nothing is printed.
//! The corpus is read as it is (copied, never changed).

use std::path::{Path, PathBuf};
use std::process::Command;

use plumb_kustomize::yaml::{Dialect, parse_documents};
use serde_json::Value;

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");

fn corpus() -> PathBuf {
    if let Ok(p) = std::env::var("PLUMB_SHARED_KUSTOMIZE") {
        return PathBuf::from(p);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .flat_map(|a| [a.join("shared/kustomize"), a.join("../shared/kustomize")])
        .find(|p| p.join("README.md").is_file())
        .expect("shared/kustomize is missing: it lives beside the repository (or set PLUMB_SHARED_KUSTOMIZE)")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read corpus dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Renders `entry` of a copy of `tree` with `plumb render`.
fn render(tree: &Path, entry: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(tree, &repo);
    std::fs::write(
        repo.join("plumb.yaml"),
        format!("apps:\n  - name: k\n    namespace: kdefault\n    path: {entry}\n"),
    )
    .expect("write plumb.yaml");
    let home = dir.path().join("home");
    Command::new(PLUMB)
        .args(["render", &repo.display().to_string()])
        .env("XDG_CACHE_HOME", &home)
        .output()
        .expect("run plumb")
}

fn objects(text: &str) -> Vec<Value> {
    parse_documents(text, Dialect::Resource).expect("valid YAML").into_iter().filter(|d| !d.is_null()).collect()
}

fn id(o: &Value, field: &str) -> String {
    o.pointer(field).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The differences between the oracle's objects and plumb's.
fn compare(want: &[Value], got: Vec<Value>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut unmatched: Vec<&Value> = want.iter().collect();
    for mut o in got {
        let key = (id(&o, "/apiVersion"), id(&o, "/kind"), id(&o, "/metadata/name"));
        let ns = id(&o, "/metadata/namespace");
        let same = |w: &&Value| (id(w, "/apiVersion"), id(w, "/kind"), id(w, "/metadata/name")) == key;
        let pick = unmatched
            .iter()
            .position(|w| same(w) && id(w, "/metadata/namespace") == ns)
            .or_else(|| {
                unmatched.iter().position(|w| same(w) && ns == "kdefault" && id(w, "/metadata/namespace").is_empty())
            })
            .or_else(|| unmatched.iter().position(|w| same(w) && ns.is_empty()));
        let Some(i) = pick else {
            problems.push(format!("plumb rendered {key:?} in {ns:?}, which kustomize does not"));
            continue;
        };
        let w = unmatched.remove(i);
        let meta = o["metadata"].as_object_mut().expect("metadata");
        match w["metadata"].get("namespace") {
            Some(n) => meta.insert("namespace".into(), n.clone()),
            None => meta.remove("namespace"),
        };
        if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
            labels.remove("plumb.dev/app");
            if labels.is_empty() && w["metadata"].get("labels").is_none() {
                meta.remove("labels");
            }
        }
        if &o != w {
            problems.push(format!(
                "{key:?} differs:\n  kustomize: {}\n  plumb:     {}",
                serde_json::to_string(w).unwrap_or_default(),
                serde_json::to_string(&o).unwrap_or_default()
            ));
        }
    }
    problems.extend(unmatched.iter().map(|w| format!("plumb did not render {}", id(w, "/metadata/name"))));
    problems
}

fn cases(kind: &str) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for tree in std::fs::read_dir(corpus()).expect("corpus").flatten() {
        for case in std::fs::read_dir(tree.path().join(kind)).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(case.path()).expect("case");
            out.push((tree.path().join("tree"), serde_json::from_str(&text).expect("case JSON")));
        }
    }
    out
}

#[test]
fn every_corpus_case_renders_exactly_as_kustomize() {
    let cases = cases("cases");
    assert_eq!(cases.len(), 16, "the corpus README lists 16 cases");
    let mut failures = Vec::new();
    for (tree, case) in &cases {
        let entry = case["entry"].as_str().expect("entry");
        let out = render(tree, entry);
        if !out.status.success() {
            failures.push(format!("{entry}: plumb render failed: {}", String::from_utf8_lossy(&out.stderr)));
            continue;
        }
        let want = objects(case["expected"].as_str().expect("expected"));
        assert_eq!(want.len() as u64, case["objects"].as_u64().expect("objects"), "{entry}: the corpus count");
        for p in compare(&want, objects(&String::from_utf8_lossy(&out.stdout))) {
            failures.push(format!("{entry}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_corpus_error_case_fails_naming_the_problem() {
    let cases = cases("error-cases");
    assert_eq!(cases.len(), 3, "the corpus README lists 3 error cases");
    for (tree, case) in &cases {
        let entry = case["entry"].as_str().expect("entry");
        let out = render(tree, entry);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{entry}: plumb render succeeded");
        assert!(
            out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("kind:"),
            "{entry}: printed objects"
        );
        for name in case["names"].as_array().expect("names") {
            let name = name.as_str().expect("name");
            assert!(stderr.contains(name), "{entry}: {stderr:?} does not name {name:?}");
        }
        assert!(stderr.contains("kustomization.yaml"), "{entry}: {stderr:?} does not name the kustomization file");
    }
}

/// `helmCharts:` is inflated by plumb's own chart engine (no helm binary),
/// and kustomize's transformers then apply to the chart's objects.
#[test]
fn helm_charts_in_a_kustomization_use_plumbs_chart_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let files = [
        ("plumb.yaml", "apps:\n  - {name: k, namespace: kdefault, path: app}\n"),
        (
            "app/kustomization.yaml",
            "namePrefix: p-\nhelmCharts:\n- name: demo\n  releaseName: rel\n  namespace: team\n  valuesFile: values-extra.yaml\n  valuesInline: {greeting: hello}\n",
        ),
        ("app/values-extra.yaml", "greeting: from-file\nsize: 3\n"),
        ("app/charts/demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.1.0\n"),
        ("app/charts/demo/values.yaml", "greeting: hi\nsize: 1\n"),
        (
            "app/charts/demo/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n  size: {{ .Values.size | quote }}\n",
        ),
    ];
    for (path, text) in files {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let out = Command::new(PLUMB)
        .args(["render", &repo.display().to_string()])
        .env("XDG_CACHE_HOME", dir.path().join("home"))
        .output()
        .expect("run plumb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let objects = objects(&String::from_utf8_lossy(&out.stdout));
    let cm = objects.iter().find(|o| o["kind"] == "ConfigMap").expect("the chart's ConfigMap");
    assert_eq!(cm["metadata"]["name"], "p-rel-cfg", "rendered as release rel, then prefixed");
    assert_eq!(cm["metadata"]["namespace"], "team");
    assert_eq!(cm["data"], serde_json::json!({"greeting": "hello", "size": "3"}), "inline values over the values file");
}
