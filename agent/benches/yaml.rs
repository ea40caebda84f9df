//! YAML parse and print throughput: plumb against go-yaml as Helm and
//! kubectl use it (sigs.k8s.io/yaml, the Go program in `benches/go-yaml`)
//! and PyYAML's C (libyaml) loader and dumper, on the same text, measured
//! in the same run. Prints a Markdown table (docs/performance.md keeps the
//! latest).
//!
//! Inputs:
//! - a 2 MB chart render: Helm's own renders of every case of the charts in
//!   `../shared/charts` (Deployments, StatefulSets, RBAC, dashboards in
//!   ConfigMaps...), concatenated until 2 MB;
//! - a 10 MB generated file of small ConfigMaps (about 60,000 documents).
//!
//! Measures:
//! - parse: plumb's manifest reader (`render::plain`, the path of every plain
//!   file and every chart output) against Helm's split and `yaml.Unmarshal`
//!   of each document, and `yaml.load_all(CSafeLoader)`;
//! - print: `plumb render`'s printer (each object through the template
//!   engine's `toYaml`, as `runtime::offline::render` does) against
//!   `yaml.Marshal` of each object and `yaml.dump_all(CSafeDumper)`;
//! - toYaml: the template engine's `toYaml` of all objects as one template
//!   value (what `{{ toYaml .Values.x }}` does) against `yaml.Marshal` and
//!   `yaml.dump` of the list.
//!
//! Run: `cargo bench -p plumb --bench yaml` (Go builds the go-yaml peer;
//! python3 with PyYAML's C extension, Debian's python3-yaml, the other).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "support/gobuild.rs"]
mod gobuild;

use plumb::render::plain;
use plumb_gotmpl::Value;
use plumb_gotmpl::funcs::yaml::to_yaml;

const ITERATIONS: usize = 7;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn time_ms(mut f: impl FnMut()) -> f64 {
    let samples = (0..ITERATIONS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    median(samples)
}

/// Helm's renders of the shared charts' cases, repeated to `size` bytes.
fn chart_render(size: usize) -> String {
    let charts = plumb_testenv::binaries::shared_charts();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&charts)
        .expect("shared charts")
        .flatten()
        .flat_map(|chart| std::fs::read_dir(chart.path().join("cases")).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    cases.sort();
    let mut one_pass = String::new();
    for case in cases {
        let outputs: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&case).expect("case")).expect("expected.json");
        for (template, text) in outputs {
            if template.ends_with(".yaml") || template.ends_with(".yml") {
                one_pass.push_str(&format!("---\n# Source: {template}\n{}\n", text.as_str().unwrap_or_default()));
            }
        }
    }
    let mut text = String::new();
    while text.len() < size {
        text.push_str(&one_pass);
    }
    text
}

/// Small ConfigMaps, as a generator writes them, to `size` bytes.
fn generated(size: usize) -> String {
    let mut text = String::new();
    let mut n = 0;
    while text.len() < size {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{n}\n  labels: {{app: web, tier: cache}}\ndata:\n  key: value-{n}\n  other: \"a longer value for this config map\"\n"
        ));
        n += 1;
    }
    text
}

/// PyYAML's C loader and dumper on `file`: medians of load_all, dump_all of
/// the documents, and dump of them as one list (ms), or why not.
fn pyyaml(file: &Path) -> Result<(f64, f64, f64), String> {
    let script = r#"
import json, statistics, sys, time, yaml
text = open(sys.argv[1]).read()
n = int(sys.argv[2])
def median_ms(f):
    samples = []
    for _ in range(n):
        start = time.perf_counter(); f(); samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
docs = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d is not None]
load = median_ms(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))
dump_all = median_ms(lambda: yaml.dump_all(docs, Dumper=yaml.CSafeDumper))
dump = median_ms(lambda: yaml.dump(docs, Dumper=yaml.CSafeDumper))
json.dump([load, dump_all, dump], sys.stdout)
"#;
    let output = Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .arg(ITERATIONS.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(stderr.lines().last().unwrap_or("python3 failed").to_string());
    }
    let times: Vec<f64> = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    match times[..] {
        [load, dump_all, dump] => Ok((load, dump_all, dump)),
        _ => Err("unexpected output".into()),
    }
}

/// go-yaml's medians (parse, print each, toYaml of all) on `file`, or why not.
fn go_yaml(file: &Path) -> Result<(f64, f64, f64), String> {
    let binary = gobuild::binary("go-yaml")?;
    let output = Command::new(binary).arg(file).arg(ITERATIONS.to_string()).output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("failed").to_string());
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let get = |key: &str| report[key].as_f64().ok_or_else(|| format!("no {key} in go-yaml's output"));
    Ok((get("parse_ms")?, get("print_ms")?, get("to_yaml_ms")?))
}

struct Row {
    input: String,
    measure: &'static str,
    plumb_ms: f64,
    go_ms: Option<f64>,
    python_ms: Option<f64>,
    mb: f64,
}

fn bench(name: &str, text: &str, work: &Path, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let file = work.join(format!("{name}.yaml"));
    std::fs::write(&file, text).expect("write");
    let mb = text.len() as f64 / 1e6;
    let objects = plain::parse_chart_output(name, text).expect("parses");
    let parse = time_ms(|| {
        plain::parse_chart_output(name, text).expect("parses");
    });
    let print = time_ms(|| {
        let mut out = String::new();
        for object in &objects {
            out.push_str(&to_yaml(&Value::from_json(&object.manifest)));
            out.push('\n');
        }
    });
    let list = Value::from_json(&serde_json::Value::Array(objects.iter().map(|o| o.manifest.clone()).collect()));
    let printed_mb = to_yaml(&list).len() as f64 / 1e6;
    let to_yaml_ms = time_ms(|| {
        to_yaml(&list);
    });
    let (load, dump_all, dump) = match pyyaml(&file) {
        Ok((l, a, d)) => (Some(l), Some(a), Some(d)),
        Err(e) => {
            notes.push(format!("PyYAML not measured on {name}: {e}"));
            (None, None, None)
        }
    };
    let (go_parse, go_print, go_to_yaml) = match go_yaml(&file) {
        Ok((p, e, t)) => (Some(p), Some(e), Some(t)),
        Err(e) => {
            notes.push(format!("go-yaml not measured on {name}: {e}"));
            (None, None, None)
        }
    };
    let input = format!("{name} ({mb:.1} MB, {} objects)", objects.len());
    let mut row = |measure, plumb_ms, go_ms, python_ms, mb| {
        rows.push(Row { input: input.clone(), measure, plumb_ms, go_ms, python_ms, mb });
    };
    row("parse", parse, go_parse, load, mb);
    row("print each object (plumb render's printer)", print, go_print, dump_all, printed_mb);
    row("toYaml of all objects as one list", to_yaml_ms, go_to_yaml, dump, printed_mb);
}

fn main() {
    let work = tempfile::tempdir().expect("tempdir");
    let (mut rows, mut notes) = (Vec::new(), Vec::new());
    bench("chart-render", &chart_render(2_000_000), work.path(), &mut rows, &mut notes);
    bench("generated", &generated(10 * 1024 * 1024), work.path(), &mut rows, &mut notes);
    println!(
        "| input | measure | plumb ms | plumb MB/s | go-yaml ms | go-yaml / plumb | PyYAML C ms | PyYAML C / plumb |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let peer = |ms: Option<f64>, plumb_ms: f64| match ms {
        Some(ms) => (format!("{ms:.0}"), format!("{:.1}x", ms / plumb_ms)),
        None => ("n/a".into(), "n/a".into()),
    };
    for r in &rows {
        let (go, go_ratio) = peer(r.go_ms, r.plumb_ms);
        let (python, python_ratio) = peer(r.python_ms, r.plumb_ms);
        println!(
            "| {} | {} | {:.0} | {:.1} | {go} | {go_ratio} | {python} | {python_ratio} |",
            r.input,
            r.measure,
            r.plumb_ms,
            r.mb / r.plumb_ms * 1000.0
        );
    }
    println!("\nMedians of {ITERATIONS} runs; MB/s of the YAML text read (parse) or written (print, toYaml).");
    for note in notes {
        println!("- {note}");
    }
}
