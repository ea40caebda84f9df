//! The Kubernetes client plumb uses: kube's client with a layer that counts
//! every API request by verb, dry-run and response code. Tests use the
//! counts to prove a no-op sync writes nothing; reporting exports them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Method, Request, Response, Uri};
use kube::client::{Body, ClientBuilder};
use tower::{Layer, Service};

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

/// Classifies a request from its method and URI.
pub fn classify(method: &Method, uri: &Uri) -> RequestClass {
    let query = uri.query().unwrap_or("");
    let has = |param: &str| query.split('&').any(|kv| kv == param);
    let dry_run = query.split('&').any(|kv| kv.starts_with("dryRun="));
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    // Strip /api/v1 or /apis/<group>/<version>.
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return RequestClass { verb: "other", dry_run },
    };
    // Strip namespaces/<ns> when a resource follows it.
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let named = rest.len() >= 2;
    let verb = match *method {
        Method::GET if has("watch=true") || has("watch=1") => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    };
    RequestClass { verb, dry_run }
}

/// `{verb, code}` of the API request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct RequestLabels {
    /// The Kubernetes verb (`dryrun-patch` for a dry-run).
    pub verb: String,
    /// The response code (0 when no response came).
    pub code: String,
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
    fn record(&self, class: RequestClass, code: u16) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((class, code)).or_default() += 1;
        }
        let verb = if class.dry_run { format!("dryrun-{}", class.verb) } else { class.verb.to_string() };
        self.family.get_or_create(&RequestLabels { verb, code: code.to_string() }).inc();
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

/// Tower layer that records each request in [`ApiRequests`].
#[derive(Debug, Clone)]
pub struct CountingLayer(pub Arc<ApiRequests>);

impl<S> Layer<S> for CountingLayer {
    type Service = Counting<S>;
    fn layer(&self, inner: S) -> Counting<S> {
        Counting { inner, counts: self.0.clone() }
    }
}

/// The service [`CountingLayer`] wraps around kube's.
#[derive(Debug, Clone)]
pub struct Counting<S> {
    inner: S,
    counts: Arc<ApiRequests>,
}

impl<S, B> Service<Request<Body>> for Counting<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let class = classify(request.method(), request.uri());
        let counts = self.counts.clone();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            counts.record(class, response.as_ref().map_or(0, |r| r.status().as_u16()));
            response
        })
    }
}

/// A kube client for `config` whose requests are counted.
pub fn counted_client(config: kube::Config) -> Result<(kube::Client, Arc<ApiRequests>), kube::Error> {
    let counts = Arc::new(ApiRequests::default());
    let client = ClientBuilder::try_from(config)?.with_layer(&CountingLayer(counts.clone())).build();
    Ok((client, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requests() {
        let table = [
            ("GET", "/api/v1/namespaces/a/configmaps/b", "get", false),
            ("GET", "/api/v1/namespaces/a/configmaps", "list", false),
            ("GET", "/api/v1/namespaces/a", "get", false),
            ("GET", "/api/v1/namespaces", "list", false),
            ("GET", "/apis/apps/v1/deployments?labelSelector=x", "list", false),
            ("GET", "/apis/apps/v1/namespaces/a/deployments?watch=true&resourceVersion=1", "watch", false),
            ("PATCH", "/apis/apps/v1/namespaces/a/deployments/web?fieldManager=plumb&force=true", "patch", false),
            ("PATCH", "/apis/apps/v1/namespaces/a/deployments/web?dryRun=All&fieldManager=plumb", "patch", true),
            ("PATCH", "/api/v1/namespaces/a/pods/p/status", "patch", false),
            ("POST", "/apis/events.k8s.io/v1/namespaces/a/events", "create", false),
            ("PUT", "/api/v1/namespaces/a/configmaps/c", "update", false),
            ("DELETE", "/api/v1/namespaces/a/configmaps/c", "delete", false),
            ("DELETE", "/api/v1/namespaces/a/configmaps", "deletecollection", false),
            ("GET", "/readyz", "other", false),
            ("GET", "/apis/apps/v1", "list", false),
        ];
        for (method, uri, verb, dry_run) in table {
            let class = classify(&method.parse().expect("method"), &uri.parse().expect("uri"));
            assert_eq!(class, RequestClass { verb, dry_run }, "{method} {uri}");
        }
        assert!(RequestClass { verb: "patch", dry_run: false }.is_write());
        assert!(!RequestClass { verb: "patch", dry_run: true }.is_write());
        assert!(!RequestClass { verb: "list", dry_run: false }.is_write());
    }
}
