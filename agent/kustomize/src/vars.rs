//! Legacy `vars:`: `$(NAME)` in the `varReference` fields is replaced by a
//! field of the object the var names, after names are final.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fieldspec::{Create, FieldSpec, apply};
use crate::kustomization::Var;
use crate::paths::{convert_slice_index, lookup, smarter_split};
use crate::resid::ResId;
use crate::resource::ResMap;

/// Records which object each var reads (kustomize's `MergeVars`) and adds
/// the vars to the set (a name used twice is an error).
pub fn merge(m: &mut ResMap, set: &mut BTreeMap<String, Var>, incoming: &[Var]) -> Result<(), String> {
    for v in incoming {
        let target = ResId { gvk: v.objref.gvk(), name: v.objref.name.clone(), namespace: v.objref.namespace.clone() };
        let exact = !target.namespace.is_empty() || target.gvk.is_cluster_scoped();
        let matched = m.by_any_id(|id| if exact { id.equals(&target) } else { id.gvkn_equals(&target) });
        match matched.as_slice() {
            [i] => m.list[*i].ref_var_names.push(v.name.clone()),
            [] => {}
            many => {
                return Err(format!("found {} resId matches for var {} (unable to disambiguate)", many.len(), v.name));
            }
        }
    }
    for v in incoming {
        if set.contains_key(&v.name) {
            return Err(format!("var '{}' already encountered", v.name));
        }
        set.insert(v.name.clone(), v.clone());
    }
    Ok(())
}

/// Replaces `$(VAR)` references.
pub fn resolve(m: &mut ResMap, set: &BTreeMap<String, Var>, specs: &[FieldSpec]) -> Result<(), String> {
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for (name, v) in set {
        let holder = m
            .list
            .iter()
            .find(|r| r.ref_var_names.contains(name))
            .ok_or_else(|| format!("var '{name}' cannot be mapped to a field in the set of known resources"))?;
        let path = if v.fieldref.field_path.is_empty() { "metadata.name" } else { &v.fieldref.field_path };
        let found =
            lookup(&holder.obj, &convert_slice_index(smarter_split(path))).ok().flatten().cloned().ok_or_else(
                || format!("field specified in var '{name}' ({path}) not found in corresponding resource"),
            )?;
        values.insert(name.clone(), found);
    }
    if values.is_empty() {
        return Ok(());
    }
    for r in &mut m.list {
        for spec in specs {
            apply(&mut r.obj, spec, Create::Nothing, &mut |node| expand_node(node, &values))?;
        }
    }
    Ok(())
}

fn expand_node(node: &mut Value, values: &BTreeMap<String, Value>) -> Result<(), String> {
    match node {
        Value::String(s) => {
            *node = expand(s, values);
            Ok(())
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values);
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(s) = item else { return Err("invalid value type expect a string".into()) };
                *item = expand(s, values);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The primitive value of a var, or `None` to leave `$(NAME)` as written.
fn primitive(values: &BTreeMap<String, Value>, name: &str) -> Option<Value> {
    values.get(name).filter(|v| !v.is_object() && !v.is_array() && !v.is_null()).cloned()
}

/// kustomize's `DoReplacements`: `$(NAME)` expanded, `$$` is `$`; a string
/// that is exactly one reference takes the value's type.
pub fn expand(input: &str, values: &BTreeMap<String, Value>) -> Value {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        let mapped = primitive(values, name);
                        if input.len() == name.len() + 3 && cursor == 0 {
                            return mapped.unwrap_or_else(|| Value::String(input.to_string()));
                        }
                        match mapped {
                            Some(v) => out.push_str(&crate::yaml::scalar_text(&v).unwrap_or_default()),
                            None => out.push_str(&format!("$({name})")),
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let c = rest.chars().next().unwrap_or_default();
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint <= input.len() {
        out.push_str(&input[checkpoint.min(input.len())..]);
    }
    Value::String(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion() {
        let mut values = BTreeMap::new();
        values.insert("A".to_string(), json!("svc"));
        values.insert("N".to_string(), json!(3));
        values.insert("M".to_string(), json!({"x": 1}));
        assert_eq!(expand("$(A)", &values), json!("svc"));
        assert_eq!(expand("$(N)", &values), json!(3));
        assert_eq!(expand("http://$(A):$(N)/", &values), json!("http://svc:3/"));
        assert_eq!(expand("$$(A) $(B) $(M)", &values), json!("$(A) $(B) $(M)"));
        assert_eq!(expand("cost $5", &values), json!("cost $5"));
        assert_eq!(expand("open $(A", &values), json!("open $(A"));
    }
}
