//! The module layering of docs/architecture.md, checked on the source: each
//! stage imports only stages below it, so no import runs from a stage to
//! one that depends on it; and the shipped crate names no test harness.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Stages from the bottom up; a stage may import the ones before it.
const LAYERS: &[&[&str]] =
    &[&["plan"], &["cluster"], &["source"], &["live", "render"], &["apply"], &["report"], &["runtime"], &["commands"]];

/// Leaves any stage may use.
const LEAVES: &[&str] = &["redact", "backoff", "duration", "memory", "progress", "size"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn stages_import_only_the_stages_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = BTreeMap::new();
    for layer in LAYERS.iter().flat_map(|l| l.iter()) {
        let dir = src.join(layer);
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{layer}.rs")));
        }
        let own = layer_of(layer).expect("listed");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                let module: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if module == *layer || LEAVES.contains(&module.as_str()) {
                    continue;
                }
                match layer_of(&module) {
                    Some(theirs) if theirs < own => {}
                    Some(_) => {
                        violations.entry(format!("{layer} -> {module}")).or_insert_with(|| file.display().to_string());
                    }
                    None => {
                        violations
                            .entry(format!("{layer} -> {module} (unknown)"))
                            .or_insert_with(|| file.display().to_string());
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "imports against the layering (docs/architecture.md):\n{violations:#?}");
}

#[test]
fn the_shipped_crate_depends_on_no_test_harness() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).expect("Cargo.toml");
    let normal = manifest.split("[dev-dependencies]").next().unwrap_or_default();
    for harness in ["plumb-testenv", "plumb-fake-cluster", "plumb-e2e", "plumb-demo", "tempfile"] {
        assert!(!normal.contains(harness), "{harness} is a normal dependency of plumb");
    }
}
