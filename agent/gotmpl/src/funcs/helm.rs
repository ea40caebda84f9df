//! Helm's own template functions: `include`, `tpl`, `required`, `fail`,
//! the YAML/JSON/TOML converters and `lookup` (the live cluster through a
//! [`Lookup`], or empty as `helm template` without one).

use std::sync::Arc;

use super::yaml::{to_json, to_pretty_json, to_yaml};
use super::{arg_string, arity};
use crate::value::{Map, Value};
use crate::{Exec, Functions, NO_VALUE, TemplateError};

/// How deep one template may include itself (Helm's limit).
const MAX_INCLUDE_RECURSION: usize = 1000;

/// What `lookup` reads: the live cluster, as Helm's install reads it.
pub trait Lookup: Send + Sync {
    /// The object `apiVersion`/`kind` named `name` in `namespace` (empty:
    /// cluster-scoped or all namespaces), or with an empty `name` the list
    /// of them (`{"items": [...]}`); `Null` when it does not exist. The
    /// error is the message the template fails with.
    fn lookup(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<serde_json::Value, String>;
}

/// Registers Helm's functions.
pub fn register(f: &mut Functions, lookup: Option<Arc<dyn Lookup>>) {
    f.insert("include", Arc::new(include));
    f.insert("tpl", Arc::new(tpl));
    f.plain("required", |a| {
        arity("required", &a, 2)?;
        let message = arg_string(&a, 0)?;
        match &a[1] {
            Value::Nil => Err(message.to_string()),
            Value::Str(s) if s.is_empty() => Err(message.to_string()),
            other => Ok(other.clone()),
        }
    });
    f.plain("fail", |a| {
        arity("fail", &a, 1)?;
        Err(arg_string(&a, 0)?.to_string())
    });
    f.plain("toYaml", |a| {
        arity("toYaml", &a, 1)?;
        Ok(Value::str(to_yaml(&a[0])))
    });
    f.plain("mustToYaml", |a| {
        arity("mustToYaml", &a, 1)?;
        Ok(Value::str(to_yaml(&a[0])))
    });
    f.plain("toYamlPretty", |a| {
        arity("toYamlPretty", &a, 1)?;
        Ok(Value::str(to_yaml(&a[0])))
    });
    f.plain("fromYaml", |a| {
        arity("fromYaml", &a, 1)?;
        Ok(match parse_yaml(arg_string(&a, 0)?) {
            Ok(Value::Map(m)) => Value::Map(m),
            Ok(Value::Nil) => Value::map(Map::new()),
            Ok(other) => error_map(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&other)
            )),
            Err(e) => error_map(e),
        })
    });
    f.plain("fromYamlArray", |a| {
        arity("fromYamlArray", &a, 1)?;
        Ok(match parse_yaml(arg_string(&a, 0)?) {
            Ok(Value::List(l, t)) => Value::List(l, t),
            Ok(Value::Nil) => Value::list(Vec::new()),
            Ok(other) => Value::list(vec![Value::str(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => Value::list(vec![Value::str(e)]),
        })
    });
    for (name, escape) in [("toJson", true), ("mustToJson", true), ("toRawJson", false), ("mustToRawJson", false)] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                match to_json(&a[0], escape) {
                    Some(json) => Ok(Value::str(json)),
                    None if name.starts_with("must") => Err("json: unsupported value: NaN".into()),
                    None => Ok(Value::str("")),
                }
            }),
        );
    }
    for name in ["toPrettyJson", "mustToPrettyJson"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                Ok(Value::str(to_pretty_json(&a[0]).unwrap_or_default()))
            }),
        );
    }
    f.plain("mustFromJson", |a| {
        arity("mustFromJson", &a, 1)?;
        serde_json::from_str::<serde_json::Value>(arg_string(&a, 0)?)
            .map(|j| Value::from_json(&j))
            .map_err(|e| e.to_string())
    });
    f.plain("fromJson", |a| {
        arity("fromJson", &a, 1)?;
        Ok(match serde_json::from_str::<serde_json::Value>(arg_string(&a, 0)?) {
            Ok(json @ serde_json::Value::Object(_)) => Value::from_json(&json),
            Ok(other) => error_map(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(&Value::from_json(&other))
            )),
            Err(e) => error_map(e.to_string()),
        })
    });
    f.plain("fromJsonArray", |a| {
        arity("fromJsonArray", &a, 1)?;
        Ok(match serde_json::from_str::<serde_json::Value>(arg_string(&a, 0)?) {
            Ok(json @ serde_json::Value::Array(_)) => Value::from_json(&json),
            Ok(other) => Value::list(vec![Value::str(format!(
                "json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&Value::from_json(&other))
            ))]),
            Err(e) => Value::list(vec![Value::str(e.to_string())]),
        })
    });
    f.plain("toToml", |a| {
        arity("toToml", &a, 1)?;
        Ok(Value::str(to_toml(&a[0])))
    });
    f.plain("fromToml", |a| {
        arity("fromToml", &a, 1)?;
        arg_string(&a, 0)?;
        let mut map = Map::new();
        map.insert("Error".into(), Value::str("fromToml is not supported by plumb; convert the data to YAML"));
        Ok(Value::map(map))
    });
    f.insert(
        "lookup",
        Arc::new(move |_, a| {
            arity("lookup", &a, 4)?;
            let mut args = Vec::with_capacity(4);
            for i in 0..4 {
                args.push(arg_string(&a, i)?.to_string());
            }
            match &lookup {
                // Offline (`helm template`): nothing exists.
                None => Ok(Value::map(Map::new())),
                Some(source) => {
                    let found = source.lookup(&args[0], &args[1], &args[2], &args[3])?;
                    Ok(match found {
                        serde_json::Value::Null => Value::map(Map::new()),
                        object => Value::from_json_integers(&object),
                    })
                }
            }
        }),
    );
}

fn error_map(message: String) -> Value {
    let mut map = Map::new();
    map.insert("Error".into(), Value::str(message));
    Value::map(map)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::List(..) => "array",
        Value::Map(_) => "object",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        Value::Nil => "null",
        _ => "number",
    }
}

/// YAML text to template values the way Helm reads it (YAML 1.1 scalars,
/// through JSON, so numbers are `float64`).
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    let json: serde_json::Value =
        crate::yaml11::from_str(text).map_err(|e| format!("error converting YAML to JSON: {e}"))?;
    Ok(Value::from_json(&json))
}

fn include(exec: &mut Exec<'_>, args: Vec<Value>) -> Result<Value, String> {
    arity("include", &args, 2)?;
    let name = arg_string(&args, 0)?.to_string();
    let count = exec.includes.entry(name.clone()).or_insert(0);
    if *count >= MAX_INCLUDE_RECURSION {
        return Err(format!("rendering template has a nested reference name: {name}: unable to execute template"));
    }
    *count += 1;
    let result = exec.execute_template(&name, &args[1]);
    if let Some(count) = exec.includes.get_mut(&name) {
        *count -= 1;
    }
    result.map(Value::str).map_err(|e| e.to_string())
}

fn tpl(exec: &mut Exec<'_>, args: Vec<Value>) -> Result<Value, String> {
    arity("tpl", &args, 2)?;
    let source = arg_string(&args, 0)?.to_string();
    let data = &args[1];
    let Value::Map(values) = data else {
        return Err(format!("wrong type for value; expected chartutil.Values; got {}", data.type_name()));
    };
    // Helm names the tpl template after the calling template (.Template.Name).
    let name = match values.borrow().get("Template") {
        Some(Value::Map(t)) => t.borrow().get("Name").and_then(|n| n.as_str().map(str::to_string)),
        _ => None,
    };
    let name = name.unwrap_or_else(|| exec.current_template().to_string());
    match exec.execute_source(&name, &source, data) {
        Ok(out) => Ok(Value::str(out.replace(NO_VALUE, ""))),
        Err(TemplateError::Parse { name, line, message }) => Err(format!("template: {name}:{line}: {message}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A small TOML encoder for `toToml` (tables of scalars, lists and nested tables).
fn to_toml(value: &Value) -> String {
    let Value::Map(map) = value else { return String::new() };
    let mut out = String::new();
    write_table(&mut out, &map.borrow(), "", 0);
    out
}

fn toml_scalar(value: &Value) -> Option<String> {
    Some(match value {
        Value::Str(s) => super::fmt::go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Value::Float(f) => f.to_string(),
        Value::List(items, _) => {
            let parts: Option<Vec<String>> = items.iter().map(toml_scalar).collect();
            format!("[{}]", parts?.join(", "))
        }
        _ => return None,
    })
}

/// Tables as BurntSushi's encoder writes them: scalars first, then each
/// sub-table, indented two spaces per level.
fn write_table(out: &mut String, map: &Map, prefix: &str, depth: usize) {
    let indent = "  ".repeat(depth);
    for (k, v) in map {
        if let (false, Some(text)) = (matches!(v, Value::Map(_)), toml_scalar(v)) {
            out.push_str(&format!("{indent}{k} = {text}\n"));
        }
    }
    for (k, v) in map {
        if let Value::Map(inner) = v {
            let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            out.push_str(&format!("\n{indent}[{name}]\n"));
            write_table(out, &inner.borrow(), &name, depth + 1);
        }
    }
}
