//! The render stage: turns an app's source into [`RenderedObject`]s.
//!
//! - [`config`] — `plumb.yaml`, the apps of a config repo.
//! - [`plain`] — directories of plain YAML/JSON manifests.
//! - [`chart`] — Helm charts rendered natively; [`helm`] — chart apps;
//!   [`lookup`] — the cluster as `lookup` reads it; [`cache`] — kept renders.
//! - [`kustomize`] — Kustomize apps, built by the `plumb-kustomize` crate.
//! - [`lock`], [`remote`], [`fetch`], [`oci`] — `plumb.lock`, pinned remote
//!   charts (Helm repositories, OCI registries) and remote Kustomize bases.
//!
//! Charts are executed by the `plumb-gotmpl` crate (Go's `text/template`
//! with Sprig and Helm's functions); values are read with its `yaml11`.

pub mod cache;
pub mod chart;
pub mod config;
pub mod fetch;
pub mod helm;
pub mod kustomize;
pub mod lock;
pub mod lookup;
pub mod memo;
pub mod oci;
pub mod plain;
pub mod remote;

pub use crate::plan::RenderedObject;

pub(crate) use plumb_gotmpl::yaml11::{self, yaml_error};

/// A values file of the repo as JSON, read as Helm reads values.
pub fn values_file(tree: &dyn crate::source::Tree, path: &str) -> Result<serde_json::Value, RenderError> {
    let text = tree.read_string(path)?;
    match yaml11::from_str(&text) {
        Ok(value @ (serde_json::Value::Object(_) | serde_json::Value::Null)) => Ok(value),
        Ok(_) => Err(RenderError::Parse { path: path.to_string(), reason: "a values file must be a mapping".into() }),
        Err(reason) => Err(RenderError::Parse { path: path.to_string(), reason }),
    }
}

/// `sha256:<hex>` of a render: its objects' origins and manifests in order.
/// Same inputs, same digest.
pub fn digest(objects: &[RenderedObject]) -> String {
    let canonical: Vec<serde_json::Value> =
        objects.iter().map(|o| serde_json::json!({"origin": o.origin, "manifest": o.manifest})).collect();
    crate::plan::object::hash_value(&serde_json::Value::Array(canonical))
}

/// Why a render failed. Messages name the file (and document).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The source tree could not be read (missing, unsafe or too large file).
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// A file is not valid YAML/JSON, or exceeds the parser's budgets.
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        reason: String,
    },
    /// The app cannot be rendered as configured.
    #[error("{file}: app {app:?}: {reason}")]
    App {
        /// The config file.
        file: String,
        /// The app.
        app: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A Kustomize app does not build; the error names the kustomization
    /// file and field.
    #[error("app {app:?}: {source}")]
    Kustomize {
        /// The app.
        app: String,
        /// What kustomize's build found.
        source: plumb_kustomize::KustomizeError,
    },
    /// A document is not a Kubernetes object.
    #[error("{origin}: {reason}")]
    NotAnObject {
        /// File and document.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}
