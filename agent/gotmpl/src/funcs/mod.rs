//! Template functions: Go's builtins ([`builtin`]), `printf` ([`fmt`]),
//! Sprig as Helm registers it ([`sprig`], [`semver`]), Helm's own
//! ([`helm`]) and its YAML encoder ([`yaml`]).
//!
//! Arguments are checked the way Go's reflection checks them, so a
//! `float64` where Sprig wants an `int` is an error, as it is in Helm.

pub mod builtin;
pub mod crypto;
pub mod fmt;
pub mod helm;
pub mod semver;
pub mod sprig;
pub mod yaml;
mod yaml_scalar;

use std::sync::Arc;

use super::value::{Value, display};

/// The time `now` returns; fixed in tests so renders are reproducible.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> jiff::Zoned + Send + Sync>);

impl Clock {
    /// The system clock in UTC.
    pub fn system() -> Self {
        Clock(Arc::new(|| jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC)))
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: jiff::Zoned) -> Self {
        Clock(Arc::new(move || at.clone()))
    }

    /// The current time.
    pub fn now(&self) -> jiff::Zoned {
        (self.0)()
    }
}

/// Checks a fixed argument count, with Go's message.
pub(crate) fn arity(name: &str, args: &[Value], want: usize) -> Result<(), String> {
    if args.len() != want {
        return Err(format!("wrong number of args for {name}: want {want} got {}", args.len()));
    }
    Ok(())
}

/// Checks a minimum argument count.
pub(crate) fn at_least(name: &str, args: &[Value], want: usize) -> Result<(), String> {
    if args.len() < want {
        return Err(format!("wrong number of args for {name}: want at least {want} got {}", args.len()));
    }
    Ok(())
}

fn wrong_type(expected: &str, got: &Value) -> String {
    match got {
        Value::Nil => format!("invalid value; expected {expected}"),
        other => format!("wrong type for value; expected {expected}; got {}", other.type_name()),
    }
}

/// Marks an error about one argument, which Go reports at that argument's
/// position and without the `error calling <f>:` prefix.
const ARG_ERROR: char = '\u{0}';

/// An error about argument `index`.
pub(crate) fn arg_error(index: usize, message: String) -> String {
    format!("{ARG_ERROR}{index}{ARG_ERROR}{message}")
}

/// The argument index and message of an [`arg_error`].
pub(crate) fn split_arg_error(error: &str) -> Option<(usize, &str)> {
    let rest = error.strip_prefix(ARG_ERROR)?;
    let (index, message) = rest.split_once(ARG_ERROR)?;
    Some((index.parse().ok()?, message))
}

/// Argument `i` as a `string` parameter.
pub(crate) fn arg_string(args: &[Value], i: usize) -> Result<&str, String> {
    string(&args[i]).map_err(|m| arg_error(i, m))
}

/// Argument `i` as an `int` parameter.
pub(crate) fn arg_int(args: &[Value], i: usize) -> Result<i64, String> {
    int(&args[i]).map_err(|m| arg_error(i, m))
}

/// Argument `i` as a map parameter.
pub(crate) fn arg_map(
    args: &[Value],
    i: usize,
) -> Result<&std::rc::Rc<std::cell::RefCell<super::value::Dict>>, String> {
    map(&args[i]).map_err(|m| arg_error(i, m))
}

/// A `string` parameter.
pub(crate) fn string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| wrong_type("string", value))
}

/// An `int` parameter (an integer constant or an `int`; Go would also
/// reject `int64` here, which we accept).
pub(crate) fn int(value: &Value) -> Result<i64, String> {
    value.as_int().ok_or_else(|| wrong_type("int", value))
}

/// A `map[string]interface {}` parameter.
pub(crate) fn map(value: &Value) -> Result<&std::rc::Rc<std::cell::RefCell<super::value::Dict>>, String> {
    match value {
        Value::Map(m) => Ok(m),
        other => Err(wrong_type("map[string]interface {}", other)),
    }
}

/// Sprig's `strval`: strings as they are, nil as empty, others `%v`.
pub(crate) fn strval(value: &Value) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        other => display(other),
    }
}

/// Sprig's (spf13/cast) `toInt64`: numbers truncated, numeric strings
/// parsed, booleans 0/1, anything else 0.
pub(crate) fn to_int64(value: &Value) -> i64 {
    match value {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => parse_int_string(s).unwrap_or(0),
        _ => 0,
    }
}

/// cast's string→int: decimal, or with a base prefix (`0x`, `0o`, `0b`, leading `0`).
fn parse_int_string(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(i);
    }
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let parsed = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()
    } else {
        None
    };
    parsed.map(|i| if negative { -i } else { i })
}

/// cast's `toFloat64`.
pub(crate) fn to_float64(value: &Value) -> f64 {
    match value {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// The elements of a list argument (or of an object of a slice type, such
/// as Helm's `common.VersionSet`); Sprig's list functions reject other kinds.
pub(crate) fn list<'v>(name: &str, value: &'v Value) -> Result<std::borrow::Cow<'v, [Value]>, String> {
    match value {
        Value::List(items, _) => Ok(std::borrow::Cow::Borrowed(items)),
        Value::Object(object) if let Some(items) = object.as_list() => Ok(std::borrow::Cow::Owned(items)),
        other => Err(format!("Cannot {name} on type {}", other.type_name())),
    }
}
