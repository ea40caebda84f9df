//! Helm charts rendered natively, byte-for-byte like Helm's engine.
//!
//! - [`load`] — a chart's files (directory or `.tgz`) into a [`Chart`]:
//!   metadata, values, schema, templates, files, CRDs and subcharts.
//! - [`ignore`] — `.helmignore`.
//! - [`values`] — values layering, subchart scoping, `global`, conditions,
//!   tags, aliases and `import-values`.
//! - [`engine`] — parsing every template into one set and executing each,
//!   with `.Values`, `.Release`, `.Chart`, `.Capabilities`, `.Files`, `.Template`.
//! - [`manifest`] — rendered templates into the documents Helm's install applies.
//! - [`capabilities`] — the cluster version and API versions charts test.
//! - [`schema`] — `values.schema.json` validation.
//! - [`archive`] — `.tgz` charts unpacked in memory with limits.

pub mod archive;
pub mod capabilities;
pub mod engine;
pub mod ignore;
pub mod load;
pub mod manifest;
pub mod schema;
pub mod values;

pub use capabilities::Capabilities;
pub use engine::{Parsed, Release, parse, render, render_with_lookup};
pub use load::Chart;

/// Why a chart could not be rendered. Messages name the chart and file.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// A file of the chart is missing or unreadable.
    #[error("chart {chart}: {reason}")]
    Load {
        /// The chart (path or name).
        chart: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// The values do not satisfy `values.schema.json`.
    #[error("values don't meet the specifications of the schema(s) in the following chart(s):\n{0}")]
    Schema(String),
    /// A template failed to parse or execute (Helm's message).
    #[error("{0}")]
    Template(String),
    /// Dependencies listed in `Chart.yaml` are not under `charts/` (Helm's
    /// message: vendor them with `helm dependency build`).
    #[error(
        "chart dependencies are missing; run dependency update/build first: found in Chart.yaml, but missing in charts/ directory: {}",
        .0.join(", ")
    )]
    MissingDependencies(Vec<String>),
    /// The chart's archive is unsafe or too large.
    #[error("chart archive {archive}: {reason}")]
    Archive {
        /// The archive.
        archive: String,
        /// What is wrong.
        reason: String,
    },
}
