//! The runtime: joins the stages into the agent.
//!
//! - [`commit`] — syncing one commit: `plumb.yaml`, render each app, sync apps
//!   in dependency order, remove apps that left `plumb.yaml`.

pub mod commit;
