//! Kustomize build speed: plumb's native engine (through the same tree
//! adapter `plumb render` uses) against `kubectl kustomize` (kustomize
//! v5.5.0) on the trees of `../shared/kustomize`, the largest first,
//! measured in the same run. Prints a Markdown table. kubectl's time
//! includes its process start, which is what a sync would pay to use it.
//!
//! Run: `cargo bench -p plumb --bench kustomize`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use plumb::render::kustomize::TreeView;
use plumb::source::DirTree;

const PLUMB_ITERATIONS: usize = 200;
const KUBECTL_ITERATIONS: usize = 10;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn corpus() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var("PLUMB_SHARED_KUSTOMIZE").map(PathBuf::from).unwrap_or_else(|_| {
        here.ancestors()
            .flat_map(|a| [a.join("shared/kustomize"), a.join("../shared/kustomize")])
            .find(|p| p.join("README.md").is_file())
            .expect("shared/kustomize beside the repository (or PLUMB_SHARED_KUSTOMIZE)")
    })
}

fn main() {
    let root = corpus();
    // (tree, entry): jobset is the largest tree (a 1 MB CRD, 35 files).
    let cases = [
        ("jobset", "config/default"),
        ("podinfo", "deploy/overlays/dev"),
        ("podinfo", "_plumb/cases/webapp-variant"),
        ("metrics-server", "manifests/overlays/test-ha"),
    ];
    println!(
        "| tree / entry | objects | plumb (ms, median of {PLUMB_ITERATIONS}) | kubectl kustomize (ms, median of {KUBECTL_ITERATIONS}) | speed-up |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (tree, entry) in cases {
        let dir = root.join(tree).join("tree");
        let view = Arc::new(TreeView(Arc::new(DirTree::new(&dir).expect("tree"))));
        let env = plumb_kustomize::Env::default();
        let objects = plumb_kustomize::build(view.clone(), entry, &env).expect("builds").objects.len();
        let plumb: Vec<f64> = (0..PLUMB_ITERATIONS)
            .map(|_| {
                let start = Instant::now();
                let out = plumb_kustomize::build(view.clone(), entry, &env).expect("builds");
                std::hint::black_box(out);
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let kubectl: Vec<f64> = (0..KUBECTL_ITERATIONS)
            .map(|_| {
                let start = Instant::now();
                let out =
                    Command::new("kubectl").args(["kustomize", entry]).current_dir(&dir).output().expect("kubectl");
                assert!(out.status.success(), "kubectl kustomize {entry} failed");
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let (p, k) = (median(plumb), median(kubectl));
        println!("| {tree} {entry} | {objects} | {p:.2} | {k:.1} | {:.0}x |", k / p);
    }
}
