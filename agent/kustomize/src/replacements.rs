//! `replacements:`: copy a field of one object into fields of others
//! (kustomize's `replacement` filter), with delimiter/index options and
//! `create`.

use serde::Deserialize;
use serde_json::Value;

use crate::paths::{CreateKind, for_each_match, lookup, smarter_split};
use crate::resid::{Gvk, ResId};
use crate::resource::ResMap;
use crate::yaml::{resolve_plain, scalar_text};

/// One replacement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    /// Where the value comes from.
    pub source: Option<Source>,
    /// Where it goes.
    pub targets: Option<Vec<Target>>,
}

/// The source object and field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Source {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub field_path: String,
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// Targets: selected objects and fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Target {
    pub select: Option<crate::kustomization::Selector>,
    #[serde(default)]
    pub reject: Vec<crate::kustomization::Selector>,
    #[serde(default)]
    pub field_paths: Vec<String>,
    #[serde(default)]
    pub options: Option<FieldOptions>,
}

/// Delimiter/index and create options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FieldOptions {
    #[serde(default)]
    pub delimiter: String,
    #[serde(default)]
    pub index: i64,
    #[serde(default)]
    pub encoding: String,
    #[serde(default)]
    pub create: bool,
}

impl Source {
    fn res_id(&self) -> ResId {
        ResId {
            gvk: Gvk { group: self.group.clone(), version: self.version.clone(), kind: self.kind.clone() },
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

/// Applies the replacements in order.
pub fn run(m: &mut ResMap, replacements: &[Replacement]) -> Result<(), String> {
    for r in replacements {
        let (Some(source), Some(targets)) = (&r.source, &r.targets) else {
            return Err("replacements must specify a source and at least one target".into());
        };
        let value = source_value(m, source)?;
        for target in targets {
            apply_target(m, &value, target)?;
        }
    }
    Ok(())
}

fn source_value(m: &ResMap, source: &Source) -> Result<Value, String> {
    let sel = source.res_id();
    let matches: Vec<usize> =
        (0..m.list.len()).filter(|&i| m.list[i].all_ids().iter().any(|id| id.is_selected_by(&sel))).collect();
    let i = match matches.as_slice() {
        [i] => *i,
        [] => return Err(format!("nothing selected by {}", sel.display())),
        _ => return Err(format!("multiple matches for selector {}", sel.display())),
    };
    let path = if source.field_path.is_empty() { "metadata.name" } else { &source.field_path };
    let found = lookup(&m.list[i].obj, &smarter_split(path))
        .map_err(|e| format!("error looking up replacement source: {e}"))?;
    let value = match found {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) if o.is_empty() => None,
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(v) => Some(v.clone()),
    }
    .ok_or_else(|| format!("fieldPath `{path}` is missing for replacement source {}", sel.display()))?;
    match &source.options {
        Some(o) if !o.delimiter.is_empty() => {
            let text = scalar_text(&value)
                .filter(|_| !value.is_object() && !value.is_array())
                .ok_or("delimiter option can only be used with scalar nodes")?;
            let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
            let part = usize::try_from(o.index)
                .ok()
                .and_then(|i| parts.get(i))
                .ok_or_else(|| format!("options.index {} is out of bounds for value {text}", o.index))?;
            Ok(retype(&value, part))
        }
        _ => Ok(value),
    }
}

/// A scalar node whose text changed keeps its type, as in kyaml.
fn retype(like: &Value, text: &str) -> Value {
    match like {
        Value::String(_) => Value::String(text.to_string()),
        _ => match resolve_plain(text, crate::yaml::Dialect::Resource) {
            Value::Number(n) if like.is_number() => Value::Number(n),
            Value::Bool(b) if like.is_boolean() => Value::Bool(b),
            _ => Value::String(text.to_string()),
        },
    }
}

fn apply_target(m: &mut ResMap, value: &Value, target: &Target) -> Result<(), String> {
    let select = target.select.as_ref().ok_or("target must specify resources to select")?;
    let paths =
        if target.field_paths.is_empty() { vec!["metadata.name".to_string()] } else { target.field_paths.clone() };
    let create = target.options.as_ref().is_some_and(|o| o.create);
    for r in &mut m.list {
        if !r.matches_selectors(&select.label_selector, &select.annotation_selector)? {
            continue;
        }
        let mut rejected = false;
        for reject in &target.reject {
            if reject.label_selector.is_empty() && reject.annotation_selector.is_empty() {
                continue;
            }
            if r.matches_selectors(&reject.label_selector, &reject.annotation_selector)? {
                rejected = true;
            }
        }
        if rejected {
            continue;
        }
        let ids = r.all_ids();
        let reject_by_id = target
            .reject
            .iter()
            .filter(|s| s.res_id() != ResId::default())
            .any(|s| ids.iter().any(|id| id.is_selected_by(&s.res_id())));
        if !ids.iter().any(|id| id.is_selected_by(&select.res_id())) || reject_by_id {
            continue;
        }
        for fp in &paths {
            let kind = match (create, value) {
                (false, _) => CreateKind::No,
                (true, Value::Object(_)) => CreateKind::Map,
                (true, Value::Array(_)) => CreateKind::List,
                (true, _) => CreateKind::Scalar,
            };
            let n = for_each_match(&mut r.obj, &smarter_split(fp), kind, &mut |field| set_value(target, field, value))
                .map_err(|e| retrieval_error(fp, create, &e))?;
            if n == 0 {
                return Err(retrieval_error(fp, create, ""));
            }
        }
    }
    Ok(())
}

fn retrieval_error(fp: &str, create: bool, detail: &str) -> String {
    let base = if create {
        format!("unable to find or create field {fp:?} in replacement target")
    } else {
        format!("unable to find field {fp:?} in replacement target")
    };
    if detail.is_empty() { base } else { format!("{base}: {detail}") }
}

fn set_value(target: &Target, field: &mut Value, value: &Value) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(o) = target.options.as_ref().filter(|o| !o.delimiter.is_empty()) {
        if field.is_object() || field.is_array() {
            return Err("delimiter option can only be used with scalar nodes".into());
        }
        let current = scalar_text(field).unwrap_or_default();
        let mut parts: Vec<String> = current.split(o.delimiter.as_str()).map(str::to_string).collect();
        let v = scalar_text(&value).unwrap_or_default();
        match usize::try_from(o.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        value = retype(&value, &parts.join(&o.delimiter));
    }
    match (&*field, &value) {
        // A created (untagged) scalar takes the source's text, resolved.
        (Value::Null, v) if !v.is_object() && !v.is_array() => {
            *field = resolve_plain(&scalar_text(v).unwrap_or_default(), crate::yaml::Dialect::Resource);
        }
        // A scalar target keeps its own type and takes the source's text.
        (Value::String(_), v) if !v.is_object() && !v.is_array() => {
            *field = Value::String(scalar_text(v).unwrap_or_default());
        }
        (Value::Number(_) | Value::Bool(_), v) if !v.is_object() && !v.is_array() => {
            *field = retype(field, &scalar_text(v).unwrap_or_default());
        }
        _ => *field = value,
    }
    Ok(())
}

/// Reads `replacements:` entries (inline or `path:` files).
pub fn load(
    fields: &[crate::kustomization::ReplacementField],
    read: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<Replacement>, String> {
    let mut out = Vec::new();
    for f in fields {
        if !f.path.is_empty() {
            if f.source.is_some() || f.targets.is_some() {
                return Err("cannot specify both path and inline replacement".into());
            }
            let text = read(&f.path)?;
            let value =
                crate::yaml::parse_one(&text, crate::yaml::Dialect::Config).map_err(|e| format!("{}: {e}", f.path))?;
            match value {
                Value::Array(items) => {
                    for item in items {
                        out.push(serde_json::from_value(item).map_err(|e| format!("{}: {e}", f.path))?);
                    }
                }
                Value::Object(_) => out.push(serde_json::from_value(value).map_err(|e| format!("{}: {e}", f.path))?),
                _ => {
                    return Err(format!("unsupported replacement type encountered within replacement path {}", f.path));
                }
            }
        } else {
            let mut obj = serde_json::Map::new();
            if let Some(s) = &f.source {
                obj.insert("source".into(), s.clone());
            }
            if let Some(t) = &f.targets {
                obj.insert("targets".into(), t.clone());
            }
            out.push(serde_json::from_value(Value::Object(obj)).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}
