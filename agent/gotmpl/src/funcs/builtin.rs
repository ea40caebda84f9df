//! Go's `text/template` builtins (`and`/`or` live in the executor, since
//! they do not evaluate every argument).

use std::cmp::Ordering;

use super::fmt::{sprint, sprintf, sprintln};
use super::{arg_string, arity, at_least};
use crate::Functions;
use crate::value::{Value, display};

/// Registers the builtins.
pub fn register(f: &mut Functions) {
    f.plain("print", |a| Ok(Value::str(sprint(&a))));
    f.plain("println", |a| Ok(Value::str(sprintln(&a))));
    f.plain("printf", |a| {
        at_least("printf", &a, 1)?;
        Ok(Value::str(sprintf(arg_string(&a, 0)?, &a[1..])))
    });
    f.plain("len", |a| {
        arity("len", &a, 1)?;
        length(&a[0]).map(Value::Int)
    });
    f.plain("index", |a| {
        at_least("index", &a, 1)?;
        index(&a[0], &a[1..])
    });
    f.plain("slice", |a| {
        at_least("slice", &a, 1)?;
        slice(&a[0], &a[1..])
    });
    f.plain("not", |a| {
        arity("not", &a, 1)?;
        Ok(Value::Bool(!a[0].truthy()))
    });
    f.plain("eq", |a| {
        at_least("eq", &a, 1)?;
        eq(&a[0], &a[1..]).map(Value::Bool)
    });
    f.plain("ne", |a| {
        arity("ne", &a, 2)?;
        eq(&a[0], &a[1..2]).map(|b| Value::Bool(!b))
    });
    f.plain("lt", |a| compare_fn("lt", &a, |o| o == Ordering::Less));
    f.plain("le", |a| compare_fn("le", &a, |o| o != Ordering::Greater));
    f.plain("gt", |a| compare_fn("gt", &a, |o| o == Ordering::Greater));
    f.plain("ge", |a| compare_fn("ge", &a, |o| o != Ordering::Less));
    f.plain("html", |a| Ok(Value::str(html_escape(&escape_arg(&a)))));
    f.plain("js", |a| Ok(Value::str(js_escape(&escape_arg(&a)))));
    f.plain("urlquery", |a| Ok(Value::str(query_escape(&escape_arg(&a)))));
    f.plain("call", |a| {
        at_least("call", &a, 1)?;
        Err(format!("non-function {} of type {}", display(&a[0]), a[0].type_name()))
    });
}

/// The escapers' input: a lone string as is, otherwise `fmt.Sprint`.
fn escape_arg(args: &[Value]) -> String {
    match args {
        [Value::Str(s)] => s.to_string(),
        _ => sprint(args),
    }
}

fn length(value: &Value) -> Result<i64, String> {
    match value {
        Value::Str(s) => Ok(s.len() as i64),
        Value::List(l, _) => Ok(l.len() as i64),
        Value::Map(m) => Ok(m.borrow().len() as i64),
        Value::Nil => Err("len of nil pointer".into()),
        other => Err(format!("len of type {}", other.type_name())),
    }
}

fn index_of(value: &Value, len: usize, what: &str) -> Result<usize, String> {
    match value {
        Value::Int(i) | Value::Int64(i) => {
            if *i < 0 || *i as usize >= len {
                Err(format!("{what} out of range: {i}"))
            } else {
                Ok(*i as usize)
            }
        }
        Value::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!("cannot index slice/array with type {}", other.type_name())),
    }
}

fn index(item: &Value, indices: &[Value]) -> Result<Value, String> {
    let mut current = item.clone();
    for i in indices {
        current = match &current {
            Value::List(items, _) => items[index_of(i, items.len(), "index")?].clone(),
            Value::Str(s) => Value::Int(i64::from(s.as_bytes()[index_of(i, s.len(), "index")?])),
            Value::Map(map) => match i {
                Value::Str(key) => map.borrow().get(key.as_ref()).cloned().unwrap_or_default(),
                Value::Nil => Value::Nil,
                other => return Err(format!("value has type {}; should be string", other.type_name())),
            },
            Value::Nil => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(current)
}

fn slice(item: &Value, indices: &[Value]) -> Result<Value, String> {
    if indices.len() > 3 {
        return Err(format!("too many slice indexes: {}", indices.len()));
    }
    let len = match item {
        Value::Str(s) => s.len(),
        Value::List(l, _) => l.len(),
        Value::Nil => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut bounds = [0, len, len];
    for (n, i) in indices.iter().enumerate() {
        let Some(v) = i.as_int() else {
            return Err(format!("cannot index slice/array with type {}", i.type_name()));
        };
        if v < 0 || v as usize > len {
            return Err(format!("index out of range: {v}"));
        }
        bounds[n] = v as usize;
    }
    if bounds[0] > bounds[1] {
        return Err(format!("invalid slice index: {} > {}", bounds[0], bounds[1]));
    }
    match item {
        Value::Str(s) => {
            if indices.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.get(bounds[0]..bounds[1]).map(Value::str).ok_or_else(|| "slice splits a character".into())
        }
        Value::List(l, t) => Ok(Value::List(std::rc::Rc::new(l[bounds[0]..bounds[1]].to_vec()), *t)),
        _ => Err(format!("can't slice item of type {}", item.type_name())),
    }
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn kind(value: &Value) -> Kind {
    match value {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::String,
        _ => Kind::Other,
    }
}

/// Go's `eq`: true if the first argument equals any of the others.
pub fn eq(first: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = kind(first);
    for other in others {
        let k2 = kind(other);
        let truth = if k1 != k2 {
            if k1 != Kind::Invalid && k2 != Kind::Invalid {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (first, other) {
                (Value::Nil, Value::Nil) => true,
                (Value::List(..) | Value::Map(_) | Value::Object(_), _) => {
                    return Err(format!("non-comparable type {}: {}", display(first), first.type_name()));
                }
                _ => first == other,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn compare_fn(name: &str, args: &[Value], test: fn(Ordering) -> bool) -> Result<Value, String> {
    arity(name, args, 2)?;
    compare(&args[0], &args[1]).map(|o| Value::Bool(test(o)))
}

/// Go's ordering for `lt`/`le`/`gt`/`ge`: basic kinds only, same kind.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Invalid | Kind::Bool | Kind::Other) || matches!(kb, Kind::Invalid | Kind::Bool | Kind::Other)
    {
        return Err("invalid type for comparison".into());
    }
    if ka != kb {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => a.as_int().unwrap_or(0).cmp(&b.as_int().unwrap_or(0)),
    })
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
