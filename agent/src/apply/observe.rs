//! The live metadata a plan needs: from the live cache when the agent runs
//! one (no request in steady state), otherwise one metadata-only list per
//! kind of the objects labelled for plumb.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt, stream};

use super::ApplyError;
use crate::cluster::catalog::Catalog;
use crate::cluster::objects::retry;
use crate::cluster::{Resource, SharedCluster, Target};
use crate::live::cache::WatchLease;
use crate::live::{LiveCache, LiveEntry};
use crate::plan::{APP_LABEL, Inventory, LiveMeta, ObjectKey};

/// What a plan is made from, besides the render.
pub struct Observed {
    /// Live metadata of the objects the sync is about.
    pub live: HashMap<ObjectKey, LiveMeta>,
    /// The lease keeping their kinds watched while the sync runs.
    pub lease: Option<WatchLease>,
}

/// Live metadata of the objects with `keys` (labelled for any app), and
/// (with the cache) the lease that keeps their watches while the sync runs.
///
/// `applied_by_plumb` is true when plumb's managed fields are exactly what
/// its last apply left: the fingerprint the cache expects, else the one the
/// inventory recorded (so drift that happened while the agent was down
/// shows up), else any Apply entry of plumb's.
pub async fn observe(
    cluster: &SharedCluster,
    cache: Option<&LiveCache>,
    catalog: &Catalog,
    keys: &HashSet<&ObjectKey>,
    inventory: Option<&Inventory>,
    concurrency: usize,
) -> Result<Observed, ApplyError> {
    let kinds: BTreeSet<(&str, &str)> = keys.iter().map(|k| (k.group.as_str(), k.kind.as_str())).collect();
    let resources: Vec<Resource> = kinds.iter().filter_map(|(g, k)| catalog.preferred(g, k).cloned()).collect();
    let recorded: HashMap<&ObjectKey, u64> =
        inventory.iter().flat_map(|i| &i.entries).map(|e| (&e.key, e.fields)).collect();
    let meta = |key: &ObjectKey, entry: LiveEntry| {
        // What plumb left: the cache's expectation (fingerprint and
        // generation), else the fingerprint the inventory recorded.
        let expected = cache
            .and_then(|c| c.expected(key))
            .map(|e| (e.fingerprint, e.generation))
            .or_else(|| recorded.get(key).copied().filter(|f| *f != 0).map(|f| (f, None)));
        let applied_by_plumb = entry.fingerprint != 0
            && expected.is_none_or(|(f, g)| f == entry.fingerprint && (g.is_none() || g == entry.generation));
        LiveMeta {
            app_label: entry.app,
            prune_disabled: entry.prune_disabled,
            applied_by_plumb,
            uid: entry.uid,
            resource_version: entry.resource_version,
        }
    };

    if let Some(cache) = cache {
        let lease = cache.ensure_watched(&resources).await.map_err(ApplyError::Live)?;
        let wanted: HashSet<(String, String)> = kinds.iter().map(|(g, k)| (g.to_string(), k.to_string())).collect();
        let live = cache
            .entries_of_kinds(&wanted)
            .into_iter()
            .filter(|(key, _)| keys.contains(key))
            .map(|(key, entry)| {
                let m = meta(&key, entry);
                (key, m)
            })
            .collect();
        return Ok(Observed { live, lease: Some(lease) });
    }

    let lists: Vec<(Resource, Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>)> =
        stream::iter(resources)
            .map(|resource| async move {
                let target = Target::new(&resource, None);
                let list = retry(|| cluster.list_metadata(target, APP_LABEL)).await.map_err(|source| {
                    ApplyError::Kube { what: format!("list {} objects labelled {APP_LABEL}", resource.kind), source }
                })?;
                Ok::<_, ApplyError>((resource, list.items))
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await?;
    let mut live = HashMap::new();
    for (resource, items) in lists {
        for m in items {
            let key = ObjectKey::new(
                &resource.group,
                &resource.kind,
                m.namespace.as_deref(),
                m.name.as_deref().unwrap_or_default(),
            );
            if keys.contains(&key) {
                let entry = meta(&key, LiveEntry::of(&m));
                live.insert(key, entry);
            }
        }
    }
    Ok(Observed { live, lease: None })
}
