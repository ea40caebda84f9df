//! Strategic merge as kustomize v5.5.0 does it (kyaml's `merge2` walker with
//! list elements prepended): maps merge field by field, a `null` in the
//! patch deletes, lists whose schema says `x-kubernetes-patch-strategy:
//! merge` merge element by element on their merge keys (patched elements
//! first), every other list is replaced, and `$patch: delete|replace|merge`
//! directives apply to maps and lists.

use serde_json::{Map, Value};

use crate::schema::{Node, Schema};
use crate::yaml::scalar_text;

/// Merges `patch` into `dest`; `None` when the patch deletes the object.
pub fn merge(dest: Value, patch: Value, schema: &Schema) -> Result<Option<Value>, String> {
    let node = [&dest, &patch]
        .into_iter()
        .find(|v| v["kind"].is_string() && v["apiVersion"].is_string())
        .and_then(|v| schema.for_kind(v["apiVersion"].as_str().unwrap_or(""), v["kind"].as_str().unwrap_or("")));
    walk(Some(dest), Some(patch), node, schema)
}

#[derive(PartialEq)]
enum Shape {
    Map,
    List,
    Scalar,
}

fn shape(v: &Option<Value>) -> Option<Shape> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Object(_)) => Some(Shape::Map),
        Some(Value::Array(_)) => Some(Shape::List),
        Some(_) => Some(Shape::Scalar),
    }
}

fn shape_name(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "MappingNode",
        Value::Array(_) => "SequenceNode",
        _ => "ScalarNode",
    }
}

fn walk(
    dest: Option<Value>,
    origin: Option<Value>,
    node: Option<&Node>,
    schema: &Schema,
) -> Result<Option<Value>, String> {
    let kind = shape(&dest).or_else(|| shape(&origin));
    if let Some(k) = &kind {
        for v in [&dest, &origin].into_iter().flatten() {
            if !v.is_null() && shape(&Some(v.clone())).as_ref() != Some(k) {
                let expected = match k {
                    Shape::Map => "MappingNode",
                    Shape::List => "SequenceNode",
                    Shape::Scalar => "ScalarNode",
                };
                return Err(format!("wrong node kind: expected {expected} but got {}", shape_name(v)));
            }
        }
    }
    match kind {
        Some(Shape::Map) | None => walk_map(dest, origin, node, schema),
        Some(Shape::List) if node.is_some_and(Node::is_associative) => walk_associative(dest, origin, node, schema),
        // A null in the patch clears the field.
        Some(Shape::List | Shape::Scalar) => Ok(match origin {
            Some(Value::Null) => None,
            Some(o) => Some(o),
            None => dest,
        }),
    }
}

enum Directive {
    Merge,
    Replace,
    Delete,
}

/// Reads and removes a map's `$patch`.
fn map_directive(origin: &mut Option<Value>) -> Result<Directive, String> {
    let Some(Value::Object(map)) = origin else { return Ok(Directive::Merge) };
    let Some(value) = map.get("$patch") else { return Ok(Directive::Merge) };
    let directive = match scalar_text(value).as_deref() {
        Some("delete") => Directive::Delete,
        Some("replace") => Directive::Replace,
        Some("merge") => Directive::Merge,
        other => return Err(format!("unknown patch strategy '{}'", other.unwrap_or_default())),
    };
    map.remove("$patch");
    Ok(directive)
}

/// Reads a list's `- $patch: ...` element and removes such elements.
fn list_directive(origin: &mut Option<Value>) -> Result<Directive, String> {
    let Some(Value::Array(items)) = origin else { return Ok(Directive::Merge) };
    let Some(element) = items.iter().find_map(|e| e.as_object().filter(|m| m.contains_key("$patch"))) else {
        return Ok(Directive::Merge);
    };
    if element.len() > 1 {
        return Ok(Directive::Merge);
    }
    let text = element.get("$patch").and_then(scalar_text).unwrap_or_default();
    let directive = match text.as_str() {
        "delete" => Directive::Delete,
        "replace" => Directive::Replace,
        "merge" => Directive::Merge,
        other => return Err(format!("unknown patch strategy '{other}'")),
    };
    set_elements(items, &["$patch".to_string()], &[text], None);
    Ok(directive)
}

fn walk_map(
    dest: Option<Value>,
    mut origin: Option<Value>,
    node: Option<&Node>,
    schema: &Schema,
) -> Result<Option<Value>, String> {
    let dest = match dest {
        None | Some(Value::Null) => {
            let directive = map_directive(&mut origin);
            if matches!(directive, Ok(Directive::Delete)) {
                return Ok(None);
            }
            match origin.clone() {
                Some(Value::Null) => return Ok(None),
                Some(o) => o,
                // kyaml keeps a null the object spells out (`null`, `~`);
                // an empty value (`key:`) it drops, which plumb cannot tell
                // apart after parsing: it keeps both.
                None => return Ok(dest.filter(Value::is_null)),
            }
        }
        Some(d) => {
            if matches!(origin, Some(Value::Null)) {
                return Ok(None);
            }
            match map_directive(&mut origin)? {
                Directive::Delete => return Ok(None),
                Directive::Replace => origin.clone().unwrap_or(Value::Null),
                Directive::Merge => d,
            }
        }
    };
    let Value::Object(mut dest) = dest else { return Ok(Some(dest)) };
    let origin_map = match &origin {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    let mut keys: Vec<String> = dest.keys().chain(origin_map.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let child = node.and_then(|n| schema.field(n, &key));
        let merged = walk(dest.get(&key).cloned(), origin_map.get(&key).cloned(), child, schema)?;
        match merged {
            None => {
                dest.remove(&key);
            }
            Some(v) => {
                dest.insert(key, v);
            }
        }
    }
    Ok(Some(Value::Object(dest)))
}

fn walk_associative(
    dest: Option<Value>,
    mut origin: Option<Value>,
    node: Option<&Node>,
    schema: &Schema,
) -> Result<Option<Value>, String> {
    let dest = match dest {
        None | Some(Value::Null) => match origin.clone() {
            Some(o) => o,
            None => return Ok(None),
        },
        Some(d) => {
            if matches!(origin, Some(Value::Null)) {
                return Ok(None);
            }
            match list_directive(&mut origin)? {
                Directive::Delete => return Ok(None),
                Directive::Replace => origin.clone().unwrap_or(Value::Null),
                Directive::Merge => d,
            }
        }
    };
    let Value::Array(mut dest) = dest else { return Ok(Some(dest)) };
    let origin_items = match &origin {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let (_, keys) = node.map(Node::strategy_and_keys).unwrap_or_default();
    let element_node = node.and_then(|n| schema.elements(n));
    // Prepend: the patch's elements come first.
    let sources = [&origin_items, &dest.clone()];
    let mut values: Vec<Vec<String>> = Vec::new();
    let keys = if keys.is_empty() {
        for source in sources {
            for item in source {
                let v = vec![scalar_text(item).unwrap_or_default()];
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
        vec![String::new()]
    } else {
        for source in sources {
            for item in source {
                let v: Vec<String> = keys
                    .iter()
                    .map(|k| item.get(k).filter(|f| !is_nil_or_empty(f)).and_then(scalar_text).unwrap_or_default())
                    .collect();
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
        keys
    };
    if keys.len() > 1 {
        merge_values(&mut values);
    }
    let mut added: Vec<Value> = Vec::new();
    let mut valid_keys = keys.clone();
    for v in &values {
        if v.is_empty() {
            continue;
        }
        let (vk, vv) = validate_keys(&values, v, &keys);
        valid_keys = vk.clone();
        let (lk, lv) = validate_keys(std::slice::from_ref(&vv), &vv, &vk);
        let dest_index = find_element(&dest, &lk, &lv);
        let dest_elem = dest_index.and_then(|i| dest.get(i).cloned());
        let origin_elem = find_element(&origin_items, &lk, &lv).and_then(|i| origin_items.get(i).cloned());
        let merged = walk(dest_elem, origin_elem, element_node, schema)?;
        let mut merged = match merged {
            None | Some(Value::Null) => {
                set_elements(&mut dest, &vk, &vv, None);
                continue;
            }
            Some(Value::Object(m)) if m.is_empty() => {
                set_elements(&mut dest, &vk, &vv, None);
                continue;
            }
            Some(m) => m,
        };
        for (key, value) in vk.iter().zip(&vv) {
            if let Value::Object(m) = &mut merged
                && !m.contains_key(key)
                && !value.is_empty()
            {
                m.insert(key.clone(), Value::String(value.clone()));
            }
        }
        // kyaml merges into dest's element in place.
        if let Some(i) = dest_index
            && let Some(slot) = dest.get_mut(i)
        {
            *slot = merged.clone();
        }
        set_elements(&mut added, &vk, &vv, Some(merged));
    }
    if !values.is_empty() {
        append_list(&mut added, dest, &valid_keys);
        dest = added;
    }
    Ok(Some(Value::Array(dest)))
}

/// kyaml's `appendListNode(dst, src, keys)`: each element of `src` replaces
/// its twin in `dst` (for several keys: is moved to the end) or is appended.
fn append_list(dst: &mut Vec<Value>, src: Vec<Value>, keys: &[String]) {
    for elem in src {
        if keys.first().is_none_or(String::is_empty) {
            let v = vec![scalar_text(&elem).unwrap_or_default()];
            set_elements(dst, &[String::new()], &v, Some(elem));
            continue;
        }
        let mut v = Vec::new();
        for key in keys {
            match elem.get(key).filter(|x| !x.is_null()) {
                None => dst.push(elem.clone()),
                Some(x) => v.push(scalar_text(x).unwrap_or_default()),
            }
        }
        if keys.len() > 1 {
            set_elements(dst, keys, &v, None);
        }
        set_elements(dst, keys, &v, Some(elem));
    }
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// kyaml's `mergeValues`: key tuples that agree where both are set merge.
fn merge_values(values: &mut [Vec<String>]) {
    for i in 0..values.len() {
        for j in 0..values.len() {
            if let Some(merged) = match_values(&values[i], &values[j]) {
                values[i] = merged.clone();
                values[j] = merged;
            }
        }
    }
}

fn match_values(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::new();
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else if !x.is_empty() {
            out.push(x.clone());
        } else {
            out.push(y.clone());
        }
    }
    common.then_some(out)
}

/// kyaml's `validateKeys`: only keys some element sets are used.
fn validate_keys(all: &[Vec<String>], values: &[String], keys: &[String]) -> (Vec<String>, Vec<String>) {
    let valid: Vec<bool> =
        (0..keys.len()).map(|i| all.iter().any(|v| v.get(i).is_some_and(|x| !x.is_empty()))).collect();
    if !valid.iter().any(|&b| b) {
        return (keys.to_vec(), values.to_vec());
    }
    let vk = keys.iter().zip(&valid).filter(|(_, ok)| **ok).map(|(k, _)| k.clone()).collect();
    let vv = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || valid.get(*i).copied().unwrap_or(false))
        .map(|(_, v)| v.clone())
        .collect();
    (vk, vv)
}

/// kyaml's `ElementMatcher`: the first element whose key fields equal the values.
fn find_element(items: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    if keys.first().is_none_or(String::is_empty) {
        let want = values.first().cloned().unwrap_or_default();
        return items
            .iter()
            .position(|e| !e.is_object() && !e.is_array() && scalar_text(e).unwrap_or_default() == want);
    }
    items.iter().position(|e| {
        e.as_object().is_some_and(|m| {
            keys.iter()
                .zip(values)
                .all(|(k, v)| m.get(k).is_some_and(|f| !f.is_null() && scalar_text(f).as_deref() == Some(v.as_str())))
        })
    })
}

/// Whether an element is matched by kyaml's `ElementSetter` keys/values
/// (an empty value matches any present field).
fn element_matches(elem: &Value, keys: &[String], values: &[String]) -> bool {
    let mut hit = false;
    for (j, key) in keys.iter().enumerate() {
        // Past the values, kyaml reuses the previous match result.
        let Some(want) = values.get(j) else {
            if !hit {
                return false;
            }
            continue;
        };
        hit = if key.is_empty() {
            !elem.is_object() && !elem.is_array() && (want.is_empty() || scalar_text(elem).as_deref() == Some(want))
        } else {
            match elem.as_object().and_then(|m| m.get(key)) {
                None => false,
                Some(_) if want.is_empty() => true,
                Some(f) => scalar_text(f).as_deref() == Some(want.as_str()),
            }
        };
        if !hit {
            return false;
        }
    }
    true
}

/// kyaml's `ElementSetter`: drops empty elements, replaces (or with `None`
/// removes) every matching element, appends when none matched.
fn set_elements(items: &mut Vec<Value>, keys: &[String], values: &[String], element: Option<Value>) {
    let mapping_setter = keys.first().is_some_and(|k| !k.is_empty()) && values.first().is_some_and(|v| !v.is_empty());
    let mut out = Vec::with_capacity(items.len() + 1);
    let mut found = false;
    for elem in items.drain(..) {
        if elem.is_null() || elem.as_object().is_some_and(Map::is_empty) {
            continue;
        }
        if !elem.is_object() && mapping_setter {
            out.push(elem);
            continue;
        }
        if !element_matches(&elem, keys, values) {
            out.push(elem);
            continue;
        }
        found = true;
        if let Some(e) = &element {
            out.push(e.clone());
        }
    }
    if let Some(e) = element
        && !e.is_null()
        && !found
    {
        out.push(e);
    }
    *items = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::builtin_schema;
    use serde_json::json;

    fn deployment(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"containers": containers}}}})
    }

    fn containers(v: &Option<Value>) -> Value {
        v.as_ref().expect("kept")["spec"]["template"]["spec"]["containers"].clone()
    }

    #[test]
    fn table() {
        let s = builtin_schema();
        let base = deployment(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]));
        let cases: Vec<(&str, Value, Option<Value>)> = vec![
            (
                "merge by name; patched element first",
                deployment(json!([{"name": "b", "image": "b:2"}])),
                Some(json!([{"name": "b", "image": "b:2"}, {"name": "a", "image": "a:1"}])),
            ),
            (
                "new element first",
                deployment(json!([{"name": "c", "image": "c:1"}])),
                Some(
                    json!([{"name": "c", "image": "c:1"}, {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]),
                ),
            ),
            (
                "$patch: delete on an element",
                deployment(json!([{"name": "a", "$patch": "delete"}])),
                Some(json!([{"name": "b", "image": "b:1"}])),
            ),
            (
                "$patch: replace on the list",
                deployment(json!([{"$patch": "replace"}, {"name": "z"}])),
                Some(json!([{"name": "z"}])),
            ),
            (
                "null deletes a field",
                deployment(json!([{"name": "a", "image": null}])),
                Some(json!([{"name": "a"}, {"name": "b", "image": "b:1"}])),
            ),
        ];
        for (name, patch, want) in cases {
            let got = merge(base.clone(), patch, s).expect(name);
            assert_eq!(Some(containers(&got)), want, "{name}");
        }
        let deleted =
            merge(base.clone(), json!({"apiVersion": "apps/v1", "kind": "Deployment", "$patch": "delete"}), s)
                .expect("delete");
        assert!(deleted.is_none());
    }

    #[test]
    fn lists_without_merge_strategy_are_replaced() {
        let s = builtin_schema();
        let base = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"tolerations": [{"key": "a"}], "containers": [{"name": "c", "args": ["x", "y"]}]}});
        let patch = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["z"]}]}});
        let got = merge(base, patch, s).expect("merges").expect("kept");
        assert_eq!(got["spec"]["tolerations"], json!([{"key": "b"}]));
        assert_eq!(got["spec"]["containers"], json!([{"name": "c", "args": ["z"]}]));
        let custom = json!({"apiVersion": "x/v1", "kind": "W", "spec": {"items": [{"name": "a"}], "m": {"k": 1}}});
        let patch = json!({"apiVersion": "x/v1", "kind": "W", "spec": {"items": [{"name": "b"}], "m": {"j": 2}}});
        let got = merge(custom, patch, s).expect("merges").expect("kept");
        assert_eq!(got["spec"], json!({"items": [{"name": "b"}], "m": {"k": 1, "j": 2}}));
    }

    #[test]
    fn primitive_merge_lists_and_multi_keys() {
        let s = builtin_schema();
        let base = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"finalizers": ["a", "b"]},
                          "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}});
        let patch = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"finalizers": ["c"]},
                           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "protocol": "UDP"}]}]}});
        let got = merge(base, patch, s).expect("merges").expect("kept");
        assert_eq!(got["metadata"]["finalizers"], json!(["c", "a", "b"]));
        assert_eq!(got["spec"]["containers"][0]["ports"].as_array().map(Vec::len), Some(2));
        assert!(merge(json!({"a": {"b": 1}}), json!({"a": [1]}), s).is_err());
    }
}
