//! How go-yaml v2 writes a string scalar: whether YAML 1.1 would read it
//! as something else (then it is quoted), libyaml's analysis of which
//! styles can hold it, and the plain, single-quoted, double-quoted and
//! literal styles, folded at go-yaml's best width.

use std::fmt::Write as _;

use crate::value::format_float_g;

pub(super) fn yaml_float(f: f64) -> String {
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

/// The column (in characters) where the next character of `out` goes.
pub(super) fn current_column(out: &str) -> usize {
    out.rsplit('\n').next().unwrap_or_default().chars().count()
}

/// Past this column go-yaml folds long scalars at a space.
const BEST_WIDTH: usize = 80;

/// Writes the string scalar `s`, starting at `column`, as go-yaml v2 does:
/// plain, single-quoted, double-quoted or a literal block; continuation
/// lines (of folded or literal scalars) are indented by `indent`. Keys are
/// never folded.
pub(super) fn scalar(out: &mut String, s: &str, indent: usize, is_key: bool, column: usize) {
    let a = analyze(s);
    let needs_quotes = resolves_to_non_string(s) || is_base60_float(s);
    let multiline = s.contains('\n');
    let fold = !is_key;
    if multiline && !is_key && a.block_allowed {
        literal(out, s, indent);
    } else if !needs_quotes && !multiline && a.plain_allowed {
        plain(out, s, column, fold, indent);
    } else if !needs_quotes && !multiline && a.single_allowed {
        single_quoted(out, s, column, indent, fold);
    } else {
        double_quoted(out, s, column, indent, fold);
    }
}

fn line_break(out: &mut String, column: &mut usize, indent: usize) {
    out.push('\n');
    push_indent(out, indent);
    *column = indent;
}

/// Writes `indent` spaces.
pub(super) fn push_indent(out: &mut String, indent: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = indent;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

fn plain(out: &mut String, s: &str, mut column: usize, fold: bool, indent: usize) {
    // Folding happens at a space past BEST_WIDTH: none when the whole text
    // ends before it (its length in bytes bounds its length in characters).
    if !fold || column + s.len() <= BEST_WIDTH {
        out.push_str(s);
        return;
    }
    let mut spaces = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            if !spaces && column > BEST_WIDTH && chars.peek() != Some(&' ') {
                line_break(out, &mut column, indent);
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
}

fn single_quoted(out: &mut String, s: &str, mut column: usize, indent: usize, fold: bool) {
    out.push('\'');
    column += 1;
    let mut spaces = false;
    let mut first = true;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            if fold && !spaces && column > BEST_WIDTH && !first && chars.peek().is_some_and(|next| *next != ' ') {
                line_break(out, &mut column, indent);
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
        first = false;
    }
    out.push('\'');
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
    let mut chars = s.chars().peekable();
    let mut previous: Option<char> = None;
    while let Some(c) = chars.next() {
        let first = previous.is_none();
        let next = chars.peek();
        let last = next.is_none();
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
                '#' if matches!(previous, Some(' ' | '\t')) => block_indicators = true,
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
        previous = Some(c);
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

fn literal(out: &mut String, s: &str, indent: usize) {
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 if s.len() > 1 => {}
        _ => out.push('+'),
    }
    let pad = if indent == 0 { 2 } else { indent };
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            push_indent(out, pad);
            out.push_str(line);
        }
    }
}

fn double_quoted(out: &mut String, s: &str, mut column: usize, indent: usize, fold: bool) {
    out.push('"');
    column += 1;
    let mut spaces = false;
    let mut first = true;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let at_start = std::mem::replace(&mut first, false);
        if c == ' ' {
            if fold && !spaces && column > BEST_WIDTH && !at_start && chars.peek().is_some() {
                line_break(out, &mut column, indent);
                if chars.peek() == Some(&' ') {
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
