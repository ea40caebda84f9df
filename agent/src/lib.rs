//! plumb: a GitOps reconciliation agent for Kubernetes.
//!
//! The pipeline (see docs/architecture.md): source -> render -> plan ->
//! apply/prune -> report, with a live cache of managed objects feeding drift
//! detection. Each stage is a module with typed inputs and outputs and an
//! error enum of its own; this crate grows one stage per module.
//!
//! - [`cli`] — the command line (`plumb run|render|diff|lock|status|history|audit|demo`).
//! - [`demo`] — `plumb demo`, a local control plane to try plumb on.

pub mod apply;
pub mod cli;
pub mod client;
pub mod demo;
pub mod duration;
pub mod live;
pub mod memory;
pub mod plan;
pub mod progress;
pub mod render;
pub mod report;
pub mod runtime;
pub mod source;
