//! Kubernetes Events (events.k8s.io/v1): a summary per sync on the app's
//! inventory ConfigMap, drift on the drifted object itself (so `kubectl
//! describe` shows it), and warnings for blocked prunes and failed renders.
//!
//! The same event (object, reason, note) repeated within ten minutes bumps
//! a series count instead of creating another (the count is written at
//! most every few seconds); each object gets at most ten distinct events a
//! minute. Events are best effort: a failure is logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use serde_json::json;
use tracing::{debug, warn};

use crate::cluster::{Resource, SharedCluster, Target};

/// The reporting controller name on every event.
pub const CONTROLLER: &str = "plumb.dev/agent";
/// A repeat within this window joins the series.
const SERIES_WINDOW: Duration = Duration::from_secs(600);
/// Distinct events per object per minute.
const PER_OBJECT_PER_MINUTE: u32 = 10;
/// A series count is written at most this often.
const SERIES_WRITE_INTERVAL: Duration = Duration::from_secs(5);
/// Field manager of series counts.
const SERIES_MANAGER: &str = "plumb-events";
/// Longest note the API accepts.
const MAX_NOTE: usize = 1024;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Nothing to worry about.
    Normal,
    /// Needs attention.
    Warning,
}

type SeriesKey = (String, String, String);

struct Series {
    name: String,
    namespace: String,
    count: i32,
    last: Instant,
    written: Instant,
}

/// Publishes events for one plumb instance.
pub struct EventSink {
    cluster: SharedCluster,
    events: Resource,
    instance: String,
    series: Mutex<HashMap<SeriesKey, Series>>,
    budget: Mutex<HashMap<String, (Instant, u32)>>,
}

/// A reference to an object for an event.
pub fn reference(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    uid: Option<&str>,
) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.to_string()),
        namespace: namespace.map(String::from),
        name: Some(name.to_string()),
        uid: uid.map(String::from),
        ..ObjectReference::default()
    }
}

fn object_id(r: &ObjectReference) -> String {
    format!(
        "{}/{}/{}/{}",
        r.api_version.as_deref().unwrap_or(""),
        r.kind.as_deref().unwrap_or(""),
        r.namespace.as_deref().unwrap_or(""),
        r.name.as_deref().unwrap_or("")
    )
}

fn truncate(note: &str) -> String {
    if note.len() <= MAX_NOTE {
        return note.to_string();
    }
    let mut end = MAX_NOTE - 3;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &note[..end])
}

impl EventSink {
    /// A sink reporting as `instance` (the pod name).
    pub fn new(cluster: SharedCluster, instance: &str) -> Self {
        Self {
            cluster,
            events: Resource::events(),
            instance: instance.to_string(),
            series: Mutex::default(),
            budget: Mutex::default(),
        }
    }

    fn allowed(&self, id: &str) -> bool {
        let mut budget = self.budget.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let entry = budget.entry(id.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= PER_OBJECT_PER_MINUTE
    }

    /// Publishes an event about `regarding`.
    pub async fn publish(
        &self,
        regarding: ObjectReference,
        severity: Severity,
        reason: &str,
        action: &str,
        note: &str,
    ) {
        let id = object_id(&regarding);
        let note = truncate(note);
        let key = (id.clone(), reason.to_string(), note.clone());
        let now = jiff::Timestamp::now();
        // A repeat joins its series; the count is written now and then.
        let repeat = {
            let mut series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            series.retain(|_, s| s.last.elapsed() < SERIES_WINDOW);
            series.get_mut(&key).map(|s| {
                s.count += 1;
                s.last = Instant::now();
                let due = s.written.elapsed() >= SERIES_WRITE_INTERVAL;
                if due {
                    s.written = Instant::now();
                }
                (s.name.clone(), s.namespace.clone(), s.count, due)
            })
        };
        if let Some((_, _, _, false)) = repeat {
            return;
        }
        if repeat.is_none() && !self.allowed(&id) {
            debug!(object = %id, reason, "event dropped by the rate limit");
            return;
        }
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        if let Some((name, namespace, count, _)) = repeat {
            let series = EventSeries { count, last_observed_time: MicroTime(now) };
            let body = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace}, "series": series});
            let target = Target::new(&self.events, Some(&namespace));
            if let Err(error) = self.cluster.apply(target, &name, &body, SERIES_MANAGER, false).await {
                warn!(%error, reason, "could not update an event series");
            }
            return;
        }
        let name = format!("{}.{:x}", regarding.name.as_deref().unwrap_or("plumb"), now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(action.to_string()),
            reason: Some(reason.to_string()),
            note: Some(note),
            regarding: Some(regarding),
            reporting_controller: Some(CONTROLLER.to_string()),
            reporting_instance: Some(self.instance.clone()),
            type_: Some(match severity {
                Severity::Normal => "Normal".into(),
                Severity::Warning => "Warning".into(),
            }),
            ..Event::default()
        };
        let body = match serde_json::to_value(&event) {
            Ok(mut body) => {
                body["apiVersion"] = json!("events.k8s.io/v1");
                body["kind"] = json!("Event");
                body
            }
            Err(error) => return warn!(%error, reason, "could not encode an event"),
        };
        match self.cluster.create(Target::new(&self.events, Some(&namespace)), &body).await {
            Ok(_) => {
                let mut series = self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                series.insert(key, Series { name, namespace, count: 1, last: Instant::now(), written: Instant::now() });
            }
            Err(error) => warn!(%error, reason, "could not publish an event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_cut_on_a_character_boundary() {
        let long = "é".repeat(800);
        let cut = truncate(&long);
        assert!(cut.len() <= MAX_NOTE && cut.ends_with("..."));
        assert_eq!(truncate("short"), "short");
    }
}
