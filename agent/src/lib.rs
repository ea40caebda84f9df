//! plumb: a GitOps reconciliation agent for Kubernetes.
//!
//! The pipeline (see docs/architecture.md): source -> render -> plan ->
//! apply/prune -> report, with a live cache of managed objects feeding drift
//! detection. Each stage is a module with typed inputs and outputs and an
//! error enum of its own; this crate grows one stage per module.
//!
//! - [`commands`] — the command line (`plumb run|render|diff|lock|status|history|audit`).
//! - [`cluster`] — the one seam through which the executors reach the API.

pub mod apply;
pub mod backoff;
pub mod cluster;
pub mod commands;
pub mod duration;
pub mod live;
pub mod memory;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod render;
pub mod report;
pub mod runtime;
pub mod size;
pub mod source;
