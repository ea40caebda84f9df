//! Kustomize, natively: builds a kustomization directory into objects with
//! kustomize v5.5.0's semantics (what `kubectl kustomize` prints).
//!
//! The crate reads files only through the caller's read-only [`FileTree`];
//! remote bases come through [`RemoteBases`] and `helmCharts:` through
//! [`HelmCharts`], both provided by the caller. It never touches the disk
//! or the network itself.
//!
//! Stages, one module each:
//! - [`yaml`] — YAML read as go-yaml reads it (scalars, anchors, budgets).
//! - [`kustomization`] — the Kustomization/Component file model.
//! - [`target`] — loading kustomizations and accumulating resources,
//!   components, generators, cycle detection and the load restrictor.
//! - [`pipeline`] — the built-in transformers in kustomize's order, and
//!   `transformers:`/`generators:` entries of built-in plugin kinds.
//! - [`transform`] — namespace, prefix/suffix, labels, annotations, images, replicas.
//! - [`generators`] and [`hash`] — ConfigMap/Secret generators and the name hash.
//! - [`patches`], [`smp`] (strategic merge), [`json6902`].
//! - [`replacements`], [`vars`], [`nameref`] (name-reference fix-ups).
//! - [`fieldspec`], [`config`] (field specs and transformer configurations),
//!   [`schema`] (OpenAPI merge keys and scopes), [`resid`], [`resource`],
//!   [`selector`], [`paths`], [`sort`], [`remote`].

pub mod config;
pub mod fieldspec;
pub mod generators;
pub mod hash;
pub mod json6902;
pub mod kustomization;
pub mod nameref;
pub mod patches;
pub mod paths;
pub mod pipeline;
pub mod remote;
pub mod replacements;
pub mod resid;
pub mod resource;
pub mod schema;
pub mod selector;
pub mod smp;
pub mod sort;
pub mod target;
pub mod transform;
pub mod vars;
pub mod yaml;

use std::sync::Arc;

pub use remote::RemoteSpec;

/// A file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// Read-only access to a tree of files; paths are `/`-separated and
/// relative to the tree's root, never containing `..`.
pub trait FileTree: Send + Sync {
    /// Reads a file.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
    /// Whether `path` is a file, a directory, or absent.
    fn kind(&self, path: &str) -> Option<EntryKind>;
    /// A name for messages (a directory or a commit).
    fn name(&self) -> String;
}

/// Fetches remote bases for the build.
pub trait RemoteBases: Send + Sync {
    /// The repository's tree at the pinned commit. The caller decides what
    /// "pinned" means and refuses anything else with a message that says
    /// how to pin it.
    fn fetch(&self, spec: &RemoteSpec) -> Result<Arc<dyn FileTree>, String>;
}

/// Inflates `helmCharts:` entries.
pub trait HelmCharts: Send + Sync {
    /// Renders one chart. `dir` is the kustomization's directory in `tree`;
    /// `chart` is the `helmCharts` entry and `globals` the `helmGlobals`.
    fn inflate(
        &self,
        tree: &dyn FileTree,
        dir: &str,
        chart: &serde_json::Value,
        globals: &serde_json::Value,
    ) -> Result<Vec<serde_json::Value>, String>;
}

/// What a build may use besides the tree.
#[derive(Default, Clone, Copy)]
pub struct Env<'a> {
    /// Remote bases; without it they are refused.
    pub remote: Option<&'a dyn RemoteBases>,
    /// Helm charts; without it `helmCharts:` is refused.
    pub helm: Option<&'a dyn HelmCharts>,
}

/// A build's result.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// The objects, in kustomize's output order.
    pub objects: Vec<serde_json::Value>,
    /// kustomize's `# Warning:` lines (deprecated fields).
    pub warnings: Vec<String>,
}

/// Why a build failed. Each names the kustomization file and its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KustomizeError {
    /// A directory named as a kustomization has no kustomization file.
    #[error(
        "{dir}: no kustomization file (kustomization.yaml, kustomization.yml or Kustomization); add one, or list the files instead of the directory"
    )]
    Missing {
        /// The directory.
        dir: String,
    },
    /// A field of a kustomization cannot be used: a missing or invalid
    /// file, an absent patch target, a duplicate id, a cycle...
    #[error("{file}: {field}: {reason}")]
    Field {
        /// The kustomization file.
        file: String,
        /// The field (and entry).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// An error inside a kustomization included from another.
    #[error("{file}: {field}: {source}")]
    Nested {
        /// The including kustomization file.
        file: String,
        /// The field and entry that includes it.
        field: String,
        /// The error inside.
        source: Box<KustomizeError>,
    },
}

/// Whether `dir` holds a kustomization file.
pub fn is_kustomization_dir(tree: &dyn FileTree, dir: &str) -> bool {
    kustomization::FILE_NAMES.iter().any(|name| tree.kind(&target::join_dir(dir, name)) == Some(EntryKind::File))
}

/// Builds the kustomization in `dir` of `tree`.
pub fn build(tree: Arc<dyn FileTree>, dir: &str, env: &Env<'_>) -> Result<Output, KustomizeError> {
    target::build(tree, dir, env)
}
