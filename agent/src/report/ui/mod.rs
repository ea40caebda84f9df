//! The dashboard: plumb's own read-only web page, served on the HTTP
//! listener under a path prefix (`--ui-prefix`), switched off with
//! `--ui=false`.
//!
//! Server-rendered HTML with a small script (live updates, relative
//! times) and a stylesheet embedded in the binary: no build step, no
//! external asset, works offline. Nothing on it changes the cluster, and
//! everything shown comes from the reporter (names, paths, managers,
//! messages), escaped, under a Content-Security-Policy that allows only
//! the page's own script, style and connections. The diff view alone
//! reads the cluster, on request and rate-limited.
//!
//! - [`html`] — escaping and text helpers.
//! - [`page`] — the page around the views; embedded assets.
//! - [`overview`] — the overview (`/`).
//! - [`app`] — an app's page and the diff view.
//! - [`diff`] — computing a diff (the I/O edge) and its rate limit.
//! - [`stream`] — live updates as server-sent events.
//! - [`routes`] — the HTTP routes.

pub mod app;
pub mod diff;
pub mod html;
pub mod overview;
pub mod page;
pub mod routes;
pub mod stream;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use routes::router;

use self::diff::{DiffLimiter, ObjectDiffs};
use self::stream::StreamSlots;

/// What the dashboard needs besides the reporter.
pub struct Dashboard {
    /// Path prefix: empty (served at `/`) or `/a/b` (served at `/a/b/`).
    prefix: String,
    /// Diffs of drifted objects; `None` where there is no cluster access.
    diffs: Option<Arc<dyn ObjectDiffs>>,
    limiter: Mutex<DiffLimiter>,
    slots: StreamSlots,
}

impl Dashboard {
    /// A dashboard under `prefix` (checked by [`parse_prefix`]).
    pub fn new(prefix: &str, diffs: Option<Arc<dyn ObjectDiffs>>) -> Self {
        Self {
            prefix: prefix.trim_end_matches('/').to_string(),
            diffs,
            limiter: Mutex::new(DiffLimiter::new(Instant::now())),
            slots: StreamSlots::default(),
        }
    }

    /// The prefix it is served under (empty for `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Checks a `--ui-prefix`: empty or `/`, or `/`-separated segments of
/// letters, digits and `-._~`; returned without a trailing `/`.
pub fn parse_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let Some(path) = trimmed.strip_prefix('/') else {
        return Err(format!("{prefix:?} must start with / (e.g. /plumb)"));
    };
    let valid_segment = |s: &str| {
        !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    if path.split('/').all(valid_segment) {
        Ok(trimmed.to_string())
    } else {
        Err(format!(
            "{prefix:?} is not a plain path: use /-separated names of letters, digits and -._~ (e.g. /tools/plumb)"
        ))
    }
}
