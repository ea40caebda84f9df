//! `lookup` as Helm's install reads it: read-only GET and LIST of the live
//! cluster ([`ClusterLookup`]), behind the narrow [`Lookup`] interface the
//! render stage receives; [`Recorder`] notes what a render looked up, so a
//! cached render is reused only while the cluster still answers the same.

use std::sync::{Arc, Mutex};

pub use plumb_gotmpl::funcs::helm::Lookup;

use crate::cluster::Target;
use crate::cluster::objects::Objects;

/// One lookup and a digest of what it returned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Looked {
    /// apiVersion, kind, namespace, name.
    pub args: [String; 4],
    /// `sha256:` of the result's JSON (results are never stored: they may hold Secrets).
    pub digest: String,
}

/// The live cluster, read-only, through plumb's cluster seam.
pub struct ClusterLookup {
    objects: Arc<Objects>,
}

impl ClusterLookup {
    /// Reads through `objects` (needs get and list on what charts look up).
    pub fn new(objects: Arc<Objects>) -> Self {
        ClusterLookup { objects }
    }

    async fn read(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value, String> {
        let catalog = self.objects.catalog().await;
        let resource = catalog.resolve(api_version, kind).cloned().ok_or_else(|| {
            format!("unable to get apiresource from unstructured: {api_version}, Kind={kind}: not served")
        })?;
        let target = Target::new(&resource, (!namespace.is_empty()).then_some(namespace));
        let cluster = self.objects.cluster();
        if name.is_empty() {
            // A list: each object read whole (lookups of lists are rare).
            let list = cluster.list_metadata(target, "").await.map_err(|e| e.to_string())?;
            let mut items = Vec::new();
            for meta in list.items {
                let target = Target::new(&resource, meta.namespace.as_deref());
                if let Some(object) =
                    cluster.get(target, meta.name.as_deref().unwrap_or_default()).await.map_err(|e| e.to_string())?
                {
                    items.push(object);
                }
            }
            return Ok(serde_json::json!({"apiVersion": api_version, "kind": format!("{kind}List"), "items": items}));
        }
        Ok(cluster.get(target, name).await.map_err(|e| e.to_string())?.unwrap_or(serde_json::Value::Null))
    }
}

impl Lookup for ClusterLookup {
    fn lookup(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<serde_json::Value, String> {
        super::fetch::run_blocking(self.read(api_version, kind, namespace, name))?
    }
}

/// Records the lookups of one render.
pub struct Recorder {
    inner: Option<Arc<dyn Lookup>>,
    seen: Mutex<Vec<Looked>>,
}

impl Recorder {
    /// Records what `inner` answers (`None`: offline, everything empty).
    pub fn new(inner: Option<Arc<dyn Lookup>>) -> Self {
        Recorder { inner, seen: Mutex::new(Vec::new()) }
    }

    /// The lookups made so far.
    pub fn looked(&self) -> Vec<Looked> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether every recorded lookup still returns what it returned.
    pub fn unchanged(lookup: Option<&Arc<dyn Lookup>>, looked: &[Looked]) -> bool {
        looked.iter().all(|l| {
            let [a, k, ns, n] = &l.args;
            answer(lookup, a, k, ns, n).is_ok_and(|value| digest(&value) == l.digest)
        })
    }
}

fn answer(
    lookup: Option<&Arc<dyn Lookup>>,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<serde_json::Value, String> {
    match lookup {
        Some(lookup) => lookup.lookup(api_version, kind, namespace, name),
        None => Ok(serde_json::Value::Null),
    }
}

fn digest(value: &serde_json::Value) -> String {
    super::remote::sha256(value.to_string().as_bytes())
}

impl Lookup for Recorder {
    fn lookup(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<serde_json::Value, String> {
        let value = answer(self.inner.as_ref(), api_version, kind, namespace, name)?;
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(Looked {
                args: [api_version.into(), kind.into(), namespace.into(), name.into()],
                digest: digest(&value),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(serde_json::Value);

    impl Lookup for Fixed {
        fn lookup(&self, _: &str, _: &str, _: &str, _: &str) -> Result<serde_json::Value, String> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn recorded_lookups_tell_when_the_cluster_changed() {
        let before: Arc<dyn Lookup> = Arc::new(Fixed(serde_json::Value::Null));
        let recorder = Recorder::new(Some(before.clone()));
        assert_eq!(recorder.lookup("v1", "Secret", "ns", "s").ok(), Some(serde_json::Value::Null));
        let looked = recorder.looked();
        assert_eq!(looked.len(), 1);
        assert!(Recorder::unchanged(Some(&before), &looked));
        assert!(Recorder::unchanged(None, &looked), "offline answers empty, as before");
        let after: Arc<dyn Lookup> = Arc::new(Fixed(serde_json::json!({"data": {"password": "x"}})));
        assert!(!Recorder::unchanged(Some(&after), &looked));
    }
}
