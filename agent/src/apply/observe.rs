//! The live metadata a plan needs: from the live cache when the agent runs
//! one (no request in steady state), otherwise one label-selected,
//! metadata-only list per kind.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;

use super::ApplyError;
use super::catalog::Catalog;
use crate::live::LiveCache;
use crate::live::cache::WatchLease;
use crate::live::fields::fingerprint;
use crate::plan::{APP_LABEL, Inventory, LiveMeta, ObjectKey, PRUNE_ANNOTATION};

/// Live metadata of `app`'s objects of `kinds`, and (with the cache) the
/// lease that keeps their watches while the sync runs.
///
/// `applied_by_plumb` is true when plumb's managed fields are exactly what
/// its last apply left: the fingerprint the cache expects, else the one the
/// inventory recorded (so drift that happened while the agent was down
/// shows up), else any Apply entry of plumb's.
pub async fn live_meta(
    client: &kube::Client,
    cache: Option<&LiveCache>,
    catalog: &Catalog,
    app: &str,
    kinds: &BTreeSet<(String, String)>,
    inventory: Option<&Inventory>,
    concurrency: usize,
) -> Result<(HashMap<ObjectKey, LiveMeta>, Option<WatchLease>), ApplyError> {
    let resources: Vec<ApiResource> =
        kinds.iter().filter_map(|(group, kind)| Some(catalog.preferred(group, kind)?.0)).collect();
    let recorded: HashMap<&ObjectKey, u64> =
        inventory.iter().flat_map(|i| &i.entries).map(|e| (&e.key, e.fields)).collect();
    // What plumb left: the cache's expectation (fingerprint and generation),
    // else the fingerprint the inventory recorded.
    let expected_of = |key: &ObjectKey| -> Option<(u64, Option<i64>)> {
        cache
            .and_then(|c| c.expected(key))
            .map(|e| (e.fingerprint, e.generation))
            .or_else(|| recorded.get(key).copied().filter(|f| *f != 0).map(|f| (f, None)))
    };
    let meta =
        |key: &ObjectKey, app_label: Option<String>, prune_disabled: bool, fp: u64, generation: Option<i64>| LiveMeta {
            app_label,
            prune_disabled,
            applied_by_plumb: fp != 0
                && expected_of(key).is_none_or(|(f, g)| f == fp && (g.is_none() || g == generation)),
        };

    if let Some(cache) = cache {
        let lease = cache.ensure_watched(&resources).await.map_err(ApplyError::Live)?;
        let wanted: HashSet<(String, String)> = kinds.iter().cloned().collect();
        let live = cache
            .entries_of(app, &wanted)
            .into_iter()
            .map(|(key, e)| {
                let m = meta(&key, e.app, e.prune_disabled, e.fingerprint, e.generation);
                (key, m)
            })
            .collect();
        return Ok((live, Some(lease)));
    }

    let selector = format!("{APP_LABEL}={app}");
    let lists: Vec<(ApiResource, Vec<ObjectMeta>)> = stream::iter(resources)
        .map(|resource| {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let params = ListParams::default().labels(&selector);
            let selector = &selector;
            async move {
                let list = api.list_metadata(&params).await.map_err(|source| ApplyError::Kube {
                    what: format!("list {} objects labelled {selector}", resource.kind),
                    source,
                })?;
                Ok::<_, ApplyError>((resource, list.items.into_iter().map(|i| i.metadata).collect()))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut live = HashMap::new();
    for (resource, items) in lists {
        for m in items {
            let key = ObjectKey {
                group: resource.group.clone(),
                kind: resource.kind.clone(),
                namespace: m.namespace.clone(),
                name: m.name.clone().unwrap_or_default(),
            };
            let app_label = m.labels.as_ref().and_then(|l| l.get(APP_LABEL)).cloned();
            let prune_disabled =
                m.annotations.as_ref().and_then(|a| a.get(PRUNE_ANNOTATION)).map(String::as_str) == Some("disabled");
            let fp = fingerprint(m.managed_fields.as_deref().unwrap_or_default());
            let entry = meta(&key, app_label, prune_disabled, fp, m.generation);
            live.insert(key, entry);
        }
    }
    Ok((live, None))
}
