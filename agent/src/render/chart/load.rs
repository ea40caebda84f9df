//! A chart's files into a [`Chart`]: `Chart.yaml` (apiVersion v2, or v1
//! with `requirements.yaml`), `values.yaml`, `values.schema.json`,
//! `templates/`, other files for `.Files`, `crds/`, and subcharts under
//! `charts/` as directories or `.tgz` archives. `.helmignore` applies.

use std::collections::BTreeMap;

use super::ChartError;
use super::ignore::Rules;
use crate::source::Tree;

/// A loaded chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `Chart.yaml` as JSON.
    pub metadata: serde_json::Value,
    /// `values.yaml` (an object; empty when absent).
    pub values: serde_json::Value,
    /// `values.schema.json`, when present.
    pub schema: Option<serde_json::Value>,
    /// Templates: path inside the chart (`templates/x.yaml`) and source.
    pub templates: Vec<(String, String)>,
    /// Every other file, for `.Files` (and `crds/`).
    pub files: std::sync::Arc<BTreeMap<String, Vec<u8>>>,
    /// Subcharts, as found under `charts/`.
    pub dependencies: Vec<Chart>,
    /// Where the chart came from, for messages.
    pub origin: String,
}

/// Files larger than this are refused (Helm's per-file limit).
pub const MAX_FILE_SIZE: usize = 5 * 1024 * 1024;

impl Chart {
    /// The chart's name (`Chart.yaml` `name`, or the alias it is used under).
    pub fn name(&self) -> &str {
        self.metadata["name"].as_str().unwrap_or_default()
    }

    /// Whether it is a library chart (templates only for other charts).
    pub fn is_library(&self) -> bool {
        self.metadata["type"].as_str() == Some("library")
    }

    /// The `dependencies` entries of `Chart.yaml` (or `requirements.yaml`).
    pub fn dependency_entries(&self) -> Vec<serde_json::Value> {
        self.metadata["dependencies"].as_array().cloned().unwrap_or_default()
    }

    /// Dependencies of `Chart.yaml` with no chart of that name under
    /// `charts/` (Helm's `CheckDependencies`, whatever their conditions).
    pub fn missing_dependencies(&self) -> Vec<String> {
        self.dependency_entries()
            .iter()
            .filter_map(|d| d["name"].as_str())
            .filter(|name| !self.dependencies.iter().any(|sub| sub.name() == *name))
            .map(str::to_string)
            .collect()
    }

    /// The CRD manifests under `crds/`, by path.
    pub fn crds(&self) -> impl Iterator<Item = (&String, &Vec<u8>)> {
        self.files.iter().filter(|(path, _)| {
            path.starts_with("crds/") && (path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json"))
        })
    }

    /// Loads the chart in directory `dir` of `tree`.
    pub fn from_tree(tree: &dyn Tree, dir: &str) -> Result<Chart, ChartError> {
        let origin = if dir.is_empty() { tree.revision() } else { dir.to_string() };
        let error = |reason: String| ChartError::Load { chart: origin.clone(), reason };
        let prefix = if dir.is_empty() { String::new() } else { format!("{}/", dir.trim_end_matches('/')) };
        let mut files = BTreeMap::new();
        for path in tree.walk(dir).map_err(|e| error(e.to_string()))? {
            let relative = path.strip_prefix(&prefix).unwrap_or(&path).to_string();
            let data = tree.read(&path).map_err(|e| error(e.to_string()))?;
            files.insert(relative, data);
        }
        Chart::from_files(&origin, files)
    }

    /// Builds a chart from its files (paths relative to the chart root).
    pub fn from_files(origin: &str, mut files: BTreeMap<String, Vec<u8>>) -> Result<Chart, ChartError> {
        let error = |reason: String| ChartError::Load { chart: origin.to_string(), reason };
        if let Some(ignore) = files.get(".helmignore") {
            let rules = Rules::parse(&String::from_utf8_lossy(ignore));
            files.retain(|path, _| !rules.ignored(path));
        }
        for (path, data) in &files {
            if data.len() > MAX_FILE_SIZE {
                return Err(error(format!("{path}: file is larger than {MAX_FILE_SIZE} bytes")));
            }
        }
        let text = |path: &str, data: &[u8]| {
            String::from_utf8(data.to_vec()).map_err(|_| error(format!("{path}: not UTF-8 text")))
        };
        let yaml = |path: &str, data: &[u8]| -> Result<serde_json::Value, ChartError> {
            crate::render::yaml11::from_str(&text(path, data)?).map_err(|e| error(format!("{path}: {e}")))
        };
        let Some(chart_yaml) = files.remove("Chart.yaml") else {
            return Err(error("Chart.yaml file is missing".into()));
        };
        let mut metadata = yaml("Chart.yaml", &chart_yaml)?;
        if !metadata.is_object() {
            return Err(error("Chart.yaml: must be a mapping".into()));
        }
        for field in ["name", "version"] {
            if metadata[field].as_str().is_none_or(str::is_empty) {
                return Err(error(format!("Chart.yaml: field {field:?} is required")));
            }
        }
        let api_version = metadata["apiVersion"].as_str().unwrap_or("v1").to_string();
        if api_version != "v1" && api_version != "v2" {
            return Err(error(format!("Chart.yaml: apiVersion {api_version:?} is not supported (v1 or v2)")));
        }
        if api_version == "v1" {
            // v1 charts list dependencies in requirements.yaml.
            if let Some(requirements) = files.remove("requirements.yaml") {
                metadata["dependencies"] = yaml("requirements.yaml", &requirements)?["dependencies"].clone();
            }
        }
        let values = match files.remove("values.yaml") {
            Some(data) => match yaml("values.yaml", &data)? {
                serde_json::Value::Null => serde_json::json!({}),
                v @ serde_json::Value::Object(_) => v,
                _ => return Err(error("values.yaml: must be a mapping".into())),
            },
            None => serde_json::json!({}),
        };
        let schema = match files.remove("values.schema.json") {
            Some(data) => Some(serde_json::from_slice(&data).map_err(|e| error(format!("values.schema.json: {e}")))?),
            None => None,
        };
        files.remove("Chart.lock");
        files.remove("requirements.lock");
        let mut templates = Vec::new();
        let mut subchart_files: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        let mut archives = Vec::new();
        let mut rest = BTreeMap::new();
        for (path, data) in files {
            if path.starts_with("templates/") {
                templates.push((path.clone(), text(&path, &data)?));
            } else if let Some(sub) = path.strip_prefix("charts/") {
                match sub.split_once('/') {
                    Some((dir, inner)) => {
                        subchart_files.entry(dir.to_string()).or_default().insert(inner.to_string(), data);
                    }
                    None if sub.ends_with(".tgz") || sub.ends_with(".tar.gz") => archives.push((path, data)),
                    None => {}
                }
            } else {
                rest.insert(path, data);
            }
        }
        let mut dependencies = Vec::new();
        for (dir, files) in subchart_files {
            dependencies.push(Chart::from_files(&format!("{origin}/charts/{dir}"), files)?);
        }
        for (path, data) in archives {
            dependencies.push(super::archive::load(&format!("{origin}/{path}"), &data)?);
        }
        Ok(Chart {
            metadata,
            values,
            schema,
            templates,
            files: std::sync::Arc::new(rest),
            dependencies,
            origin: origin.to_string(),
        })
    }
}
