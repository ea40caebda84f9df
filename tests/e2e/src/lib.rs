//! Helpers shared by plumb's end-to-end tests (the tests live in `tests/`).

use std::time::Duration;

use kube::Api;
use kube::runtime::wait::{Condition, await_condition};

/// Waits up to `timeout` for `condition` on object `name`, with a message
/// naming what was awaited when it times out.
pub async fn wait_for<K>(
    api: Api<K>,
    name: &str,
    timeout: Duration,
    condition: impl Condition<K>,
) -> anyhow::Result<Option<K>>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    match tokio::time::timeout(timeout, await_condition(api, name, condition)).await {
        Ok(result) => Ok(result?),
        Err(_) => anyhow::bail!("{} {name}: condition not met within {timeout:?}", K::kind(&())),
    }
}
