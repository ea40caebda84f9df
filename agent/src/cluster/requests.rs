//! Counts of the API requests plumb made, by verb, dry-run, response code
//! and reason: tests use them to prove a no-op sync writes nothing, and
//! reporting exports them as `plumb_api_requests_total`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// What one API request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestClass {
    /// Kubernetes verb: get, list, watch, create, update, patch, delete,
    /// deletecollection (or `other` for non-resource paths).
    pub verb: &'static str,
    /// The request had `dryRun=All`: it changes nothing.
    pub dry_run: bool,
}

impl RequestClass {
    /// True for a request that changes cluster state.
    pub fn is_write(&self) -> bool {
        !self.dry_run && matches!(self.verb, "create" | "update" | "patch" | "delete" | "deletecollection")
    }
}

/// `{verb, code, reason}` of the API request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct RequestLabels {
    /// The Kubernetes verb (`dryrun-patch` for a dry-run).
    pub verb: String,
    /// The response code (0 when no response came).
    pub code: String,
    /// The API's reason for a failure (`Conflict`, `Timeout`...), empty on success.
    pub reason: String,
}

/// Request counts by class and response code (0 when no response came).
#[derive(Debug, Default)]
pub struct ApiRequests {
    counts: Mutex<BTreeMap<(RequestClass, u16), u64>>,
    family: prometheus_client::metrics::family::Family<RequestLabels, prometheus_client::metrics::counter::Counter>,
    /// The last request failed to get any response (connection failure).
    unreachable: std::sync::atomic::AtomicBool,
}

impl ApiRequests {
    /// Records one request and how it ended.
    pub fn record(&self, class: RequestClass, code: u16, reason: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((class, code)).or_default() += 1;
        }
        let verb = if class.dry_run { format!("dryrun-{}", class.verb) } else { class.verb.to_string() };
        self.family.get_or_create(&RequestLabels { verb, code: code.to_string(), reason: reason.to_string() }).inc();
        self.unreachable.store(code == 0, std::sync::atomic::Ordering::Relaxed);
    }

    /// False when the last API request got no response at all.
    pub fn reachable(&self) -> bool {
        !self.unreachable.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The counts as a Prometheus metric family.
    pub fn family(
        &self,
    ) -> prometheus_client::metrics::family::Family<RequestLabels, prometheus_client::metrics::counter::Counter> {
        self.family.clone()
    }

    /// A copy of the counts so far.
    pub fn snapshot(&self) -> BTreeMap<(RequestClass, u16), u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Requests so far matching `filter`.
    pub fn count(&self, filter: impl Fn(&RequestClass) -> bool) -> u64 {
        self.snapshot().iter().filter(|((class, _), _)| filter(class)).map(|(_, n)| n).sum()
    }

    /// Writes so far (dry runs excluded).
    pub fn writes(&self) -> u64 {
        self.count(RequestClass::is_write)
    }
}
