//! Differential test: every tree under `tests/cases/` (written by
//! `gen_cases.py`) is built by plumb-kustomize and by `kubectl kustomize`
//! (kustomize v5.5.0, the oracle); both must give the same objects (values
//! and types, compared as sets by apiVersion/kind/namespace/name), or both
//! must fail. Set PLUMB_KUSTOMIZE_CASE to run cases whose name contains it.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use support::{DiskTree, difference, parse_output};

enum Outcome {
    Objects(Vec<serde_json::Value>),
    Failed(String),
}

fn oracle(case: &Path) -> Outcome {
    // kustomize expands YAML bombs without limit: a case gets 10 seconds.
    let out = Command::new("timeout")
        .args(["10", "kubectl", "kustomize", "k"])
        .current_dir(case)
        .output()
        .expect("kubectl runs");
    if out.status.success() {
        Outcome::Objects(parse_output(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Outcome::Failed(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn plumb(case: &Path) -> Outcome {
    let tree = Arc::new(DiskTree { root: case.to_path_buf() });
    match plumb_kustomize::build(tree, "k", &plumb_kustomize::Env::default()) {
        Ok(out) => Outcome::Objects(out.objects),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

#[test]
fn plumb_builds_what_kubectl_kustomize_builds() {
    if Command::new("kubectl").arg("version").arg("--client").output().is_err() {
        panic!("kubectl (the oracle, kustomize v5.5.0) is not installed");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let filter = std::env::var("PLUMB_KUSTOMIZE_CASE").unwrap_or_default();
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("tests/cases")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(&filter))
        .collect();
    names.sort();
    assert!(filter.is_empty() || !names.is_empty(), "no case matches {filter:?}");
    if filter.is_empty() {
        assert!(names.len() >= 150, "the corpus has {} cases, want at least 150", names.len());
    }
    let (mut failures, mut both_failed) = (Vec::new(), 0);
    for name in &names {
        let case = root.join(name);
        match (oracle(&case), plumb(&case)) {
            (Outcome::Objects(want), Outcome::Objects(got)) => {
                if let Some(d) = difference(&want, &got) {
                    failures.push(format!("{name}: {d}"));
                }
            }
            (Outcome::Failed(_), Outcome::Failed(_)) => both_failed += 1,
            (Outcome::Failed(e), Outcome::Objects(_)) => {
                failures.push(format!("{name}: kubectl failed but plumb did not: {e}"))
            }
            (Outcome::Objects(_), Outcome::Failed(e)) => failures.push(format!("{name}: plumb failed: {e}")),
        }
    }
    eprintln!("{} cases, {} failing in both, {} differ", names.len(), both_failed, failures.len());
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), names.len(), failures.join("\n\n"));
}
