//! The prune and orphan steps: deleting exactly what the plan decided,
//! each object only if it is still the one planned (uid and
//! resourceVersion preconditions; on a conflict it is read again and
//! deleted only if still labelled for the app), Namespaces only when they
//! hold nothing the app does not own; and dropping plumb's label from the
//! objects of an app removed with `orphan:`.

use std::time::Instant;

use serde_json::Value;
use tracing::{info, warn};

use super::report::ObjectAction;
use super::{ApplyError, ObjectFailure, StepRun, Syncer};
use crate::cluster::catalog::Catalog;
use crate::cluster::objects::{ObjectError, Objects, retry};
use crate::cluster::{DeleteOptions, Deleted, Target};
use crate::plan::prune::{NamespaceObject, namespace_blockers};
use crate::plan::{APP_LABEL, LeftAlone, ObjectKey, PruneTarget};

/// What became of one prune target.
enum Pruned {
    /// Deleted (or already gone).
    Deleted(Deleted),
    /// Kept: it changed hands, or a guard refused.
    Kept(LeftAlone),
}

impl Syncer {
    /// Deletes the plan's prune targets in order, then waits for the
    /// Namespaces and CRDs among them to be gone.
    pub(super) async fn prune(&self, run: &mut StepRun<'_>) -> Result<(), ApplyError> {
        let app = run.working.inventory().app.clone();
        let catalog = self.objects.catalog().await;
        let mut failures = Vec::new();
        let mut wait_gone = Vec::new();
        for target in &run.plan.prune {
            let key = &target.entry.key;
            let started = Instant::now();
            // In flight until its expectation is forgotten: the detector must
            // not take plumb's own delete for drift and re-create the object.
            self.mark_in_flight(key, true);
            let pruned = self.prune_one(&catalog, &app, target).await;
            match pruned {
                Ok(Pruned::Deleted(deleted)) => {
                    run.report.record(key, Ok(()), started.elapsed());
                    run.working.remove(key);
                    if let Some(cache) = &self.live {
                        cache.forget(key);
                    }
                    if deleted == Deleted::Deleted
                        && matches!(key.kind.as_str(), "Namespace" | "CustomResourceDefinition")
                    {
                        wait_gone.push(target);
                    }
                }
                Ok(Pruned::Kept(why)) => {
                    info!(object = %key, reason = %why.describe(), "not pruned");
                    if why.forgets() {
                        run.working.remove(key);
                        if let Some(cache) = &self.live {
                            cache.forget(key);
                        }
                    }
                    run.report.record_action_kind(key, ObjectAction::LeftAlone(why));
                }
                Err(e) => {
                    let message = e.to_string();
                    run.report.record(key, Err(message.clone()), started.elapsed());
                    failures.push(ObjectFailure { object: key.to_string(), origin: "inventory".into(), message });
                }
            }
            self.mark_in_flight(key, false);
        }
        let deadline = Instant::now() + self.options.health_timeout;
        for target in wait_gone {
            let entry = &target.entry;
            while matches!(self.objects.get(&catalog, &entry.api_version, &entry.key).await, Ok(Some(_))) {
                if Instant::now() >= deadline {
                    failures.push(ObjectFailure {
                        object: entry.key.to_string(),
                        origin: "inventory".into(),
                        message: format!("still terminating after {:?}", self.options.health_timeout),
                    });
                    break;
                }
                tokio::time::sleep(self.options.poll_interval).await;
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(ApplyError::PruneFailed(failures)) }
    }

    async fn prune_one(&self, catalog: &Catalog, app: &str, target: &PruneTarget) -> Result<Pruned, ObjectError> {
        let entry = &target.entry;
        if target.namespace_guard {
            let blockers = self.namespace_blockers(catalog, app, &entry.key.name).await?;
            if !blockers.is_empty() {
                warn!(namespace = %entry.key.name, holds = ?blockers, "namespace not pruned: it holds objects the app does not own");
                return Ok(Pruned::Kept(LeftAlone::NamespaceInUse(blockers)));
            }
        }
        let mut options = DeleteOptions {
            uid: target.uid.clone(),
            resource_version: target.resource_version.clone(),
            propagation: Some(self.options.propagation.clone()),
        };
        for attempt in 0..2 {
            match self.objects.delete(catalog, &entry.api_version, &entry.key, &options).await {
                Ok(deleted) => return Ok(Pruned::Deleted(deleted)),
                Err(ObjectError::Api(e)) if e.is_conflict() && attempt == 0 => {
                    // It changed since it was planned: delete it only if it
                    // is still this app's (and then only as it is now).
                    let Some(live) = self.objects.get(catalog, &entry.api_version, &entry.key).await? else {
                        return Ok(Pruned::Deleted(Deleted::NotFound));
                    };
                    if live["metadata"]["labels"][APP_LABEL] != app {
                        return Ok(Pruned::Kept(LeftAlone::NotOwned));
                    }
                    if target.uid.is_some() && live["metadata"]["uid"].as_str() != target.uid.as_deref() {
                        // Re-created since: not the object planned.
                        return Ok(Pruned::Kept(LeftAlone::NotOwned));
                    }
                    options.resource_version = live["metadata"]["resourceVersion"].as_str().map(String::from);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Pruned::Kept(LeftAlone::NotOwned))
    }

    /// Tells the live cache that plumb itself is writing `key` (or is done).
    fn mark_in_flight(&self, key: &ObjectKey, on: bool) {
        if let Some(cache) = &self.live {
            cache.set_in_flight([key.clone()], on);
        }
    }

    /// The objects in `namespace` that keep `app` from pruning it.
    async fn namespace_blockers(
        &self,
        catalog: &Catalog,
        app: &str,
        namespace: &str,
    ) -> Result<Vec<String>, ObjectError> {
        let mut objects = Vec::new();
        let mut unreadable = Vec::new();
        for (group, kind, namespaced) in catalog.kinds() {
            if !namespaced {
                continue;
            }
            let Some(resource) = catalog.preferred(group, kind).filter(|r| r.listable) else { continue };
            let target = Target::new(resource, Some(namespace));
            match retry(|| self.objects.cluster().list_metadata(target, "")).await {
                Ok(list) => objects.extend(list.items.into_iter().map(|m| NamespaceObject {
                    key: ObjectKey::new(group, kind, Some(namespace), m.name.as_deref().unwrap_or_default()),
                    uid: m.uid.unwrap_or_default(),
                    owners: m.owner_references.unwrap_or_default().into_iter().map(|o| o.uid).collect(),
                    app_label: m.labels.and_then(|l| l.get(APP_LABEL).cloned()),
                })),
                Err(e) if matches!(e.code, 404 | 405) => {}
                // What cannot be read cannot be shown to be the app's.
                Err(e) => unreadable.push(format!("{kind}.{group} (cannot list: {e})")),
            }
        }
        let mut blockers: Vec<String> = namespace_blockers(app, &objects).iter().map(ToString::to_string).collect();
        blockers.extend(unreadable);
        Ok(blockers)
    }

    /// Drops plumb's label from the objects of an app removed with
    /// `orphan:`: they stay as they are, no longer plumb's.
    pub(super) async fn orphan(&self, run: &mut StepRun<'_>) -> Result<(), ApplyError> {
        let catalog = self.objects.catalog().await;
        let app = run.working.inventory().app.clone();
        let mut failures = Vec::new();
        let entries: Vec<_> = run
            .working
            .inventory()
            .entries
            .iter()
            .filter(|e| run.plan.left_alone.iter().any(|(k, why)| k == &e.key && *why == LeftAlone::Orphaned))
            .cloned()
            .collect();
        for entry in entries {
            self.mark_in_flight(&entry.key, true);
            let dropped = self.drop_label(&catalog, &app, &entry.api_version, &entry.key).await;
            match dropped {
                Ok(()) => {
                    run.working.remove(&entry.key);
                    if let Some(cache) = &self.live {
                        cache.forget(&entry.key);
                    }
                }
                Err(e) => failures.push(ObjectFailure {
                    object: entry.key.to_string(),
                    origin: "inventory".into(),
                    message: e.to_string(),
                }),
            }
            self.mark_in_flight(&entry.key, false);
        }
        if failures.is_empty() { Ok(()) } else { Err(ApplyError::PruneFailed(failures)) }
    }

    async fn drop_label(
        &self,
        catalog: &Catalog,
        app: &str,
        api_version: &str,
        key: &ObjectKey,
    ) -> Result<(), ObjectError> {
        let resource = Objects::resource(catalog, api_version, key)?;
        let target = Target::new(&resource, key.namespace.as_deref());
        for _ in 0..3 {
            let Some(mut live) = self.objects.get(catalog, api_version, key).await? else { return Ok(()) };
            let Some(labels) = live.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) else {
                return Ok(());
            };
            if labels.get(APP_LABEL).and_then(Value::as_str) != Some(app) {
                return Ok(());
            }
            labels.remove(APP_LABEL);
            match self.objects.cluster().update(target, &key.name, &live).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(ObjectError::Api(e)),
            }
        }
        Err(ObjectError::Api(crate::cluster::ClusterError::status(409, "Conflict", "the object kept changing")))
    }
}
