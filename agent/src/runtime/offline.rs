//! `plumb render`: the objects of a config repo as plumb would apply them,
//! as rendered plus the app label and the app's default namespace (fixes for
//! API-server quirks belong to apply time), app by app in dependency order
//! and each app in apply order, without a cluster. Kind scopes come from a
//! built-in table of Kubernetes kinds plus the CRDs in the render.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::live::drift::REDACTED;
use crate::plan::object::{identify, with_apply_fixes};
use crate::plan::order::waves;
use crate::plan::{AppContext, Scopes};
use crate::render::config::{self, CONFIG_FILE};
use crate::render::helm::ChartEnv;
use crate::source::Tree;
use plumb_gotmpl::Value as TemplateValue;
use plumb_gotmpl::funcs::yaml::to_yaml;

use super::commit::render_app;

/// What `plumb render` prints.
pub struct RenderOptions {
    /// Only this app.
    pub app: Option<String>,
    /// Chart capabilities and the chart cache.
    pub env: ChartEnv,
    /// Replace Secret values with `<redacted>` (for logs).
    pub redact_secrets: bool,
}

/// What `plumb render` produced.
pub struct Rendered {
    /// The YAML stream.
    pub text: String,
    /// Each app's render digest.
    pub digests: Vec<(String, String)>,
    /// Kinds whose scope was assumed.
    pub warnings: Vec<String>,
}

/// Kubernetes' built-in kinds that are cluster-scoped (group, kind).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("networking.k8s.io", "IngressClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
];

/// Kubernetes' built-in namespaced kinds most manifests use.
const NAMESPACED: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "Service"),
    ("", "ServiceAccount"),
    ("", "Pod"),
    ("", "PersistentVolumeClaim"),
    ("", "Endpoints"),
    ("", "LimitRange"),
    ("", "ResourceQuota"),
    ("", "ReplicationController"),
    ("", "Event"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("apps", "ControllerRevision"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("coordination.k8s.io", "Lease"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("events.k8s.io", "Event"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
    ("cert-manager.io", "Certificate"),
    ("cert-manager.io", "Issuer"),
];

/// The built-in scopes table.
pub fn builtin_scopes() -> Scopes {
    let mut scopes = Scopes::default();
    for (group, kind) in CLUSTER_SCOPED {
        scopes.insert(group, kind, false);
    }
    for (group, kind) in NAMESPACED {
        scopes.insert(group, kind, true);
    }
    scopes
}

/// The rendered objects of the repo as YAML documents, each headed by its
/// app and origin, with each app's render digest.
pub fn render(tree: Arc<dyn Tree>, options: &RenderOptions) -> Result<Rendered, String> {
    let mut warnings = Vec::new();
    let mut digests = Vec::new();
    let text = tree.read_string(CONFIG_FILE).map_err(|e| e.to_string())?;
    let config = config::parse(CONFIG_FILE, &text).map_err(|e| e.to_string())?;
    if let Some(app) = &options.app
        && !config.apps.iter().any(|a| &a.name == app)
    {
        let names: Vec<&str> = config.apps.iter().map(|a| a.name.as_str()).collect();
        return Err(format!("{CONFIG_FILE} has no app {app:?} (apps: {})", names.join(", ")));
    }
    let mut out = String::new();
    for level in config::app_levels(&config) {
        for &i in &level {
            let app = &config.apps[i];
            if options.app.as_ref().is_some_and(|only| only != &app.name) {
                continue;
            }
            let rendered = render_app(&tree, app, &options.env).map_err(|e| e.to_string())?;
            digests.push((app.name.clone(), crate::render::digest(&rendered)));
            let mut scopes = builtin_scopes();
            scopes.add_crds(rendered.iter().map(|o| &o.manifest));
            let context = AppContext { name: app.name.clone(), namespace: app.namespace.clone() };
            let (mut desired, mut views) = (Vec::new(), Vec::new());
            for object in rendered {
                let api_version = object.manifest["apiVersion"].as_str().unwrap_or("").to_string();
                let kind = object.manifest["kind"].as_str().unwrap_or("").to_string();
                let group = crate::plan::ObjectKey::group_of(&api_version).to_string();
                if scopes.namespaced(&group, &kind).is_none() {
                    warnings.push(format!(
                        "{}: the scope of {kind} ({api_version}) is unknown without a cluster; assumed namespaced",
                        object.origin
                    ));
                    scopes.insert(&group, &kind, true);
                }
                // Printed as identified; ordered as it will be applied.
                let (key, api_version, view) =
                    identify(&context, object.manifest, &object.origin, &scopes).map_err(|e| e.to_string())?;
                desired.push(with_apply_fixes(key, api_version, view.clone(), &object.origin));
                views.push(view);
            }
            let order = waves(&desired).map_err(|e| e.to_string())?;
            for wave in order {
                for index in wave {
                    let object = &desired[index];
                    let mut manifest = views[index].clone();
                    if options.redact_secrets {
                        redact_secret(&mut manifest);
                    }
                    let _ = writeln!(out, "---\n# app: {}, source: {}", app.name, object.origin);
                    out.push_str(&to_yaml(&TemplateValue::from_json_integers(&manifest)));
                    out.push('\n');
                }
            }
        }
    }
    Ok(Rendered { text: out, digests, warnings })
}

fn redact_secret(manifest: &mut serde_json::Value) {
    if manifest["kind"] != "Secret" || manifest["apiVersion"].as_str().is_none_or(|v| v != "v1") {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = manifest.get_mut(field).and_then(serde_json::Value::as_object_mut) {
            for value in map.values_mut() {
                *value = serde_json::Value::String(REDACTED.into());
            }
        }
    }
}
