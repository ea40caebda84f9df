//! Field specs: "in objects of this group/version/kind, the field at this
//! path" — how every transformer finds what to change (kustomize's
//! `fieldspec` filter). Paths are `/`-separated; `name[]` steps into every
//! element of a list; `\/` escapes a slash.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::resid::Gvk;

/// One field spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// API group the object must have (any when empty).
    #[serde(default)]
    pub group: String,
    /// Version the object must have (any when empty).
    #[serde(default)]
    pub version: String,
    /// Kind the object must have (any when empty).
    #[serde(default)]
    pub kind: String,
    /// The field's path.
    #[serde(default)]
    pub path: String,
    /// Create the field when it is missing.
    #[serde(default)]
    pub create: bool,
}

impl FieldSpec {
    /// A spec for `path` in every kind.
    pub fn any_kind(path: &str, create: bool) -> FieldSpec {
        FieldSpec { path: path.into(), create, ..FieldSpec::default() }
    }

    /// The spec's group/version/kind selector.
    pub fn gvk(&self) -> Gvk {
        Gvk { group: self.group.clone(), version: self.version.clone(), kind: self.kind.clone() }
    }

    /// The object's type is selected by this spec.
    pub fn matches(&self, gvk: &Gvk) -> bool {
        gvk.is_selected(&self.gvk())
    }
}

/// Adds specs not already present; a spec present with the other `create`
/// flag is a conflict.
pub fn merge_all(into: &mut Vec<FieldSpec>, incoming: &[FieldSpec]) -> Result<(), String> {
    for spec in incoming {
        match into.iter().find(|x| x.gvk().is_selected(&spec.gvk()) && x.path == spec.path) {
            Some(existing) if existing.create != spec.create => {
                return Err(format!("conflicting fieldspecs for path {:?}", spec.path));
            }
            Some(_) => {}
            None => into.push(spec.clone()),
        }
    }
    Ok(())
}

/// What a missing field is created as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Never created.
    Nothing,
    /// An empty string.
    Scalar,
    /// An empty mapping.
    Mapping,
}

/// Splits a path on `delimiter`, keeping `\`-escaped delimiters.
pub fn split_path(path: &str, delimiter: char) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut pieces = path.split(delimiter).collect::<Vec<_>>();
    if pieces.len() > 1 && pieces.first() == Some(&"") {
        pieces.remove(0);
    }
    for piece in pieces {
        match parts.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push(delimiter);
                last.push_str(piece);
            }
            _ => parts.push(piece.to_string()),
        }
    }
    parts
}

/// Calls `set` on every field `spec` selects in `obj` (creating it when
/// the spec says so and `create` allows).
pub fn apply(
    obj: &mut Value,
    spec: &FieldSpec,
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if !spec.matches(&Gvk::of(obj)) {
        return Ok(());
    }
    let path = split_path(&spec.path, '/');
    let create = if spec.create { create } else { Create::Nothing };
    walk(obj, &path, create, set).map_err(|e| {
        format!("considering field '{}' of object {}: {e}", spec.path, crate::resid::ResId::of(obj).display())
    })
}

fn walk(
    node: &mut Value,
    path: &[String],
    create: Create,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else { return set(node) };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                walk(item, path, create, set)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let (name, is_seq) = match first.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (first.as_str(), false),
            };
            if name.is_empty() {
                return Err("cannot set or create an empty field name".into());
            }
            let creating = match create {
                Create::Nothing => None,
                _ if is_seq => None,
                kind if rest.is_empty() => Some(kind),
                _ => Some(Create::Mapping),
            };
            let field = match creating {
                None => match map.get_mut(name) {
                    Some(f) => f,
                    None => return Ok(()),
                },
                Some(kind) => {
                    let f = map.entry(name).or_insert(Value::Null);
                    if f.is_null() {
                        *f = match kind {
                            Create::Mapping => Value::Object(Map::new()),
                            _ => Value::String(String::new()),
                        };
                    }
                    f
                }
            };
            walk(field, rest, create, set)
        }
        _ => Err("expected sequence or mapping node".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_lists_and_creation() {
        assert_eq!(split_path("metadata/annotations/a\\/b", '/'), ["metadata", "annotations", "a/b"]);
        assert_eq!(split_path("/spec", '/'), ["spec"]);
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        let spec = FieldSpec {
            kind: "Deployment".into(),
            path: "spec/template/spec/containers[]/name".into(),
            ..FieldSpec::default()
        };
        let mut seen = Vec::new();
        apply(&mut obj, &spec, Create::Nothing, &mut |v| {
            seen.push(v.clone());
            *v = json!("x");
            Ok(())
        })
        .expect("applies");
        assert_eq!(seen, [json!("a"), json!("b")]);
        let labels = FieldSpec::any_kind("metadata/labels", true);
        apply(&mut obj, &labels, Create::Mapping, &mut |v| {
            v.as_object_mut().map(|m| m.insert("k".into(), json!("v")));
            Ok(())
        })
        .expect("creates");
        assert_eq!(obj["metadata"]["labels"], json!({"k": "v"}));
        let other = FieldSpec { kind: "Service".into(), path: "spec/x".into(), create: true, ..FieldSpec::default() };
        apply(&mut obj, &other, Create::Scalar, &mut |_| Err("not called".into())).expect("skipped");
        let scalar = FieldSpec::any_kind("kind/x", false);
        assert!(apply(&mut obj, &scalar, Create::Nothing, &mut |_| Ok(())).is_err());
    }

    #[test]
    fn merging_specs() {
        let mut specs = vec![FieldSpec { kind: "Deployment".into(), path: "a".into(), ..FieldSpec::default() }];
        merge_all(&mut specs, &[FieldSpec { kind: "Deployment".into(), path: "a".into(), ..FieldSpec::default() }])
            .expect("same");
        assert_eq!(specs.len(), 1);
        merge_all(&mut specs, &[FieldSpec::any_kind("b", false)]).expect("new");
        assert_eq!(specs.len(), 2);
        assert!(merge_all(&mut specs, &[FieldSpec::any_kind("b", true)]).is_err());
    }
}
