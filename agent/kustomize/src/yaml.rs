//! YAML read the way kustomize reads it, into JSON values.
//!
//! Resources go through go-yaml v3 and a JSON round trip ([`Dialect::Resource`]):
//! `0755` is octal, `1e3` and `1.0` are the integers 1000 and 1, dates become
//! RFC 3339 timestamps, `yes`/`on` stay strings. Kustomization files, JSON
//! patches and field-spec configurations go through `sigs.k8s.io/yaml`
//! (go-yaml v2, [`Dialect::Config`]): `yes`/`on` are booleans, dates stay
//! strings, repeated keys keep the last value. Anchors, aliases and `<<`
//! merge keys are expanded under a node budget, so a YAML bomb is refused.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

/// Which Go YAML library's scalar rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// go-yaml v3 plus a JSON round trip: resources and patches.
    Resource,
    /// go-yaml v2 through `sigs.k8s.io/yaml`: kustomization files, JSON patches.
    Config,
    /// Resource scalars, read as kyaml reads patches: a repeated key keeps
    /// its first value and keys are not type-checked.
    Patch,
}

/// Values (nodes) one file may expand to, aliases included.
pub const MAX_NODES: usize = 2_000_000;
/// Nesting depth one document may have.
pub const MAX_DEPTH: usize = 200;

/// Parses every document of `text`; empty documents are `Value::Null`.
/// Errors read `line L column C: reason`.
pub fn parse_documents(text: &str, dialect: Dialect) -> Result<Vec<Value>, String> {
    let mut builder = Builder { dialect, stack: Vec::new(), anchors: HashMap::new(), nodes: 0, docs: Vec::new() };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) =
            next.map_err(|e| format!("line {} column {}: {}", e.marker().line(), e.marker().col() + 1, e.info()))?;
        builder
            .event(event)
            .map_err(|reason| format!("line {} column {}: {reason}", span.start.line(), span.start.col() + 1))?;
    }
    Ok(builder.docs)
}

/// Parses exactly one document (none is `Null`).
pub fn parse_one(text: &str, dialect: Dialect) -> Result<Value, String> {
    let mut docs = parse_documents(text, dialect)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

enum Frame {
    Seq { items: Vec<Value>, anchor: usize },
    Map { map: Map<String, Value>, anchor: usize, key: Option<Key>, merges: Vec<Value> },
}

enum Key {
    Plain(String),
    Merge,
}

struct Builder {
    dialect: Dialect,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    docs: Vec<Value>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(..) => {
                self.anchors.clear();
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1)?;
                let tag = tag.map(|t| {
                    let (handle, suffix) = t.parts();
                    if handle == "tag:yaml.org,2002:" { format!("!!{suffix}") } else { format!("{handle}{suffix}") }
                });
                // A plain `<<` in key position is a merge key.
                if style == ScalarStyle::Plain
                    && tag.is_none()
                    && text == "<<"
                    && matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
                {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some(Key::Merge);
                    }
                    return Ok(());
                }
                let value = resolve(&text, style, tag.as_deref(), self.dialect)?;
                if anchor != 0 {
                    self.anchors.insert(anchor, (value.clone(), 1));
                }
                self.push(value)
            }
            Event::Alias(id) => {
                let (value, size) = self.anchors.get(&id).cloned().ok_or("alias to an unknown anchor")?;
                self.count(size)?;
                self.push(value)
            }
            Event::SequenceStart(_, anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                self.stack.push(Frame::Seq { items: Vec::new(), anchor });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                self.stack.push(Frame::Map { map: Map::new(), anchor, key: None, merges: Vec::new() });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { items, anchor }) => {
                    let value = Value::Array(items);
                    let size = node_count(&value);
                    if anchor != 0 {
                        self.anchors.insert(anchor, (value.clone(), size));
                    }
                    self.push(value)
                }
                _ => Err("unbalanced sequence".into()),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map { mut map, anchor, merges, .. }) => {
                    for merge in merges {
                        merge_into(&mut map, merge)?;
                    }
                    let value = Value::Object(map);
                    let size = node_count(&value);
                    if anchor != 0 {
                        self.anchors.insert(anchor, (value.clone(), size));
                    }
                    self.push(value)
                }
                _ => Err("unbalanced mapping".into()),
            },
            _ => Ok(()),
        }
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(format!("the document expands to more than {MAX_NODES} nodes (an alias bomb?)"));
        }
        Ok(())
    }

    fn push(&mut self, value: Value) -> Result<(), String> {
        let dialect = self.dialect;
        match self.stack.last_mut() {
            None => {
                self.docs.push(value);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Map { map, key, merges, .. }) => match key.take() {
                None => {
                    let text = match value {
                        Value::String(s) => s,
                        // kustomize cannot print such a mapping (`json: unsupported type`).
                        other if dialect == Dialect::Resource => {
                            return Err(format!(
                                "mapping key {other} is not a string; quote it (kustomize fails on it: json: unsupported type)"
                            ));
                        }
                        Value::Null => "null".into(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return Err("a mapping key must be a scalar".into()),
                    };
                    *key = Some(Key::Plain(text));
                    Ok(())
                }
                Some(Key::Merge) => {
                    merges.push(value);
                    Ok(())
                }
                Some(Key::Plain(k)) => {
                    if map.contains_key(&k) {
                        match dialect {
                            Dialect::Resource => return Err(format!("mapping key {k:?} already defined")),
                            Dialect::Patch => return Ok(()),
                            Dialect::Config => {}
                        }
                    }
                    map.insert(k, value);
                    Ok(())
                }
            },
        }
    }
}

/// Adds the entries of a `<<` value (a mapping or a sequence of mappings)
/// that the mapping does not set itself; the first mapping wins.
fn merge_into(map: &mut Map<String, Value>, merge: Value) -> Result<(), String> {
    match merge {
        Value::Object(source) => {
            for (k, v) in source {
                map.entry(k).or_insert(v);
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) => merge_into(map, item)?,
                    _ => return Err("map merge requires map or sequence of maps as the value".into()),
                }
            }
            Ok(())
        }
        _ => Err("map merge requires map or sequence of maps as the value".into()),
    }
}

fn node_count(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves one scalar as go-yaml does (then through JSON, for resources).
pub fn resolve(text: &str, style: ScalarStyle, tag: Option<&str>, dialect: Dialect) -> Result<Value, String> {
    match tag {
        Some("!!str" | "!!binary") => return Ok(Value::String(text.to_string())),
        Some("!!int" | "!!float" | "!!bool" | "!!null" | "!!timestamp") | None => {}
        // Unknown and local tags: the text.
        Some(_) => return Ok(Value::String(text.to_string())),
    }
    if style != ScalarStyle::Plain && tag.is_none() {
        return Ok(Value::String(text.to_string()));
    }
    Ok(resolve_plain(text, dialect))
}

/// A plain scalar's value.
pub fn resolve_plain(text: &str, dialect: Dialect) -> Value {
    let Some(first) = text.bytes().next() else { return Value::Null };
    match text {
        "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if dialect == Dialect::Config {
        match text {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Value::Bool(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Value::Bool(false),
            _ => {}
        }
    }
    match first {
        b'.' => parse_go_float(text).map(float_value).unwrap_or_else(|| Value::String(text.into())),
        b'0'..=b'9' | b'+' | b'-' => {
            if dialect != Dialect::Config
                && first.is_ascii_digit()
                && let Some(stamp) = timestamp(text)
            {
                return Value::String(stamp);
            }
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(n) = parse_go_int(&plain) {
                return int_value(n);
            }
            if is_yaml_float(&plain)
                && let Some(f) = parse_go_float(&plain)
            {
                return float_value(f);
            }
            Value::String(text.into())
        }
        _ => Value::String(text.into()),
    }
}

fn int_value(n: i128) -> Value {
    if let Ok(i) = i64::try_from(n) {
        Value::Number(i.into())
    } else if let Ok(u) = u64::try_from(n) {
        Value::Number(u.into())
    } else {
        Value::Null
    }
}

/// A float after the JSON round trip: integral values below 2^64 print
/// without a fraction and come back as integers.
fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= -(2f64.powi(63)) && f < 2f64.powi(63) {
            return Value::Number((f as i64).into());
        }
        if f >= 0.0 && f < 2f64.powi(64) {
            return Value::Number((f as u64).into());
        }
    }
    Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint`.
pub fn parse_go_int(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(rest) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, rest)
    } else if let Some(rest) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, rest)
    } else if let Some(rest) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, rest)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    let value = if negative { -(i128::try_from(magnitude).ok()?) } else { i128::try_from(magnitude).ok()? };
    let fits_signed = value >= i128::from(i64::MIN) && value <= i128::from(i64::MAX);
    let fits_unsigned = !negative && s.as_bytes().first() != Some(&b'+') && value <= i128::from(u64::MAX);
    (fits_signed || fits_unsigned).then_some(value)
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat` for decimal text (infinite results fail).
fn parse_go_float(s: &str) -> Option<f64> {
    if !s.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// go-yaml v3's timestamps (`2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00`,
/// `2006-1-2 15:4:5.999999999`) as `time.Time` marshals to JSON.
fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { s: b, i: 5 };
    let year: u32 = s[..4].parse().ok()?;
    let month = p.num(1, 2)?;
    p.lit(b'-')?;
    let day = p.num(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let separator = p.next()?;
    let zoned = match separator {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let hour = p.num(1, 2)?;
    p.lit(b':')?;
    let minute = p.num(1, 2)?;
    p.lit(b':')?;
    let second = p.num(1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut fraction = String::new();
    if p.peek() == Some(b'.') {
        p.i += 1;
        while let Some(c) = p.peek().filter(u8::is_ascii_digit) {
            fraction.push(char::from(c));
            p.i += 1;
        }
        if fraction.is_empty() || fraction.len() > 9 {
            return None;
        }
    }
    let fraction = fraction.trim_end_matches('0');
    let fraction = if fraction.is_empty() { String::new() } else { format!(".{fraction}") };
    let time = format!("{hour:02}:{minute:02}:{second:02}{fraction}");
    if !zoned {
        return p.done().then(|| format!("{date}T{time}Z"));
    }
    let zone = &s[p.i..];
    if zone == "Z" {
        return Some(format!("{date}T{time}Z"));
    }
    let zb = zone.as_bytes();
    if zb.len() == 6
        && matches!(zb[0], b'+' | b'-')
        && zb[3] == b':'
        && zb[1..3].iter().chain(&zb[4..]).all(u8::is_ascii_digit)
    {
        if zone == "+00:00" || zone == "-00:00" {
            return Some(format!("{date}T{time}Z"));
        }
        return Some(format!("{date}T{time}{zone}"));
    }
    None
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn done(&self) -> bool {
        self.i == self.s.len()
    }
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn num(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i < self.s.len() && self.i - start < max && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Drops null map values: Go decodes a null as the field's zero value.
pub fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The text kustomize sees for a scalar (`.Value` of its YAML node).
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        parse_one(text, Dialect::Resource).expect("valid yaml")
    }

    #[test]
    fn go_yaml_v3_scalars_through_json() {
        let table = [
            ("0755", json!(493)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("1e3", json!(1000)),
            ("1.0", json!(1)),
            ("1.5", json!(1.5)),
            ("08", json!(8)),
            ("1_000", json!(1000)),
            ("9007199254740993", json!(9007199254740993u64)),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("2024-01-01", json!("2024-01-01T00:00:00Z")),
            ("2001-12-14t21:59:43.10+05:00", json!("2001-12-14T21:59:43.1+05:00")),
            ("2024-13-01", json!("2024-13-01")),
            ("yes", json!("yes")),
            ("on", json!("on")),
            ("NO", json!("NO")),
            ("True", json!(true)),
            ("~", Value::Null),
            ("", Value::Null),
            (".5", json!(0.5)),
            ("+1", json!(1)),
            ("-", json!("-")),
            ("1e400", json!("1e400")),
            ("_1", json!("_1")),
        ];
        for (text, want) in table {
            assert_eq!(resolve_plain(text, Dialect::Resource), want, "{text:?}");
        }
        assert_eq!(resolve_plain("yes", Dialect::Config), json!(true));
        assert_eq!(resolve_plain("2024-01-01", Dialect::Config), json!("2024-01-01"));
    }

    #[test]
    fn quoting_tags_anchors_and_merges() {
        let v = one("a: '0755'\nb: !!str 12\nc: &x {k: 1, j: 2}\nd: *x\ne:\n  <<: *x\n  k: 3\nf: !custom 5\n");
        assert_eq!(
            v,
            json!({"a": "0755", "b": "12", "c": {"k": 1, "j": 2}, "d": {"k": 1, "j": 2}, "e": {"k": 3, "j": 2}, "f": "5"})
        );
    }

    #[test]
    fn documents_errors_and_bombs() {
        let docs = parse_documents("---\na: 1\n---\n---\nb: 2\n", Dialect::Resource).expect("valid");
        assert_eq!(docs.len(), 3);
        assert!(docs[1].is_null());
        let err = parse_documents("a: [1, 2\n", Dialect::Resource).expect_err("unclosed");
        assert!(err.starts_with("line "), "{err}");
        assert!(parse_one("a: 1\na: 2\n", Dialect::Resource).is_err());
        assert_eq!(parse_one("a: 1\na: 2\n", Dialect::Config).expect("last wins"), json!({"a": 2}));
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        let err = parse_documents(&bomb, Dialect::Resource).expect_err("bomb");
        assert!(err.contains("alias bomb"), "{err}");
    }
}
