//! A desired object: a rendered manifest normalised for apply, with its key
//! and a stable hash.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{APP_LABEL, ObjectKey, PlanError};

/// The app an object is rendered for.
#[derive(Debug, Clone)]
pub struct AppContext {
    /// App name; the value of the `plumb.dev/app` label.
    pub name: String,
    /// Default namespace for namespaced objects without one.
    pub namespace: Option<String>,
}

/// Whether each kind is namespaced: from discovery, plus CRDs in the render.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    namespaced: HashMap<(String, String), bool>,
}

impl Scopes {
    /// Records that `group`/`kind` is (or is not) namespaced.
    pub fn insert(&mut self, group: &str, kind: &str, namespaced: bool) {
        self.namespaced.insert((group.to_string(), kind.to_string()), namespaced);
    }

    /// `Some(namespaced)` for a known kind.
    pub fn namespaced(&self, group: &str, kind: &str) -> Option<bool> {
        self.namespaced.get(&(group.to_string(), kind.to_string())).copied()
    }

    /// Adds the kinds defined by CustomResourceDefinitions among `manifests`,
    /// so their objects can be planned in the same sync as the CRD.
    pub fn add_crds<'a>(&mut self, manifests: impl IntoIterator<Item = &'a Value>) {
        for m in manifests {
            if m["kind"] == "CustomResourceDefinition"
                && ObjectKey::group_of(m["apiVersion"].as_str().unwrap_or("")) == "apiextensions.k8s.io"
                && let (Some(group), Some(kind)) = (m["spec"]["group"].as_str(), m["spec"]["names"]["kind"].as_str())
            {
                self.insert(group, kind, m["spec"]["scope"] == "Namespaced");
            }
        }
    }
}

/// A manifest as rendered, before normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedObject {
    /// Where it came from: `path/file.yaml` (and `#N` for the Nth document).
    pub origin: String,
    /// The parsed manifest.
    pub manifest: Value,
}

/// A manifest ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredObject {
    /// Identity.
    pub key: ObjectKey,
    /// The apiVersion to apply with.
    pub api_version: String,
    /// The normalised manifest.
    pub manifest: Value,
    /// `sha256:<hex>` of the canonical JSON of `manifest`.
    pub hash: String,
    /// Where it came from (file, document), for messages.
    pub origin: String,
}

impl DesiredObject {
    /// An annotation of the object.
    pub fn annotation(&self, name: &str) -> Option<&str> {
        self.manifest["metadata"]["annotations"][name].as_str()
    }
}

fn required_str<'a>(manifest: &'a Value, pointer: &str, field: &str, origin: &str) -> Result<&'a str, PlanError> {
    match manifest.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(PlanError::InvalidObject { origin: origin.into(), field: field.into(), problem: "is missing".into() })
        }
        Some(other) => Err(PlanError::InvalidObject {
            origin: origin.into(),
            field: field.into(),
            problem: format!("must be a string, not {other}"),
        }),
    }
}

/// Normalises a rendered manifest for `app`: [`identify`], then
/// [`with_apply_fixes`].
pub fn normalise(app: &AppContext, manifest: Value, origin: &str, scopes: &Scopes) -> Result<DesiredObject, PlanError> {
    let (key, api_version, manifest) = identify(app, manifest, origin, scopes)?;
    Ok(with_apply_fixes(key, api_version, manifest, origin))
}

/// An [`identify`]-ed object made ready to apply: a Secret's `stringData`
/// folded into `data`, and the hash of the result.
pub fn with_apply_fixes(key: ObjectKey, api_version: String, mut manifest: Value, origin: &str) -> DesiredObject {
    if key.group.is_empty() && key.kind == "Secret" {
        string_data_to_data(&mut manifest);
    }
    let hash = hash_value(&manifest);
    DesiredObject { key, api_version, manifest, hash, origin: origin.to_string() }
}

/// The object as rendered, owned by `app`: its key, its apiVersion, and the
/// manifest with the app's default namespace filled in (or a namespace
/// dropped from a cluster-scoped object) and the `plumb.dev/app` label.
/// This is what `plumb render` prints; apply-time fixes come after.
pub fn identify(
    app: &AppContext,
    mut manifest: Value,
    origin: &str,
    scopes: &Scopes,
) -> Result<(ObjectKey, String, Value), PlanError> {
    if !manifest.is_object() {
        return Err(PlanError::InvalidObject {
            origin: origin.into(),
            field: "(document)".into(),
            problem: "is not a mapping".into(),
        });
    }
    let api_version = required_str(&manifest, "/apiVersion", "apiVersion", origin)?.to_string();
    let kind = required_str(&manifest, "/kind", "kind", origin)?.to_string();
    let name = required_str(&manifest, "/metadata/name", "metadata.name", origin)?.to_string();
    let group = ObjectKey::group_of(&api_version).to_string();
    let namespaced = scopes.namespaced(&group, &kind).ok_or_else(|| PlanError::UnknownKind {
        origin: origin.into(),
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let metadata =
        manifest.get_mut("metadata").and_then(Value::as_object_mut).ok_or_else(|| PlanError::InvalidObject {
            origin: origin.into(),
            field: "metadata".into(),
            problem: "must be a mapping".into(),
        })?;
    let namespace = if namespaced {
        let ns = match metadata.get("namespace").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(ns) => ns.to_string(),
            None => app.namespace.clone().ok_or_else(|| PlanError::MissingNamespace {
                origin: origin.into(),
                key: format!("{kind}/{name}"),
                app: app.name.clone(),
            })?,
        };
        metadata.insert("namespace".into(), Value::String(ns.clone()));
        Some(ns)
    } else {
        // A cluster-scoped object with a namespace is rejected by server-side
        // apply; charts often set one anyway (Helm ignores it too).
        metadata.remove("namespace");
        None
    };
    let key = ObjectKey::new(&group, &kind, namespace.as_deref(), &name);
    let labels = metadata.entry("labels").or_insert_with(|| Value::Object(Map::new()));
    let labels = labels.as_object_mut().ok_or_else(|| PlanError::InvalidObject {
        origin: origin.into(),
        field: "metadata.labels".into(),
        problem: "must be a mapping".into(),
    })?;
    match labels.get(APP_LABEL).and_then(Value::as_str) {
        Some(other) if other != app.name => {
            return Err(PlanError::ForeignAppLabel {
                origin: origin.into(),
                key: key.to_string(),
                other: other.to_string(),
                app: app.name.clone(),
            });
        }
        _ => {
            labels.insert(APP_LABEL.into(), Value::String(app.name.clone()));
        }
    }
    Ok((key, api_version, manifest))
}

/// The key `manifest` gets once identified for `app`, without copying it
/// (`None` for a manifest [`identify`] rejects: the sync reports why).
pub fn key_of(app: &AppContext, manifest: &Value, scopes: &Scopes) -> Option<ObjectKey> {
    let api_version = manifest["apiVersion"].as_str()?;
    let kind = manifest["kind"].as_str()?;
    let name = manifest["metadata"]["name"].as_str().filter(|n| !n.is_empty())?;
    let group = ObjectKey::group_of(api_version);
    let namespace = if scopes.namespaced(group, kind)? {
        Some(
            manifest["metadata"]["namespace"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .or_else(|| app.namespace.clone())?,
        )
    } else {
        None
    };
    Some(ObjectKey::new(group, kind, namespace.as_deref(), name))
}

/// `sha256:<hex>` of the canonical JSON (sorted keys) of `value`.
pub fn hash_value(value: &Value) -> String {
    // serde_json's map keeps keys sorted (no preserve_order feature), so the
    // serialisation is canonical.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    format!("sha256:{}", hex(&Sha256::digest(&bytes)))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Moves a Secret's `stringData` into `data` (base64). The API server
/// stores only `data`, so plumb must own `data`'s fields for a change to a
/// Secret to show as drift; `stringData` fields never exist in the object.
fn string_data_to_data(manifest: &mut Value) {
    use base64::Engine;
    let Some(object) = manifest.as_object_mut() else { return };
    let Some(Value::Object(strings)) = object.remove("stringData") else { return };
    let data = object.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let text = value.as_str().map(String::from).unwrap_or_else(|| value.to_string());
            // As the API server does: stringData wins over data.
            data.insert(key, Value::String(base64::engine::general_purpose::STANDARD.encode(text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scopes() -> Scopes {
        let mut s = Scopes::default();
        s.insert("", "ConfigMap", true);
        s.insert("", "Namespace", false);
        s.insert("", "Service", true);
        s.insert("apps", "Deployment", true);
        s.insert("rbac.authorization.k8s.io", "ClusterRole", false);
        s
    }

    fn app(ns: Option<&str>) -> AppContext {
        AppContext { name: "demo".into(), namespace: ns.map(Into::into) }
    }

    #[test]
    fn fills_namespace_and_label() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let o = normalise(&app(Some("apps")), cm, "a.yaml", &scopes()).expect("valid");
        assert_eq!(o.key.namespace.as_deref(), Some("apps"));
        assert_eq!(o.manifest["metadata"]["namespace"], "apps");
        assert_eq!(o.manifest["metadata"]["labels"][APP_LABEL], "demo");
        assert!(o.hash.starts_with("sha256:") && o.hash.len() == 71);
    }

    #[test]
    fn explicit_namespace_wins_and_cluster_scoped_drops_it() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}});
        assert_eq!(
            normalise(&app(Some("apps")), cm, "a", &scopes()).expect("valid").key.namespace.as_deref(),
            Some("x")
        );
        let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "x"}});
        let o = normalise(&app(Some("apps")), cr, "a", &scopes()).expect("valid");
        assert_eq!(o.key.namespace, None);
        assert!(o.manifest["metadata"].get("namespace").is_none());
    }

    #[test]
    fn errors_name_origin_and_field() {
        let table = [
            (json!({"kind": "ConfigMap", "metadata": {"name": "c"}}), "a.yaml: apiVersion is missing"),
            (json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}), "a.yaml: metadata.name is missing"),
            (json!({"apiVersion": "v1", "kind": 3, "metadata": {"name": "c"}}), "a.yaml: kind must be a string, not 3"),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
                "a.yaml: ConfigMap/c is namespaced but has no metadata.namespace and app demo sets no default namespace",
            ),
            (
                json!({"apiVersion": "x.io/v1", "kind": "Widget", "metadata": {"name": "w"}}),
                "a.yaml: kind Widget (apiVersion x.io/v1) is not served by the cluster",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "labels": {APP_LABEL: "other"}}}),
                "a.yaml: Namespace/n carries label plumb.dev/app=other but is rendered by app demo",
            ),
        ];
        for (manifest, want) in table {
            let err = normalise(&app(None), manifest, "a.yaml", &scopes()).expect_err(want).to_string();
            assert!(err.starts_with(want), "{err}\n  does not start with\n{want}");
        }
    }

    #[test]
    fn crds_in_render_make_their_kinds_known() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.x.io"},
            "spec": {"group": "x.io", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"}}});
        let mut s = scopes();
        s.add_crds([&crd]);
        assert_eq!(s.namespaced("x.io", "Widget"), Some(true));
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let mut s = scopes();
        s.insert("", "Secret", true);
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "b2xk", "b": "Yg=="}, "stringData": {"a": "new"}});
        let o = normalise(&app(Some("n")), secret, "a", &s).expect("valid");
        assert_eq!(o.manifest["data"], json!({"a": "bmV3", "b": "Yg=="}));
        assert!(o.manifest.get("stringData").is_none());
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = json!({"b": 1, "a": [1, 2]});
        let b: Value = serde_json::from_str(r#"{"a":[1,2],"b":1}"#).expect("json");
        assert_eq!(hash_value(&a), hash_value(&b));
        assert_ne!(hash_value(&a), hash_value(&json!({"b": 2, "a": [1, 2]})));
    }
}
