//! One metadata list-and-watch of one kind (in one namespace, or all),
//! kept alive for as long as its task runs: list, then watch from the
//! list's resourceVersion (with bookmarks); resume the watch where it
//! stopped when the server ends it; list again when the version expired
//! (410 Gone); back off on errors (a restarted or overloaded API server,
//! a forbidden list) without ever giving up.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tracing::{debug, warn};

use crate::cluster::{ClusterError, Resource, SharedCluster, Target, WatchEvent};
use crate::plan::APP_LABEL;

/// What the watch tells its owner.
#[derive(Debug)]
pub enum WatchUpdate {
    /// A (re)list: every matching object now (objects missing are gone).
    Listed(Vec<ObjectMeta>),
    /// An object appeared or changed.
    Changed(ObjectMeta),
    /// An object was deleted.
    Deleted(ObjectMeta),
    /// Listing failed (it is retried with backoff).
    ListFailed(ClusterError),
}

/// Backoff between failed requests of one watch.
#[derive(Debug)]
struct Pause {
    next: Duration,
}

impl Pause {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(30);

    fn new() -> Self {
        Self { next: Self::FIRST }
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    async fn wait(&mut self) {
        let jitter = crate::backoff::jitter();
        tokio::time::sleep(self.next.mul_f64(0.5 + jitter / 2.0)).await;
        self.next = (self.next * 2).min(Self::MAX);
    }
}

/// What ended one watch request.
enum Ended {
    /// The server closed it (its timeout): resume from the last version.
    Closed,
    /// The version expired: list again.
    Expired,
    /// A failure: back off, then resume.
    Failed(ClusterError),
}

/// Lists and watches `resource` objects labelled for plumb, feeding
/// `update`, until the task is aborted.
pub async fn run_watch(
    cluster: SharedCluster,
    resource: Resource,
    namespace: Option<String>,
    mut update: impl FnMut(WatchUpdate),
) {
    let target = Target::new(&resource, namespace.as_deref());
    let mut pause = Pause::new();
    loop {
        let list = match cluster.list_metadata(target, APP_LABEL).await {
            Ok(list) => list,
            Err(error) => {
                warn!(%error, "listing failed; retrying with backoff");
                update(WatchUpdate::ListFailed(error));
                pause.wait().await;
                continue;
            }
        };
        pause.reset();
        let mut version = list.resource_version;
        update(WatchUpdate::Listed(list.items));
        loop {
            match watch_once(&cluster, target, &mut version, &mut update, &mut pause).await {
                Ended::Closed => debug!("watch closed by the server; resuming"),
                Ended::Expired => {
                    debug!("watch version expired (410); listing again");
                    break;
                }
                Ended::Failed(error) => {
                    warn!(%error, "watch failed; resuming with backoff");
                    pause.wait().await;
                }
            }
        }
    }
}

async fn watch_once(
    cluster: &SharedCluster,
    target: Target<'_>,
    version: &mut String,
    update: &mut impl FnMut(WatchUpdate),
    pause: &mut Pause,
) -> Ended {
    let mut events = match cluster.watch_metadata(target, APP_LABEL, version).await {
        Ok(events) => events,
        Err(e) if e.is_gone() => return Ended::Expired,
        Err(e) => return Ended::Failed(e),
    };
    while let Some(event) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) if e.is_gone() => return Ended::Expired,
            Err(e) => return Ended::Failed(e),
        };
        pause.reset();
        if let Some(v) = event.resource_version() {
            *version = v.to_string();
        }
        match event {
            WatchEvent::Added(meta) | WatchEvent::Modified(meta) => update(WatchUpdate::Changed(meta)),
            WatchEvent::Deleted(meta) => update(WatchUpdate::Deleted(meta)),
            WatchEvent::Bookmark(_) => {}
        }
    }
    Ended::Closed
}
