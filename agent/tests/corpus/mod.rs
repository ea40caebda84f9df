//! The chart cases conformance tests render: the shared charts
//! (`shared/charts/<chart>/{cases,error-cases}`) and the public chart
//! corpus (`tests/charts/<chart>/`: `chart.json` names a Go module, its
//! version and the chart's folder in it; the module is downloaded by
//! `tests/setup.sh` into Go's module cache, verified by `tests/charts/go.sum`).

#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use plumb::render::chart::manifest::{HookKind, hook_kind};
use plumb::render::chart::{Capabilities, Chart, Release};
use plumb::render::helm::render_objects;
use plumb::source::DirTree;
use plumb_testenv::helm_oracle::{HelmObject, InstallCase, repo_root};

/// One render of a chart with a values file.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub chart_name: String,
    pub chart: PathBuf,
    pub values: PathBuf,
    pub release: String,
    pub namespace: String,
    pub kube_version: String,
    pub api_versions: Vec<String>,
    /// Templates random on every render.
    pub nondeterministic: Vec<String>,
    /// An error case: Helm and plumb must both fail, with Helm's message.
    pub error_expected: bool,
}

impl Case {
    pub fn request(&self) -> InstallCase {
        InstallCase {
            id: self.id.clone(),
            chart: self.chart.clone(),
            values: self.values.clone(),
            release: self.release.clone(),
            namespace: self.namespace.clone(),
            kube_version: self.kube_version.clone(),
            api_versions: self.api_versions.clone(),
        }
    }

    /// Whether objects from this template are not compared.
    pub fn skips(&self, source: &str) -> bool {
        self.nondeterministic.iter().any(|t| t == source)
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// The cases of one chart directory's `cases/` and `error-cases/`.
fn chart_cases(name: &str, chart: &Path, cases_root: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    for (kind, error_expected) in [("cases", false), ("error-cases", true)] {
        let Ok(entries) = std::fs::read_dir(cases_root.join(kind)) else { continue };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for values in files.into_iter().filter(|p| p.to_string_lossy().ends_with(".values.yaml")) {
            let meta = read_json(&PathBuf::from(values.to_string_lossy().replace(".values.yaml", ".meta.json")));
            let case = values.file_name().unwrap_or_default().to_string_lossy().replace(".values.yaml", "");
            out.push(Case {
                id: format!("{name}/{kind}/{case}"),
                chart_name: name.to_string(),
                chart: chart.to_path_buf(),
                values: values.clone(),
                release: meta["release"].as_str().unwrap_or("rel").into(),
                namespace: meta["namespace"].as_str().unwrap_or("ns").into(),
                kube_version: meta["kube_version"].as_str().unwrap_or("v1.30.0").into(),
                api_versions: strings(&meta["api_versions"]),
                nondeterministic: strings(&meta["nondeterministic_templates"]),
                error_expected,
            });
        }
    }
    out
}

fn plumb_objects(case: &Case) -> Result<Vec<(String, serde_json::Value)>, String> {
    let tree = DirTree::new(&case.chart).map_err(|e| e.to_string())?;
    let loaded = Chart::from_tree(&tree, "").map_err(|e| e.to_string())?;
    let user = match std::fs::read_to_string(&case.values) {
        Ok(text) => plumb_gotmpl::yaml11::from_str(&text)?,
        Err(_) => serde_json::json!({}),
    };
    let user = if user.is_null() { serde_json::json!({}) } else { user };
    let release =
        Release { name: case.release.clone(), namespace: case.namespace.clone(), revision: 1, is_install: true };
    let caps = Capabilities::helm_defaults(Some(&case.kube_version), &case.api_versions)?;
    let objects = render_objects(loaded, &user, &release, &caps).map_err(|e| e.to_string())?;
    Ok(objects.into_iter().map(|o| (o.origin.split('#').next().unwrap_or_default().to_string(), o.manifest)).collect())
}

fn identity(manifest: &serde_json::Value) -> String {
    let field = |p: &str| manifest.pointer(p).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
    let field = |p: &str| field(p).unwrap_or_default();
    format!("{}/{}/{}/{}", field("/apiVersion"), field("/kind"), field("/metadata/namespace"), field("/metadata/name"))
}

/// The objects Helm's install applies (no chart tests, no hooks of other
/// events, no skipped hooks), by
/// identity; `Err` lists documents the oracle could not place.
fn helm_applied(case: &Case, objects: Vec<HelmObject>) -> Result<BTreeMap<String, Vec<serde_json::Value>>, String> {
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for o in objects {
        if case.skips(&o.source) {
            continue;
        }
        let annotation = o.object.pointer("/metadata/annotations/helm.sh~1hook").and_then(|v| v.as_str());
        match (o.hook, hook_kind(annotation)) {
            (_, HookKind::Unknown) => continue,
            // Helm's install runs only install (and upgrade) hooks: not its
            // tests, not hooks of delete or rollback.
            (_, HookKind::Events(events)) if !plumb::render::chart::manifest::runs_on_sync(&events) => continue,
            (true, HookKind::None) => {
                return Err(format!(
                    "{}: {} is not in Helm's release manifest and not a hook: a template random on every \
                     render? list it in nondeterministic_templates",
                    o.source,
                    identity(&o.object)
                ));
            }
            _ => {}
        }
        out.entry(identity(&o.object)).or_default().push(o.object);
    }
    Ok(out)
}

/// Numbers as Kubernetes sees them: an integer and a float are equal when
/// the float is that integer exactly.
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y && (a.is_f64() && b.is_f64() || x.abs() <= EXACT),
        _ => false,
    }
}

/// The JSON pointer of the first place two objects differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            // Each key once (both maps' keys, visited twice, would make deep objects exponential).
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (x.get(key), y.get(key)) {
                    (Some(p), Some(q)) => {
                        if let Some(found) = first_difference(p, q, &path) {
                            return Some(found);
                        }
                    }
                    _ => return Some(path),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}/{i}")))
        }
        (Value::Number(x), Value::Number(y)) => (!same_number(x, y)).then(|| at.to_string()),
        _ => (a != b).then(|| at.to_string()),
    }
}

/// Whether plumb failed as Helm did: Helm's message, or for a YAML syntax
/// error (whose wording is go-yaml's) an error naming the same file.
fn same_failure(want: &str, got: &str) -> bool {
    if got.ends_with(want) || want.ends_with(got) {
        return true;
    }
    let file = want.strip_prefix("YAML parse error on ").and_then(|rest| rest.split(": ").next());
    file.is_some_and(|file| got.split(": ").any(|part| part.split('#').next() == Some(file)))
}

/// Compares one case; returns the number of objects compared.
pub fn compare(case: &Case, helm: Result<Vec<HelmObject>, String>) -> Result<usize, String> {
    let ours = plumb_objects(case);
    let helm = match (helm, ours) {
        (Err(want), Err(got)) => {
            let want = want.trim();
            return if same_failure(want, got.trim()) {
                Ok(0)
            } else {
                Err(format!("both fail, differently:\n  helm:  {want}\n  plumb: {got}"))
            };
        }
        (Err(want), Ok(_)) => return Err(format!("plumb renders it, but Helm fails: {want}")),
        (Ok(_), Err(got)) => return Err(format!("Helm renders it, but plumb fails: {got}")),
        (Ok(helm), Ok(ours)) => (helm_applied(case, helm)?, ours),
    };
    let (theirs, ours) = helm;
    if case.error_expected {
        return Err("Helm renders an error case".into());
    }
    let mut mine: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (source, object) in ours {
        if !case.skips(&source) {
            mine.entry(identity(&object)).or_default().push(object);
        }
    }
    let (helm_keys, our_keys): (Vec<_>, Vec<_>) = (theirs.keys().collect(), mine.keys().collect());
    if helm_keys != our_keys {
        let only_helm: Vec<_> = helm_keys.iter().filter(|k| !mine.contains_key(**k)).collect();
        let only_ours: Vec<_> = our_keys.iter().filter(|k| !theirs.contains_key(**k)).collect();
        return Err(format!("different objects: only Helm {only_helm:?}, only plumb {only_ours:?}"));
    }
    let mut compared = 0;
    for (key, want) in &theirs {
        let got = &mine[key];
        if got.len() != want.len() {
            return Err(format!("{key}: Helm applies it {} times, plumb {}", want.len(), got.len()));
        }
        for (w, g) in want.iter().zip(got) {
            if let Some(path) = first_difference(g, w, "") {
                return Err(format!(
                    "{key} differs at {path}:\n  helm:  {}\n  plumb: {}",
                    w.pointer(&path).map(ToString::to_string).unwrap_or("(absent)".into()),
                    g.pointer(&path).map(ToString::to_string).unwrap_or("(absent)".into())
                ));
            }
            compared += 1;
        }
    }
    Ok(compared)
}

/// Cases of the shared charts.
pub fn shared_cases() -> Vec<Case> {
    let dir = plumb_testenv::binaries::shared_charts();
    assert!(dir.is_dir(), "{} is missing (set PLUMB_SHARED_CHARTS)", dir.display());
    let mut charts: Vec<_> = std::fs::read_dir(&dir).expect("shared charts").flatten().map(|e| e.path()).collect();
    charts.sort();
    let mut out = Vec::new();
    for chart in charts.into_iter().filter(|p| p.join("chart").is_dir()) {
        let name = chart.file_name().unwrap_or_default().to_string_lossy().to_string();
        // Shared error cases are checked against their recorded message
        // by chart_conformance; here only renders Helm accepts.
        out.extend(chart_cases(&name, &chart.join("chart"), &chart).into_iter().filter(|c| !c.error_expected));
    }
    out
}

/// Go's module cache.
fn module_cache() -> PathBuf {
    let output = Command::new("go").args(["env", "GOMODCACHE"]).output().expect("go env GOMODCACHE (Go is needed)");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// A module path as the module cache spells it (upper case as `!` + lower).
fn escape(module: &str) -> String {
    module
        .chars()
        .flat_map(|c| if c.is_ascii_uppercase() { vec!['!', c.to_ascii_lowercase()] } else { vec![c] })
        .collect()
}

/// The chart of a corpus entry, prepared when its `Chart.yaml` is made at
/// release time: copied, then `chart.json`'s `prepare` applied (`copy`:
/// files to write from others, `replace`: text replacements per file).
fn corpus_chart(entry: &Path, meta: &serde_json::Value) -> PathBuf {
    let module = meta["module"].as_str().expect("chart.json: module");
    let version = meta["version"].as_str().expect("chart.json: version");
    let root = module_cache().join(format!("{}@{version}", escape(module)));
    let chart = root.join(meta["dir"].as_str().expect("chart.json: dir"));
    assert!(
        chart.is_dir(),
        "{} is missing: run tests/setup.sh (it downloads the chart modules of tests/charts/go.mod)",
        chart.display()
    );
    let Some(prepare) = meta.get("prepare") else { return chart };
    let name = entry.file_name().unwrap_or_default().to_string_lossy().to_string();
    let target = std::env::temp_dir().join(format!("plumb-corpus-{}-{name}-{version}", std::process::id()));
    if !target.exists() {
        copy_dir(&chart, &target);
        for (to, from) in prepare["copy"].as_object().into_iter().flatten() {
            std::fs::copy(target.join(from.as_str().unwrap_or_default()), target.join(to)).expect("prepare copy");
        }
        for (file, pairs) in prepare["replace"].as_object().into_iter().flatten() {
            let path = target.join(file);
            let mut text = std::fs::read_to_string(&path).expect("prepare read");
            for pair in pairs.as_array().into_iter().flatten() {
                text = text.replace(pair[0].as_str().unwrap_or_default(), pair[1].as_str().unwrap_or_default());
            }
            std::fs::write(&path, text).expect("prepare write");
        }
    }
    target
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            // The module cache is read-only; the copy must be writable.
            let mut perms = std::fs::metadata(&target).expect("meta").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).expect("chmod");
        }
    }
}

/// Cases of the public chart corpus.
pub fn corpus_cases() -> Vec<Case> {
    let root = repo_root().join("tests/charts");
    let mut entries: Vec<_> = std::fs::read_dir(&root).expect("tests/charts").flatten().map(|e| e.path()).collect();
    entries.sort();
    let mut out = Vec::new();
    for entry in entries.into_iter().filter(|p| p.join("chart.json").is_file()) {
        let meta = read_json(&entry.join("chart.json"));
        let chart = corpus_chart(&entry, &meta);
        let name = entry.file_name().unwrap_or_default().to_string_lossy().to_string();
        out.extend(chart_cases(&name, &chart, &entry));
    }
    out
}

/// Every case.
pub fn all_cases() -> Vec<Case> {
    let mut cases = shared_cases();
    cases.extend(corpus_cases());
    cases
}
