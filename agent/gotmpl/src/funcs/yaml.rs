//! The bytes Helm's `toYaml` and `toJson` produce.
//!
//! `toYaml` is `sigs.k8s.io/yaml.Marshal`: Go's JSON encoding, read back by
//! go-yaml v2 (integral numbers become ints) and emitted by go-yaml v2's
//! emitter: map keys in its "natural" order, sequences not indented under
//! their key, strings quoted when YAML 1.1 would read them as something
//! else (`"yes"`, `"1.0"`, `"0755"`, `"2024-01-01"`), literal blocks for
//! multi-line strings.

use std::cmp::Ordering;
use std::fmt::Write as _;

use super::yaml_scalar::{current_column, push_indent, scalar, yaml_float};
use crate::value::Value;

/// go-yaml v2's key order: runs of digits compare as numbers, non-letters
/// sort before letters.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    // Keys are nearly always ASCII: compare their bytes without collecting.
    if a.is_ascii() && b.is_ascii() {
        return natural_order_of(a.as_bytes(), b.as_bytes());
    }
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    natural_order_of(&ar, &br)
}

/// A character as [`natural_order`] sees it (a byte of ASCII text or a char).
trait KeyChar: Copy + Ord {
    fn is_letter(self) -> bool;
    /// Its value as a decimal digit.
    fn digit(self) -> Option<i64>;
}

impl KeyChar for u8 {
    fn is_letter(self) -> bool {
        self.is_ascii_alphabetic()
    }
    fn digit(self) -> Option<i64> {
        self.is_ascii_digit().then(|| i64::from(self - b'0'))
    }
}

impl KeyChar for char {
    fn is_letter(self) -> bool {
        self.is_alphabetic()
    }
    fn digit(self) -> Option<i64> {
        self.to_digit(10).filter(|_| self.is_ascii_digit()).map(i64::from)
    }
}

fn natural_order_of<C: KeyChar>(ar: &[C], br: &[C]) -> Ordering {
    let is_zero = |c: C| c.digit() == Some(0);
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_letter(), br[i].is_letter());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl { Ordering::Less } else { Ordering::Greater };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if is_zero(ar[i]) || is_zero(br[i]) {
            let mut j = i;
            while j > 0 && ar[j - 1].digit().is_some() {
                j -= 1;
                if !is_zero(ar[j]) {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while let Some(d) = ar.get(ai).and_then(|c| c.digit()) {
            an = an.wrapping_mul(10).wrapping_add(d);
            ai += 1;
        }
        let mut bi = i;
        while let Some(d) = br.get(bi).and_then(|c| c.digit()) {
            bn = bn.wrapping_mul(10).wrapping_add(d);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Helm's `toYaml`: the YAML document without its final newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    emit(&mut out, value, 0, Context::Document);
    // Helm trims exactly one trailing newline.
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Document,
    MapValue,
    SeqItem,
}

/// A map (or an object Go marshals as one) with entries, or a list with
/// items: written as a block, not on its key's line.
fn is_block(value: &Value) -> bool {
    match value {
        Value::Map(map) => !map.borrow().is_empty(),
        Value::List(items, _) => !items.is_empty(),
        Value::Object(o) => o.as_map().is_some_and(|map| !map.is_empty()),
        _ => false,
    }
}

/// Writes `value` as go-yaml v2 writes it after Helm's JSON round trip
/// (integral floats are ints; objects are their maps or their text).
fn emit(out: &mut String, value: &Value, indent: usize, context: Context) {
    match value {
        Value::Map(map) => {
            let map = map.borrow();
            if !map.is_empty() {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by(|a, b| natural_order(a.0, b.0));
                emit_map(out, &entries, indent, context);
                return;
            }
        }
        Value::List(items, _) if !items.is_empty() => {
            emit_seq(out, items, indent, context);
            return;
        }
        Value::Object(o) => {
            if let Some(map) = o.as_map() {
                emit(out, &Value::map(map), indent, context);
                return;
            }
        }
        _ => {}
    }
    // A scalar, or an empty map or list.
    if context != Context::Document {
        out.push(' ');
    }
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        // JSON writes integral floats below 1e21 without a fraction, and
        // go-yaml reads them back as ints.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
            let _ = write!(out, "{}", *f as i64);
        }
        Value::Float(f) => out.push_str(&yaml_float(*f)),
        // A document's scalar continues at indent 2, like a value's.
        Value::Str(s) => {
            let column = current_column(out);
            scalar(out, s, indent.max(2), false, column);
        }
        Value::Object(o) => {
            let column = current_column(out);
            scalar(out, &o.display(), indent.max(2), false, column);
        }
        Value::Map(_) => out.push_str("{}"),
        Value::List(..) => out.push_str("[]"),
    }
    out.push('\n');
}

fn emit_map(out: &mut String, entries: &[(&String, &Value)], indent: usize, context: Context) {
    if context == Context::MapValue {
        out.push('\n');
    }
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 || context != Context::SeqItem {
            push_indent(out, indent);
        }
        let column = current_column(out);
        scalar(out, key, indent, true, column);
        out.push(':');
        let child_indent = match value {
            Value::List(items, _) if !items.is_empty() => indent,
            _ => indent + 2,
        };
        emit(out, value, child_indent, Context::MapValue);
    }
}

fn emit_seq(out: &mut String, items: &[Value], indent: usize, context: Context) {
    if context == Context::MapValue {
        out.push('\n');
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 || context != Context::SeqItem {
            push_indent(out, indent);
        }
        out.push('-');
        if is_block(item) {
            out.push(' ');
            emit(out, item, indent + 2, Context::SeqItem);
        } else {
            emit(out, item, indent + 2, Context::MapValue);
        }
    }
}

/// Go's `json.Marshal` of a value (keys sorted, `<>&` escaped); `None`
/// when JSON cannot hold it (NaN, infinities).
pub fn to_json(value: &Value, escape_html: bool) -> Option<String> {
    let mut out = String::new();
    write_json(&mut out, value, escape_html, None, 0)?;
    Some(out)
}

/// Go's `json.MarshalIndent(v, "", "  ")`.
pub fn to_pretty_json(value: &Value) -> Option<String> {
    let mut out = String::new();
    write_json(&mut out, value, true, Some("  "), 0)?;
    Some(out)
}

fn write_json(out: &mut String, value: &Value, escape_html: bool, indent: Option<&str>, depth: usize) -> Option<()> {
    let newline = |out: &mut String, depth: usize| {
        if let Some(unit) = indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(unit);
            }
        }
    };
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Str(s) => json_string(out, s, escape_html),
        Value::Object(o) => match o.as_map() {
            Some(map) => write_json(out, &Value::map(map), escape_html, indent, depth)?,
            None => json_string(out, &o.display(), escape_html),
        },
        Value::List(items, _) => {
            if items.is_empty() {
                out.push_str("[]");
                return Some(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(out, item, escape_html, indent, depth + 1)?;
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Map(map) => {
            let map = map.borrow();
            if map.is_empty() {
                out.push_str("{}");
                return Some(());
            }
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_string(out, k, escape_html);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(out, v, escape_html, indent, depth + 1)?;
            }
            newline(out, depth);
            out.push('}');
        }
    }
    Some(())
}

/// Go's JSON float: shortest digits, `e` notation below 1e-6 and from 1e21.
fn json_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e')?;
        let exp: i32 = exp.parse().ok()?;
        return Some(format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()).replace("e-0", "e-"));
    }
    // Shortest round-trip digits without exponent.
    let text = format!("{f}");
    Some(text)
}

fn json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    #[test]
    fn keys_sort_like_go_yaml() {
        let mut keys = vec!["b", "a10", "a9", "_x", "B", "a"];
        keys.sort_by(|a, b| natural_order(a, b));
        assert_eq!(keys, vec!["_x", "B", "a", "a9", "a10", "b"]);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for (s, want) in [
            ("yes", "\"yes\""),
            ("1.0", "\"1.0\""),
            ("0755", "\"0755\""),
            ("2024-01-01", "\"2024-01-01\""),
            ("", "\"\""),
            ("hello", "hello"),
            ("- x", "'- x'"),
            ("a: b", "'a: b'"),
            ("1:20", "\"1:20\""),
            ("null", "\"null\""),
        ] {
            assert_eq!(to_yaml(&Value::str(s)), want, "{s}");
        }
    }

    #[test]
    fn nested_structures_indent_like_go_yaml() {
        let mut inner = Map::new();
        inner.insert("x".into(), Value::Int(1));
        let mut map = Map::new();
        map.insert("list".into(), Value::list(vec![Value::map(inner), Value::str("s")]));
        map.insert("empty".into(), Value::map(Map::new()));
        map.insert("text".into(), Value::str("a\nb\n"));
        assert_eq!(to_yaml(&Value::map(map)), "empty: {}\nlist:\n- x: 1\n- s\ntext: |\n  a\n  b");
    }

    #[test]
    fn json_like_go() {
        let mut map = Map::new();
        map.insert("b".into(), Value::Float(8080.0));
        map.insert("a".into(), Value::str("<&>"));
        assert_eq!(to_json(&Value::map(map), true).as_deref(), Some("{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":8080}"));
    }
}
