//! Name references: after names change (prefix, suffix, hash), every field
//! that names another object (a ConfigMap in a volume, a ServiceAccount in
//! a pod, a Role in a binding...) follows it. The fields come from the
//! `nameReference` configuration; candidates are picked the way kustomize's
//! `nameref` filter picks them (previous name, kind, namespace, affixes).

use serde_json::Value;

use crate::config::NameBackReferences;
use crate::fieldspec::{Create, FieldSpec, apply};
use crate::resid::{Gvk, NOT_NAMESPACED, ResId};
use crate::resource::{ResMap, Resource};
use crate::yaml::scalar_text;

/// Fixes every reference in `m`.
pub fn fix(m: &mut ResMap, backrefs: &[NameBackReferences]) -> Result<(), String> {
    let snapshot: Vec<Resource> = m.list.clone();
    for i in 0..m.list.len() {
        let org = snapshot[i].org_id();
        let mut filters: Vec<(&FieldSpec, Gvk)> = Vec::new();
        for backref in backrefs {
            for spec in &backref.referrers {
                if org.gvk.is_selected(&spec.gvk()) {
                    filters.push((spec, backref.gvk()));
                }
            }
        }
        if filters.is_empty() {
            continue;
        }
        let referrer = &snapshot[i];
        let candidates = could_be_referenced(&snapshot, referrer);
        for (spec, target) in filters {
            let roleref = roleref_gvk(&referrer.obj);
            let path_spec = FieldSpec { path: spec.path.clone(), ..FieldSpec::default() };
            let ctx =
                Ctx { referrer, target: &target, candidates: &candidates, roleref: roleref.as_ref(), path: &spec.path };
            apply(&mut m.list[i].obj, &path_spec, Create::Nothing, &mut |node| ctx.set(node)).map_err(|e| {
                format!("updating name reference in '{}' field of '{}': {e}", spec.path, referrer.cur_id().display())
            })?;
        }
    }
    Ok(())
}

/// kustomize's `SubsetThatCouldBeReferencedByResource`.
fn could_be_referenced<'a>(all: &'a [Resource], referrer: &Resource) -> Vec<&'a Resource> {
    let rid = referrer.cur_id();
    if rid.gvk.is_cluster_scoped() {
        return all.iter().collect();
    }
    let mut binding_namespaces = Vec::new();
    if referrer.kind() == "RoleBinding" {
        for s in referrer.obj["subjects"].as_array().into_iter().flatten() {
            if s["kind"] == "ServiceAccount"
                && let Some(ns) = s["namespace"].as_str()
            {
                binding_namespaces.push(ns.to_string());
            }
        }
    }
    all.iter()
        .filter(|r| {
            let id = r.cur_id();
            id.gvk.is_cluster_scoped()
                || id.effective_namespace() == rid.effective_namespace()
                || binding_namespaces.contains(&r.namespace())
        })
        .collect()
}

fn roleref_gvk(obj: &Value) -> Option<Gvk> {
    let roleref = obj.get("roleRef")?;
    Some(Gvk {
        group: scalar_text(roleref.get("apiGroup")?)?,
        version: String::new(),
        kind: scalar_text(roleref.get("kind")?)?,
    })
}

struct Ctx<'a> {
    referrer: &'a Resource,
    target: &'a Gvk,
    candidates: &'a [&'a Resource],
    roleref: Option<&'a Gvk>,
    path: &'a str,
}

impl Ctx<'_> {
    fn set(&self, node: &mut Value) -> Result<(), String> {
        match node {
            Value::Null => Ok(()),
            Value::Object(_) => self.set_mapping(node),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Null => {}
                        Value::Object(_) => self.set_mapping(item)?,
                        Value::Array(_) => return Err("expected either a string or a map of string".into()),
                        _ => self.set_scalar(item)?,
                    }
                }
                Ok(())
            }
            _ => self.set_scalar(node),
        }
    }

    fn set_scalar(&self, node: &mut Value) -> Result<(), String> {
        let old = scalar_text(node).unwrap_or_default();
        if let Some(r) = self.select(&old, self.candidates.to_vec(), false)?
            && r.name() != old
        {
            *node = Value::String(r.name());
        }
        Ok(())
    }

    fn set_mapping(&self, node: &mut Value) -> Result<(), String> {
        let Value::Object(map) = node else { return Err("expect a mapping node".into()) };
        let old = map
            .get("name")
            .map(|v| scalar_text(v).unwrap_or_default())
            .ok_or("path config error; no 'name' field in node")?;
        let candidates: Vec<&Resource> = match map.get("namespace") {
            None => self.candidates.to_vec(),
            Some(ns) => {
                let ns = scalar_text(ns).unwrap_or_default();
                let by_org: Vec<&Resource> = self
                    .candidates
                    .iter()
                    .copied()
                    .filter(|r| {
                        let e = r.org_id().effective_namespace();
                        e != NOT_NAMESPACED && e == ns
                    })
                    .collect();
                if by_org.is_empty() {
                    self.candidates
                        .iter()
                        .copied()
                        .filter(|r| {
                            let e = r.cur_id().effective_namespace();
                            e != NOT_NAMESPACED && e == ns
                        })
                        .collect()
                } else {
                    by_org
                }
            }
        };
        let Some(r) = self.select(&old, candidates, true)? else { return Ok(()) };
        if r.name() == old && r.namespace().is_empty() {
            return Ok(());
        }
        map.insert("name".into(), Value::String(r.name()));
        if !r.namespace().is_empty() {
            map.insert("namespace".into(), Value::String(r.namespace()));
        }
        Ok(())
    }

    fn select<'a>(
        &self,
        old: &str,
        mut c: Vec<&'a Resource>,
        with_namespace: bool,
    ) -> Result<Option<&'a Resource>, String> {
        c.retain(|r| r.prev_ids().iter().any(|id| id.name == old));
        c.retain(|r| r.prev_ids().iter().any(|id| id.gvk.is_selected(self.target)));
        if self.path.ends_with("roleRef/name")
            && let Some(g) = self.roleref
        {
            c.retain(|r| r.prev_ids().iter().any(|id| id.gvk.is_selected(g)));
        }
        let rid: ResId = self.referrer.cur_id();
        if !rid.gvk.is_cluster_scoped() {
            c.retain(|r| {
                let id = r.cur_id();
                id.gvk.is_cluster_scoped()
                    || r.kind() == "ServiceAccount"
                    || id.effective_namespace() == rid.effective_namespace()
            });
        }
        if c.len() == 1 {
            return Ok(c.first().copied());
        }
        c.retain(|r| r.prefixes_suffixes_equal(self.referrer, true));
        if c.len() > 1 {
            c.retain(|r| r.prefixes_suffixes_equal(self.referrer, false));
        }
        match c.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            [first, rest @ ..] => {
                let same = rest
                    .iter()
                    .all(|r| r.name() == first.name() && (!with_namespace || r.namespace() == first.namespace()));
                if same {
                    Ok(Some(*first))
                } else {
                    let ids: Vec<String> = c.iter().map(|r| r.cur_id().display()).collect();
                    Err(format!("found multiple possible referrals: {}", ids.join(", ")))
                }
            }
        }
    }
}
