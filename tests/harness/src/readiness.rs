//! Stands in for the kubelet: no scheduler or kubelet runs, so this helper
//! marks pods Running and Ready (or Succeeded/Failed) through the pod status
//! subresource. The real controllers then drive Deployment, ReplicaSet,
//! StatefulSet and Job status exactly as they would on a cluster.
//!
//! A pod's outcome is chosen by [`desired_status`], a pure function:
//! - annotation `testenv.plumb.dev/outcome: never-ready` leaves it Pending
//!   (for rollouts that must not progress);
//! - `succeed` / `fail` end it Succeeded / Failed;
//! - otherwise pods owned by a Job succeed and all others become Ready.

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Annotation that chooses a pod's outcome.
pub const OUTCOME_ANNOTATION: &str = "testenv.plumb.dev/outcome";

/// What the helper does with a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Phase Running, every container ready.
    Ready,
    /// Phase Succeeded, every container terminated with exit code 0.
    Succeed,
    /// Phase Failed, every container terminated with exit code 1.
    Fail,
    /// Left alone (stays Pending).
    NeverReady,
}

/// The outcome chosen for `pod`, from its annotation or its owner.
pub fn outcome(pod: &Pod) -> Outcome {
    match pod.annotations().get(OUTCOME_ANNOTATION).map(String::as_str) {
        Some("never-ready") => Outcome::NeverReady,
        Some("succeed") => Outcome::Succeed,
        Some("fail") => Outcome::Fail,
        _ if pod.owner_references().iter().any(|o| o.kind == "Job") => Outcome::Succeed,
        _ => Outcome::Ready,
    }
}

/// The status merge patch that brings `pod` to its outcome, or `None` when
/// it is already there, is being deleted, or must stay pending.
pub fn desired_status(pod: &Pod, now: &str) -> Option<Value> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let wanted = outcome(pod);
    let (target_phase, container_ready, exit_code) = match wanted {
        Outcome::NeverReady => return None,
        Outcome::Ready if phase == "Running" && ready => return None,
        Outcome::Ready => ("Running", true, None),
        _ if phase == "Succeeded" || phase == "Failed" => return None,
        Outcome::Succeed => ("Succeeded", false, Some(0)),
        Outcome::Fail => ("Failed", false, Some(1)),
    };
    let spec = pod.spec.as_ref()?;
    let state = |exit_code: Option<i32>| match exit_code {
        None => json!({"running": {"startedAt": now}}),
        Some(code) => json!({"terminated": {
            "exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
            "startedAt": now, "finishedAt": now}}),
    };
    let container_statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| {
            json!({"name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "",
                   "ready": container_ready, "started": container_ready, "restartCount": 0,
                   "state": state(exit_code)})
        })
        .collect();
    let init_statuses: Vec<Value> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            json!({"name": c.name, "image": c.image.clone().unwrap_or_default(), "imageID": "",
                   "ready": true, "restartCount": 0, "state": state(Some(0))})
        })
        .collect();
    let condition = |type_: &str, status: bool| json!({"type": type_, "status": if status { "True" } else { "False" }, "lastTransitionTime": now});
    Some(json!({"status": {
        "phase": target_phase,
        "startTime": now,
        "conditions": [
            condition("PodScheduled", true),
            condition("Initialized", true),
            condition("ContainersReady", container_ready),
            condition("Ready", container_ready),
        ],
        "containerStatuses": container_statuses,
        "initContainerStatuses": init_statuses,
    }}))
}

/// A running helper; dropping it stops it.
#[derive(Debug)]
pub struct PodReadiness {
    task: JoinHandle<()>,
}

impl PodReadiness {
    /// Watches pods in `namespace` (all namespaces when `None`) and brings
    /// each to its outcome.
    pub fn start(client: kube::Client, namespace: Option<&str>) -> Self {
        let api: Api<Pod> = match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        };
        let task = tokio::spawn(async move {
            let pods = watcher(api.clone(), watcher::Config::default()).default_backoff().applied_objects();
            let mut pods = std::pin::pin!(pods);
            loop {
                match pods.try_next().await {
                    Ok(Some(pod)) => mark(&api, &pod).await,
                    Ok(None) => break,
                    Err(error) => warn!(%error, "pod watch failed; retrying"),
                }
            }
        });
        Self { task }
    }
}

async fn mark(api: &Api<Pod>, pod: &Pod) {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let Some(patch) = desired_status(pod, &now) else { return };
    let name = pod.name_any();
    let api = match pod.namespace() {
        Some(ns) => Api::namespaced(api.clone().into_client(), &ns),
        None => api.clone(),
    };
    match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => debug!(pod = %name, "marked"),
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(error) => warn!(pod = %name, %error, "could not mark pod"),
    }
}

impl Drop for PodReadiness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(annotations: Value, owner_kind: Option<&str>, status: Value) -> Pod {
        let owners = owner_kind
            .map(|k| json!([{"apiVersion": "batch/v1", "kind": k, "name": "o", "uid": "u"}]))
            .unwrap_or(json!([]));
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n", "annotations": annotations, "ownerReferences": owners},
            "spec": {"containers": [{"name": "c", "image": "img"}]},
            "status": status,
        }))
        .expect("valid pod")
    }

    #[test]
    fn outcomes() {
        let table = [
            (json!({}), None, Outcome::Ready),
            (json!({}), Some("ReplicaSet"), Outcome::Ready),
            (json!({}), Some("Job"), Outcome::Succeed),
            (json!({OUTCOME_ANNOTATION: "never-ready"}), None, Outcome::NeverReady),
            (json!({OUTCOME_ANNOTATION: "fail"}), Some("Job"), Outcome::Fail),
            (json!({OUTCOME_ANNOTATION: "succeed"}), None, Outcome::Succeed),
        ];
        for (annotations, owner, want) in table {
            assert_eq!(outcome(&pod(annotations.clone(), owner, json!({}))), want, "{annotations} {owner:?}");
        }
    }

    #[test]
    fn pending_pod_becomes_ready() {
        let patch = desired_status(&pod(json!({}), None, json!({"phase": "Pending"})), "T").expect("a patch");
        assert_eq!(patch["status"]["phase"], "Running");
        assert_eq!(
            patch["status"]["conditions"][3],
            json!({"type": "Ready", "status": "True", "lastTransitionTime": "T"})
        );
        assert_eq!(patch["status"]["containerStatuses"][0]["ready"], true);
    }

    #[test]
    fn settled_pods_are_left_alone() {
        let ready = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
        assert_eq!(desired_status(&pod(json!({}), None, ready), "T"), None);
        assert_eq!(desired_status(&pod(json!({}), Some("Job"), json!({"phase": "Succeeded"})), "T"), None);
        assert_eq!(desired_status(&pod(json!({OUTCOME_ANNOTATION: "never-ready"}), None, json!({})), "T"), None);
    }

    #[test]
    fn job_pod_terminates() {
        let patch = desired_status(&pod(json!({}), Some("Job"), json!({})), "T").expect("a patch");
        assert_eq!(patch["status"]["phase"], "Succeeded");
        assert_eq!(patch["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0);
    }
}
