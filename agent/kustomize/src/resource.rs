//! Resources being built and the ordered list of them (kustomize's
//! `Resource` and `ResMap`). What kustomize keeps in build annotations
//! (previous ids, prefixes, suffixes, generator behaviour) lives in
//! [`BuildMeta`] beside the object.

use serde_json::{Map, Value};

use crate::resid::{Gvk, ResId};

/// What a generated object does to one of the same id that already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Behavior {
    /// Not generated, or `create`.
    #[default]
    Create,
    /// Replace the existing object.
    Replace,
    /// Merge data into the existing object.
    Merge,
}

/// kustomize's build annotations.
#[derive(Debug, Clone, Default)]
pub struct BuildMeta {
    /// Previous ids as (effective namespace, name, kind), oldest first.
    pub previous: Vec<(String, String, String)>,
    /// Name prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// Generator behaviour.
    pub behavior: Behavior,
    /// Append the content hash to the name.
    pub needs_hash: bool,
    /// A patch may rename the target.
    pub allow_name_change: bool,
    /// A patch may change the target's kind.
    pub allow_kind_change: bool,
}

/// One object and its build state.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The object.
    pub obj: Value,
    /// Build annotations.
    pub meta: BuildMeta,
    /// Vars (legacy) whose objref names this object.
    pub ref_var_names: Vec<String>,
    /// Where it came from, for messages.
    pub origin: String,
}

impl Resource {
    /// A resource read from `origin`.
    pub fn new(obj: Value, origin: impl Into<String>) -> Resource {
        Resource { obj, meta: BuildMeta::default(), ref_var_names: Vec::new(), origin: origin.into() }
    }

    /// Current id.
    pub fn cur_id(&self) -> ResId {
        ResId::of(&self.obj)
    }

    /// Current GVK.
    pub fn gvk(&self) -> Gvk {
        Gvk::of(&self.obj)
    }

    /// Previous ids, oldest first (with the current group and version).
    pub fn prev_ids(&self) -> Vec<ResId> {
        let gvk = self.gvk();
        self.meta
            .previous
            .iter()
            .map(|(ns, name, kind)| ResId {
                gvk: Gvk { kind: kind.clone(), ..gvk.clone() },
                name: name.clone(),
                namespace: ns.clone(),
            })
            .collect()
    }

    /// The id it was read with.
    pub fn org_id(&self) -> ResId {
        self.prev_ids().into_iter().next().unwrap_or_else(|| self.cur_id())
    }

    /// Previous ids then the current one.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut ids = self.prev_ids();
        ids.push(self.cur_id());
        ids
    }

    /// Records the current id as a previous one.
    pub fn store_previous_id(&mut self) {
        let id = self.cur_id();
        self.meta.previous.push((id.effective_namespace(), id.name, id.gvk.kind));
    }

    /// `metadata.name`.
    pub fn name(&self) -> String {
        self.obj["metadata"]["name"].as_str().unwrap_or("").to_string()
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> String {
        self.obj["metadata"]["namespace"].as_str().unwrap_or("").to_string()
    }

    /// `kind`.
    pub fn kind(&self) -> String {
        self.obj["kind"].as_str().unwrap_or("").to_string()
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        if let Some(meta) = metadata(&mut self.obj) {
            meta.insert("name".into(), Value::String(name.into()));
        }
    }

    /// Sets `metadata.namespace` (removes it when empty).
    pub fn set_namespace(&mut self, ns: &str) {
        let Some(meta) = metadata(&mut self.obj) else { return };
        if ns.is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace".into(), Value::String(ns.into()));
        }
    }

    /// Labels (or annotations) as strings.
    pub fn string_map(&self, field: &str) -> Map<String, Value> {
        let mut out = Map::new();
        if let Some(m) = self.obj["metadata"][field].as_object() {
            for (k, v) in m {
                out.insert(k.clone(), Value::String(crate::yaml::scalar_text(v).unwrap_or_default()));
            }
        }
        out
    }

    /// Replaces labels (or annotations); an empty map removes the field.
    pub fn set_string_map(&mut self, field: &str, map: Map<String, Value>) {
        let Some(meta) = metadata(&mut self.obj) else { return };
        if map.is_empty() {
            meta.remove(field);
        } else {
            meta.insert(field.into(), Value::Object(map));
        }
    }

    /// Label selector and annotation selector match.
    pub fn matches_selectors(&self, labels: &str, annotations: &str) -> Result<bool, String> {
        Ok(crate::selector::matches(labels, &self.string_map("labels"))?
            && crate::selector::matches(annotations, &self.string_map("annotations"))?)
    }

    /// Prefixes and suffixes (both lists) end the same way as `other`'s.
    pub fn prefixes_suffixes_equal(&self, other: &Resource, allow_empty: bool) -> bool {
        let same = |a: &[String], b: &[String]| same_ending(a, b);
        if allow_empty {
            let prefixes = self.meta.prefixes.is_empty()
                || other.meta.prefixes.is_empty()
                || same(&self.meta.prefixes, &other.meta.prefixes);
            let suffixes = self.meta.suffixes.is_empty()
                || other.meta.suffixes.is_empty()
                || same(&self.meta.suffixes, &other.meta.suffixes);
            prefixes && suffixes
        } else {
            same(&self.meta.prefixes, &other.meta.prefixes) && same(&self.meta.suffixes, &other.meta.suffixes)
        }
    }
}

/// kustomize's `SameEndingSubSlice`: the shorter list is a suffix of the longer.
fn same_ending(a: &[String], b: &[String]) -> bool {
    if a.is_empty() || b.is_empty() {
        return a.is_empty() && b.is_empty();
    }
    let n = a.len().min(b.len());
    a[a.len() - n..] == b[b.len() - n..]
}

/// The `metadata` mapping, created if needed (`None` only for a
/// non-object, which the resource factory never lets in).
pub fn metadata(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = obj.as_object_mut()?.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

/// The resources of a build, in order.
#[derive(Debug, Clone, Default)]
pub struct ResMap {
    /// The resources.
    pub list: Vec<Resource>,
}

impl ResMap {
    /// Adds a resource whose current id is new.
    pub fn append(&mut self, res: Resource) -> Result<(), String> {
        let id = res.cur_id();
        if self.list.iter().any(|r| r.cur_id().equals(&id)) {
            return Err(format!("may not add resource with an already registered id: {}", id.display()));
        }
        self.list.push(res);
        Ok(())
    }

    /// Adds every resource of `other`.
    pub fn append_all(&mut self, other: ResMap) -> Result<(), String> {
        for r in other.list {
            self.append(r)?;
        }
        Ok(())
    }

    /// Indices of resources any of whose ids (previous or current) match.
    pub fn by_any_id(&self, matches: impl Fn(&ResId) -> bool) -> Vec<usize> {
        (0..self.list.len()).filter(|&i| self.list[i].all_ids().iter().any(&matches)).collect()
    }

    /// The one resource any of whose ids equals `id` (patch targets).
    pub fn get_by_id(&self, id: &ResId) -> Result<usize, String> {
        let found = self.by_any_id(|x| x.equals(id));
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!(
                "no matches for Id {}; failed to find unique target for patch {}",
                id.display(),
                id.display()
            )),
            _ => Err(format!(
                "multiple matches for Id {}; failed to find unique target for patch {}",
                id.display(),
                id.display()
            )),
        }
    }

    /// Adds a generated resource: appended, or replacing/merging into the
    /// existing one of the same id, by its behaviour.
    pub fn absorb(&mut self, mut res: Resource) -> Result<(), String> {
        let id = res.cur_id();
        let matches = self.by_any_id(|x| x.equals(&id));
        match matches.as_slice() {
            [] => match res.meta.behavior {
                Behavior::Merge | Behavior::Replace => {
                    Err(format!("id {} does not exist; cannot merge or replace", id.display()))
                }
                Behavior::Create => self.append(res),
            },
            [i] => {
                let old = &self.list[*i];
                match res.meta.behavior {
                    Behavior::Replace => copy_merge_metadata(&mut res, old),
                    Behavior::Merge => {
                        copy_merge_metadata(&mut res, old);
                        merge_data(&mut res, old, "data");
                        merge_data(&mut res, old, "binaryData");
                    }
                    Behavior::Create => {
                        return Err(format!("id {} exists; behavior must be merge or replace", id.display()));
                    }
                }
                self.list[*i] = res;
                Ok(())
            }
            _ => Err(format!("found multiple objects that could accept merge of {}", id.display())),
        }
    }
}

/// kustomize's `CopyMergeMetaDataFieldsFrom(old)`: labels and annotations
/// merged (the new ones win), build state, name and namespace from `old`.
fn copy_merge_metadata(res: &mut Resource, old: &Resource) {
    let mut labels = old.string_map("labels");
    labels.extend(res.string_map("labels"));
    res.set_string_map("labels", labels);
    let mut annotations = old.string_map("annotations");
    annotations.extend(res.string_map("annotations"));
    res.set_string_map("annotations", annotations);
    let needs_hash = res.meta.needs_hash && old.meta.needs_hash;
    res.meta = BuildMeta { needs_hash, ..old.meta.clone() };
    res.set_name(&old.name());
    res.set_namespace(&old.namespace());
    res.ref_var_names = old.ref_var_names.clone();
}

fn merge_data(res: &mut Resource, old: &Resource, field: &str) {
    let mut merged = Map::new();
    for source in [&old.obj, &res.obj] {
        if let Some(m) = source[field].as_object() {
            for (k, v) in m {
                merged.insert(k.clone(), Value::String(crate::yaml::scalar_text(v).unwrap_or_default()));
            }
        }
    }
    if let Value::Object(obj) = &mut res.obj {
        obj.remove(field);
        if !merged.is_empty() {
            obj.insert(field.into(), Value::Object(merged));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_ending_lists() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(same_ending(&v(&["a", "b"]), &v(&["b"])));
        assert!(!same_ending(&v(&["a", "b"]), &v(&["a"])));
        assert!(same_ending(&v(&[]), &v(&[])));
        assert!(!same_ending(&v(&["a"]), &v(&[])));
    }
}
