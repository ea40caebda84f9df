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

use crate::value::{Value, format_float_g};

/// A JSON-shaped value as go-yaml sees it after the JSON round trip.
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

fn to_node(value: &Value) -> Node {
    match value {
        Value::Nil => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i) | Value::Int64(i) => Node::Int(*i),
        Value::Float(f) => {
            // JSON writes integral floats below 1e21 without a fraction, and
            // go-yaml reads them back as ints.
            if f.fract() == 0.0 && f.abs() < 1e21 && f.abs() < 9.2e18 { Node::Int(*f as i64) } else { Node::Float(*f) }
        }
        Value::Str(s) => Node::Str(s.to_string()),
        Value::List(items, _) => Node::Seq(items.iter().map(to_node).collect()),
        Value::Map(map) => {
            let mut entries: Vec<(String, Node)> = map.borrow().iter().map(|(k, v)| (k.clone(), to_node(v))).collect();
            entries.sort_by(|a, b| natural_order(&a.0, &b.0));
            Node::Map(entries)
        }
        Value::Object(o) => match o.as_map() {
            Some(map) => to_node(&Value::map(map)),
            None => Node::Str(o.display()),
        },
    }
}

/// go-yaml v2's key order: runs of digits compare as numbers, non-letters
/// sort before letters.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl { Ordering::Less } else { Ordering::Greater };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(i64::from(br[bi] as u8 - b'0'));
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
    emit(&mut out, &to_node(value), 0, Context::Document);
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

fn emit(out: &mut String, node: &Node, indent: usize, context: Context) {
    match node {
        Node::Map(entries) if !entries.is_empty() => {
            if context == Context::MapValue {
                out.push('\n');
            }
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 || context != Context::SeqItem {
                    out.push_str(&" ".repeat(indent));
                }
                let column = current_column(out);
                out.push_str(&scalar(key, indent, true, column));
                out.push(':');
                let child_indent = match value {
                    Node::Seq(items) if !items.is_empty() => indent,
                    _ => indent + 2,
                };
                emit(out, value, child_indent, Context::MapValue);
            }
        }
        Node::Seq(items) if !items.is_empty() => {
            if context == Context::MapValue {
                out.push('\n');
            }
            for (i, item) in items.iter().enumerate() {
                if i > 0 || context != Context::SeqItem {
                    out.push_str(&" ".repeat(indent));
                }
                out.push('-');
                match item {
                    Node::Map(e) if !e.is_empty() => {
                        out.push(' ');
                        emit(out, item, indent + 2, Context::SeqItem);
                    }
                    Node::Seq(s) if !s.is_empty() => {
                        out.push(' ');
                        emit(out, item, indent + 2, Context::SeqItem);
                    }
                    _ => emit(out, item, indent + 2, Context::MapValue),
                }
            }
        }
        leaf => {
            if context != Context::Document {
                out.push(' ');
            }
            let text = match leaf {
                Node::Null => "null".to_string(),
                Node::Bool(b) => b.to_string(),
                Node::Int(i) => i.to_string(),
                Node::Float(f) => yaml_float(*f),
                // A document's scalar continues at indent 2, like a value's.
                Node::Str(s) => scalar(s, indent.max(2), false, current_column(out)),
                Node::Map(_) => "{}".to_string(),
                Node::Seq(_) => "[]".to_string(),
            };
            out.push_str(&text);
            out.push('\n');
        }
    }
}

fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf".into() } else { "-.inf".into() };
    }
    format_float_g(f, None, false)
}

/// Whether go-yaml v2 would read the plain scalar `s` as something other
/// than a string (null, bool, number, timestamp, merge key).
fn resolves_to_non_string(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return true };
    match first {
        '~' | 'n' | 'N' | 'y' | 'Y' | 't' | 'T' | 'f' | 'F' | 'o' | 'O' => matches!(
            s,
            "~" | "null"
                | "Null"
                | "NULL"
                | "y"
                | "Y"
                | "yes"
                | "Yes"
                | "YES"
                | "n"
                | "N"
                | "no"
                | "No"
                | "NO"
                | "true"
                | "True"
                | "TRUE"
                | "false"
                | "False"
                | "FALSE"
                | "on"
                | "On"
                | "ON"
                | "off"
                | "Off"
                | "OFF"
        ),
        '<' => s == "<<",
        '.' => matches!(s, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") || is_yaml_float(s),
        '+' | '-' | '0'..='9' => {
            if matches!(s, "-.inf" | "-.Inf" | "-.INF" | "+.inf" | "+.Inf" | "+.INF") {
                return true;
            }
            let plain = s.replace('_', "");
            is_go_int(&plain) || is_yaml_float(&plain) || (first.is_ascii_digit() && is_timestamp(s))
        }
        _ => false,
    }
}

/// `strconv.ParseInt(s, 0, 64)` (and ParseUint) succeeds: decimal, 0x, 0o/0, 0b.
fn is_go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (o, 8)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

/// go-yaml's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'.') {
        i = 1;
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
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml's timestamp forms: `2006-1-2`, with `T`/`t`/space and a time.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let date_len = {
        let mut i = 0;
        let mut ok = true;
        for (part, (min, max)) in [(4, 4), (1, 2), (1, 2)].iter().enumerate() {
            if part > 0 {
                if b.get(i) != Some(&b'-') {
                    ok = false;
                    break;
                }
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() && i - start < *max {
                i += 1;
            }
            if i - start < *min {
                ok = false;
                break;
            }
        }
        if ok { i } else { return false }
    };
    if date_len == b.len() {
        return true;
    }
    let rest = &s[date_len..];
    let Some(time) = rest.strip_prefix(['T', 't', ' ']) else { return false };
    let time = time.trim_start_matches(' ');
    let parts: Vec<&str> = time.splitn(3, ':').collect();
    parts.len() == 3 && parts[0].len() <= 2 && parts[0].bytes().all(|c| c.is_ascii_digit()) && !parts[0].is_empty()
}

/// A string scalar as go-yaml v2 writes it: plain, single-quoted,
/// double-quoted or a literal block.
/// The column (in characters) where the next character of `out` goes.
fn current_column(out: &str) -> usize {
    out.rsplit('\n').next().unwrap_or_default().chars().count()
}

/// Past this column go-yaml folds long scalars at a space.
const BEST_WIDTH: usize = 80;

/// A string scalar starting at `column`; continuation lines (of folded or
/// literal scalars) are indented by `indent`. Keys are never folded.
fn scalar(s: &str, indent: usize, is_key: bool, column: usize) -> String {
    let a = analyze(s);
    let needs_quotes = resolves_to_non_string(s) || is_base60_float(s);
    let multiline = s.contains('\n');
    let fold = !is_key;
    if multiline && !is_key && a.block_allowed {
        return literal(s, indent);
    }
    if !needs_quotes && !multiline && a.plain_allowed {
        return plain(s, column, indent, fold);
    }
    if !needs_quotes && !multiline && a.single_allowed {
        return single_quoted(s, column, indent, fold);
    }
    double_quoted(s, column, indent, fold)
}

fn line_break(out: &mut String, column: &mut usize, indent: usize) {
    out.push('\n');
    out.push_str(&" ".repeat(indent));
    *column = indent;
}

fn plain(s: &str, mut column: usize, indent: usize, fold: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if fold && !spaces && column > BEST_WIDTH && chars.get(i + 1) != Some(&' ') {
                line_break(&mut out, &mut column, indent);
            } else {
                out.push(c);
                column += 1;
            }
            spaces = true;
        } else {
            out.push(c);
            column += 1;
            spaces = false;
        }
    }
    out
}

fn single_quoted(s: &str, mut column: usize, indent: usize, fold: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::from("'");
    column += 1;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if fold && !spaces && column > BEST_WIDTH && i > 0 && i + 1 < chars.len() && chars[i + 1] != ' ' {
                line_break(&mut out, &mut column, indent);
            } else {
                out.push(c);
                column += 1;
            }
            spaces = true;
        } else {
            if c == '\'' {
                out.push('\'');
                column += 1;
            }
            out.push(c);
            column += 1;
            spaces = false;
        }
    }
    out.push('\'');
    out
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, _frac) = match body.split_once('.') {
        Some((m, f)) => {
            if !f.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
                return false;
            }
            (m, f)
        }
        None => (body, ""),
    };
    let mut parts = main.split(':');
    let Some(head) = parts.next() else { return false };
    if head.is_empty() || !head.as_bytes()[0].is_ascii_digit() || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let mut count = 0;
    for part in parts {
        count += 1;
        let ok = match part.len() {
            1 => part.as_bytes()[0].is_ascii_digit(),
            2 => (b'0'..=b'5').contains(&part.as_bytes()[0]) && part.as_bytes()[1].is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    count > 0
}

struct Analysis {
    plain_allowed: bool,
    single_allowed: bool,
    block_allowed: bool,
}

/// libyaml's scalar analysis (block context).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis { plain_allowed: false, single_allowed: true, block_allowed: false };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = false;
    let mut special = false;
    let mut line_breaks = false;
    let (mut space_break, mut break_space) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
    }
    let is_blank = |c: Option<&char>| matches!(c, None | Some(' ' | '\t' | '\n' | '\r'));
    for (i, &c) in chars.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == chars.len();
        let next = chars.get(i + 1);
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%' | '@' | '`' => {
                    block_indicators = true;
                }
                '?' | ':' | '-' if is_blank(next) => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if is_blank(next) => block_indicators = true,
                '#' if matches!(chars.get(i - 1), Some(' ' | '\t')) => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == '\n' {
            line_breaks = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if c == '\n' {
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
    }
    let mut plain = !block_indicators;
    let mut single = true;
    let mut block = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        plain = false;
    }
    if trailing_space {
        block = false;
    }
    if break_space {
        plain = false;
        single = false;
    }
    if space_break || special {
        plain = false;
        single = false;
        block = false;
    }
    if line_breaks {
        plain = false;
    }
    Analysis { plain_allowed: plain, single_allowed: single, block_allowed: block }
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with(' ') || s.starts_with('\n') {
        let _ = write!(out, "{}", 2);
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 if s.len() > 1 => {}
        _ => out.push('+'),
    }
    let pad = " ".repeat(if indent == 0 { 2 } else { indent });
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

fn double_quoted(s: &str, mut column: usize, indent: usize, fold: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::from("\"");
    column += 1;
    let mut spaces = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            if fold && !spaces && column > BEST_WIDTH && i != 0 && i + 1 != chars.len() {
                line_break(&mut out, &mut column, indent);
                if chars.get(i + 1) == Some(&' ') {
                    out.push('\\');
                    column += 1;
                }
            } else {
                out.push(' ');
                column += 1;
            }
            spaces = true;
            continue;
        }
        spaces = false;
        let before = out.len();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !is_printable(c) => {
                let code = c as u32;
                if code <= 0xff {
                    let _ = write!(out, "\\x{code:02X}");
                } else if code <= 0xffff {
                    let _ = write!(out, "\\u{code:04X}");
                } else {
                    let _ = write!(out, "\\U{code:08X}");
                }
            }
            c => out.push(c),
        }
        column += out[before..].chars().count();
    }
    out.push('"');
    out
}

/// go-yaml's printable characters (it tests UTF-8 bytes: NEL and
/// everything beyond the Basic Multilingual Plane are not printable, so
/// emoji end up escaped in double quotes).
fn is_printable(c: char) -> bool {
    let code = c as u32;
    c == '\n'
        || (0x20..=0x7e).contains(&code)
        || (0xa0..=0xd7ff).contains(&code)
        || ((0xe000..=0xfffd).contains(&code) && code != 0xfeff)
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
