//! JSON patches (RFC 6902) as kustomize applies them (evanphx/json-patch
//! v4): `add`, `remove`, `replace`, `move`, `copy`, `test`, with JSON
//! pointers (`~0`, `~1`, `-` for the end of a list). The patch text is JSON
//! or YAML (read as `sigs.k8s.io/yaml` reads it).

use serde_json::Value;

use crate::yaml::{Dialect, parse_one};

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    op: String,
    path: String,
    from: String,
    value: Option<Value>,
}

/// Decodes a patch; an empty or malformed one is an error.
pub fn decode(text: &str) -> Result<Vec<Operation>, String> {
    let trimmed = text.trim_start();
    let value = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).or_else(|_| parse_one(text, Dialect::Config))?
    } else {
        parse_one(text, Dialect::Config)?
    };
    let Value::Array(items) = value else { return Err("a JSON patch must be a list of operations".into()) };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(m) = item else { return Err("a JSON patch operation must be a mapping".to_string()) };
            let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            Ok(Operation { op: text("op"), path: text("path"), from: text("from"), value: m.get("value").cloned() })
        })
        .collect()
}

/// Applies the operations in order.
pub fn apply(doc: &mut Value, ops: &[Operation]) -> Result<(), String> {
    for op in ops {
        apply_one(doc, op)?;
    }
    Ok(())
}

fn value_of(op: &Operation) -> Result<Value, String> {
    op.value.clone().ok_or_else(|| format!("{} operation at {:?} has no value", op.op, op.path))
}

fn apply_one(doc: &mut Value, op: &Operation) -> Result<(), String> {
    match op.op.as_str() {
        "add" => add(doc, &op.path, value_of(op)?),
        "remove" => remove(doc, &op.path).map(|_| ()),
        "replace" => {
            let target = get_mut(doc, &op.path)
                .ok_or_else(|| format!("replace operation does not apply: doc is missing key: {}", op.path))?;
            *target = value_of(op)?;
            Ok(())
        }
        "move" => {
            let value = remove(doc, &op.from)?;
            add(doc, &op.path, value)
        }
        "copy" => {
            let value = get_mut(doc, &op.from)
                .map(|v| v.clone())
                .ok_or_else(|| format!("copy operation does not apply: doc is missing from path: {}", op.from))?;
            add(doc, &op.path, value)
        }
        "test" => {
            let actual = get_mut(doc, &op.path).map(|v| v.clone()).unwrap_or(Value::Null);
            if actual == value_of(op)? { Ok(()) } else { Err(format!("testing value {} failed", op.path)) }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| format!("JSON pointer {path:?} must start with /"))?;
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn get_mut<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut cur = doc;
    for t in tokens(path).ok()? {
        cur = match cur {
            Value::Object(m) => m.get_mut(&t)?,
            Value::Array(a) => {
                let i: usize = t.parse().ok()?;
                a.get_mut(i)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn parent<'a>(doc: &'a mut Value, path: &str) -> Result<(&'a mut Value, String), String> {
    let mut t = tokens(path)?;
    let last = t.pop().ok_or_else(|| format!("cannot operate on the whole document ({path:?})"))?;
    let joined: String = t.iter().map(|x| format!("/{}", x.replace('~', "~0").replace('/', "~1"))).collect();
    let p = get_mut(doc, &joined)
        .ok_or_else(|| format!("add operation does not apply: doc is missing path: \"{path}\""))?;
    Ok((p, last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (p, last) = parent(doc, path)?;
    match p {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| format!("add operation: invalid index {last:?} in {path}"))?;
            if i > a.len() {
                return Err(format!("add operation does not apply: index {i} out of bounds in {path}"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("add operation does not apply: doc is missing path: \"{path}\"")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let missing = || format!("remove operation does not apply: doc is missing path: \"{path}\"");
    let (p, last) = parent(doc, path).map_err(|_| missing())?;
    match p {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i >= a.len() {
                return Err(missing());
            }
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations() {
        let mut doc = json!({"spec": {"replicas": 1, "list": [1, 2], "a/b": 0}});
        let ops = decode(
            "- op: replace\n  path: /spec/replicas\n  value: 3\n- op: add\n  path: /spec/list/-\n  value: yes\n- op: remove\n  path: /spec/a~1b\n- op: copy\n  from: /spec/replicas\n  path: /spec/copy\n- op: move\n  from: /spec/list/0\n  path: /spec/first\n",
        )
        .expect("decodes");
        apply(&mut doc, &ops).expect("applies");
        assert_eq!(doc, json!({"spec": {"replicas": 3, "list": [2, true], "copy": 3, "first": 1}}));
        let ops = decode(r#"[{"op": "replace", "path": "/spec/missing", "value": 1}]"#).expect("json");
        assert!(apply(&mut doc, &ops).expect_err("missing").contains("missing"));
        assert!(decode("a: b\n").is_err());
    }
}
