//! The runtime: joins the stages into the agent.
//!
//! - [`agent`] — the loop behind `plumb run`.
//! - [`diff`] — `plumb diff`: what a sync would change.
//! - [`leader`] — leader election on a Lease.
//! - [`service`] — the whole agent wired together (`plumb run`, and the demo binary `plumb-demo`).
//! - [`commit`] — syncing one commit: `plumb.yaml`, render each app, sync apps
//!   in dependency order, remove apps that left `plumb.yaml`.

pub mod agent;
pub mod commit;
pub mod diff;
pub mod leader;
pub mod offline;
pub mod service;
