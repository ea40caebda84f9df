//! Test isolation on a shared control plane: each test works in a namespace
//! of its own with a unique name, and deletes it (waiting until the
//! namespace controller has finished) when done.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

use crate::Error;

/// Label put on every namespace a test creates.
pub const TEST_LABEL: &str = "testenv.plumb.dev/test";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A DNS-1123 label unique across processes and calls: `<prefix>-<pid>-<n>-<random>`.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = crate::control_plane::random_token().unwrap_or_default();
    let prefix: String =
        prefix.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(30).collect();
    format!("{}-{}-{n}-{}", prefix.trim_matches('-'), std::process::id(), &random[..6])
}

/// A namespace owned by one test.
pub struct TestNamespace {
    name: String,
    client: kube::Client,
}

impl TestNamespace {
    /// Creates a namespace named after `prefix` (made unique).
    pub async fn create(client: &kube::Client, prefix: &str) -> Result<Self, Error> {
        let name = unique_name(prefix);
        let api: Api<Namespace> = Api::all(client.clone());
        let body = json!({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": name, "labels": {TEST_LABEL: prefix}}});
        api.patch(&name, &PatchParams::apply("plumb-testenv"), &Patch::Apply(&body))
            .await
            .map_err(|source| Error::Kube { what: format!("create namespace {name}"), source })?;
        Ok(Self { name, client: client.clone() })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace and waits until it is gone.
    pub async fn delete(self) -> Result<(), Error> {
        delete_namespace(&self.client, &self.name, Duration::from_secs(60)).await
    }
}

/// Deletes namespace `name` and waits until the namespace controller has
/// emptied and removed it.
pub async fn delete_namespace(client: &kube::Client, name: &str, timeout: Duration) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(source) => return Err(Error::Kube { what: format!("delete namespace {name}"), source }),
    }
    let gone = kube::runtime::wait::await_condition(api, name, |ns: Option<&Namespace>| ns.is_none());
    match tokio::time::timeout(timeout, gone).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::NotReady { what: format!("namespace {name} deletion"), reason: e.to_string() }),
        Err(_) => Err(Error::NotReady {
            what: format!("namespace {name} deletion"),
            reason: format!("still present after {timeout:?}"),
        }),
    }
}
