//! Test helpers: a directory on disk as a [`FileTree`], and comparing
//! outputs as sets of objects (as the corpus README says).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plumb_kustomize::{EntryKind, FileTree};
use serde_json::Value;

/// A directory as a tree.
pub struct DiskTree {
    pub root: PathBuf,
}

impl FileTree for DiskTree {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.root.join(path)).map_err(|e| format!("{path}: {e}"))
    }
    fn kind(&self, path: &str) -> Option<EntryKind> {
        let m = std::fs::metadata(self.root.join(path)).ok()?;
        Some(if m.is_dir() { EntryKind::Dir } else { EntryKind::File })
    }
    fn name(&self) -> String {
        self.root.display().to_string()
    }
}

/// The shared corpus directory.
pub fn shared_kustomize() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PLUMB_SHARED_KUSTOMIZE") {
        return Some(PathBuf::from(p));
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/kustomize"))
        .find(|p| p.join("README.md").is_file())
        .or_else(|| here.ancestors().map(|a| a.join("../shared/kustomize")).find(|p| p.join("README.md").is_file()))
}

/// Objects keyed by apiVersion/kind/namespace/name.
pub fn keyed(objects: &[Value]) -> BTreeMap<String, Value> {
    objects
        .iter()
        .map(|o| {
            let key = format!(
                "{}/{}/{}/{}",
                o["apiVersion"].as_str().unwrap_or(""),
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            );
            (key, o.clone())
        })
        .collect()
}

/// Reads YAML output (kubectl's or plumb's) as YAML 1.2 objects.
pub fn parse_output(text: &str) -> Vec<Value> {
    plumb_kustomize::yaml::parse_documents(text, plumb_kustomize::yaml::Dialect::Resource)
        .expect("output is valid YAML")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// The first difference between two sets of objects, if any.
pub fn difference(want: &[Value], got: &[Value]) -> Option<String> {
    let (w, g) = (keyed(want), keyed(got));
    for (k, v) in &w {
        match g.get(k) {
            None => return Some(format!("missing {k}; got {:?}", g.keys().collect::<Vec<_>>())),
            Some(x) if x != v => {
                return Some(format!(
                    "{k} differs:\n want {}\n  got {}",
                    serde_json::to_string(v).unwrap_or_default(),
                    serde_json::to_string(x).unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    g.keys().find(|k| !w.contains_key(*k)).map(|k| format!("unexpected {k}"))
}
