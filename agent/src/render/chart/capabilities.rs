//! `.Capabilities`: the Kubernetes version and API versions a chart may
//! test (`semverCompare ">=1.19-0" .Capabilities.KubeVersion.GitVersion`,
//! `.Capabilities.APIVersions.Has "policy/v1"`). They come from the
//! connected cluster, or Helm's defaults when rendering offline.

use std::rc::Rc;

use plumb_gotmpl::value::{Map, Object, Value};

/// What `plumb render` assumes offline: the API versions a kube-apiserver of
/// the newest Kubernetes plumb supports serves by default (an end-to-end
/// test compares this list with the test control plane's discovery).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apiregistration.k8s.io/v1",
    "apps/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "networking.k8s.io/v1",
    "node.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "resource.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
    "storagemigration.k8s.io/v1",
    "v1",
];

/// What `plumb render` assumes offline: the newest Kubernetes minor plumb supports.
pub const DEFAULT_KUBE_VERSION: &str = "v1.37.0";

/// Helm's own offline defaults (Helm SDK v4.2): what `helm template` assumes,
/// for comparing plumb's renders with Helm's.
pub const HELM_DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha2",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Helm's own default Kubernetes version (Helm SDK v4.2).
pub const HELM_DEFAULT_KUBE_VERSION: &str = "v1.36.0";

/// The Helm version charts see (`.Capabilities.HelmVersion.Version`).
pub const HELM_VERSION: &str = "v4.2";

/// What the chart may assume about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// `vMAJOR.MINOR.PATCH`.
    pub kube_version: String,
    /// `group/version` (and `group/version/Kind`) strings the cluster serves.
    pub api_versions: Vec<String>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: DEFAULT_KUBE_VERSION.to_string(),
            api_versions: DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Capabilities {
    /// Helm's own defaults (`helm template`) with another Kubernetes version
    /// and extra API versions: what plumb's renders are compared with.
    pub fn helm_defaults(kube_version: Option<&str>, extra_api_versions: &[String]) -> Result<Self, String> {
        let helm = Capabilities {
            kube_version: HELM_DEFAULT_KUBE_VERSION.to_string(),
            api_versions: HELM_DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
        };
        helm.with(kube_version, extra_api_versions)
    }

    /// What a cluster serves: its `gitVersion` and API versions (discovery).
    pub fn of_cluster(server_version: &str, api_versions: Vec<String>) -> Self {
        let kube_version = normalize_version(server_version).unwrap_or_else(|_| server_version.to_string());
        Capabilities { kube_version, api_versions }
    }

    /// plumb's offline defaults with another Kubernetes version and extra API
    /// versions (`plumb render --kube-version --api-versions`).
    pub fn offline(kube_version: Option<&str>, extra_api_versions: &[String]) -> Result<Self, String> {
        Capabilities::default().with(kube_version, extra_api_versions)
    }

    fn with(mut self, kube_version: Option<&str>, extra_api_versions: &[String]) -> Result<Self, String> {
        if let Some(version) = kube_version {
            self.kube_version = normalize_version(version)?;
        }
        self.api_versions.extend(extra_api_versions.iter().cloned());
        Ok(self)
    }

    /// The template value of `.Capabilities`.
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("KubeVersion".into(), Value::Object(Rc::new(KubeVersion::parse(&self.kube_version))));
        map.insert("APIVersions".into(), Value::Object(Rc::new(ApiVersions(self.api_versions.clone()))));
        let mut helm = Map::new();
        helm.insert("Version".into(), Value::str(HELM_VERSION));
        helm.insert("GitCommit".into(), Value::str(""));
        helm.insert("GitTreeState".into(), Value::str(""));
        helm.insert("GoVersion".into(), Value::str(""));
        map.insert("HelmVersion".into(), Value::map(helm));
        Value::map(map)
    }
}

/// `1.30`, `v1.30.0`, `1.30.0-gke.1` → `v1.30.0...`; an error names the input.
pub fn normalize_version(version: &str) -> Result<String, String> {
    let trimmed = version.trim().trim_start_matches('v');
    plumb_gotmpl::funcs::semver::parse_version(trimmed)
        .ok_or_else(|| format!("kube version {version:?} is not a semantic version (expected e.g. v1.30.0)"))?;
    let mut parts: Vec<&str> = trimmed.splitn(2, '-').collect();
    let core = parts.remove(0);
    let mut numbers: Vec<String> = core.split('.').map(str::to_string).collect();
    while numbers.len() < 3 {
        numbers.push("0".into());
    }
    let suffix = parts.first().map(|p| format!("-{p}")).unwrap_or_default();
    Ok(format!("v{}{suffix}", numbers.join(".")))
}

struct KubeVersion {
    version: String,
    major: String,
    minor: String,
}

impl KubeVersion {
    fn parse(version: &str) -> Self {
        let core = version.trim_start_matches('v');
        let mut parts = core.split(['.', '-', '+']);
        KubeVersion {
            version: version.to_string(),
            major: parts.next().unwrap_or_default().to_string(),
            minor: parts.next().unwrap_or_default().to_string(),
        }
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "*common.KubeVersion"
    }

    fn field(&self, name: &str) -> Option<Result<Value, String>> {
        Some(Ok(match name {
            "Version" | "GitVersion" | "String" => Value::str(self.version.as_str()),
            "Major" => Value::str(self.major.as_str()),
            "Minor" => Value::str(self.minor.as_str()),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        self.version.clone()
    }
}

struct ApiVersions(Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> &str {
        "common.VersionSet"
    }

    fn kind_name(&self) -> &'static str {
        "slice"
    }

    fn field(&self, _name: &str) -> Option<Result<Value, String>> {
        None
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match (name, args) {
            ("Has", [Value::Str(api)]) => Some(Ok(Value::Bool(self.0.iter().any(|a| a == api.as_ref())))),
            ("Has", _) => Some(Err("wrong number or type of args for Has: want 1 string".into())),
            _ => None,
        }
    }

    fn display(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }

    fn as_list(&self) -> Option<Vec<Value>> {
        Some(self.0.iter().map(|a| Value::str(a.as_str())).collect())
    }
}
