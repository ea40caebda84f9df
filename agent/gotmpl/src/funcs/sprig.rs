//! Sprig's functions, as Helm registers them (without `env`/`expandenv`).

use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use rand::Rng as _;
use sha2::Digest as _;

use super::{
    Clock, arg_error, arg_int, arg_map, arg_string, arity, at_least, list, map, string, strval, to_float64, to_int64,
};
use crate::value::{ListType, Map, Object, Value, display};
use crate::{Exec, Functions};

type R = Result<Value, String>;

fn s(v: impl Into<String>) -> R {
    Ok(Value::str(v.into()))
}

/// Registers Sprig's functions.
pub fn register(f: &mut Functions, clock: Clock) {
    strings(f);
    lists(f);
    dicts(f);
    math(f);
    conversions(f);
    encodings(f);
    regexes(f);
    paths(f);
    randoms(f);
    dates(f, clock);
    super::semver::register(f);
    super::crypto::register(f);
    // Sprig's other spellings of the same functions.
    for (alias, name) in [("trimall", "trimAll"), ("date_in_zone", "dateInZone"), ("tuple", "list")] {
        if let Some(func) = f.get(name) {
            f.insert(alias, func);
        }
    }
    f.plain("hello", |_| s("Hello!"));
}

/// `empty` as Sprig defines it: nil, false, zero numbers, empty strings,
/// lists and maps.
pub fn empty(value: &Value) -> bool {
    !value.truthy() && !matches!(value, Value::Object(_))
}

fn strings(f: &mut Functions) {
    f.plain("trim", |a| {
        arity("trim", &a, 1)?;
        s(arg_string(&a, 0)?.trim())
    });
    f.plain("trimAll", |a| {
        arity("trimAll", &a, 2)?;
        let cut: Vec<char> = arg_string(&a, 0)?.chars().collect();
        s(arg_string(&a, 1)?.trim_matches(cut.as_slice()))
    });
    f.plain("trimPrefix", |a| {
        arity("trimPrefix", &a, 2)?;
        let (p, v) = (arg_string(&a, 0)?, arg_string(&a, 1)?);
        s(v.strip_prefix(p).unwrap_or(v))
    });
    f.plain("trimSuffix", |a| {
        arity("trimSuffix", &a, 2)?;
        let (p, v) = (arg_string(&a, 0)?, arg_string(&a, 1)?);
        s(v.strip_suffix(p).unwrap_or(v))
    });
    f.plain("upper", |a| {
        arity("upper", &a, 1)?;
        s(arg_string(&a, 0)?.to_uppercase())
    });
    f.plain("lower", |a| {
        arity("lower", &a, 1)?;
        s(arg_string(&a, 0)?.to_lowercase())
    });
    f.plain("title", |a| {
        arity("title", &a, 1)?;
        s(title(arg_string(&a, 0)?))
    });
    f.plain("untitle", |a| {
        arity("untitle", &a, 1)?;
        s(untitle(arg_string(&a, 0)?))
    });
    f.plain("repeat", |a| {
        arity("repeat", &a, 2)?;
        let count = arg_int(&a, 0)?;
        if count < 0 {
            return Err("strings: negative Repeat count".into());
        }
        s(arg_string(&a, 1)?.repeat(count as usize))
    });
    f.plain("substr", |a| {
        arity("substr", &a, 3)?;
        let (start, end, v) = (arg_int(&a, 0)?, arg_int(&a, 1)?, arg_string(&a, 2)?);
        let len = v.len() as i64;
        let range = if start < 0 {
            0..end.clamp(0, len)
        } else if end < 0 || end > len {
            start.min(len)..len
        } else {
            start.min(end)..end
        };
        s(v.get(range.start as usize..range.end as usize).unwrap_or_default())
    });
    f.plain("nospace", |a| {
        arity("nospace", &a, 1)?;
        s(arg_string(&a, 0)?.chars().filter(|c| !c.is_whitespace()).collect::<String>())
    });
    f.plain("trunc", |a| {
        arity("trunc", &a, 2)?;
        let (c, v) = (arg_int(&a, 0)?, arg_string(&a, 1)?);
        let len = v.len() as i64;
        let out = if c < 0 && len + c > 0 {
            v.get((len + c) as usize..).unwrap_or(v)
        } else if c >= 0 && len > c {
            v.get(..c as usize).unwrap_or(v)
        } else {
            v
        };
        s(out)
    });
    f.plain("abbrev", |a| {
        arity("abbrev", &a, 2)?;
        let (width, v) = (arg_int(&a, 0)?, arg_string(&a, 1)?);
        if width < 4 || v.len() as i64 <= width {
            return s(v);
        }
        s(format!("{}...", v.get(..(width - 3) as usize).unwrap_or(v)))
    });
    f.plain("abbrevboth", |a| {
        arity("abbrevboth", &a, 3)?;
        let (left, right, v) = (arg_int(&a, 0)?, arg_int(&a, 1)?, arg_string(&a, 2)?);
        s(abbrev_both(v, left, right))
    });
    f.plain("initials", |a| {
        arity("initials", &a, 1)?;
        s(arg_string(&a, 0)?.split_whitespace().filter_map(|w| w.chars().next()).collect::<String>())
    });
    f.plain("wrap", |a| {
        arity("wrap", &a, 2)?;
        s(wrap(arg_string(&a, 1)?, arg_int(&a, 0)?, "\n"))
    });
    f.plain("wrapWith", |a| {
        arity("wrapWith", &a, 3)?;
        s(wrap(arg_string(&a, 2)?, arg_int(&a, 0)?, arg_string(&a, 1)?))
    });
    f.plain("contains", |a| {
        arity("contains", &a, 2)?;
        Ok(Value::Bool(arg_string(&a, 1)?.contains(arg_string(&a, 0)?)))
    });
    f.plain("hasPrefix", |a| {
        arity("hasPrefix", &a, 2)?;
        Ok(Value::Bool(arg_string(&a, 1)?.starts_with(arg_string(&a, 0)?)))
    });
    f.plain("hasSuffix", |a| {
        arity("hasSuffix", &a, 2)?;
        Ok(Value::Bool(arg_string(&a, 1)?.ends_with(arg_string(&a, 0)?)))
    });
    f.plain("quote", |a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(|v| super::fmt::go_quote(&strval(v))).collect();
        s(parts.join(" "))
    });
    f.plain("squote", |a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(|v| format!("'{}'", strval(v))).collect();
        s(parts.join(" "))
    });
    f.plain("cat", |a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(display).collect();
        s(parts.join(" "))
    });
    f.plain("indent", |a| {
        arity("indent", &a, 2)?;
        s(indent(arg_int(&a, 0)?, arg_string(&a, 1)?))
    });
    f.plain("nindent", |a| {
        arity("nindent", &a, 2)?;
        s(format!("\n{}", indent(arg_int(&a, 0)?, arg_string(&a, 1)?)))
    });
    f.plain("replace", |a| {
        arity("replace", &a, 3)?;
        let (old, new, src) = (arg_string(&a, 0)?, arg_string(&a, 1)?, arg_string(&a, 2)?);
        s(go_replace(src, old, new))
    });
    f.plain("plural", |a| {
        arity("plural", &a, 3)?;
        let count = arg_int(&a, 2)?;
        s(if count == 1 { arg_string(&a, 0)? } else { arg_string(&a, 1)? })
    });
    f.plain("snakecase", |a| {
        arity("snakecase", &a, 1)?;
        s(delimited_case(arg_string(&a, 0)?, '_'))
    });
    f.plain("kebabcase", |a| {
        arity("kebabcase", &a, 1)?;
        s(delimited_case(arg_string(&a, 0)?, '-'))
    });
    f.plain("camelcase", |a| {
        arity("camelcase", &a, 1)?;
        s(camel_case(arg_string(&a, 0)?))
    });
    f.plain("swapcase", |a| {
        arity("swapcase", &a, 1)?;
        s(arg_string(&a, 0)?
            .chars()
            .map(|c| if c.is_uppercase() { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() })
            .collect::<String>())
    });
    f.plain("shuffle", |a| {
        arity("shuffle", &a, 1)?;
        let mut chars: Vec<char> = arg_string(&a, 0)?.chars().collect();
        let mut rng = rand::thread_rng();
        for i in (1..chars.len()).rev() {
            chars.swap(i, rng.gen_range(0..=i));
        }
        s(chars.into_iter().collect::<String>())
    });
    f.plain("toString", |a| {
        arity("toString", &a, 1)?;
        s(strval(&a[0]))
    });
    f.plain("toStrings", |a| {
        arity("toStrings", &a, 1)?;
        Ok(Value::strings(strslice(&a[0])))
    });
    f.plain("join", |a| {
        arity("join", &a, 2)?;
        s(strslice(&a[1]).join(arg_string(&a, 0)?))
    });
    f.plain("split", |a| {
        arity("split", &a, 2)?;
        let (sep, v) = (arg_string(&a, 0)?, arg_string(&a, 1)?);
        Ok(indexed_parts(go_split(v, sep, -1)))
    });
    f.plain("splitn", |a| {
        arity("splitn", &a, 3)?;
        let (sep, n, v) = (arg_string(&a, 0)?, arg_int(&a, 1)?, arg_string(&a, 2)?);
        Ok(indexed_parts(go_split(v, sep, n)))
    });
    f.plain("splitList", |a| {
        arity("splitList", &a, 2)?;
        let (sep, v) = (arg_string(&a, 0)?, arg_string(&a, 1)?);
        Ok(Value::strings(go_split(v, sep, -1)))
    });
    f.plain("sortAlpha", |a| {
        arity("sortAlpha", &a, 1)?;
        let mut items = strslice(&a[0]);
        items.sort();
        Ok(Value::strings(items))
    });
}

/// Go's `strings.Replace(src, old, new, -1)` (an empty `old` inserts `new`
/// around every character).
fn go_replace(src: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return src.replace(old, new);
    }
    let mut out = String::from(new);
    for c in src.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// Go's `strings.SplitN` (`n < 0`: all parts; an empty separator splits
/// into characters).
fn go_split(v: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = v.chars().map(String::from).collect();
        if n > 0 && chars.len() > n as usize {
            let head = chars[..n as usize - 1].to_vec();
            let tail: String = chars[n as usize - 1..].concat();
            return head.into_iter().chain(std::iter::once(tail)).collect();
        }
        return chars;
    }
    if n < 0 { v.split(sep).map(String::from).collect() } else { v.splitn(n as usize, sep).map(String::from).collect() }
}

fn indexed_parts(parts: Vec<String>) -> Value {
    Value::map(parts.into_iter().enumerate().map(|(i, p)| (format!("_{i}"), Value::str(p))).collect())
}

fn indent(spaces: i64, v: &str) -> String {
    let pad = " ".repeat(spaces.max(0) as usize);
    format!("{pad}{}", v.replace('\n', &format!("\n{pad}")))
}

/// Go's (deprecated) `strings.Title`: upper-cases letters that start a word.
fn title(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut prev_letter = false;
    for c in v.chars() {
        if !prev_letter {
            out.push_str(&title_case(c));
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

/// Unicode title case of one character (digraphs such as `ǆ` become `ǅ`).
fn title_case(c: char) -> String {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}'.to_string(),
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}'.to_string(),
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}'.to_string(),
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}'.to_string(),
        c => c.to_uppercase().collect(),
    }
}

fn untitle(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut at_start = true;
    for c in v.chars() {
        if at_start && !c.is_whitespace() {
            out.extend(c.to_lowercase());
            at_start = false;
        } else {
            out.push(c);
        }
        if c.is_whitespace() {
            at_start = true;
        }
    }
    out
}

fn abbrev_both(v: &str, left: i64, right: i64) -> String {
    let len = v.len() as i64;
    if right < 4 || (left > 0 && right < 7) || len <= right {
        return v.to_string();
    }
    let mut offset = left.clamp(0, len);
    if len - offset < right - 3 {
        offset = len - (right - 3);
    }
    if offset <= 4 {
        return format!("{}...", &v[..(right - 3) as usize]);
    }
    if right < 7 {
        return v.to_string();
    }
    if offset + right - 3 < len {
        let rest = abbrev_both(&v[offset as usize..], 0, right - 3);
        return format!("...{rest}");
    }
    format!("...{}", &v[(len - (right - 3)) as usize..])
}

/// goutils' `WrapCustom` without wrapping long words.
fn wrap(v: &str, width: i64, newline: &str) -> String {
    let width = width.max(1) as usize;
    let mut out = String::new();
    for (li, line) in v.split('\n').enumerate() {
        if li > 0 {
            out.push_str(newline);
        }
        let mut current = 0;
        for (wi, word) in line.split(' ').filter(|w| !w.is_empty()).enumerate() {
            if wi > 0 {
                if current + 1 + word.len() > width {
                    out.push_str(newline);
                    current = 0;
                } else {
                    out.push(' ');
                    current += 1;
                }
            }
            out.push_str(word);
            current += word.len();
        }
    }
    out
}

/// xstrings' `ToSnakeCase`/`ToKebabCase`: words split at case changes,
/// digits and separators, lower-cased and joined with `delimiter`.
fn delimited_case(v: &str, delimiter: char) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '_' || c == '-' || c == ' ' || c == '.' {
            if !out.is_empty() && !out.ends_with(delimiter) {
                out.push(delimiter);
            }
            i += 1;
            continue;
        }
        if c.is_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary && !out.is_empty() && !out.ends_with(delimiter) {
                out.push(delimiter);
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        i += 1;
    }
    out.trim_end_matches(delimiter).to_string()
}

/// xstrings' `ToCamelCase`: words separated by `_`, `-` or spaces joined,
/// each starting upper case.
fn camel_case(v: &str) -> String {
    let mut out = String::new();
    let mut upper_next = true;
    for c in v.chars() {
        if c == '_' || c == '-' || c == ' ' {
            upper_next = true;
            continue;
        }
        if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Sprig's `strslice`: a list's non-nil elements as strings; a scalar as a
/// one-element list; nil as empty.
pub fn strslice(value: &Value) -> Vec<String> {
    match value {
        Value::List(items, _) => items.iter().filter(|v| !v.is_nil()).map(strval).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

fn new_list(items: Vec<Value>) -> R {
    Ok(Value::list(items))
}

fn lists(f: &mut Functions) {
    f.plain("list", new_list);
    for name in ["append", "push", "mustAppend", "mustPush"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                let mut items = list("append", &a[0]).map_err(|_| must_list(&a[0], "append"))?.to_vec();
                items.push(a[1].clone());
                new_list(items)
            }),
        );
    }
    for name in ["prepend", "mustPrepend"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                let mut items = vec![a[1].clone()];
                items.extend(list("prepend", &a[0]).map_err(|_| must_list(&a[0], "prepend"))?.iter().cloned());
                new_list(items)
            }),
        );
    }
    f.plain("concat", |a| {
        let mut items = Vec::new();
        for l in &a {
            items.extend(
                list("concat", l).map_err(|_| format!("Cannot concat type {} as list", l.type_name()))?.iter().cloned(),
            );
        }
        new_list(items)
    });
    for (name, pick) in [
        ("first", 0u8),
        ("mustFirst", 0),
        ("last", 1),
        ("mustLast", 1),
        ("rest", 2),
        ("mustRest", 2),
        ("initial", 3),
        ("mustInitial", 3),
    ] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                let items = list(name, &a[0]).map_err(|_| must_list(&a[0], name))?;
                match (pick, items.is_empty()) {
                    (_, true) => Ok(Value::Nil),
                    (0, _) => Ok(items[0].clone()),
                    (1, _) => Ok(items[items.len() - 1].clone()),
                    (2, _) => new_list(items[1..].to_vec()),
                    _ => new_list(items[..items.len() - 1].to_vec()),
                }
            }),
        );
    }
    for name in ["uniq", "mustUniq"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                let mut out: Vec<Value> = Vec::new();
                for item in list(name, &a[0]).map_err(|_| must_list(&a[0], name))?.iter() {
                    if !out.contains(item) {
                        out.push(item.clone());
                    }
                }
                new_list(out)
            }),
        );
    }
    for name in ["without", "mustWithout"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                at_least(name, &a, 1)?;
                let items = list(name, &a[0]).map_err(|_| must_list(&a[0], name))?;
                new_list(items.iter().filter(|i| !a[1..].contains(i)).cloned().collect())
            }),
        );
    }
    for name in ["has", "mustHas"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                match &a[1] {
                    Value::Nil => Ok(Value::Bool(false)),
                    haystack => {
                        Ok(Value::Bool(list(name, haystack).map_err(|_| must_list(haystack, name))?.contains(&a[0])))
                    }
                }
            }),
        );
    }
    for name in ["compact", "mustCompact"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                let items = list(name, &a[0]).map_err(|_| must_list(&a[0], name))?;
                new_list(items.iter().filter(|v| !empty(v)).cloned().collect())
            }),
        );
    }
    for name in ["reverse", "mustReverse"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                let mut items = list(name, &a[0]).map_err(|_| must_list(&a[0], name))?.to_vec();
                items.reverse();
                new_list(items)
            }),
        );
    }
    for name in ["slice", "mustSlice"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                at_least(name, &a, 1)?;
                let items = list(name, &a[0])
                    .map_err(|_| format!("list should be type of slice or array but {}", a[0].kind_name()))?;
                if items.is_empty() {
                    return Ok(Value::Nil);
                }
                let start = a.get(1).map_or(0, to_int64);
                let end = a.get(2).map_or(items.len() as i64, to_int64);
                if start < 0 || end < start || end as usize > items.len() {
                    return Err(format!("runtime error: slice bounds out of range [{start}:{end}]"));
                }
                new_list(items[start as usize..end as usize].to_vec())
            }),
        );
    }
    for name in ["chunk", "mustChunk"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                let size = arg_int(&a, 0)?.max(1) as usize;
                let items = list(name, &a[1]).map_err(|_| must_list(&a[1], name))?;
                new_list(items.chunks(size).map(|c| Value::list(c.to_vec())).collect())
            }),
        );
    }
    f.plain("until", |a| {
        arity("until", &a, 1)?;
        let n = arg_int(&a, 0)?;
        Ok(until_step(0, n, if n < 0 { -1 } else { 1 }))
    });
    f.plain("untilStep", |a| {
        arity("untilStep", &a, 3)?;
        Ok(until_step(arg_int(&a, 0)?, arg_int(&a, 1)?, arg_int(&a, 2)?))
    });
    f.plain("seq", |a| {
        let params: Vec<i64> = a.iter().map(to_int64).collect();
        let (start, step, end) = match params.as_slice() {
            [] => return s(""),
            [end] => (1, 1, *end),
            [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
            [start, step, end, ..] => (*start, *step, *end),
        };
        let end = if step > 0 { end + 1 } else { end - 1 };
        let Value::List(items, _) = until_step(start, end, step) else { return s("") };
        s(items.iter().map(display).collect::<Vec<_>>().join(" "))
    });
}

fn must_list(value: &Value, name: &str) -> String {
    format!("Cannot find {name} on type {}", value.type_name())
}

fn until_step(start: i64, stop: i64, step: i64) -> Value {
    let mut out = Vec::new();
    if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
        return Value::List(Rc::new(out), ListType::Ints);
    }
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        out.push(Value::Int(i));
        i += step;
    }
    Value::List(Rc::new(out), ListType::Ints)
}

fn dicts(f: &mut Functions) {
    f.plain("dict", |a| {
        let mut out = Map::new();
        let mut iter = a.into_iter();
        while let Some(key) = iter.next() {
            out.insert(strval(&key), iter.next().unwrap_or_else(|| Value::str("")));
        }
        Ok(Value::map(out))
    });
    f.plain("get", |a| {
        arity("get", &a, 2)?;
        let key = arg_string(&a, 1)?;
        Ok(arg_map(&a, 0)?.borrow().get(key).cloned().unwrap_or_else(|| Value::str("")))
    });
    f.plain("set", |a| {
        arity("set", &a, 3)?;
        let key = arg_string(&a, 1)?.to_string();
        arg_map(&a, 0)?.borrow_mut().insert(key, a[2].clone());
        Ok(a[0].clone())
    });
    f.plain("unset", |a| {
        arity("unset", &a, 2)?;
        let key = arg_string(&a, 1)?.to_string();
        arg_map(&a, 0)?.borrow_mut().remove(&key);
        Ok(a[0].clone())
    });
    f.plain("hasKey", |a| {
        arity("hasKey", &a, 2)?;
        let key = arg_string(&a, 1)?;
        Ok(Value::Bool(arg_map(&a, 0)?.borrow().contains_key(key)))
    });
    f.plain("pluck", |a| {
        at_least("pluck", &a, 1)?;
        let key = arg_string(&a, 0)?;
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Some(v) = map(d)?.borrow().get(key) {
                out.push(v.clone());
            }
        }
        new_list(out)
    });
    f.plain("dig", |a| {
        at_least("dig", &a, 3)?;
        let dict = &a[a.len() - 1];
        let default = &a[a.len() - 2];
        let mut current = map(dict)?.clone();
        let keys = &a[..a.len() - 2];
        for (i, key) in keys.iter().enumerate() {
            let key = string(key)?;
            let next = current.borrow().get(key).cloned();
            match next {
                Some(v) if i + 1 == keys.len() => return Ok(v),
                Some(Value::Map(m)) => current = m,
                Some(other) => {
                    return Err(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        other.type_name()
                    ));
                }
                None => return Ok(default.clone()),
            }
        }
        Ok(default.clone())
    });
    f.plain("keys", |a| {
        let mut out = Vec::new();
        for d in &a {
            out.extend(map(d)?.borrow().keys().cloned());
        }
        Ok(Value::strings(out))
    });
    f.plain("values", |a| {
        arity("values", &a, 1)?;
        new_list(arg_map(&a, 0)?.borrow().values().cloned().collect())
    });
    f.plain("pick", |a| {
        at_least("pick", &a, 1)?;
        let source = arg_map(&a, 0)?.borrow();
        let mut out = Map::new();
        for key in &a[1..] {
            let key = string(key)?;
            if let Some(v) = source.get(key) {
                out.insert(key.to_string(), v.clone());
            }
        }
        Ok(Value::map(out))
    });
    f.plain("omit", |a| {
        at_least("omit", &a, 1)?;
        let omitted: Vec<String> = a[1..].iter().map(strval).collect();
        let source = arg_map(&a, 0)?.borrow();
        Ok(Value::map(
            source.iter().filter(|(k, _)| !omitted.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
    });
    for name in ["deepCopy", "mustDeepCopy"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 1)?;
                Ok(deep_copy(&a[0]))
            }),
        );
    }
    for (name, overwrite) in
        [("merge", false), ("mustMerge", false), ("mergeOverwrite", true), ("mustMergeOverwrite", true)]
    {
        f.insert(
            name,
            Arc::new(move |_, a| {
                at_least(name, &a, 1)?;
                let dst = arg_map(&a, 0)?.clone();
                for src in &a[1..] {
                    let src = map(src)?.borrow().clone();
                    merge_into(&mut dst.borrow_mut(), &src, overwrite);
                }
                Ok(Value::Map(dst))
            }),
        );
    }
}

/// A copy sharing nothing with the original.
pub fn deep_copy(value: &Value) -> Value {
    match value {
        Value::Map(m) => Value::map(m.borrow().iter().map(|(k, v)| (k.clone(), deep_copy(v))).collect()),
        Value::List(items, t) => Value::List(Rc::new(items.iter().map(deep_copy).collect()), *t),
        other => other.clone(),
    }
}

/// mergo's merge as Sprig uses it: keys missing (or empty) in `dst` are
/// filled from `src`, maps merged recursively; with `overwrite`, non-empty
/// `src` values replace `dst` values.
fn merge_into(dst: &mut Map, src: &Map, overwrite: bool) {
    for (key, value) in src {
        match (dst.get(key).cloned(), value) {
            (Some(Value::Map(d)), Value::Map(s)) => {
                if Rc::ptr_eq(&d, s) {
                    continue;
                }
                let s = s.borrow().clone();
                merge_into(&mut d.borrow_mut(), &s, overwrite);
            }
            (Some(existing), value) => {
                if (overwrite && !empty(value)) || empty(&existing) {
                    dst.insert(key.clone(), deep_copy(value));
                }
            }
            (None, value) => {
                dst.insert(key.clone(), deep_copy(value));
            }
        }
    }
}

fn math(f: &mut Functions) {
    f.plain("add", |a| Ok(Value::Int64(a.iter().map(to_int64).fold(0i64, i64::wrapping_add))));
    f.plain("add1", |a| {
        arity("add1", &a, 1)?;
        Ok(Value::Int64(to_int64(&a[0]).wrapping_add(1)))
    });
    f.plain("sub", |a| {
        arity("sub", &a, 2)?;
        Ok(Value::Int64(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    f.plain("mul", |a| {
        at_least("mul", &a, 1)?;
        Ok(Value::Int64(a.iter().map(to_int64).fold(1i64, i64::wrapping_mul)))
    });
    f.plain("div", |a| {
        arity("div", &a, 2)?;
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_div(d)))
    });
    f.plain("mod", |a| {
        arity("mod", &a, 2)?;
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".into());
        }
        Ok(Value::Int64(to_int64(&a[0]).wrapping_rem(d)))
    });
    for (name, is_max) in [("max", true), ("biggest", true), ("min", false)] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                at_least(name, &a, 1)?;
                let values = a.iter().map(to_int64);
                Ok(Value::Int64(if is_max { values.max() } else { values.min() }.unwrap_or(0)))
            }),
        );
    }
    f.plain("addf", |a| Ok(Value::Float(decimal_fold(&a, 0.0, |x, y| x + y))));
    f.plain("add1f", |a| {
        arity("add1f", &a, 1)?;
        Ok(Value::Float(to_float64(&a[0]) + 1.0))
    });
    f.plain("subf", |a| {
        at_least("subf", &a, 1)?;
        let first = to_float64(&a[0]);
        Ok(Value::Float(a[1..].iter().map(to_float64).fold(first, |x, y| x - y)))
    });
    f.plain("mulf", |a| Ok(Value::Float(decimal_fold(&a, 1.0, |x, y| x * y))));
    f.plain("divf", |a| {
        at_least("divf", &a, 1)?;
        let first = to_float64(&a[0]);
        Ok(Value::Float(a[1..].iter().map(to_float64).fold(first, |x, y| x / y)))
    });
    f.plain("maxf", |a| {
        at_least("maxf", &a, 1)?;
        Ok(Value::Float(a.iter().map(to_float64).fold(f64::NEG_INFINITY, f64::max)))
    });
    f.plain("minf", |a| {
        at_least("minf", &a, 1)?;
        Ok(Value::Float(a.iter().map(to_float64).fold(f64::INFINITY, f64::min)))
    });
    f.plain("floor", |a| {
        arity("floor", &a, 1)?;
        Ok(Value::Float(to_float64(&a[0]).floor()))
    });
    f.plain("ceil", |a| {
        arity("ceil", &a, 1)?;
        Ok(Value::Float(to_float64(&a[0]).ceil()))
    });
    f.plain("round", |a| {
        at_least("round", &a, 2)?;
        let (value, places) = (to_float64(&a[0]), to_int64(&a[1]));
        let half = a.get(2).map_or(0.5, to_float64);
        let pow = 10f64.powi(places as i32);
        let digit = pow * value;
        let (int_part, fraction) = (digit.trunc(), digit.fract());
        let rounded = if fraction >= half { int_part + 1.0 } else { int_part };
        Ok(Value::Float(rounded / pow))
    });
}

fn decimal_fold(args: &[Value], init: f64, op: fn(f64, f64) -> f64) -> f64 {
    args.iter().map(to_float64).fold(init, op)
}

fn conversions(f: &mut Functions) {
    f.plain("atoi", |a| {
        arity("atoi", &a, 1)?;
        Ok(Value::Int(arg_string(&a, 0)?.parse::<i64>().unwrap_or(0)))
    });
    f.plain("int", |a| {
        arity("int", &a, 1)?;
        Ok(Value::Int(to_int64(&a[0])))
    });
    f.plain("int64", |a| {
        arity("int64", &a, 1)?;
        Ok(Value::Int64(to_int64(&a[0])))
    });
    f.plain("float64", |a| {
        arity("float64", &a, 1)?;
        Ok(Value::Float(to_float64(&a[0])))
    });
    f.plain("toDecimal", |a| {
        arity("toDecimal", &a, 1)?;
        Ok(Value::Int64(i64::from_str_radix(&strval(&a[0]), 8).unwrap_or(0)))
    });
    f.plain("default", |a| {
        at_least("default", &a, 1)?;
        match a.get(1) {
            Some(given) if !empty(given) => Ok(given.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    f.plain("empty", |a| {
        arity("empty", &a, 1)?;
        Ok(Value::Bool(empty(&a[0])))
    });
    f.plain("coalesce", |a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or_default()));
    f.plain("all", |a| Ok(Value::Bool(a.iter().all(|v| !empty(v)))));
    f.plain("any", |a| Ok(Value::Bool(a.iter().any(|v| !empty(v)))));
    f.plain("ternary", |a| {
        arity("ternary", &a, 3)?;
        match &a[2] {
            Value::Bool(b) => Ok(if *b { a[0].clone() } else { a[1].clone() }),
            other => Err(arg_error(2, format!("expected bool; found {}", super::fmt::go_quote(&strval(other))))),
        }
    });
    f.plain("typeOf", |a| {
        arity("typeOf", &a, 1)?;
        s(a[0].type_name())
    });
    f.plain("kindOf", |a| {
        arity("kindOf", &a, 1)?;
        s(a[0].kind_name())
    });
    f.plain("typeIs", |a| {
        arity("typeIs", &a, 2)?;
        Ok(Value::Bool(arg_string(&a, 0)? == a[1].type_name()))
    });
    f.plain("kindIs", |a| {
        arity("kindIs", &a, 2)?;
        Ok(Value::Bool(arg_string(&a, 0)? == a[1].kind_name()))
    });
    f.plain("typeIsLike", |a| {
        arity("typeIsLike", &a, 2)?;
        let t = arg_string(&a, 0)?;
        let actual = a[1].type_name();
        Ok(Value::Bool(t == actual || format!("*{actual}") == t))
    });
    f.plain("deepEqual", |a| {
        arity("deepEqual", &a, 2)?;
        Ok(Value::Bool(a[0] == a[1]))
    });
}

fn encodings(f: &mut Functions) {
    f.plain("b64enc", |a| {
        arity("b64enc", &a, 1)?;
        s(base64::engine::general_purpose::STANDARD.encode(arg_string(&a, 0)?))
    });
    f.plain("b64dec", |a| {
        arity("b64dec", &a, 1)?;
        match base64::engine::general_purpose::STANDARD.decode(arg_string(&a, 0)?) {
            Ok(bytes) => s(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) => {
                s(format!("illegal base64 data at input byte {}", base64_error_offset(&e, arg_string(&a, 0)?.len())))
            }
        }
    });
    f.plain("b32dec", |a| {
        arity("b32dec", &a, 1)?;
        s(base32_decode(arg_string(&a, 0)?))
    });
    f.plain("b32enc", |a| {
        arity("b32enc", &a, 1)?;
        s(base32(arg_string(&a, 0)?.as_bytes()))
    });
    f.plain("sha1sum", |a| {
        arity("sha1sum", &a, 1)?;
        s(hex(&sha1::Sha1::digest(arg_string(&a, 0)?.as_bytes())))
    });
    f.plain("sha256sum", |a| {
        arity("sha256sum", &a, 1)?;
        s(hex(&sha2::Sha256::digest(arg_string(&a, 0)?.as_bytes())))
    });
    f.plain("sha512sum", |a| {
        arity("sha512sum", &a, 1)?;
        s(hex(&sha2::Sha512::digest(arg_string(&a, 0)?.as_bytes())))
    });
    f.plain("adler32sum", |a| {
        arity("adler32sum", &a, 1)?;
        s(adler32(arg_string(&a, 0)?.as_bytes()).to_string())
    });
}

fn base64_error_offset(error: &base64::DecodeError, len: usize) -> usize {
    match error {
        base64::DecodeError::InvalidByte(offset, _) | base64::DecodeError::InvalidLastSymbol(offset, _) => *offset,
        _ => len,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(ALPHABET[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for (i, c) in text.trim_end_matches('=').bytes().enumerate() {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            return format!("illegal base32 data at input byte {i}");
        };
        bits = (bits << 5) | v as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("error parsing regexp: {e}"))
}

fn regexes(f: &mut Functions) {
    for (name, must) in [("regexMatch", false), ("mustRegexMatch", true)] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                match regex(arg_string(&a, 0)?) {
                    Ok(re) => Ok(Value::Bool(re.is_match(arg_string(&a, 1)?))),
                    Err(e) if must => Err(e),
                    Err(_) => Ok(Value::Bool(false)),
                }
            }),
        );
    }
    // Sprig's plain variants treat a bad pattern as a Go panic (an error
    // too); the must* variants return the error. Both fail the render.
    f.plain("regexFind", regex_find);
    f.plain("mustRegexFind", regex_find);
    f.plain("regexFindAll", regex_find_all);
    f.plain("mustRegexFindAll", regex_find_all);
    f.plain("regexReplaceAll", regex_replace_all);
    f.plain("mustRegexReplaceAll", regex_replace_all);
    f.plain("regexReplaceAllLiteral", regex_replace_all_literal);
    f.plain("mustRegexReplaceAllLiteral", regex_replace_all_literal);
    f.plain("regexSplit", regex_split);
    f.plain("mustRegexSplit", regex_split);
    f.plain("regexQuoteMeta", |a| {
        arity("regexQuoteMeta", &a, 1)?;
        s(regex::escape(arg_string(&a, 0)?))
    });
}

fn regex_find(a: Vec<Value>) -> R {
    arity("regexFind", &a, 2)?;
    let re = regex(arg_string(&a, 0)?)?;
    s(re.find(arg_string(&a, 1)?).map_or("", |m| m.as_str()))
}

fn regex_find_all(a: Vec<Value>) -> R {
    {
        arity("regexFindAll", &a, 3)?;
        let re = regex(arg_string(&a, 0)?)?;
        let n = arg_int(&a, 2)?;
        let found = re.find_iter(arg_string(&a, 1)?).map(|m| m.as_str().to_string());
        Ok(Value::strings(if n < 0 { found.collect() } else { found.take(n as usize).collect() }))
    }
}

fn regex_replace_all(a: Vec<Value>) -> R {
    arity("regexReplaceAll", &a, 3)?;
    let re = regex(arg_string(&a, 0)?)?;
    s(re.replace_all(arg_string(&a, 1)?, arg_string(&a, 2)?).into_owned())
}

fn regex_replace_all_literal(a: Vec<Value>) -> R {
    arity("regexReplaceAllLiteral", &a, 3)?;
    let re = regex(arg_string(&a, 0)?)?;
    s(re.replace_all(arg_string(&a, 1)?, regex::NoExpand(arg_string(&a, 2)?)).into_owned())
}

fn regex_split(a: Vec<Value>) -> R {
    arity("regexSplit", &a, 3)?;
    let re = regex(arg_string(&a, 0)?)?;
    let n = arg_int(&a, 2)?;
    let v = arg_string(&a, 1)?;
    Ok(Value::strings(if n < 0 {
        re.split(v).map(String::from).collect()
    } else {
        re.splitn(v, n as usize).map(String::from).collect()
    }))
}

fn paths(f: &mut Functions) {
    f.plain("base", |a| {
        arity("base", &a, 1)?;
        let p = arg_string(&a, 0)?;
        if p.is_empty() {
            return s(".");
        }
        let trimmed = p.trim_end_matches('/');
        if trimmed.is_empty() {
            return s("/");
        }
        s(trimmed.rsplit('/').next().unwrap_or(trimmed))
    });
    f.plain("dir", |a| {
        arity("dir", &a, 1)?;
        let p = arg_string(&a, 0)?;
        let dir = match p.rfind('/') {
            Some(i) => &p[..=i],
            None => "",
        };
        s(clean_path(dir))
    });
    f.plain("clean", |a| {
        arity("clean", &a, 1)?;
        s(clean_path(arg_string(&a, 0)?))
    });
    f.plain("ext", |a| {
        arity("ext", &a, 1)?;
        let p = arg_string(&a, 0)?;
        let name_start = p.rfind('/').map_or(0, |i| i + 1);
        s(p[name_start..].rfind('.').map_or("", |i| &p[name_start + i..]))
    });
    f.plain("isAbs", |a| {
        arity("isAbs", &a, 1)?;
        Ok(Value::Bool(arg_string(&a, 0)?.starts_with('/')))
    });
    // On Linux the os* variants are the same functions.
    for (os_name, name) in
        [("osBase", "base"), ("osDir", "dir"), ("osClean", "clean"), ("osExt", "ext"), ("osIsAbs", "isAbs")]
    {
        let func = f.get(name);
        if let Some(func) = func {
            f.insert(os_name, func);
        }
    }
    f.plain("urlJoin", |a| {
        arity("urlJoin", &a, 1)?;
        let parts = arg_map(&a, 0)?.borrow();
        let field = |k: &str| parts.get(k).map(strval).unwrap_or_default();
        let mut out = String::new();
        let scheme = field("scheme");
        if !scheme.is_empty() {
            out.push_str(&scheme);
            out.push(':');
        }
        let host = field("host");
        if !host.is_empty() || !scheme.is_empty() {
            out.push_str("//");
            let userinfo = field("userinfo");
            if !userinfo.is_empty() {
                out.push_str(&userinfo);
                out.push('@');
            }
            out.push_str(&host);
        }
        out.push_str(&field("path"));
        let query = field("query");
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query);
        }
        let fragment = field("fragment");
        if !fragment.is_empty() {
            out.push('#');
            out.push_str(&fragment);
        }
        s(out)
    });
    f.plain("urlParse", |a| {
        arity("urlParse", &a, 1)?;
        let text = arg_string(&a, 0)?;
        let (rest, fragment) = text.split_once('#').unwrap_or((text, ""));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (scheme, rest) = match rest.split_once("://") {
            Some((scheme, rest)) => (scheme, rest),
            None => ("", rest),
        };
        let (authority, path) = if scheme.is_empty() {
            ("", rest)
        } else {
            match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            }
        };
        let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
        let mut out = Map::new();
        for (k, v) in [
            ("scheme", scheme),
            ("host", host),
            ("hostname", host.split(':').next().unwrap_or(host)),
            ("path", path),
            ("query", query),
            ("opaque", ""),
            ("fragment", fragment),
            ("userinfo", userinfo),
        ] {
            out.insert(k.to_string(), Value::str(v));
        }
        Ok(Value::map(out))
    });
}

/// Go's `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn random_string(count: i64, alphabet: &[u8]) -> String {
    let mut rng = rand::thread_rng();
    (0..count.max(0)).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect()
}

fn randoms(f: &mut Functions) {
    const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const NUMERIC: &[u8] = b"0123456789";
    f.plain("randAlphaNum", |a| {
        arity("randAlphaNum", &a, 1)?;
        s(random_string(arg_int(&a, 0)?, ALNUM))
    });
    f.plain("randAlpha", |a| {
        arity("randAlpha", &a, 1)?;
        s(random_string(arg_int(&a, 0)?, ALPHA))
    });
    f.plain("randNumeric", |a| {
        arity("randNumeric", &a, 1)?;
        s(random_string(arg_int(&a, 0)?, NUMERIC))
    });
    f.plain("randAscii", |a| {
        arity("randAscii", &a, 1)?;
        let printable: Vec<u8> = (32u8..127).collect();
        s(random_string(arg_int(&a, 0)?, &printable))
    });
    f.plain("randInt", |a| {
        arity("randInt", &a, 2)?;
        let (min, max) = (arg_int(&a, 0)?, arg_int(&a, 1)?);
        if max <= min {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(rand::thread_rng().gen_range(min..max)))
    });
    f.plain("uuidv4", |a| {
        arity("uuidv4", &a, 0)?;
        let mut bytes: [u8; 16] = rand::thread_rng().r#gen();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let h = hex(&bytes);
        s(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]))
    });
}

/// A point in time (Go's `time.Time`), printed as Go prints it.
pub struct Time(pub jiff::Zoned);

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }

    fn kind_name(&self) -> &'static str {
        "struct"
    }

    fn field(&self, name: &str) -> Option<Result<Value, String>> {
        let t = &self.0;
        Some(Ok(match name {
            "Unix" => Value::Int64(t.timestamp().as_second()),
            "Year" => Value::Int(i64::from(t.year())),
            "Day" => Value::Int(i64::from(t.day())),
            "Hour" => Value::Int(i64::from(t.hour())),
            "Minute" => Value::Int(i64::from(t.minute())),
            "Second" => Value::Int(i64::from(t.second())),
            "String" => Value::str(self.display()),
            _ => return None,
        }))
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match (name, args) {
            ("Format", [layout]) => Some(string(layout).map(|l| Value::str(go_time_format(&self.0, l)))),
            _ => None,
        }
    }

    fn display(&self) -> String {
        go_time_format(&self.0, "2006-01-02 15:04:05.999999999 -0700 MST")
    }
}

fn time_arg(value: &Value) -> Option<jiff::Zoned> {
    match value {
        Value::Object(o) => {
            let object: &dyn std::any::Any = o.as_ref();
            object.downcast_ref::<Time>().map(|t| t.0.clone())
        }
        Value::Int(i) | Value::Int64(i) => {
            jiff::Timestamp::from_second(*i).ok().map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        }
        _ => None,
    }
}

fn time_value(t: jiff::Zoned) -> Value {
    Value::Object(Rc::new(Time(t)))
}

fn dates(f: &mut Functions, clock: Clock) {
    let now = clock.clone();
    f.insert(
        "now",
        Arc::new(move |_: &mut Exec<'_>, a| {
            arity("now", &a, 0)?;
            Ok(time_value(now.now()))
        }),
    );
    let now = clock.clone();
    f.insert(
        "date",
        Arc::new(move |_: &mut Exec<'_>, a| {
            arity("date", &a, 2)?;
            let t = time_arg(&a[1]).unwrap_or_else(|| now.now());
            s(go_time_format(&t, arg_string(&a, 0)?))
        }),
    );
    let now = clock.clone();
    f.insert(
        "htmlDate",
        Arc::new(move |_: &mut Exec<'_>, a| {
            arity("htmlDate", &a, 1)?;
            let t = time_arg(&a[0]).unwrap_or_else(|| now.now());
            s(go_time_format(&t, "2006-01-02"))
        }),
    );
    let now = clock.clone();
    f.insert(
        "htmlDateInZone",
        Arc::new(move |_: &mut Exec<'_>, a| {
            arity("htmlDateInZone", &a, 2)?;
            let t = time_arg(&a[0]).unwrap_or_else(|| now.now());
            let zone = jiff::tz::TimeZone::get(arg_string(&a, 1)?).unwrap_or(jiff::tz::TimeZone::UTC);
            s(go_time_format(&t.with_time_zone(zone), "2006-01-02"))
        }),
    );
    let clock_for_ago = clock.clone();
    let now = clock;
    f.insert(
        "dateInZone",
        Arc::new(move |_: &mut Exec<'_>, a| {
            arity("dateInZone", &a, 3)?;
            let t = time_arg(&a[1]).unwrap_or_else(|| now.now());
            let zone = jiff::tz::TimeZone::get(arg_string(&a, 2)?).unwrap_or(jiff::tz::TimeZone::UTC);
            s(go_time_format(&t.with_time_zone(zone), arg_string(&a, 0)?))
        }),
    );
    for (name, must) in [("toDate", false), ("mustToDate", true)] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                let (layout, text) = (arg_string(&a, 0)?, arg_string(&a, 1)?);
                match parse_go_time(layout, text) {
                    Some(t) => Ok(time_value(t)),
                    None if must => Err(format!("parsing time {text:?} as {layout:?}: cannot parse")),
                    None => Ok(time_value(
                        jiff::Timestamp::from_second(-62135596800)
                            .unwrap_or_default()
                            .to_zoned(jiff::tz::TimeZone::UTC),
                    )),
                }
            }),
        );
    }
    for name in ["dateModify", "date_modify", "mustDateModify", "must_date_modify"] {
        f.insert(
            name,
            Arc::new(move |_, a| {
                arity(name, &a, 2)?;
                let t =
                    time_arg(&a[1]).ok_or_else(|| arg_error(1, "wrong type for value; expected time.Time".into()))?;
                match parse_go_duration(arg_string(&a, 0)?) {
                    Some(nanos) => Ok(time_value(t.checked_add(jiff::SignedDuration::from_nanos(nanos)).unwrap_or(t))),
                    None if name.starts_with("must") => Err(format!("time: invalid duration {:?}", strval(&a[0]))),
                    None => Ok(time_value(t)),
                }
            }),
        );
    }
    let now = clock_for_ago;
    f.insert(
        "ago",
        Arc::new(move |_: &mut Exec<'_>, a| {
            arity("ago", &a, 1)?;
            let t = time_arg(&a[0]).ok_or_else(|| arg_error(0, "wrong type for value; expected time.Time".into()))?;
            let seconds = now.now().timestamp().as_second() - t.timestamp().as_second();
            s(go_duration(seconds))
        }),
    );
    f.plain("durationRound", |a| {
        arity("durationRound", &a, 1)?;
        let seconds = match &a[0] {
            Value::Str(text) => parse_go_duration(text).map_or(0, |n| n / 1_000_000_000),
            Value::Int(n) | Value::Int64(n) => n / 1_000_000_000,
            _ => 0,
        }
        .unsigned_abs();
        let (year, month, day, hour, minute) = (31_536_000, 2_592_000, 86_400, 3_600, 60);
        s(match seconds {
            s if s > year => format!("{}y", s / year),
            s if s > month => format!("{}mo", s / month),
            s if s > day => format!("{}d", s / day),
            s if s > hour => format!("{}h", s / hour),
            s if s > minute => format!("{}m", s / minute),
            s => format!("{s}s"),
        })
    });
    f.plain("unixEpoch", |a| {
        arity("unixEpoch", &a, 1)?;
        let t = time_arg(&a[0]).ok_or("wrong type for value; expected time.Time")?;
        s(t.timestamp().as_second().to_string())
    });
    f.plain("duration", |a| {
        arity("duration", &a, 1)?;
        // Sprig reads only strings and int64s; anything else is zero.
        let seconds = match &a[0] {
            Value::Str(text) => text.parse().unwrap_or(0),
            Value::Int64(n) => *n,
            _ => 0,
        };
        s(go_duration(seconds))
    });
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit() && *b != b'.').count();
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * unit;
    }
    Some(if negative { -(total as i64) } else { total as i64 })
}

/// Go's `time.Duration.String` of whole seconds.
fn go_duration(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".into();
    }
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{sign}{m}m{sec}s")
    } else {
        format!("{sign}{sec}s")
    }
}

const GO_LAYOUT_TOKENS: &[&str] = &[
    "January",
    "Monday",
    "2006",
    "-07:00:00",
    "-07:00",
    "Z07:00",
    "-0700",
    "Z0700",
    "-07",
    "Z07",
    "Jan",
    "Mon",
    "MST",
    ".000000000",
    ".999999999",
    ".000000",
    ".999999",
    ".000",
    ".999",
    "002",
    "01",
    "02",
    "_2",
    "15",
    "03",
    "04",
    "05",
    "06",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
];

/// Formats `t` with a Go reference layout (`2006-01-02T15:04:05Z07:00`).
pub fn go_time_format(t: &jiff::Zoned, layout: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    let mut out = String::new();
    let mut rest = layout;
    let offset = t.offset().seconds();
    let tz_abbrev = t.time_zone().to_offset_info(t.timestamp()).abbreviation().to_string();
    while !rest.is_empty() {
        let Some(token) = GO_LAYOUT_TOKENS.iter().find(|tok| rest.starts_with(**tok)) else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let month = t.month() as usize;
        let hour = t.hour();
        let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
        let nanos = t.subsec_nanosecond();
        let offset_text = |colon: bool, z: bool, short: bool| -> String {
            if z && offset == 0 {
                return "Z".into();
            }
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.abs();
            let (h, m) = (abs / 3600, (abs % 3600) / 60);
            if short {
                format!("{sign}{h:02}")
            } else if colon {
                format!("{sign}{h:02}:{m:02}")
            } else {
                format!("{sign}{h:02}{m:02}")
            }
        };
        let text = match *token {
            "January" => MONTHS[month - 1].to_string(),
            "Jan" => MONTHS[month - 1][..3].to_string(),
            "Monday" => DAYS[t.weekday().to_monday_zero_offset() as usize].to_string(),
            "Mon" => DAYS[t.weekday().to_monday_zero_offset() as usize][..3].to_string(),
            "2006" => format!("{:04}", t.year()),
            "06" => format!("{:02}", t.year() % 100),
            "01" => format!("{month:02}"),
            "1" => month.to_string(),
            "02" => format!("{:02}", t.day()),
            "_2" => format!("{:>2}", t.day()),
            "2" => t.day().to_string(),
            "002" => format!("{:03}", t.day_of_year()),
            "15" => format!("{hour:02}"),
            "03" => format!("{hour12:02}"),
            "3" => hour12.to_string(),
            "04" => format!("{:02}", t.minute()),
            "4" => t.minute().to_string(),
            "05" => format!("{:02}", t.second()),
            "5" => t.second().to_string(),
            "PM" => (if hour >= 12 { "PM" } else { "AM" }).to_string(),
            "pm" => (if hour >= 12 { "pm" } else { "am" }).to_string(),
            "MST" => tz_abbrev.clone(),
            "-07:00:00" | "-07:00" => offset_text(true, false, false),
            "Z07:00" => offset_text(true, true, false),
            "-0700" => offset_text(false, false, false),
            "Z0700" => offset_text(false, true, false),
            "-07" => offset_text(false, false, true),
            "Z07" => offset_text(false, true, true),
            frac => {
                let digits = frac.len() - 1;
                let text = format!("{nanos:09}");
                if frac.as_bytes()[1] == b'0' {
                    format!(".{}", &text[..digits])
                } else {
                    let trimmed = text[..digits].trim_end_matches('0');
                    if trimmed.is_empty() { String::new() } else { format!(".{trimmed}") }
                }
            }
        };
        out.push_str(&text);
        rest = &rest[token.len()..];
    }
    out
}

/// Parses `text` with a Go reference layout; numeric fields only, plus
/// month names and zone offsets (what charts pass to `toDate`).
pub fn parse_go_time(layout: &str, text: &str) -> Option<jiff::Zoned> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut nanos, mut offset) =
        (1i16, 1i8, 1i8, 0i8, 0i8, 0i8, 0i32, 0i32);
    let mut pm = None;
    let mut rest = layout;
    let mut input = text;
    let take_digits = |input: &mut &str, min: usize, max: usize| -> Option<i64> {
        let len = input.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if len < min {
            return None;
        }
        let value = input[..len].parse().ok()?;
        *input = &input[len..];
        Some(value)
    };
    while !rest.is_empty() {
        let Some(token) = GO_LAYOUT_TOKENS.iter().find(|tok| rest.starts_with(**tok)) else {
            let c = rest.chars().next()?;
            input = input.strip_prefix(c)?;
            rest = &rest[c.len_utf8()..];
            continue;
        };
        match *token {
            "2006" => year = take_digits(&mut input, 4, 4)? as i16,
            "06" => year = 2000 + take_digits(&mut input, 2, 2)? as i16,
            "01" => month = take_digits(&mut input, 2, 2)? as i8,
            "1" => month = take_digits(&mut input, 1, 2)? as i8,
            "02" => day = take_digits(&mut input, 2, 2)? as i8,
            "_2" => {
                input = input.trim_start_matches(' ');
                day = take_digits(&mut input, 1, 2)? as i8;
            }
            "2" => day = take_digits(&mut input, 1, 2)? as i8,
            "15" => hour = take_digits(&mut input, 2, 2)? as i8,
            "03" => hour = take_digits(&mut input, 2, 2)? as i8,
            "3" => hour = take_digits(&mut input, 1, 2)? as i8,
            "04" => minute = take_digits(&mut input, 2, 2)? as i8,
            "4" => minute = take_digits(&mut input, 1, 2)? as i8,
            "05" => second = take_digits(&mut input, 2, 2)? as i8,
            "5" => second = take_digits(&mut input, 1, 2)? as i8,
            "PM" | "pm" => {
                let (word, after) = input.split_at(input.len().min(2));
                pm = Some(word.eq_ignore_ascii_case("pm"));
                input = after;
            }
            "MST" => {
                let len = input.bytes().take_while(u8::is_ascii_uppercase).count();
                input = &input[len..];
            }
            "Jan" | "January" | "Mon" | "Monday" => {
                const MONTHS: [&str; 12] =
                    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
                if token.starts_with("Jan") {
                    let idx = MONTHS.iter().position(|m| input.starts_with(m))?;
                    month = idx as i8 + 1;
                }
                let len = input.bytes().take_while(u8::is_ascii_alphabetic).count();
                input = &input[len..];
            }
            zone if zone.contains("07") => {
                if zone.starts_with('Z') && input.starts_with('Z') {
                    input = &input[1..];
                } else {
                    let sign = match input.chars().next()? {
                        '+' => 1,
                        '-' => -1,
                        _ => return None,
                    };
                    input = &input[1..];
                    let h = take_digits(&mut input, 2, 2)?;
                    input = input.strip_prefix(':').unwrap_or(input);
                    let m = take_digits(&mut input, 0, 2).unwrap_or(0);
                    offset = sign * (h as i32 * 3600 + m as i32 * 60);
                }
            }
            _ => {
                // Fractional seconds.
                if let Some(after) = input.strip_prefix('.') {
                    input = after;
                    let len = input.bytes().take_while(u8::is_ascii_digit).count();
                    let digits = format!("{:0<9}", &input[..len.min(9)]);
                    nanos = digits.parse().ok()?;
                    input = &input[len..];
                }
            }
        }
        rest = &rest[token.len()..];
    }
    if !input.is_empty() {
        return None;
    }
    if let Some(pm) = pm {
        hour = (hour % 12) + if pm { 12 } else { 0 };
    }
    let civil = jiff::civil::DateTime::new(year, month, day, hour, minute, second, nanos).ok()?;
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds(offset).ok()?);
    civil.to_zoned(if offset == 0 { jiff::tz::TimeZone::UTC } else { tz }).ok()
}
