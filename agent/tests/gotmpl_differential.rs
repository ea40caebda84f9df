//! plumb's template engine against Helm's own (Helm SDK v4.2.3 through the
//! `helm-python-sdk` package, installed by `tests/setup.sh` into
//! `~/.cache/plumb/helm-venv`): every case in `tests/gotmpl/cases.json` is
//! rendered by both as a one-template chart; outputs must be identical, and
//! where Helm fails plumb must fail at the same line and column (and with
//! the same message for `fail`/`required`, and the same report for values
//! that break `values.schema.json`).

mod corpus;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use plumb::render::chart::{self, Capabilities, Chart, Release};
use plumb_gotmpl::Clock;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python with helm-python-sdk, in the venv `tests/setup.sh` makes.
pub fn helm_python() -> PathBuf {
    plumb_testenv::binaries::cache_dir().join("helm-venv/bin/python")
}

fn oracle(cases: &str) -> serde_json::Value {
    let python = helm_python();
    assert!(python.exists(), "{} is missing: run tests/setup.sh (it installs helm-python-sdk)", python.display());
    let mut child = Command::new(&python)
        .arg(repo().join("tests/gotmpl/helm_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Helm oracle");
    child.stdin.take().expect("stdin").write_all(cases.as_bytes()).expect("write cases");
    let output = child.wait_with_output().expect("oracle output");
    assert!(output.status.success(), "the Helm oracle failed");
    serde_json::from_slice(&output.stdout).expect("oracle JSON")
}

fn plumb_render(case: &serde_json::Value) -> Result<String, String> {
    let mut files = BTreeMap::new();
    files.insert(
        "Chart.yaml".to_string(),
        b"apiVersion: v2\nname: case\nversion: 1.2.3\nappVersion: \"4.5.6\"\n".to_vec(),
    );
    let values = case.get("values").cloned().unwrap_or_else(|| serde_json::json!({}));
    files.insert("values.yaml".to_string(), values.to_string().into_bytes());
    files.insert("templates/case.yaml".to_string(), case["template"].as_str().unwrap_or_default().as_bytes().to_vec());
    if let Some(schema) = case.get("schema") {
        files.insert("values.schema.json".to_string(), schema.to_string().into_bytes());
    }
    if let Some(helpers) = case.get("helpers").and_then(|h| h.as_str()) {
        files.insert("templates/_helpers.tpl".to_string(), helpers.as_bytes().to_vec());
    }
    let loaded = Chart::from_files("case", files).map_err(|e| e.to_string())?;
    let (prepared, values) = chart::values::prepare(loaded, &serde_json::json!({}));
    chart::schema::validate(&prepared, &values).map_err(|e| e.to_string())?;
    let release = Release { name: "rel".into(), namespace: "ns".into(), revision: 1, is_install: true };
    let caps = Capabilities::helm_defaults(Some("v1.30.0"), &[]).map_err(|e| e.to_string())?;
    let clock = Clock::fixed("2024-05-06T07:08:09Z[UTC]".parse().expect("fixed time"));
    let out = chart::render(&prepared, &values, &release, &caps, clock).map_err(|e| e.to_string())?;
    Ok(out.get("case/templates/case.yaml").cloned().unwrap_or_default())
}

/// `(line, column)` of the first `case/templates/case.yaml:L[:C]` in a message.
fn position(message: &str) -> Option<(String, Option<String>)> {
    let at = message.find("case/templates/case.yaml:")? + "case/templates/case.yaml:".len();
    let rest = &message[at..];
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[line.len()..];
    let col = after
        .strip_prefix(':')
        .map(|c| c.chars().take_while(char::is_ascii_digit).collect::<String>())
        .filter(|c| !c.is_empty());
    Some((line, col))
}

/// The message of a `fail`/`required` error (`execution error at (...): msg`).
fn user_message(message: &str) -> Option<&str> {
    message.strip_prefix("execution error at (").and_then(|m| m.split_once("): ")).map(|(_, msg)| msg)
}

#[test]
fn templates_render_exactly_like_helm() {
    // PLUMB_GOTMPL_CASES points at another case file while investigating.
    let extra = std::env::var("PLUMB_GOTMPL_CASES").ok();
    let path = extra.clone().map_or_else(|| repo().join("tests/gotmpl/cases.json"), PathBuf::from);
    let text = std::fs::read_to_string(&path).expect("cases file");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("cases parse");
    assert!(extra.is_some() || cases.len() >= 300, "the differential corpus must hold at least 300 cases");
    let helm = oracle(&text);
    let mut mismatches = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or_default();
        let expected = &helm[id];
        let ours = plumb_render(case);
        let agrees =
            match (expected.get("ok").and_then(|v| v.as_str()), expected.get("err").and_then(|v| v.as_str()), &ours) {
                (Some(want), _, Ok(got)) => want == got,
                (_, Some(want), Err(got)) => {
                    let same_place = match (position(want), position(got)) {
                        (Some((wl, wc)), Some((gl, gc))) => wl == gl && (wc.is_none() || gc.is_none() || wc == gc),
                        (w, g) => w.is_none() && g.is_none(),
                    };
                    // Schema reports are compared whole (Helm's order of several
                    // failures is that of Go's map iteration, so only single ones are cased).
                    let schema_report = want.starts_with("values don't meet");
                    same_place
                        && user_message(want).is_none_or(|m| user_message(got) == Some(m))
                        && (!schema_report || want.trim_end() == got.trim_end())
                }
                _ => false,
            };
        if !agrees {
            mismatches.push(format!(
                "--- {id}\ntemplate: {}\nhelm:  {}\nplumb: {:?}",
                case["template"].as_str().unwrap_or_default(),
                expected,
                ours
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Helm:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

/// The `objects` cases: charts whose output is compared object by object
/// with what Helm's install applies (document separators, block scalars at
/// the end of templates, hooks, numbers and YAML 1.1 scalars).
#[test]
fn manifests_apply_like_helms_install() {
    let text = std::fs::read_to_string(repo().join("tests/gotmpl/cases.json")).expect("cases file");
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).expect("cases parse");
    let root = tempfile::tempdir().expect("tempdir");
    let mut charts = Vec::new();
    for case in cases.iter().filter(|c| c["objects"] == true) {
        let id = case["id"].as_str().unwrap_or_default();
        let dir = root.path().join(id.replace('/', "_"));
        let template = case["path"].as_str().unwrap_or("templates/case.yaml");
        std::fs::create_dir_all(dir.join(template).parent().expect("parent")).expect("mkdir");
        std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: case\nversion: 1.2.3\n").expect("Chart.yaml");
        let values = case.get("values").cloned().unwrap_or_else(|| serde_json::json!({}));
        std::fs::write(dir.join("values.yaml"), values.to_string()).expect("values");
        std::fs::write(dir.join(template), case["template"].as_str().unwrap_or_default()).expect("template");
        if let Some(helpers) = case["helpers"].as_str() {
            std::fs::write(dir.join("templates/_helpers.tpl"), helpers).expect("helpers");
        }
        charts.push(corpus::Case {
            id: id.to_string(),
            chart_name: id.to_string(),
            chart: dir,
            values: "-".into(),
            release: "rel".into(),
            namespace: "ns".into(),
            kube_version: "v1.30.0".into(),
            api_versions: Vec::new(),
            nondeterministic: Vec::new(),
            error_expected: false,
        });
    }
    assert!(charts.len() >= 25, "only {} manifest cases", charts.len());
    let requests: Vec<_> = charts.iter().map(corpus::Case::request).collect();
    let results = plumb_testenv::helm_oracle::install(&requests).expect("Helm's install path");
    let failures: Vec<String> = charts
        .iter()
        .filter_map(|c| {
            corpus::compare(c, plumb_testenv::helm_oracle::objects(&results[&c.id]))
                .err()
                .map(|e| format!("{}: {e}", c.id))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} manifest cases differ:\n{}",
        failures.len(),
        charts.len(),
        failures.join("\n")
    );
}
