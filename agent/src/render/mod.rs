//! The render stage: turns an app's source into [`RenderedObject`]s.
//!
//! - [`config`] — `plumb.yaml`, the apps of a config repo.
//! - [`plain`] — directories of plain YAML/JSON manifests.

pub mod config;
pub mod plain;

pub use crate::plan::RenderedObject;

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
    /// A document is not a Kubernetes object.
    #[error("{origin}: {reason}")]
    NotAnObject {
        /// File and document.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}
