//! Faults tests inject into a control plane, and the seeded randomness of
//! the tests that drive many of them.

use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};

/// Registers `v1beta1.<group>` as an aggregated API served by a Service
/// that does not exist in `namespace`: discovery of the group answers 503,
/// as when a metrics-server is down. Returns the APIService's name. Use a
/// private control plane: every client's discovery slows down while it is
/// registered.
pub async fn unavailable_apiservice(client: &kube::Client, group: &str, namespace: &str) -> kube::Result<String> {
    let apiservices: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService")),
    );
    let name = format!("v1beta1.{group}");
    let body = serde_json::json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": name},
        "spec": {"group": group, "version": "v1beta1",
                 "service": {"namespace": namespace, "name": "missing", "port": 443},
                 "insecureSkipTLSVerify": true, "groupPriorityMinimum": 100, "versionPriority": 100},
    });
    apiservices.patch(&name, &PatchParams::apply("plumb-test").force(), &Patch::Apply(&body)).await?;
    Ok(name)
}

/// xorshift64*: reproducible from its seed, with no dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; zero is made odd).
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n.max(1) as u64).unwrap_or(0)
    }
}
