//! The field-spec transformers: namespace, name prefix and suffix, labels
//! and annotations, images, replicas, and the generated-name hash suffix.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fieldspec::{Create, FieldSpec, apply};
use crate::kustomization::{Image, Replica};
use crate::resource::ResMap;

/// How the namespace transformer treats (Cluster)RoleBinding subjects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubjectMode {
    /// Only subjects named `default`.
    #[default]
    DefaultOnly,
    /// Every ServiceAccount subject.
    AllServiceAccounts,
    /// None.
    None,
}

/// `namespace:` (NamespaceTransformer).
pub fn namespace(
    m: &mut ResMap,
    ns: &str,
    specs: &[FieldSpec],
    unset_only: bool,
    subjects: SubjectMode,
) -> Result<(), String> {
    if ns.is_empty() {
        return Ok(());
    }
    for i in 0..m.list.len() {
        let r = &mut m.list[i];
        r.store_previous_id();
        let gvk = r.gvk();
        let api_version = gvk.api_version();
        let mut set = |v: &mut Value| {
            if unset_only && v.as_str().is_some_and(|s| !s.is_empty()) {
                return Ok(());
            }
            *v = Value::String(ns.to_string());
            Ok(())
        };
        if !gvk.is_cluster_scoped() {
            apply(&mut r.obj, &FieldSpec::any_kind("metadata/namespace", true), Create::Scalar, &mut set)?;
        }
        let role_binding = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
        for spec in specs {
            if spec.path == "metadata/namespace"
                || (api_version != "v1" && spec.path == "metadata/name")
                || (role_binding
                    && (spec.kind == "RoleBinding" || spec.kind == "ClusterRoleBinding")
                    && spec.path == "subjects/namespace")
            {
                continue;
            }
            apply(&mut r.obj, spec, Create::Scalar, &mut set)
                .map_err(|e| format!("namespace transformation failed: {e}"))?;
        }
        if role_binding
            && subjects != SubjectMode::None
            && let Some(Value::Array(items)) = r.obj.get_mut("subjects")
        {
            for subject in items.iter_mut() {
                let Value::Object(s) = subject else { continue };
                let selected = match subjects {
                    SubjectMode::DefaultOnly => s.get("name").and_then(Value::as_str) == Some("default"),
                    _ => s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"),
                };
                if selected {
                    let field = s.entry("namespace").or_insert(Value::String(String::new()));
                    set(field)?;
                }
            }
        }
        let id = m.list[i].cur_id();
        if m.list.iter().filter(|x| x.cur_id().equals(&id)).count() != 1 {
            return Err(format!("namespace transformation produces ID conflict: {}", id.display()));
        }
    }
    Ok(())
}

/// Kinds whose names are never prefixed or suffixed.
fn skips_affix(gvk: &crate::resid::Gvk) -> bool {
    gvk.kind == "CustomResourceDefinition"
        || (gvk.group == "apiregistration.k8s.io" && gvk.kind == "APIService")
        || gvk.kind == "Namespace"
}

/// `namePrefix:` / `nameSuffix:` (PrefixTransformer, SuffixTransformer).
pub fn affix(m: &mut ResMap, affix: &str, is_prefix: bool, specs: &[FieldSpec]) -> Result<(), String> {
    for r in &mut m.list {
        let org = r.org_id();
        if skips_affix(&org.gvk) {
            continue;
        }
        for spec in specs {
            if !spec.matches(&org.gvk) {
                continue;
            }
            if spec.path == "metadata/name" && !affix.is_empty() {
                if is_prefix {
                    r.meta.prefixes.push(affix.to_string());
                } else {
                    r.meta.suffixes.push(affix.to_string());
                }
                r.store_previous_id();
            }
            apply(&mut r.obj, spec, Create::Scalar, &mut |v| {
                let current = crate::yaml::scalar_text(v).unwrap_or_default();
                *v = Value::String(if is_prefix { format!("{affix}{current}") } else { format!("{current}{affix}") });
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// `labels:`, `commonLabels:`, `commonAnnotations:` (Label/AnnotationsTransformer):
/// sets each pair in every mapping the specs select.
pub fn set_pairs(m: &mut ResMap, pairs: &BTreeMap<String, String>, specs: &[FieldSpec]) -> Result<(), String> {
    if pairs.is_empty() {
        return Ok(());
    }
    for k in pairs.keys() {
        if !crate::yaml::resolve_plain(k, crate::yaml::Dialect::Resource).is_string() {
            return Err(format!(
                "key {k:?} reads as a {} in YAML; kustomize cannot print it (json: unsupported type)",
                if k.is_empty() { "null" } else { "non-string" }
            ));
        }
    }
    for r in &mut m.list {
        for (k, v) in pairs {
            for spec in specs {
                apply(&mut r.obj, spec, Create::Mapping, &mut |node| match node {
                    Value::Object(map) => {
                        map.insert(k.clone(), Value::String(v.clone()));
                        Ok(())
                    }
                    Value::Null => {
                        let mut map = serde_json::Map::new();
                        map.insert(k.clone(), Value::String(v.clone()));
                        *node = Value::Object(map);
                        Ok(())
                    }
                    _ => Err(format!("wrong node kind: expected MappingNode but got {}", node_kind(node))),
                })?;
            }
        }
    }
    Ok(())
}

fn node_kind(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "SequenceNode",
        Value::Object(_) => "MappingNode",
        _ => "ScalarNode",
    }
}

/// `images:` (ImageTagTransformer): the legacy walk over every
/// `containers`/`initContainers` list, then the configured field specs.
pub fn images(m: &mut ResMap, image: &Image, specs: &[FieldSpec]) -> Result<(), String> {
    let pattern = regex::Regex::new(&format!("^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$", image.name))
        .map_err(|e| format!("images: name {:?} is not a valid pattern: {e}", image.name))?;
    let mut update = |v: &mut Value| -> Result<(), String> {
        let Some(text) = v.as_str() else {
            return match v {
                Value::Object(_) | Value::Array(_) => {
                    Err(format!("wrong node kind: expected ScalarNode but got {}", node_kind(v)))
                }
                _ => Ok(()),
            };
        };
        if !pattern.is_match(text) {
            return Ok(());
        }
        *v = Value::String(updated_image(text, image));
        Ok(())
    };
    for r in &mut m.list {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        legacy_walk(&mut r.obj, &mut update)?;
        for spec in specs {
            apply(&mut r.obj, spec, Create::Nothing, &mut update)?;
        }
    }
    Ok(())
}

fn legacy_walk(node: &mut Value, update: &mut dyn FnMut(&mut Value) -> Result<(), String>) -> Result<(), String> {
    match node {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                legacy_walk(value, update)?;
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = value
                {
                    for item in items {
                        if let Some(image) = item.get_mut("image") {
                            update(image)?;
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| legacy_walk(i, update)),
        _ => Ok(()),
    }
}

/// kustomize's `image.Split`: name, tag, digest.
pub fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@');
    let colon = search.find(':');
    match (at, colon) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (Some(a), c) if c.is_none_or(|c| a < c) => {
            let a = a + slash;
            (image[..a].to_string(), String::new(), image[a + 1..].to_string())
        }
        (Some(a), Some(c)) => {
            let (a, c) = (a + slash, c + slash);
            (image[..c].to_string(), image[c + 1..a].to_string(), image[a + 1..].to_string())
        }
        (None, Some(c)) => {
            let c = c + slash;
            (image[..c].to_string(), image[c + 1..].to_string(), String::new())
        }
        (Some(_), None) => (image.to_string(), String::new(), String::new()),
    }
}

fn updated_image(value: &str, image: &Image) -> String {
    let (mut name, mut tag, mut digest) = split_image(value);
    if !image.new_name.is_empty() {
        name = image.new_name.clone();
    }
    if !image.new_tag.is_empty() && !image.digest.is_empty() {
        tag = image.new_tag.clone();
        digest = image.digest.clone();
    } else if !image.new_tag.is_empty() {
        tag = image.new_tag.clone();
        digest.clear();
    } else if !image.digest.is_empty() {
        tag.clear();
        digest = image.digest.clone();
    } else if !image.tag_suffix.is_empty() {
        tag.push_str(&image.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    name
}

/// `replicas:` (ReplicaCountTransformer); an entry matching nothing is an error.
pub fn replicas(m: &mut ResMap, replica: &Replica, specs: &[FieldSpec]) -> Result<(), String> {
    let mut found = false;
    for spec in specs {
        let gvk = spec.gvk();
        for i in m.by_any_id(|id| id.name == replica.name && id.gvk.is_selected(&gvk)) {
            found = true;
            apply(&mut m.list[i].obj, spec, Create::Scalar, &mut |v| {
                *v = Value::Number(replica.count.into());
                Ok(())
            })?;
        }
    }
    if !found {
        let gvks: Vec<String> = specs.iter().map(|s| s.gvk().display()).collect();
        return Err(format!(
            "resource with name {} does not match a config with the following GVK [{}]",
            replica.name,
            gvks.join(" ")
        ));
    }
    Ok(())
}

/// Appends `-<hash>` to generated names that want it.
pub fn hash_names(m: &mut ResMap) -> Result<(), String> {
    for r in &mut m.list {
        if r.meta.needs_hash {
            let hash = crate::hash::resource_hash(&r.obj)?;
            r.store_previous_id();
            let name = format!("{}-{hash}", r.name());
            r.set_name(&name);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_split_and_update() {
        let table = [
            ("nginx", ("nginx", "", "")),
            ("nginx:1.2", ("nginx", "1.2", "")),
            ("localhost:5000/app:v1", ("localhost:5000/app", "v1", "")),
            ("app@sha256:abc", ("app", "", "sha256:abc")),
            ("reg.io/app:v1@sha256:abc", ("reg.io/app", "v1", "sha256:abc")),
        ];
        for (image, (n, t, d)) in table {
            assert_eq!(split_image(image), (n.to_string(), t.to_string(), d.to_string()), "{image}");
        }
        let image =
            Image { name: "nginx".into(), new_name: "my/nginx".into(), new_tag: "2".into(), ..Image::default() };
        assert_eq!(updated_image("nginx:1", &image), "my/nginx:2");
        let digest = Image { name: "x".into(), digest: "sha256:1".into(), ..Image::default() };
        assert_eq!(updated_image("x:1", &digest), "x@sha256:1");
    }
}
