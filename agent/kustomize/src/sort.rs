//! Output order: kustomize's legacy kind order (Namespaces and CRDs first,
//! webhooks last, then by group/version/kind, namespace and name), or the
//! order resources were read in (`sortOptions: {order: fifo}`).

use crate::kustomization::SortOptions;
use crate::resid::ResId;
use crate::resource::Resource;

/// Kinds sorted first, in order.
pub const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds sorted last, in order.
pub const ORDER_LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// A kind's rank: negative for the first kinds, positive for the last, 0 otherwise.
pub fn type_order<S: AsRef<str>>(kind: &str, first: &[S], last: &[S]) -> i32 {
    if let Some(i) = first.iter().position(|k| k.as_ref() == kind) {
        return i as i32 - first.len() as i32;
    }
    if let Some(i) = last.iter().position(|k| k.as_ref() == kind) {
        return 1 + i as i32;
    }
    0
}

/// Sorts as `sortOptions` says (legacy when absent).
pub fn sort(list: &mut [Resource], options: Option<&SortOptions>) -> Result<(), String> {
    let (first, last): (Vec<String>, Vec<String>) = match options {
        Some(o) if o.order == "fifo" => {
            if o.legacy_sort_options.is_some() {
                return Err("the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'".into());
            }
            return Ok(());
        }
        Some(o) if o.order == "legacy" => match &o.legacy_sort_options {
            Some(l) => (l.order_first.clone(), l.order_last.clone()),
            None => (owned(ORDER_FIRST), owned(ORDER_LAST)),
        },
        Some(_) => return Err("the field 'sortOptions.order' must be one of [fifo, legacy]".into()),
        None => (owned(ORDER_FIRST), owned(ORDER_LAST)),
    };
    list.sort_by(|a, b| {
        let (x, y) = (a.cur_id(), b.cur_id());
        key(&x, &first, &last).cmp(&key(&y, &first, &last))
    });
    Ok(())
}

fn owned(s: &[&str]) -> Vec<String> {
    s.iter().map(|k| k.to_string()).collect()
}

fn key(id: &ResId, first: &[String], last: &[String]) -> (i32, String, String) {
    let or = |s: &str, d: &str| if s.is_empty() { d.to_string() } else { s.to_string() };
    let gvk = &id.gvk;
    let gvk_key = format!("{}_{}_{}", or(&gvk.group, "~G"), or(&gvk.version, "~V"), or(&gvk.kind, "~K"));
    let id_key = format!("{}|{}|{}", gvk.display(), or(&id.namespace, "~X"), or(&id.name, "~N"));
    (type_order(&gvk.kind, first, last), gvk_key, id_key)
}
