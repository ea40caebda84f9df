//! The validate, apply and health steps of a sync.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use serde_json::Value;

use super::health::{Health, HealthContext, health_in};
use super::{ApplyError, ObjectFailure, StepRun, Syncer};
use crate::cluster::DeleteOptions;
use crate::cluster::objects::{ObjectError, Objects};
use crate::live::Expected;
use crate::live::drift::explain;
use crate::plan::schema::{is_crd, schema_for, validate};
use crate::plan::steps::{immutable, replaceable};
use crate::plan::{Action, DesiredObject};

/// Dry-runs of objects whose kind a CRD of this sync just started serving
/// are tried this often...
const SERVED_ATTEMPTS: u32 = 20;
/// ...this far apart, while the API answers that the kind is not served yet.
const SERVED_PAUSE: Duration = Duration::from_millis(500);

/// The API server does not serve the kind (or version) yet: a CRD just
/// created or given a new version, not yet picked up by its handlers.
fn not_served_yet(error: &ObjectError) -> bool {
    match error {
        ObjectError::NotServed { .. } => true,
        ObjectError::Api(e) => e.code == 404 || (e.code == 400 && e.message.contains("invalid object type")),
    }
}

fn failure(o: &DesiredObject, message: String) -> ObjectFailure {
    ObjectFailure { object: o.key.to_string(), origin: o.origin.clone(), message }
}

impl Syncer {
    /// Validates every object to write before the first write: a dry-run
    /// where the API server can check it (in plumb's own namespace when its
    /// namespace arrives in this sync), and the schema of its CRD when the
    /// CRD arrives in this sync (a dry-run follows right before its wave).
    pub(super) async fn validate(&self, run: &mut StepRun<'_>, indexes: &[usize]) -> Result<(), ApplyError> {
        let new_namespaces: HashSet<&str> = run
            .plan
            .waves
            .iter()
            .flatten()
            .filter(|s| s.action == Action::Create)
            .map(|s| &run.desired[s.index].key)
            .filter(|k| k.group.is_empty() && k.kind == "Namespace")
            .map(|k| k.name.as_str())
            .collect();
        let mut failures = Vec::new();
        let mut dry_runs = Vec::new();
        // A changed hook is deleted and created again: a refusal to change
        // its immutable fields in place is expected.
        let recreated: HashSet<usize> =
            run.plan.waves.iter().flatten().filter(|s| s.action == Action::Replace).map(|s| s.index).collect();
        for &i in indexes {
            let o = &run.desired[i];
            if run.catalog.resolve(&o.api_version, &o.key.kind).is_none() {
                // A custom resource of a CRD this sync creates.
                match schema_for(o, run.desired) {
                    Some(schema) => {
                        let problems = validate(&o.manifest, schema);
                        if !problems.is_empty() {
                            failures
                                .push(failure(o, format!("invalid against its CRD's schema: {}", problems.join("; "))));
                        }
                    }
                    None if run.desired.iter().any(|c| is_crd(&c.key)) => {}
                    None => failures
                        .push(failure(o, format!("the cluster does not serve {} {}", o.api_version, o.key.kind))),
                }
                run.deferred.insert(i);
                continue;
            }
            dry_runs.push(i);
        }
        let catalog = run.catalog.clone();
        let store_namespace = self.store.namespace().to_string();
        let results: Vec<(usize, Result<Value, ObjectError>)> = stream::iter(dry_runs)
            .map(|i| {
                let (catalog, namespace) = (&catalog, &store_namespace);
                let o = &run.desired[i];
                let elsewhere = o.key.namespace.as_deref().is_some_and(|ns| new_namespaces.contains(ns));
                async move {
                    let result = if elsewhere {
                        self.objects.dry_run_in(catalog, o, namespace).await
                    } else {
                        self.objects.apply(catalog, o, true).await
                    };
                    (i, result)
                }
            })
            .buffer_unordered(self.objects.concurrency())
            .collect()
            .await;
        for (i, result) in results {
            let o = &run.desired[i];
            match result {
                Ok(_) => {}
                Err(ObjectError::Api(e)) if recreated.contains(&i) && immutable(e.code, &e.message) => {}
                Err(ObjectError::Api(e)) if replaceable(o, e.code, &e.message) => {
                    run.replace.insert(i);
                    run.report.record_action(&o.key, Action::Replace);
                }
                Err(e) => failures.push(failure(o, e.to_string())),
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        failures.sort_by(|a, b| a.object.cmp(&b.object));
        Err(ApplyError::DryRunRejected(failures))
    }

    /// Applies one wave's objects (replacing those marked for it).
    pub(super) async fn apply_wave(
        &self,
        run: &mut StepRun<'_>,
        writes: &[usize],
        enforce: bool,
    ) -> Result<(), ApplyError> {
        let mut late: Vec<usize> = writes.iter().copied().filter(|i| run.deferred.contains(i)).collect();
        // Their CRDs were applied and became established in earlier waves;
        // a version just added to a CRD can take a moment to be served.
        let mut attempts = 0;
        while !late.is_empty() {
            attempts += 1;
            if late
                .iter()
                .any(|&i| run.catalog.resolve(&run.desired[i].api_version, &run.desired[i].key.kind).is_none())
            {
                run.catalog = self.refresh_catalog().await?;
            }
            let results = self.objects.apply_many(&run.catalog, run.desired, &late, true).await;
            let (waiting, rejected): (Vec<_>, Vec<_>) = results
                .into_iter()
                .filter_map(|(i, result, _)| result.err().map(|e| (i, e)))
                .partition(|(_, e)| not_served_yet(e) && attempts < SERVED_ATTEMPTS);
            if !rejected.is_empty() {
                let mut failures: Vec<ObjectFailure> =
                    rejected.into_iter().map(|(i, e)| failure(&run.desired[i], e.to_string())).collect();
                failures.sort_by(|a, b| a.object.cmp(&b.object));
                return Err(ApplyError::LateDryRunRejected { failures, applied: run.waves_applied });
            }
            late = waiting.into_iter().map(|(i, _)| i).collect();
            if !late.is_empty() && !self.pause(SERVED_PAUSE).await {
                return Err(ApplyError::Interrupted { done: 0, total: 0 });
            }
        }
        let keys = || writes.iter().map(|&i| run.desired[i].key.clone());
        if let Some(cache) = &self.live {
            cache.set_in_flight(keys(), true);
        }
        let result = self.write_wave(run, writes, enforce).await;
        if let Some(cache) = &self.live {
            cache.set_in_flight(keys(), false);
        }
        run.waves_applied += 1;
        result
    }

    async fn write_wave(&self, run: &mut StepRun<'_>, writes: &[usize], enforce: bool) -> Result<(), ApplyError> {
        let catalog = run.catalog.clone();
        let desired = run.desired;
        // Updates are read first so the change set can name the fields
        // they change (one GET per updated object).
        let updates: Vec<usize> = run
            .plan
            .waves
            .iter()
            .flatten()
            .filter(|s| s.action == Action::Update && writes.contains(&s.index))
            .map(|s| s.index)
            .collect();
        let before: HashMap<usize, Value> =
            stream::iter(updates)
                .map(|i| {
                    let catalog = &catalog;
                    async move {
                        (i, self.objects.get(catalog, &desired[i].api_version, &desired[i].key).await.ok().flatten())
                    }
                })
                .buffer_unordered(self.objects.concurrency())
                .filter_map(|(i, live)| async move { live.map(|l| (i, l)) })
                .collect()
                .await;
        let mut failures = Vec::new();
        let replaced_by_plan: Vec<usize> =
            run.plan.waves.iter().flatten().filter(|s| s.action == Action::Replace).map(|s| s.index).collect();
        for &i in writes.iter().filter(|i| run.replace.contains(i) || replaced_by_plan.contains(i)) {
            if let Err(e) = self.delete_for_replace(&run.catalog, &desired[i]).await {
                failures.push(failure(&desired[i], format!("could not delete it to replace it: {e}")));
            }
        }
        if !failures.is_empty() {
            return Err(ApplyError::ApplyFailed(failures));
        }
        let results = self.objects.apply_many(&catalog, desired, writes, false).await;
        for (i, result, duration) in results {
            let o = &desired[i];
            match result {
                Ok(object) => {
                    let expected = Expected::of(&object, Arc::new(crate::live::cache::KeptObject::keep(o)), enforce);
                    run.working.applied(o, expected.fingerprint);
                    if let Some(cache) = &self.live {
                        cache.applied(o.key.clone(), expected);
                    }
                    run.report.record(&o.key, Ok(()), duration);
                    if let Some(previous) = before.get(&i) {
                        let changed = explain(&o.key, &object, previous, &[]).into_iter().map(|f| f.path).collect();
                        run.report.record_fields(&o.key, changed);
                    }
                    run.applied.insert(i, object);
                }
                Err(e) => {
                    let message = e.to_string();
                    run.report.record(&o.key, Err(message.clone()), duration);
                    failures.push(failure(o, message));
                }
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        failures.sort_by(|a, b| a.object.cmp(&b.object));
        Err(ApplyError::ApplyFailed(failures))
    }

    /// Deletes `o` (this very object: uid precondition) and waits until it
    /// is gone, so it can be created again.
    async fn delete_for_replace(
        &self,
        catalog: &crate::cluster::catalog::Catalog,
        o: &DesiredObject,
    ) -> Result<(), String> {
        let Some(live) = self.objects.get(catalog, &o.api_version, &o.key).await.map_err(|e| e.to_string())? else {
            return Ok(());
        };
        let uid = live["metadata"]["uid"].as_str().map(String::from);
        let options = DeleteOptions { uid, propagation: Some("Foreground".into()), ..DeleteOptions::default() };
        self.objects.delete(catalog, &o.api_version, &o.key, &options).await.map_err(|e| e.to_string())?;
        let deadline = Instant::now() + self.options.health_timeout;
        while self.objects.get(catalog, &o.api_version, &o.key).await.map_err(|e| e.to_string())?.is_some() {
            if Instant::now() >= deadline {
                return Err(format!("still being deleted after {:?}", self.options.health_timeout));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
        Ok(())
    }

    /// Waits until every object is healthy; fails fast on a terminal state.
    /// Objects written this sync start from the apply's answer; the others
    /// are read.
    pub(super) async fn await_healthy(
        &self,
        run: &mut StepRun<'_>,
        indexes: &[usize],
        timeout: Duration,
    ) -> Result<(), ApplyError> {
        let desired = run.desired;
        let catalog = run.catalog.clone();
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<(usize, Option<Value>)> = indexes.iter().map(|&i| (i, run.applied.remove(&i))).collect();
        loop {
            pending = stream::iter(pending)
                .map(|(i, known)| {
                    let catalog = &catalog;
                    async move {
                        match known {
                            Some(object) => (i, Some(object)),
                            // A failed read is retried on the next round.
                            None => (
                                i,
                                self.objects
                                    .get(catalog, &desired[i].api_version, &desired[i].key)
                                    .await
                                    .ok()
                                    .flatten(),
                            ),
                        }
                    }
                })
                .buffer_unordered(self.objects.concurrency())
                .collect()
                .await;
            let mut waiting = Vec::new();
            for (i, object) in pending {
                let o = &desired[i];
                let Some(object) = object else {
                    waiting.push((i, None, "not found".to_string()));
                    continue;
                };
                let context = self.health_context(&catalog, o, &object).await;
                match health_in(&o.key.group, &o.key.kind, &object, &context) {
                    Health::Ready => {}
                    Health::Failed(reason) => return Err(ApplyError::Unhealthy { object: o.key.to_string(), reason }),
                    Health::InProgress(reason) => waiting.push((i, None, reason)),
                }
            }
            let Some((first, _, reason)) = waiting.first() else { return Ok(()) };
            if Instant::now() >= deadline {
                return Err(ApplyError::HealthTimeout {
                    object: desired[*first].key.to_string(),
                    reason: reason.clone(),
                    timeout,
                });
            }
            if !self.pause(self.options.poll_interval).await {
                return Err(ApplyError::Interrupted { done: 0, total: 0 });
            }
            pending = waiting.into_iter().map(|(i, object, _)| (i, object)).collect();
        }
    }

    /// Deletes hooks that succeeded (`hook-succeeded`): this very object
    /// (uid precondition); its inventory entry stays, so it does not run
    /// again until its manifest changes.
    pub(super) async fn delete_hooks(&self, run: &StepRun<'_>, indexes: &[usize]) -> Result<(), ApplyError> {
        let mut failures = Vec::new();
        for &i in indexes {
            let o = &run.desired[i];
            if let Err(e) = self.delete_hook(&run.catalog, o).await {
                failures.push(failure(o, format!("could not delete the hook after it succeeded: {e}")));
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(ApplyError::ApplyFailed(failures)) }
    }

    /// Deletes hooks of a failed wave that ask for it (`hook-failed`); they
    /// run again on the next attempt.
    pub(super) async fn delete_failed_hooks(&self, run: &mut StepRun<'_>, indexes: &[usize]) {
        for &i in indexes {
            let o = &run.desired[i];
            if !crate::plan::hooks::hook_policy(o).is_some_and(|h| h.on_failure) {
                continue;
            }
            match self.delete_hook(&run.catalog, o).await {
                Ok(()) => run.working.unconfirmed(o),
                Err(error) => tracing::warn!(object = %o.key, %error, "could not delete a failed hook"),
            }
        }
    }

    async fn delete_hook(&self, catalog: &crate::cluster::catalog::Catalog, o: &DesiredObject) -> Result<(), String> {
        let live = self.objects.get(catalog, &o.api_version, &o.key).await.map_err(|e| e.to_string())?;
        let Some(live) = live else { return Ok(()) };
        let uid = live["metadata"]["uid"].as_str().map(String::from);
        let options = DeleteOptions { uid, propagation: Some("Background".into()), ..DeleteOptions::default() };
        if let Some(cache) = &self.live {
            // Its deletion is plumb's own, not drift.
            cache.forget(&o.key);
        }
        self.objects.delete(catalog, &o.api_version, &o.key, &options).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    /// What health needs besides the object: a pending claim's StorageClass.
    async fn health_context(
        &self,
        catalog: &crate::cluster::catalog::Catalog,
        o: &DesiredObject,
        object: &Value,
    ) -> HealthContext {
        if !(o.key.group.is_empty() && o.key.kind == "PersistentVolumeClaim") || object["status"]["phase"] == "Bound" {
            return HealthContext::default();
        }
        let class = match object["spec"]["storageClassName"].as_str() {
            Some(name) => self.read_storage_class(catalog, name).await,
            None => self.default_storage_class(catalog).await,
        };
        HealthContext { binding_mode: class.and_then(|c| c["volumeBindingMode"].as_str().map(String::from)) }
    }

    async fn read_storage_class(&self, catalog: &crate::cluster::catalog::Catalog, name: &str) -> Option<Value> {
        let key = crate::plan::ObjectKey::new("storage.k8s.io", "StorageClass", None, name);
        self.objects.get(catalog, "storage.k8s.io/v1", &key).await.ok().flatten()
    }

    async fn default_storage_class(&self, catalog: &crate::cluster::catalog::Catalog) -> Option<Value> {
        let resource = Objects::resource(
            catalog,
            "storage.k8s.io/v1",
            &crate::plan::ObjectKey::new("storage.k8s.io", "StorageClass", None, ""),
        )
        .ok()?;
        let list = self.objects.cluster().list_metadata(crate::cluster::Target::new(&resource, None), "").await.ok()?;
        let name = list.items.into_iter().find(|m| {
            m.annotations
                .as_ref()
                .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
                .map(String::as_str)
                == Some("true")
        })?;
        self.read_storage_class(catalog, name.name.as_deref()?).await
    }
}
