//! Live updates as server-sent events: each stream sends the view it was
//! opened for whenever the reporter's state or drift changed (bursts
//! coalesced), and only when its HTML differs from what it sent last.
//!
//! Bounded: at most [`MAX_STREAMS`] streams at once (a slot is taken when
//! the stream opens and freed when it is dropped); a stream holds only a
//! `watch` receiver, so a slow client never queues updates. A keep-alive
//! comment every [`KEEP_ALIVE`] ends streams of clients that went away
//! and keeps proxies and `kubectl port-forward` from closing idle ones;
//! the first event goes out at once, and the page falls back to polling
//! when nothing arrives (a proxy that buffers the stream).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Streams open at once, across clients.
pub const MAX_STREAMS: usize = 32;
/// Interval of keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Changes within this window are sent as one update.
const COALESCE: Duration = Duration::from_millis(50);
/// How long the browser waits before reconnecting a broken stream.
const RETRY: Duration = Duration::from_secs(2);

/// The slots of open streams.
#[derive(Debug, Clone)]
pub struct StreamSlots(Arc<Semaphore>);

impl Default for StreamSlots {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(MAX_STREAMS)))
    }
}

impl StreamSlots {
    /// A slot, if one is free.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }

    /// Slots free now.
    pub fn free(&self) -> usize {
        self.0.available_permits()
    }
}

struct Follow<F> {
    changes: watch::Receiver<u64>,
    render: F,
    sent: Option<String>,
    _slot: OwnedSemaphorePermit,
}

/// The events of one stream: `view` events carrying `render()`'s HTML, the
/// first at once, then one per change that altered it. Ends when `changes`
/// closes (the reporter is gone).
pub fn events<F>(
    slot: OwnedSemaphorePermit,
    changes: watch::Receiver<u64>,
    render: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: Fn() -> String + Send + 'static,
{
    let state = Follow { changes, render, sent: None, _slot: slot };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if state.sent.is_some() {
                state.changes.changed().await.ok()?;
                tokio::time::sleep(COALESCE).await;
            }
            state.changes.borrow_and_update();
            let html = (state.render)();
            if state.sent.as_deref() == Some(html.as_str()) {
                continue;
            }
            let event = Event::default().event("view").retry(RETRY).data(&html);
            state.sent = Some(html);
            return Some((Ok(event), state));
        }
    })
}

/// `events` as a response: no caching, no proxy buffering, keep-alives.
pub fn response<S>(events: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    let headers = response.headers_mut();
    headers.insert("cache-control", HeaderValue::from_static("no-cache, no-store"));
    // nginx and similar proxies buffer responses unless told not to.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn sends_at_once_then_only_changed_views_and_frees_its_slot() {
        let slots = StreamSlots::default();
        let (tx, rx) = watch::channel(0u64);
        let view = Arc::new(Mutex::new("one".to_string()));
        let shown = view.clone();
        let render = move || shown.lock().expect("view").clone();
        let mut stream = Box::pin(events(slots.take().expect("a slot"), rx, render));
        assert_eq!(slots.free(), MAX_STREAMS - 1);
        let first = tokio::time::timeout(Duration::from_secs(1), stream.next()).await.expect("at once");
        assert!(first.is_some());
        // A change that does not alter the view sends nothing...
        tx.send_modify(|v| *v += 1);
        let quiet = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
        assert!(quiet.is_err(), "an unchanged view was sent again");
        // ...one that does is sent, bursts coalesced into one event.
        *view.lock().expect("view") = "two".into();
        for _ in 0..5 {
            tx.send_modify(|v| *v += 1);
        }
        let next = tokio::time::timeout(Duration::from_secs(1), stream.next()).await.expect("an update");
        assert!(next.is_some());
        let quiet = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
        assert!(quiet.is_err(), "a burst was sent more than once");
        drop(stream);
        assert_eq!(slots.free(), MAX_STREAMS, "a closed stream keeps its slot");
        // The reporter gone: the stream ends.
        let (tx, rx) = watch::channel(0u64);
        let mut stream = Box::pin(events(slots.take().expect("a slot"), rx, || "x".to_string()));
        assert!(stream.next().await.is_some());
        drop(tx);
        assert!(stream.next().await.is_none());
    }

    #[test]
    fn slots_are_bounded() {
        let slots = StreamSlots::default();
        let held: Vec<_> = (0..MAX_STREAMS).map(|_| slots.take().expect("a slot")).collect();
        assert!(slots.take().is_none());
        drop(held);
        assert!(slots.take().is_some());
    }
}
