//! The diff view's edge: what a drifted object's fields are now, as
//! `plumb diff` shows them, at the cost of one GET and one server-side
//! dry-run (which writes nothing) — computed on demand only, for objects
//! that drifted, and rate-limited so that a page left open or reloaded in
//! a loop keeps the API load bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::cluster::objects::Objects;
use crate::live::LiveCache;
use crate::live::drift::{DriftKind, FieldDrift, REDACTED};

/// What the diff of a drifted object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffOutcome {
    /// The fields Git and the cluster hold differently.
    Fields {
        /// The object is a Secret: every value is shown redacted.
        secret: bool,
        /// The fields.
        fields: Vec<FieldDrift>,
    },
    /// Nothing differs any more (the drift was just resolved).
    InSync,
    /// The object is gone from the cluster.
    Gone,
    /// The object is not drifted now: there is nothing to diff.
    NotDrifted,
}

/// Why a diff could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// This instance holds no applied state of the object (a standby, or
    /// the object was re-planned meanwhile); the leader's dashboard has it.
    #[error("this agent holds no applied state of {object}; open the leader's dashboard")]
    NotManaged {
        /// The object.
        object: String,
    },
    /// The GET or the dry-run failed.
    #[error("the API server did not answer the diff of {object}: {reason}; retry in a few seconds")]
    Api {
        /// The object.
        object: String,
        /// The API server's message.
        reason: String,
    },
}

/// Diffs of drifted objects (the I/O edge; tests use a fake).
pub trait ObjectDiffs: Send + Sync {
    /// The diff of `object` (`Kind.group/namespace/name`) of `app`, if it
    /// drifted: one GET and one server-side dry-run.
    fn diff<'a>(&'a self, app: &'a str, object: &'a str) -> BoxFuture<'a, Result<DiffOutcome, DiffError>>;
}

/// Diffs through the live cache (what plumb applied) and plumb's object
/// I/O (attached once the cluster has been discovered).
pub struct LiveDiffs {
    cache: Arc<LiveCache>,
    objects: std::sync::OnceLock<Arc<Objects>>,
}

impl LiveDiffs {
    /// Diffs of the objects `cache` knows.
    pub fn new(cache: Arc<LiveCache>) -> Self {
        Self { cache, objects: std::sync::OnceLock::new() }
    }

    /// Requests diffs through `objects` from now on.
    pub fn attach(&self, objects: Arc<Objects>) {
        let _ = self.objects.set(objects);
    }
}

impl ObjectDiffs for LiveDiffs {
    fn diff<'a>(&'a self, app: &'a str, object: &'a str) -> BoxFuture<'a, Result<DiffOutcome, DiffError>> {
        Box::pin(async move {
            let drifted = self.cache.drift().drifted(Some(app));
            let Some(record) = drifted.into_iter().find(|r| r.drift.key.to_string() == object) else {
                return Ok(DiffOutcome::NotDrifted);
            };
            if record.drift.kind == DriftKind::Deleted {
                return Ok(DiffOutcome::Gone);
            }
            let key = &record.drift.key;
            let Some(expected) = self.cache.expected(key) else {
                return Err(DiffError::NotManaged { object: object.to_string() });
            };
            let Some(objects) = self.objects.get() else {
                return Err(DiffError::Api {
                    object: object.to_string(),
                    reason: "the cluster is not discovered yet".into(),
                });
            };
            let found = crate::apply::diff::object_diff(objects, &expected.desired.expand())
                .await
                .map_err(|reason| DiffError::Api { object: object.to_string(), reason })?;
            Ok(match found {
                None => DiffOutcome::Gone,
                Some(fields) if fields.is_empty() => DiffOutcome::InSync,
                Some(fields) => redacted(key.group.is_empty() && key.kind == "Secret", fields),
            })
        })
    }
}

/// The fields of a diff; a Secret's values are all redacted, not only
/// `data` and `stringData` (an annotation can hold a copy of them).
pub fn redacted(secret: bool, mut fields: Vec<FieldDrift>) -> DiffOutcome {
    if secret {
        for field in &mut fields {
            for value in [&mut field.desired, &mut field.live] {
                if value.is_some() {
                    *value = Some(serde_json::Value::String(REDACTED.into()));
                }
            }
        }
    }
    DiffOutcome::Fields { secret, fields }
}

/// Diffs allowed in a burst.
const BURST: u32 = 4;
/// One more diff is allowed after each such period.
const REFILL: Duration = Duration::from_secs(2);
/// A diff is served again from memory for this long.
const FRESH_FOR: Duration = Duration::from_secs(5);
/// Diffs kept in memory at most.
const KEPT: usize = 32;

/// What the limiter decides for a diff request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The same diff was computed moments ago: show it again.
    Cached(Result<DiffOutcome, DiffError>),
    /// Compute it (then [`DiffLimiter::store`] it).
    Run,
    /// Too many diffs lately: retry after this long.
    Refused {
        /// When a diff will be allowed again.
        retry_after: Duration,
    },
}

type DiffKey = (String, String);

/// A token bucket over diff requests plus a short memory of results:
/// at most [`BURST`] diffs at once and one per [`REFILL`] after that.
/// Pure: the caller passes the time.
#[derive(Debug)]
pub struct DiffLimiter {
    tokens: u32,
    refilled: Instant,
    kept: HashMap<DiffKey, (Instant, Result<DiffOutcome, DiffError>)>,
}

impl DiffLimiter {
    /// A full bucket at `now`.
    pub fn new(now: Instant) -> Self {
        Self { tokens: BURST, refilled: now, kept: HashMap::new() }
    }

    /// Whether a diff of `object` of `app` may run at `now`.
    pub fn admit(&mut self, app: &str, object: &str, now: Instant) -> Admission {
        let key = (app.to_string(), object.to_string());
        if let Some((at, outcome)) = self.kept.get(&key)
            && now.saturating_duration_since(*at) < FRESH_FOR
        {
            return Admission::Cached(outcome.clone());
        }
        let periods = now.saturating_duration_since(self.refilled).as_millis() / REFILL.as_millis();
        if periods > 0 {
            let added = u32::try_from(periods).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(added).min(BURST);
            self.refilled = if self.tokens == BURST { now } else { self.refilled + REFILL * added };
        }
        if self.tokens == 0 {
            let retry_after = REFILL.saturating_sub(now.saturating_duration_since(self.refilled));
            return Admission::Refused { retry_after: retry_after.max(Duration::from_millis(100)) };
        }
        self.tokens -= 1;
        Admission::Run
    }

    /// Keeps the result of a diff that ran at `now`.
    pub fn store(&mut self, app: &str, object: &str, now: Instant, outcome: Result<DiffOutcome, DiffError>) {
        self.kept.retain(|_, (at, _)| now.saturating_duration_since(*at) < FRESH_FOR);
        if self.kept.len() >= KEPT {
            return;
        }
        self.kept.insert((app.to_string(), object.to_string()), (now, outcome));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(desired: serde_json::Value, live: Option<serde_json::Value>) -> FieldDrift {
        FieldDrift {
            path: "data.token".into(),
            desired: Some(desired),
            live,
            managers: vec!["kubectl (Update)".into()],
        }
    }

    #[test]
    fn secrets_show_no_value_at_all() {
        let fields = vec![field(json!("czNjcjN0"), Some(json!({"copy": "czNjcjN0"}))), field(json!(1), None)];
        let DiffOutcome::Fields { secret, fields } = redacted(true, fields.clone()) else { panic!("fields") };
        assert!(secret);
        assert_eq!(fields[0].desired, Some(json!(REDACTED)));
        assert_eq!(fields[0].live, Some(json!(REDACTED)));
        assert_eq!((&fields[1].desired, &fields[1].live), (&Some(json!(REDACTED)), &None), "absence stays visible");
        let DiffOutcome::Fields { fields: shown, .. } = redacted(false, vec![field(json!(2), Some(json!(5)))]) else {
            panic!("fields")
        };
        assert_eq!(shown[0].live, Some(json!(5)));
    }

    #[test]
    fn a_burst_then_one_diff_per_period() {
        let start = Instant::now();
        let mut limiter = DiffLimiter::new(start);
        let at = |ms: u64| start + Duration::from_millis(ms);
        let objects: Vec<String> = (0..6).map(|i| format!("ConfigMap/n/c{i}")).collect();
        for object in &objects[..4] {
            assert_eq!(limiter.admit("app", object, at(0)), Admission::Run);
        }
        assert_eq!(
            limiter.admit("app", &objects[4], at(500)),
            Admission::Refused { retry_after: REFILL - at(500).duration_since(start) }
        );
        assert_eq!(limiter.admit("app", &objects[4], at(2000)), Admission::Run);
        assert!(matches!(limiter.admit("app", &objects[5], at(2100)), Admission::Refused { .. }));
        assert_eq!(limiter.admit("app", &objects[5], at(4000)), Admission::Run);
        // A long pause refills the bucket to the burst, not beyond.
        for object in &objects[..4] {
            assert_eq!(limiter.admit("other", object, at(60_000)), Admission::Run);
        }
        assert!(matches!(limiter.admit("other", &objects[4], at(60_000)), Admission::Refused { .. }));
    }

    #[test]
    fn a_fresh_result_is_served_again_without_a_token() {
        let start = Instant::now();
        let mut limiter = DiffLimiter::new(start);
        let object = "Deployment.apps/n/web";
        assert_eq!(limiter.admit("app", object, start), Admission::Run);
        limiter.store("app", object, start, Ok(DiffOutcome::InSync));
        for ms in [0, 1000, 4999] {
            let now = start + Duration::from_millis(ms);
            assert_eq!(limiter.admit("app", object, now), Admission::Cached(Ok(DiffOutcome::InSync)), "{ms} ms");
        }
        assert_eq!(limiter.admit("app", object, start + FRESH_FOR), Admission::Run, "stale results are recomputed");
        assert_eq!(limiter.admit("other-app", object, start), Admission::Run, "kept per app");
    }

    #[test]
    fn memory_of_results_is_bounded() {
        let start = Instant::now();
        let mut limiter = DiffLimiter::new(start);
        for i in 0..(KEPT + 10) {
            limiter.store("app", &format!("ConfigMap/n/c{i}"), start, Ok(DiffOutcome::InSync));
        }
        assert_eq!(limiter.kept.len(), KEPT);
        limiter.store("app", "ConfigMap/n/late", start + FRESH_FOR, Ok(DiffOutcome::InSync));
        assert_eq!(limiter.kept.len(), 1, "stale results are dropped first");
    }
}
