//! Validating a custom resource against the `openAPIV3Schema` of a
//! CustomResourceDefinition in the same commit (pure), so a commit that
//! creates a CRD and objects of its kind is checked before any write, when
//! the API server cannot dry-run those objects yet. It checks what the API
//! server rejects: types, required fields, enums, bounds, patterns and list
//! sizes; unknown fields are pruned by the server, not rejected, so they
//! pass here too.

use serde_json::Value;

use super::{DesiredObject, ObjectKey};

/// The schema for `o` among the CRDs of `desired`, if one defines its kind
/// at its version.
pub fn schema_for<'a>(o: &DesiredObject, desired: &'a [DesiredObject]) -> Option<&'a Value> {
    let version = o.api_version.rsplit_once('/').map(|(_, v)| v)?;
    desired
        .iter()
        .filter(|c| c.key.group == "apiextensions.k8s.io" && c.key.kind == "CustomResourceDefinition")
        .filter(|c| {
            c.manifest["spec"]["group"] == o.key.group.as_str()
                && c.manifest["spec"]["names"]["kind"] == o.key.kind.as_str()
        })
        .flat_map(|c| c.manifest["spec"]["versions"].as_array().into_iter().flatten())
        .find(|v| v["name"] == version)
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
}

/// True when `key` is a CustomResourceDefinition.
pub fn is_crd(key: &ObjectKey) -> bool {
    key.group == "apiextensions.k8s.io" && key.kind == "CustomResourceDefinition"
}

/// The problems of `value` against `schema`, each naming its field.
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check(value, schema, "", &mut problems);
    problems
}

fn field(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    let at = if path.is_empty() { "(root)" } else { path };
    if value.is_null() {
        if schema["nullable"] != true && schema.get("type").is_some() {
            problems.push(format!("{at}: must not be null"));
        }
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !matches!(type_name(value), "integer" | "string") {
            problems.push(format!("{at}: must be an integer or a string, not {}", type_name(value)));
        }
        return;
    }
    if let Some(wanted) = schema["type"].as_str() {
        let actual = type_name(value);
        let fits = actual == wanted || (wanted == "number" && actual == "integer");
        if !fits {
            problems.push(format!("{at}: must be {wanted}, not {actual}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        problems.push(format!("{at}: {value} is not one of {}", list.join(", ")));
    }
    match value {
        Value::Object(map) => {
            for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !map.contains_key(required) {
                    problems.push(format!("{}: is required", field(path, required)));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, child) in map {
                let child_schema = properties
                    .and_then(|p| p.get(name))
                    .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()));
                if let Some(child_schema) = child_schema {
                    check(child, child_schema, &field(path, name), problems);
                }
            }
        }
        Value::Array(items) => {
            bound(items.len() as f64, schema, "minItems", "maxItems", "items", at, problems);
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{path}[{i}]"), problems);
                }
            }
        }
        Value::String(s) => {
            bound(s.chars().count() as f64, schema, "minLength", "maxLength", "characters", at, problems);
            if let Some(pattern) = schema["pattern"].as_str()
                && let Ok(re) = regex::Regex::new(pattern)
                && !re.is_match(s)
            {
                problems.push(format!("{at}: {s:?} does not match {pattern}"));
            }
        }
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                bound(x, schema, "minimum", "maximum", "", at, problems);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn bound(x: f64, schema: &Value, min: &str, max: &str, unit: &str, at: &str, problems: &mut Vec<String>) {
    let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
    if let Some(m) = schema[min].as_f64()
        && x < m
    {
        problems.push(format!("{at}: {x}{unit} is below the minimum of {m}"));
    }
    if let Some(m) = schema[max].as_f64()
        && x > m
    {
        problems.push(format!("{at}: {x}{unit} is above the maximum of {m}"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_each_problem_by_field() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"],
        "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "color": {"type": "string", "enum": ["red", "blue"]},
            "port": {"x-kubernetes-int-or-string": true},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "pattern": "^[a-z]+$"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }}}});
        let good = json!({"spec": {"size": 3, "color": "red", "port": "http", "tags": ["a"], "labels": {"x": "y"},
            "free": {"anything": [1, 2]}, "unknown": "pruned by the server"}});
        assert!(validate(&good, &schema).is_empty(), "{:?}", validate(&good, &schema));
        let bad = json!({"spec": {"size": "big", "color": "green", "port": 1.5, "tags": ["a", "B", "c"], "labels": {"x": 1}}});
        assert_eq!(
            validate(&bad, &schema),
            [
                "spec.color: \"green\" is not one of \"red\", \"blue\"",
                "spec.labels.x: must be string, not integer",
                "spec.port: must be an integer or a string, not number",
                "spec.size: must be integer, not string",
                "spec.tags: 3 items is above the maximum of 2",
                "spec.tags[1]: \"B\" does not match ^[a-z]+$",
            ]
        );
        assert_eq!(validate(&json!({"spec": {}}), &schema), ["spec.size: is required"]);
    }
}
