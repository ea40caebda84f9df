//! Chart rendering speed: plumb's native engine against Helm's own engine
//! (helm-python-sdk, Helm SDK v4.2.3, in-process Go) on the real charts of
//! `../shared/charts`, measured in the same run. Prints a Markdown table
//! (docs/performance.md keeps the latest one).
//!
//! Run: `cargo bench -p plumb --bench render` (after `tests/setup.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use plumb::render::chart::{self, Capabilities, Chart, Release};
use plumb::source::DirTree;
use plumb_gotmpl::Clock;

const ITERATIONS: usize = 30;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64() * 1000.0)
}

struct Row {
    case: String,
    templates: usize,
    cold: f64,
    parse: f64,
    execute: f64,
    warm: f64,
    helm: Option<f64>,
}

fn helm_render_ms(chart_dir: &Path, values: &Path, kube_version: &str) -> Option<f64> {
    let python = plumb_testenv::binaries::cache_dir().join("helm-venv/bin/python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/gotmpl/helm_bench.py");
    let output = Command::new(python)
        .arg(script)
        .arg(chart_dir)
        .arg(values)
        .arg(kube_version)
        .arg(ITERATIONS.to_string())
        .output()
        .ok()?;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let samples: Vec<f64> = report["render_ms"].as_array()?.iter().filter_map(|v| v.as_f64()).collect();
    (!samples.is_empty()).then(|| median(samples))
}

fn bench_case(chart_dir: &Path, values_file: &Path) -> Row {
    let kube_version = "v1.30.0";
    let user =
        plumb_gotmpl::yaml11::from_str(&std::fs::read_to_string(values_file).expect("values")).expect("values parse");
    let release = Release { name: "rel".into(), namespace: "ns".into(), revision: 1, is_install: true };
    let caps = Capabilities::helm_defaults(Some(kube_version), &[]).expect("caps");
    let clock = Clock::system();
    let full = || {
        let tree = DirTree::new(chart_dir).expect("chart dir");
        let loaded = Chart::from_tree(&tree, "").expect("load");
        let (prepared, values) = chart::values::prepare(loaded, &user);
        chart::render(&prepared, &values, &release, &caps, clock.clone()).expect("render")
    };
    let (out, cold) = time(full);
    let tree = DirTree::new(chart_dir).expect("chart dir");
    let loaded = Chart::from_tree(&tree, "").expect("load");
    let (mut parse, mut execute, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ITERATIONS {
        let ((prepared, values), prepare_ms) = time(|| chart::values::prepare(loaded.clone(), &user));
        let (parsed, parse_ms) =
            time(|| chart::parse(&prepared, &values, &release, &caps, clock.clone()).expect("parse"));
        let (_, execute_ms) = time(|| parsed.execute().expect("execute"));
        parse.push(parse_ms);
        execute.push(execute_ms);
        warm.push(prepare_ms + parse_ms + execute_ms);
    }
    let name =
        chart_dir.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let case = values_file.file_name().map(|n| n.to_string_lossy().replace(".values.yaml", "")).unwrap_or_default();
    Row {
        case: format!("{name}/{case}"),
        templates: out.len(),
        cold,
        parse: median(parse),
        execute: median(execute),
        warm: median(warm),
        helm: helm_render_ms(chart_dir, values_file, kube_version),
    }
}

fn main() {
    let charts = plumb_testenv::binaries::shared_charts();
    let mut rows = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&charts).expect("shared charts").flatten().map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs.into_iter().filter(|d| d.join("chart").is_dir()) {
        rows.push(bench_case(&dir.join("chart"), &dir.join("cases/default.values.yaml")));
    }
    println!(
        "| chart / case | templates rendered | plumb cold (load+render) ms | plumb parse ms | plumb execute ms | plumb warm render ms | Helm render ms | Helm / plumb warm |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (helm, ratio) = match r.helm {
            Some(h) => (format!("{h:.1}"), format!("{:.1}x", h / r.warm)),
            None => ("n/a (run tests/setup.sh)".into(), "n/a".into()),
        };
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {helm} | {ratio} |",
            r.case, r.templates, r.cold, r.parse, r.execute, r.warm
        );
    }
    println!("\nMedians of {ITERATIONS} runs; warm = values layering + parse + execute of an already loaded chart.");
}
