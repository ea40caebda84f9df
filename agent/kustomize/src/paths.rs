//! Dotted field paths (`spec.template.spec.containers.[name=app].image`,
//! `spec.ports[0].port`) as replacements and vars read and write them
//! (kyaml's `Lookup` and `PathMatcher`).

use serde_json::{Map, Value};

use crate::fieldspec::split_path;
use crate::yaml::scalar_text;

/// kyaml's `SmarterPathSplitter`: `.`-separated, brackets kept whole.
pub fn smarter_split(path: &str) -> Vec<String> {
    let split = split_path(path, '.');
    let mut out = Vec::new();
    let mut i = 0;
    while i < split.len() {
        let elem = &split[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < split.len() - 1 {
                i += 1;
                bracketed.push(split[i].clone());
                if split[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

/// `name[3]` becomes `name`, `3`.
pub fn convert_slice_index(fields: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for f in fields {
        if let Some(open) = f.rfind('[')
            && f.ends_with(']')
            && f[open + 1..f.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && open + 2 < f.len()
        {
            if open > 0 {
                out.push(f[..open].to_string());
            }
            out.push(f[open + 1..f.len() - 1].to_string());
        } else {
            out.push(f);
        }
    }
    out
}

/// kyaml's `Lookup`: map keys, list indices and `[key=value]` elements.
pub fn lookup<'a>(mut node: &'a Value, path: &[String]) -> Result<Option<&'a Value>, String> {
    for part in path {
        node = match node {
            Value::Object(m) if !part.starts_with('[') => match m.get(part) {
                Some(v) => v,
                None => return Ok(None),
            },
            Value::Array(items) => {
                if let Some((k, v)) =
                    part.strip_prefix('[').and_then(|p| p.strip_suffix(']')).and_then(|p| p.split_once('='))
                {
                    match items.iter().find(|e| element_field_equals(e, k, v)) {
                        Some(e) => e,
                        None => return Ok(None),
                    }
                } else if let Ok(i) = part.parse::<usize>() {
                    match items.get(i) {
                        Some(e) => e,
                        None => return Ok(None),
                    }
                } else {
                    return Err(format!("invalid path element {part:?} for a list"));
                }
            }
            Value::Null => return Ok(None),
            _ => return Ok(None),
        };
    }
    Ok(Some(node))
}

fn element_field_equals(e: &Value, k: &str, v: &str) -> bool {
    if k.is_empty() {
        return scalar_text(e).as_deref() == Some(v);
    }
    e.get(k).and_then(scalar_text).as_deref() == Some(v)
}

/// What a created field is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    /// Do not create.
    No,
    /// A scalar.
    Scalar,
    /// A mapping.
    Map,
    /// A list.
    List,
}

fn empty(kind: CreateKind, next: Option<&String>) -> Value {
    let kind = match next {
        Some(n) if n.starts_with('[') && n.ends_with(']') => CreateKind::List,
        Some(n) if n.parse::<usize>().is_ok() => CreateKind::List,
        Some(_) => CreateKind::Map,
        None => kind,
    };
    match kind {
        CreateKind::List => Value::Array(Vec::new()),
        CreateKind::Map => Value::Object(Map::new()),
        _ => Value::Null,
    }
}

/// kyaml's `PathMatcher`: calls `f` on every node the path matches
/// (`*` every element, `[k=regex]` matching elements), creating missing
/// fields when `create` says so. Returns how many matched.
pub fn for_each_match(
    node: &mut Value,
    path: &[String],
    create: CreateKind,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<usize, String> {
    let Some((first, rest)) = path.split_first() else {
        f(node)?;
        return Ok(1);
    };
    if let Ok(idx) = first.parse::<usize>() {
        let Value::Array(items) = node else { return Err(format!("{first}: expected a list")) };
        if items.len() == idx && create != CreateKind::No {
            items.push(empty(create, rest.first()));
        }
        let Some(item) = items.get_mut(idx) else {
            return Err(format!("index {idx} specified but only {} elements found", items.len()));
        };
        return for_each_match(item, rest, create, f);
    }
    if first.starts_with('[') && first.ends_with(']') {
        let inner = &first[1..first.len() - 1];
        let (field, pattern) =
            inner.split_once('=').ok_or("list path element must contain fieldName=fieldValue for element to match")?;
        let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        let Value::Array(items) = node else { return Ok(0) };
        let mut n = 0;
        for item in items.iter_mut() {
            let text = if field.is_empty() {
                scalar_text(item)
            } else {
                item.get(field).filter(|v| !v.is_null()).map(|v| scalar_text(v).unwrap_or_default())
            };
            if text.is_some_and(|t| re.is_match(t.trim())) {
                n += for_each_match(item, rest, create, f)?;
            }
        }
        if n == 0 && create != CreateKind::No {
            let elem = if field.is_empty() {
                Value::String(pattern.to_string())
            } else {
                let mut m = Map::new();
                m.insert(field.to_string(), Value::String(pattern.to_string()));
                Value::Object(m)
            };
            items.push(elem);
            return for_each_match(node, path, create, f);
        }
        return Ok(n);
    }
    if first == "*" {
        let Value::Array(items) = node else { return Ok(0) };
        let mut n = 0;
        for item in items.iter_mut() {
            n += for_each_match(item, rest, create, f)?;
        }
        return Ok(n);
    }
    match node {
        Value::Object(m) => {
            if !m.contains_key(first) {
                if create == CreateKind::No {
                    return Ok(0);
                }
                m.insert(first.clone(), empty(create, rest.first()));
            }
            match m.get_mut(first) {
                Some(child) => for_each_match(child, rest, create, f),
                None => Ok(0),
            }
        }
        Value::Null if create != CreateKind::No => {
            *node = Value::Object(Map::new());
            for_each_match(node, path, create, f)
        }
        Value::Null => Ok(0),
        _ => Err(format!("wrong node kind at {first:?}: expected MappingNode")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn split_lookup_and_match() {
        assert_eq!(smarter_split("spec.containers.[name=a.b].image"), ["spec", "containers", "[name=a.b]", "image"]);
        assert_eq!(smarter_split("metadata.annotations.[a.b/c]"), ["metadata", "annotations", "a.b/c"]);
        assert_eq!(convert_slice_index(vec!["ports[0]".into(), "port".into()]), ["ports", "0", "port"]);
        let mut doc = json!({"spec": {"containers": [{"name": "app", "image": "x"}, {"name": "side", "image": "y"}]}});
        let path = smarter_split("spec.containers.[name=app].image");
        assert_eq!(lookup(&doc, &path).expect("ok"), Some(&json!("x")));
        let n = for_each_match(&mut doc, &smarter_split("spec.containers.*.image"), CreateKind::No, &mut |v| {
            *v = json!("z");
            Ok(())
        })
        .expect("ok");
        assert_eq!(n, 2);
        let n = for_each_match(&mut doc, &smarter_split("spec.new.field"), CreateKind::Scalar, &mut |v| {
            *v = json!(1);
            Ok(())
        })
        .expect("ok");
        assert_eq!((n, &doc["spec"]["new"]["field"]), (1, &json!(1)));
    }
}
