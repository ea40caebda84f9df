//! `values.schema.json`: the coalesced values of each chart checked
//! against its JSON Schema (draft 4 to 2020-12 keywords that validate
//! data; `format` is not asserted, as in Helm), with Helm's report:
//!
//! ```text
//! values don't meet the specifications of the schema(s) in the following chart(s):
//! redis:
//! - at '/replicaCount': got string, want integer
//! ```

use serde_json::Value;

use super::ChartError;
use super::load::Chart;

/// Checks `values` (the top chart's coalesced values) against the schemas
/// of the chart and its subcharts (each with its own values).
pub fn validate(chart: &Chart, values: &Value) -> Result<(), ChartError> {
    let mut report = String::new();
    collect(chart, values, &mut report);
    if report.is_empty() { Ok(()) } else { Err(ChartError::Schema(report)) }
}

fn collect(chart: &Chart, values: &Value, report: &mut String) {
    if let Some(schema) = &chart.schema {
        let mut errors = Validator { root: schema }.check(schema, values, "");
        // A lone group is reported as its causes.
        while errors.len() == 1 && errors[0].is_group() {
            errors = std::mem::take(&mut errors[0].causes);
        }
        if !errors.is_empty() {
            report.push_str(&format!("{}:\n", chart.name()));
            for error in &errors {
                error.write(report, 0);
            }
        }
    }
    for sub in &chart.dependencies {
        let sub_values = values.get(sub.name()).cloned().unwrap_or(Value::Object(Default::default()));
        collect(sub, &sub_values, report);
    }
}

/// One failed check: where in the values, and why; checks that failed
/// several ways at one place group their causes.
#[derive(Debug)]
struct SchemaError {
    at: String,
    message: String,
    causes: Vec<SchemaError>,
}

impl SchemaError {
    fn new(at: &str, message: String) -> Self {
        SchemaError { at: at.to_string(), message, causes: Vec::new() }
    }

    fn is_group(&self) -> bool {
        self.message == GROUP
    }

    fn write(&self, out: &mut String, depth: usize) {
        out.push_str(&format!("{}- at '{}': {}\n", "  ".repeat(depth), self.at, self.message));
        for cause in &self.causes {
            cause.write(out, depth + 1);
        }
    }
}

/// The message of several failures at one place.
const GROUP: &str = "validation failed";

struct Validator<'s> {
    root: &'s Value,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(value: &Value) -> bool {
    value.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// A number as Helm's validator prints it: thousands grouped with commas.
fn number_text(value: &Value) -> String {
    let text = match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => return value.to_string(),
    };
    group_thousands(&text)
}

fn group_thousands(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A value in messages: strings in single quotes, others as JSON.
fn quoted(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        Value::Number(_) => number_text(value),
        other => other.to_string(),
    }
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'s> Validator<'s> {
    fn resolve(&self, reference: &str) -> Option<&'s Value> {
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// All errors of `value` against `schema`.
    fn check(&self, schema: &'s Value, value: &Value, at: &str) -> Vec<SchemaError> {
        self.check_flat(schema, value, at)
    }

    /// Errors of a property or item against its subschema: several become
    /// one "validation failed" with them as causes, as Helm reports them.
    fn child(&self, schema: &'s Value, value: &Value, at: &str) -> Vec<SchemaError> {
        let mut errors = self.check_flat(schema, value, at);
        if errors.len() > 1 {
            let causes = std::mem::take(&mut errors);
            errors.push(SchemaError { at: at.to_string(), message: GROUP.into(), causes });
        }
        errors
    }

    fn check_flat(&self, schema: &'s Value, value: &Value, at: &str) -> Vec<SchemaError> {
        let schema = match schema {
            Value::Bool(true) => return Vec::new(),
            Value::Bool(false) => return vec![SchemaError::new(at, "false schema".into())],
            Value::Object(map) => map,
            _ => return Vec::new(),
        };
        let mut errors = Vec::new();
        if let Some(target) = schema.get("$ref").and_then(Value::as_str).and_then(|r| self.resolve(r)) {
            errors.extend(self.check_flat(target, value, at));
        }
        if let Some(types) = schema.get("type") {
            let mut wanted: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            wanted.sort_unstable();
            let actual = type_name(value);
            let ok = wanted.iter().any(|w| {
                *w == actual || (*w == "integer" && is_integer(value)) || (*w == "number" && actual == "number")
            });
            if !wanted.is_empty() && !ok {
                errors.push(SchemaError::new(at, format!("got {actual}, want {}", wanted.join(" or "))));
                return errors;
            }
        }
        if let Some(Value::Array(options)) = schema.get("enum")
            && !options.iter().any(|o| equal(o, value))
        {
            let list: Vec<String> = options.iter().map(quoted).collect();
            errors.push(SchemaError::new(at, format!("value must be one of {}", list.join(", "))));
        }
        if let Some(constant) = schema.get("const")
            && !equal(constant, value)
        {
            errors.push(SchemaError::new(at, format!("value must be {}", quoted(constant))));
        }
        match value {
            Value::Object(object) => {
                if let Some(Value::Array(required)) = schema.get("required") {
                    let missing: Vec<String> = required
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|k| !object.contains_key(*k))
                        .map(|k| format!("'{k}'"))
                        .collect();
                    match missing.len() {
                        0 => {}
                        1 => errors.push(SchemaError::new(at, format!("missing property {}", missing[0]))),
                        _ => errors.push(SchemaError::new(at, format!("missing properties {}", missing.join(", ")))),
                    }
                }
                let properties = schema.get("properties").and_then(Value::as_object);
                let patterns: Vec<(regex::Regex, &Value)> = schema
                    .get("patternProperties")
                    .and_then(Value::as_object)
                    .map(|p| p.iter().filter_map(|(k, v)| regex::Regex::new(k).ok().map(|r| (r, v))).collect())
                    .unwrap_or_default();
                let mut additional = Vec::new();
                for (key, item) in object {
                    let child_at = format!("{at}/{}", pointer_escape(key));
                    let mut known = false;
                    if let Some(sub) = properties.and_then(|p| p.get(key)) {
                        known = true;
                        errors.extend(self.child(sub, item, &child_at));
                    }
                    for (pattern, sub) in &patterns {
                        if pattern.is_match(key) {
                            known = true;
                            errors.extend(self.child(sub, item, &child_at));
                        }
                    }
                    if !known {
                        match schema.get("additionalProperties") {
                            Some(Value::Bool(false)) => additional.push(format!("'{key}'")),
                            Some(sub @ Value::Object(_)) => errors.extend(self.child(sub, item, &child_at)),
                            _ => {}
                        }
                    }
                    if let Some(names) = schema.get("propertyNames")
                        && !self.check_flat(names, &Value::String(key.clone()), at).is_empty()
                    {
                        errors.push(SchemaError::new(at, format!("invalid propertyName '{key}'")));
                    }
                }
                if !additional.is_empty() {
                    errors.push(SchemaError::new(
                        at,
                        format!("additional properties {} not allowed", additional.join(", ")),
                    ));
                }
                bound(&mut errors, at, "minProperties", schema, object.len(), |n, m| n < m);
                bound(&mut errors, at, "maxProperties", schema, object.len(), |n, m| n > m);
                if let Some(Value::Object(deps)) =
                    schema.get("dependentRequired").or_else(|| schema.get("dependencies"))
                {
                    for (key, dep) in deps {
                        if !object.contains_key(key) {
                            continue;
                        }
                        match dep {
                            Value::Array(names) => {
                                let missing: Vec<String> = names
                                    .iter()
                                    .filter_map(Value::as_str)
                                    .filter(|n| !object.contains_key(*n))
                                    .map(|n| format!("'{n}'"))
                                    .collect();
                                if !missing.is_empty() {
                                    errors.push(SchemaError::new(
                                        at,
                                        format!("properties {} required, if '{key}' exists", missing.join(", ")),
                                    ));
                                }
                            }
                            sub @ Value::Object(_) => errors.extend(self.check_flat(sub, value, at)),
                            _ => {}
                        }
                    }
                }
            }
            Value::Array(items) => {
                match schema.get("items") {
                    Some(Value::Array(tuple)) => {
                        for (i, (item, sub)) in items.iter().zip(tuple).enumerate() {
                            errors.extend(self.child(sub, item, &format!("{at}/{i}")));
                        }
                    }
                    Some(sub) => {
                        for (i, item) in items.iter().enumerate() {
                            errors.extend(self.child(sub, item, &format!("{at}/{i}")));
                        }
                    }
                    None => {}
                }
                bound(&mut errors, at, "minItems", schema, items.len(), |n, m| n < m);
                bound(&mut errors, at, "maxItems", schema, items.len(), |n, m| n > m);
                if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
                    'outer: for i in 0..items.len() {
                        for j in i + 1..items.len() {
                            if equal(&items[i], &items[j]) {
                                errors.push(SchemaError::new(at, format!("items at {i} and {j} are equal")));
                                break 'outer;
                            }
                        }
                    }
                }
                if let Some(contains) = schema.get("contains")
                    && !items.iter().any(|item| self.check_flat(contains, item, at).is_empty())
                {
                    errors.push(SchemaError::new(at, "no items match contains schema".into()));
                }
            }
            Value::String(text) => {
                let length = text.chars().count();
                bound(&mut errors, at, "minLength", schema, length, |n, m| n < m);
                bound(&mut errors, at, "maxLength", schema, length, |n, m| n > m);
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                    && regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(text))
                {
                    errors.push(SchemaError::new(at, format!("'{text}' does not match pattern '{pattern}'")));
                }
            }
            Value::Number(_) => {
                let n = value.as_f64().unwrap_or(0.0);
                let got = number_text(value);
                for (keyword, fails) in [
                    ("minimum", (|n: f64, m: f64| n < m) as fn(f64, f64) -> bool),
                    ("maximum", |n, m| n > m),
                    ("exclusiveMinimum", |n, m| n <= m),
                    ("exclusiveMaximum", |n, m| n >= m),
                ] {
                    if let Some(limit) = schema.get(keyword).filter(|l| l.is_number())
                        && fails(n, limit.as_f64().unwrap_or(0.0))
                    {
                        errors.push(SchemaError::new(at, format!("{keyword}: got {got}, want {}", number_text(limit))));
                    }
                }
                if let Some(divisor) = schema.get("multipleOf").and_then(Value::as_f64)
                    && divisor != 0.0
                    && (n / divisor).fract() != 0.0
                {
                    errors.push(SchemaError::new(
                        at,
                        format!("{got} not multipleOf {}", number_text(&schema["multipleOf"])),
                    ));
                }
            }
            _ => {}
        }
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for sub in all {
                errors.extend(self.check_flat(sub, value, at));
            }
        }
        if let Some(Value::Array(any)) = schema.get("anyOf") {
            let results: Vec<Vec<SchemaError>> = any.iter().map(|sub| self.child(sub, value, at)).collect();
            if results.iter().all(|r| !r.is_empty()) {
                let mut error = SchemaError::new(at, "'anyOf' failed".into());
                error.causes = results.into_iter().flatten().collect();
                errors.push(error);
            }
        }
        if let Some(Value::Array(one)) = schema.get("oneOf") {
            let results: Vec<Vec<SchemaError>> = one.iter().map(|sub| self.child(sub, value, at)).collect();
            let matched: Vec<String> =
                results.iter().enumerate().filter(|(_, r)| r.is_empty()).map(|(i, _)| i.to_string()).collect();
            match matched.len() {
                1 => {}
                0 => {
                    let mut error = SchemaError::new(at, "'oneOf' failed, none matched".into());
                    error.causes = results.into_iter().flatten().collect();
                    errors.push(error);
                }
                _ => errors
                    .push(SchemaError::new(at, format!("'oneOf' failed, subschemas {} matched", matched.join(", ")))),
            }
        }
        if let Some(not) = schema.get("not")
            && self.check_flat(not, value, at).is_empty()
        {
            errors.push(SchemaError::new(at, "'not' failed".into()));
        }
        if let Some(condition) = schema.get("if") {
            let branch =
                if self.check_flat(condition, value, at).is_empty() { schema.get("then") } else { schema.get("else") };
            if let Some(branch) = branch {
                errors.extend(self.check_flat(branch, value, at));
            }
        }
        errors
    }
}

fn bound(
    errors: &mut Vec<SchemaError>,
    at: &str,
    keyword: &str,
    schema: &serde_json::Map<String, Value>,
    got: usize,
    fails: fn(usize, usize) -> bool,
) {
    if let Some(limit) = schema.get(keyword).and_then(Value::as_f64)
        && fails(got, limit as usize)
    {
        errors.push(SchemaError::new(at, format!("{keyword}: got {got}, want {}", limit as usize)));
    }
}

/// JSON equality with numbers compared by value (1 equals 1.0).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}
