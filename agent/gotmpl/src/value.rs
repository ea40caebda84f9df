//! The values templates compute with, typed the way Go's reflection sees
//! Helm's data: numbers from values files are `float64`, Sprig's arithmetic
//! returns `int64`, `len` and `int` return `int`, maps are
//! `map[string]interface {}` and lists `[]interface {}`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::Arc;

/// A map as templates see it: string keys, iterated in sorted order (as Go
/// ranges over maps).
pub type Map = BTreeMap<String, Value>;

/// A template value. Maps are shared and mutable, as Go maps are references:
/// `set $m "k" v` changes `$m` wherever it is seen. Values live in one
/// render on one thread, hence `Rc`.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's nil interface: a missing map key, a YAML `null`.
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int` (Go's platform int, 64 bits here).
    Int(i64),
    /// `int64` (Sprig's arithmetic results).
    Int64(i64),
    /// `float64` (every number read from YAML or JSON values).
    Float(f64),
    /// `string`.
    Str(Arc<str>),
    /// `[]interface {}`; `strings` marks a `[]string` (for `%T` and `kindIs`).
    List(Rc<Vec<Value>>, ListType),
    /// `map[string]interface {}` (or a named map type such as Helm's `common.Values`).
    Map(Rc<RefCell<Dict>>),
    /// A struct-like value with fields and methods (`.Files`, `.Capabilities`).
    Object(Rc<dyn Object>),
}

/// A `complex128` constant of a template (real, imaginary).
pub struct Complex(pub f64, pub f64);

impl Object for Complex {
    fn type_name(&self) -> &str {
        "complex128"
    }

    fn kind_name(&self) -> &'static str {
        "complex128"
    }

    fn field(&self, _name: &str) -> Option<Result<Value, String>> {
        None
    }

    /// Go's `%v`: `(1+2i)`, each part as `%g`, the imaginary one signed.
    fn display(&self) -> String {
        let imaginary = format_float_g(self.1, None, false);
        let sign = if imaginary.starts_with(['-', '+']) { "" } else { "+" };
        format!("({}{sign}{imaginary}i)", format_float_g(self.0, None, false))
    }
}

/// A map's entries and, for named map types, the Go type name.
#[derive(Clone, Default, PartialEq)]
pub struct Dict {
    entries: Map,
    /// The Go type (`common.Values`); `None` for `map[string]interface {}`.
    pub type_name: Option<&'static str>,
}

impl std::ops::Deref for Dict {
    type Target = Map;
    fn deref(&self) -> &Map {
        &self.entries
    }
}

impl std::ops::DerefMut for Dict {
    fn deref_mut(&mut self) -> &mut Map {
        &mut self.entries
    }
}

/// The Go element type of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ListType {
    /// `[]interface {}`.
    #[default]
    Any,
    /// `[]string`.
    Strings,
    /// `[]int`.
    Ints,
}

/// A struct-like value: named fields and methods callable with arguments,
/// like the Go structs Helm passes to templates.
pub trait Object: std::any::Any {
    /// The Go type name, for `%T` and error messages.
    fn type_name(&self) -> &str;
    /// A field or method without arguments; `None` if there is no such member.
    fn field(&self, name: &str) -> Option<Result<Value, String>>;
    /// A method called with arguments; `None` if there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (name, args);
        None
    }
    /// How `%v` prints it (Go's `String()` method when it has one).
    fn display(&self) -> String;

    /// The Go reflect kind (Sprig's `kindOf`): most of Helm's objects are pointers.
    fn kind_name(&self) -> &'static str {
        "ptr"
    }

    /// Its exported fields, for `toYaml`/`toJson` (Go marshals structs by field).
    fn as_map(&self) -> Option<Map> {
        None
    }

    /// Its elements, for an object of a slice type (Sprig's list functions
    /// take any slice by reflection).
    fn as_list(&self) -> Option<Vec<Value>> {
        None
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<Arc<str>>) -> Self {
        Value::Str(s.into())
    }

    /// A `[]interface {}`.
    pub fn list(items: Vec<Value>) -> Self {
        Value::List(Rc::new(items), ListType::Any)
    }

    /// A `[]string`.
    pub fn strings(items: Vec<String>) -> Self {
        Value::List(Rc::new(items.into_iter().map(Value::str).collect()), ListType::Strings)
    }

    /// A map value.
    pub fn map(map: Map) -> Self {
        Value::Map(Rc::new(RefCell::new(Dict { entries: map, type_name: None })))
    }

    /// A map of a named Go map type (Helm's `common.Values`).
    pub fn named_map(map: Map, type_name: &'static str) -> Self {
        Value::Map(Rc::new(RefCell::new(Dict { entries: map, type_name: Some(type_name) })))
    }

    /// Go's truth: false, 0, nil, and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l, _) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Object(_) => true,
        }
    }

    /// The Go type name (`%T`).
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_, ListType::Any) => "[]interface {}".into(),
            Value::List(_, ListType::Strings) => "[]string".into(),
            Value::List(_, ListType::Ints) => "[]int".into(),
            Value::Map(m) => m.borrow().type_name.unwrap_or("map[string]interface {}").into(),
            Value::Object(o) => o.type_name().into(),
        }
    }

    /// The Go reflect kind name (Sprig's `kindOf`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(..) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind_name(),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer inside, if this is an integer of any kind.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            _ => None,
        }
    }

    /// Whether this is Go's nil.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Converts JSON data (values, chart metadata) into template values,
    /// numbers as `float64` the way Helm's YAML→JSON loading leaves them.
    pub fn from_json(json: &serde_json::Value) -> Self {
        Value::convert_json(json, false)
    }

    /// Converts JSON objects (Kubernetes manifests) into values whose
    /// integers are `int64`, as apimachinery decodes them, so that printing
    /// them keeps every digit (`9007199254740993`, `1000000` not `1e+06`).
    pub fn from_json_integers(json: &serde_json::Value) -> Self {
        Value::convert_json(json, true)
    }

    fn convert_json(json: &serde_json::Value, integers: bool) -> Self {
        match json {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) if integers => Value::Int64(i),
                _ => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(a) => Value::list(a.iter().map(|v| Value::convert_json(v, integers)).collect()),
            serde_json::Value::Object(o) => {
                Value::map(o.iter().map(|(k, v)| (k.clone(), Value::convert_json(v, integers))).collect())
            }
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.type_name(), display(self))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a) | Value::Int64(a), Value::Int(b) | Value::Int64(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a, _), Value::List(b, _)) => a == b,
            (Value::Map(a), Value::Map(b)) => Rc::ptr_eq(a, b) || *a.borrow() == *b.borrow(),
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Go's `%v` of a value (`fmt.Sprint`).
pub fn display(value: &Value) -> String {
    let mut out = String::new();
    write_display(&mut out, value);
    out
}

/// Appends Go's `%v` of a value.
pub fn write_display(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&format_float_g(*f, None, false)),
        Value::Str(s) => out.push_str(s),
        Value::List(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_display(out, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_display(out, v);
            }
            out.push(']');
        }
        Value::Object(o) => out.push_str(&o.display()),
    }
}

/// Decimal digits and exponent of the shortest representation that
/// round-trips (`d.ddd × 10^exp`), as Go's `strconv` computes for `-1` precision.
fn shortest_digits(f: f64) -> (String, i32) {
    let text = format!("{:e}", f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// Digits and exponent rounded to `significant` digits.
fn rounded_digits(f: f64, significant: usize) -> (String, i32) {
    let text = format!("{:.*e}", significant.saturating_sub(1), f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

/// Go's `%g` (and `%v` for floats): shortest representation, or `precision`
/// significant digits; exponent form when the exponent is < -4 or ≥ the
/// precision (6 for the shortest form, as `strconv` does).
pub fn format_float_g(f: f64, precision: Option<usize>, upper: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    let (mut digits, exp) = match precision {
        None => shortest_digits(f),
        Some(p) => rounded_digits(f, p.max(1)),
    };
    let eprec = match precision {
        None => 6,
        Some(p) => {
            // %g with precision drops trailing zeros.
            while digits.len() > 1 && digits.ends_with('0') {
                digits.pop();
            }
            p.max(1) as i32
        }
    };
    if exp < -4 || exp >= eprec {
        let mut out = String::from(sign);
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        let _ = write!(out, "{:02}", exp.abs());
        return out;
    }
    let mut out = String::from(sign);
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        let cases = [
            (8080.0, "8080"),
            (1.5, "1.5"),
            (1e6, "1e+06"),
            (100000.0, "100000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (123456789.0, "1.23456789e+08"),
            (1e21, "1e+21"),
            (1234567.0, "1.234567e+06"),
            (4.56789, "4.56789"),
        ];
        for (f, want) in cases {
            assert_eq!(display(&Value::Float(f)), want, "{f}");
        }
    }

    #[test]
    fn truth_and_types() {
        assert!(!Value::Nil.truthy());
        assert!(!Value::str("").truthy());
        assert!(Value::str("0").truthy());
        assert!(!Value::Float(0.0).truthy());
        assert!(!Value::list(vec![]).truthy());
        assert_eq!(Value::list(vec![]).type_name(), "[]interface {}");
        assert_eq!(display(&Value::list(vec![Value::Int(1), Value::Nil])), "[1 <nil>]");
    }
}
