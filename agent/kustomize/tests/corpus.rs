//! The shared corpus (../shared/kustomize) built by the crate directly and
//! compared with kustomize's recorded output; the error cases must fail
//! naming the problem. (`agent/tests/kustomize_conformance.rs` runs the same
//! cases through `plumb render`.)

mod support;

use std::sync::Arc;

use serde_json::Value;
use support::{DiskTree, difference, parse_output, shared_kustomize};

fn cases(kind: &str) -> Vec<(std::path::PathBuf, Value)> {
    let Some(root) = shared_kustomize() else { return Vec::new() };
    let mut out = Vec::new();
    for tree in std::fs::read_dir(&root).expect("corpus").flatten() {
        let dir = tree.path().join(kind);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for case in entries.flatten() {
            let text = std::fs::read_to_string(case.path()).expect("case");
            out.push((tree.path().join("tree"), serde_json::from_str::<Value>(&text).expect("case json")));
        }
    }
    out.sort_by(|a, b| a.1["entry"].as_str().cmp(&b.1["entry"].as_str()));
    out
}

#[test]
fn corpus_cases_match_kustomize() {
    let cases = cases("cases");
    assert!(cases.len() >= 16 || shared_kustomize().is_none(), "found {} cases", cases.len());
    let mut failures = Vec::new();
    for (tree, case) in &cases {
        let entry = case["entry"].as_str().expect("entry");
        let tree = Arc::new(DiskTree { root: tree.clone() });
        let want = parse_output(case["expected"].as_str().expect("expected"));
        match plumb_kustomize::build(tree, entry, &plumb_kustomize::Env::default()) {
            Ok(out) => {
                if let Some(d) = difference(&want, &out.objects) {
                    failures.push(format!("{entry}: {d}"));
                }
            }
            Err(e) => failures.push(format!("{entry}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn corpus_error_cases_fail_naming_the_problem() {
    for (tree, case) in cases("error-cases") {
        let entry = case["entry"].as_str().expect("entry");
        let tree = Arc::new(DiskTree { root: tree });
        let err = plumb_kustomize::build(tree, entry, &plumb_kustomize::Env::default()).expect_err(entry).to_string();
        for name in case["names"].as_array().expect("names") {
            let name = name.as_str().expect("name");
            assert!(err.contains(name), "{entry}: {err:?} does not name {name:?}");
        }
        assert!(err.contains("kustomization.yaml"), "{entry}: {err:?} does not name the kustomization file");
    }
}
