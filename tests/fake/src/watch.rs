//! Watches of the fake: changes after a resourceVersion, replayed from the
//! cluster's log and then followed live; an expired version ends the
//! stream with 410.

use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};
use plumb::cluster::{ClusterError, Target, WatchEvent};
use serde_json::Value;

use crate::{Id, Inner, lock};

/// True when the object `id` matches the watch or list.
pub(crate) fn selected(id: &Id, object: &Value, target: Target<'_>, label_selector: &str) -> bool {
    id.0 == target.resource.group
        && id.1 == target.resource.kind
        && target.namespace.is_none_or(|ns| id.2 == ns)
        && matches_selector(object, label_selector)
}

/// `key` (present) and `key=value`, comma-separated; empty matches all.
fn matches_selector(object: &Value, selector: &str) -> bool {
    selector.split(',').map(str::trim).filter(|s| !s.is_empty()).all(|term| {
        let labels = &object["metadata"]["labels"];
        match term.split_once('=') {
            Some((key, value)) => labels[key] == value,
            None => labels.get(term).is_some(),
        }
    })
}

struct Watching {
    inner: Arc<Inner>,
    group: String,
    kind: String,
    namespace: Option<String>,
    selector: String,
    after: u64,
    epoch: u64,
    done: bool,
}

/// The events after `from` for `target`'s objects matching `label_selector`.
pub(crate) fn stream(
    inner: Arc<Inner>,
    target: Target<'_>,
    label_selector: &str,
    from: u64,
    epoch: u64,
) -> BoxStream<'static, Result<WatchEvent, ClusterError>> {
    let watching = Watching {
        inner,
        group: target.resource.group.clone(),
        kind: target.resource.kind.clone(),
        namespace: target.namespace.map(str::to_string),
        selector: label_selector.to_string(),
        after: from,
        epoch,
        done: false,
    };
    stream::unfold(watching, |mut w| async move {
        if w.done {
            return None;
        }
        loop {
            let inner = w.inner.clone();
            let changed = inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let state = lock(&inner.state);
                if w.epoch != state.watch_epoch || w.after < state.expire_watches_before {
                    w.done = true;
                    return Some((Err(ClusterError::status(410, "Expired", "too old resource version")), w));
                }
                let next = state.log.iter().find(|(version, id, event)| {
                    *version > w.after
                        && id.0 == w.group
                        && id.1 == w.kind
                        && w.namespace.as_ref().is_none_or(|ns| &id.2 == ns)
                        && event_matches(event, &w.selector)
                });
                if let Some((version, _, event)) = next {
                    let event = event.clone();
                    w.after = *version;
                    return Some((Ok(event), w));
                }
                // Nothing for this watch yet: skip what was looked at.
                w.after = w.after.max(state.log.last().map_or(0, |(v, _, _)| *v).min(state.version));
            }
            changed.await;
        }
    })
    .boxed()
}

fn event_matches(event: &WatchEvent, selector: &str) -> bool {
    let meta = match event {
        WatchEvent::Added(m) | WatchEvent::Modified(m) | WatchEvent::Deleted(m) => m,
        WatchEvent::Bookmark(_) => return true,
    };
    let labels = serde_json::to_value(&meta.labels).unwrap_or_default();
    matches_selector(&serde_json::json!({"metadata": {"labels": labels}}), selector)
}
