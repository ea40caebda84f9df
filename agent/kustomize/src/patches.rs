//! `patches`, `patchesStrategicMerge` and `patchesJson6902`: loading a patch
//! (strategic merge or JSON 6902, told apart as kustomize does), selecting
//! its targets, and applying it.

use serde_json::Value;

use crate::json6902::{self, Operation};
use crate::kustomization::Selector;
use crate::resource::{ResMap, Resource};
use crate::schema::Schema;

/// A loaded patch.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// Strategic-merge patches (objects).
    Strategic(Vec<Value>),
    /// JSON 6902 operations.
    Json(Vec<Operation>),
}

/// Parses objects as kustomize's resource factory does: empty documents
/// dropped, `kind` and `metadata.name` required, `*List` kinds flattened.
pub fn objects_from_text(text: &str) -> Result<Vec<Value>, String> {
    objects_with(text, crate::yaml::Dialect::Resource)
}

/// Parses strategic-merge patches (as kyaml reads them: a repeated key keeps its first value).
pub fn patches_from_text(text: &str) -> Result<Vec<Value>, String> {
    objects_with(text, crate::yaml::Dialect::Patch)
}

fn objects_with(text: &str, dialect: crate::yaml::Dialect) -> Result<Vec<Value>, String> {
    let docs = crate::yaml::parse_documents(text, dialect)?;
    let mut out = Vec::new();
    let mut pending: std::collections::VecDeque<Value> = docs.into();
    while let Some(doc) = pending.pop_front() {
        if doc.is_null() || doc.as_object().is_some_and(|m| m.is_empty()) {
            continue;
        }
        let Value::Object(map) = &doc else { return Err("a document is not a mapping (an object)".into()) };
        let kind = map.get("kind").and_then(crate::yaml::scalar_text).unwrap_or_default();
        if kind.is_empty() {
            return Err(format!("missing kind in object {}", short(&doc)));
        }
        if kind.ends_with("List") {
            match map.get("items") {
                Some(Value::Array(items)) => {
                    pending.extend(items.iter().cloned());
                    continue;
                }
                Some(Value::Null) => continue,
                Some(_) => return Err(format!("expected array in {kind}/items")),
                None => {}
            }
        } else if doc["metadata"]["name"].as_str().is_none_or(str::is_empty) {
            return Err(format!("missing metadata.name in object {}", short(&doc)));
        }
        out.push(doc);
    }
    Ok(out)
}

fn short(doc: &Value) -> String {
    let mut text = doc.to_string();
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Tells a strategic-merge patch from a JSON patch.
pub fn load(text: &str, source: &str) -> Result<Loaded, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("patch {source} is empty"));
    }
    let strategic = patches_from_text(text);
    let json = json6902::decode(text).and_then(|ops| if ops.is_empty() { Err("empty".into()) } else { Ok(ops) });
    match (strategic, json) {
        (Ok(s), Ok(_)) if !s.is_empty() => Err(format!("illegally qualifies as both an SM and JSON patch: {source}")),
        (Ok(s), _) if !s.is_empty() => Ok(Loaded::Strategic(s)),
        (_, Ok(ops)) => Ok(Loaded::Json(ops)),
        (Ok(_), Err(_)) => Err(format!("patch appears to be empty: {source}")),
        (Err(e), Err(_)) => Err(format!("unable to parse SM or JSON patch from {source}: {e}")),
    }
}

/// Indices of the resources a selector picks.
pub fn select(m: &ResMap, s: &Selector) -> Result<Vec<usize>, String> {
    let rx = |p: &str| -> Result<Option<regex::Regex>, String> {
        if p.is_empty() {
            return Ok(None);
        }
        regex::Regex::new(&format!("^(?:{p})$")).map(Some).map_err(|e| format!("invalid target regex {p:?}: {e}"))
    };
    let (group, version, kind, name, ns) =
        (rx(&s.group)?, rx(&s.version)?, rx(&s.kind)?, rx(&s.name)?, rx(&s.namespace)?);
    let hit = |r: &Option<regex::Regex>, text: &str| r.as_ref().is_none_or(|r| r.is_match(text));
    let mut out = Vec::new();
    for (i, r) in m.list.iter().enumerate() {
        let (cur, org) = (r.cur_id(), r.org_id());
        if !hit(&ns, &org.effective_namespace()) && !hit(&ns, &cur.effective_namespace()) {
            continue;
        }
        if !hit(&name, &org.name) && !hit(&name, &cur.name) {
            continue;
        }
        let gvk = r.gvk();
        if !hit(&group, &gvk.group) || !hit(&version, &gvk.version) || !hit(&kind, &gvk.kind) {
            continue;
        }
        if !r.matches_selectors(&s.label_selector, &s.annotation_selector)? {
            continue;
        }
        out.push(i);
    }
    Ok(out)
}

/// Options of a `patches:` entry.
#[derive(Debug, Clone, Copy, Default)]
pub struct PatchOptions {
    /// The patch may rename its target.
    pub allow_name_change: bool,
    /// The patch may change its target's kind.
    pub allow_kind_change: bool,
}

/// Applies one strategic-merge patch to the resource at `index`;
/// returns false when the patch deleted it.
pub fn apply_strategic(r: &mut Resource, patch: &Value, opts: PatchOptions, schema: &Schema) -> Result<bool, String> {
    let (name, ns, kind) = (r.name(), r.namespace(), r.kind());
    if opts.allow_name_change || opts.allow_kind_change {
        r.store_previous_id();
    }
    let merged = crate::smp::merge(std::mem::take(&mut r.obj), patch.clone(), schema)?;
    let Some(merged) = merged.filter(|m| m.as_object().is_some_and(|o| !o.is_empty())) else {
        return Ok(false);
    };
    r.obj = merged;
    if !opts.allow_kind_change {
        r.obj["kind"] = Value::String(kind);
    }
    if !opts.allow_name_change {
        r.set_name(&name);
    }
    r.set_namespace(&ns);
    Ok(true)
}

/// A `patches:` entry (PatchTransformer).
pub fn run_patch(
    m: &mut ResMap,
    loaded: &Loaded,
    target: Option<&Selector>,
    opts: PatchOptions,
    source: &str,
    schema: &Schema,
) -> Result<(), String> {
    match loaded {
        Loaded::Strategic(patches) => {
            if let Some(target) = target {
                let [patch] = patches.as_slice() else {
                    return Err(format!(
                        "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field: {source}"
                    ));
                };
                let selected = select(m, target)?;
                apply_to_selected(m, &selected, patch, opts, schema)
            } else {
                for patch in patches {
                    let id = crate::resid::ResId::of(patch);
                    let i = m
                        .get_by_id(&id)
                        .map_err(|e| format!("no resource matches strategic merge patch \"{}\": {e}", id.display()))?;
                    if !apply_strategic(&mut m.list[i], patch, opts, schema)? {
                        m.list.remove(i);
                    }
                }
                Ok(())
            }
        }
        Loaded::Json(ops) => {
            let target = target.ok_or_else(|| format!("must specify a target for JSON patch {source}"))?;
            for i in select(m, target)? {
                let r = &mut m.list[i];
                r.store_previous_id();
                json6902::apply(&mut r.obj, ops)?;
            }
            Ok(())
        }
    }
}

/// `patchesStrategicMerge` (PatchStrategicMergeTransformer): each patch
/// targets the one resource with its id.
pub fn run_strategic_merge(m: &mut ResMap, patches: &[Value], schema: &Schema) -> Result<(), String> {
    for patch in patches {
        let i = m.get_by_id(&crate::resid::ResId::of(patch))?;
        apply_to_selected(m, &[i], patch, PatchOptions::default(), schema)?;
    }
    Ok(())
}

/// `patchesJson6902` (PatchJson6902Transformer).
pub fn run_json6902(m: &mut ResMap, ops: &[Operation], target: &Selector) -> Result<(), String> {
    for i in select(m, target)? {
        json6902::apply(&mut m.list[i].obj, ops)?;
    }
    Ok(())
}

/// kustomize's `ResMap.ApplySmPatch`: the patch takes each target's
/// apiVersion (and keeps its own kind); emptied resources are dropped.
fn apply_to_selected(
    m: &mut ResMap,
    selected: &[usize],
    patch: &Value,
    opts: PatchOptions,
    schema: &Schema,
) -> Result<(), String> {
    let mut keep = Vec::with_capacity(m.list.len());
    for (i, mut r) in std::mem::take(&mut m.list).into_iter().enumerate() {
        if selected.contains(&i) {
            let mut p = patch.clone();
            p["apiVersion"] = r.obj["apiVersion"].clone();
            if !apply_strategic(&mut r, &p, opts, schema)? {
                continue;
            }
        }
        keep.push(r);
    }
    let mut rebuilt = ResMap::default();
    for r in keep {
        rebuilt.append(r)?;
    }
    *m = rebuilt;
    Ok(())
}
