//! Go's `fmt` for templates: `Sprint`, `Sprintln`, `Sprintf` with the verbs
//! charts use (`%s %d %v %q %x %X %o %b %c %f %e %g %t %T %%`), flags
//! `+ - # 0 space`, width and precision (also `*`), and Go's markers for
//! bad verbs (`%!d(string=x)`), missing and extra arguments.

use std::fmt::Write as _;

use crate::value::{Value, display, format_float_g};

/// `fmt.Sprint`: operands concatenated, a space between two operands when
/// neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !matches!(arg, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&display(arg));
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = args.iter().map(display).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => spec.plus = true,
                '-' => spec.minus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        if chars.peek() == Some(&'*') {
            chars.next();
            match args.get(next).and_then(Value::as_int) {
                Some(w) => {
                    if w < 0 {
                        spec.minus = true;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            next += 1;
        } else {
            spec.width = digits(&mut chars);
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            if chars.peek() == Some(&'*') {
                chars.next();
                match args.get(next).and_then(Value::as_int) {
                    Some(p) if p >= 0 => spec.precision = Some(p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                next += 1;
            } else {
                spec.precision = Some(digits(&mut chars).unwrap_or(0));
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        format_arg(&mut out, verb, spec, arg);
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, arg) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match arg {
                Value::Nil => out.push_str("<nil>"),
                other => {
                    let _ = write!(out, "{}={}", other.type_name(), display(other));
                }
            }
        }
        out.push(')');
    }
    out
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
        chars.next();
    }
    n
}

/// Go's marker for a verb that does not fit the value: the value is still
/// printed with `%v` and the verb's flags, width and precision.
fn bad_verb(out: &mut String, verb: char, spec: Spec, arg: &Value) {
    match arg {
        Value::Nil => {
            let _ = write!(out, "%!{verb}(<nil>)");
        }
        other => {
            let mut inner = String::new();
            format_arg(&mut inner, 'v', spec, other);
            let _ = write!(out, "%!{verb}({}={inner})", other.type_name());
        }
    }
}

fn format_arg(out: &mut String, verb: char, spec: Spec, arg: &Value) {
    if verb == 'T' {
        pad(out, &arg.type_name(), spec);
        return;
    }
    match arg {
        // Lists and maps format their elements with the same verb.
        Value::List(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, verb, spec, item);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                format_arg(out, verb, spec, &Value::str(k.as_str()));
                out.push(':');
                format_arg(out, verb, spec, v);
            }
            out.push(']');
        }
        Value::Nil => match verb {
            'v' => pad(out, "<nil>", spec),
            _ => bad_verb(out, verb, spec, arg),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(out, if *b { "true" } else { "false" }, spec),
            _ => bad_verb(out, verb, spec, arg),
        },
        Value::Int(i) | Value::Int64(i) => format_int(out, verb, spec, *i, arg),
        Value::Float(f) => format_float(out, verb, spec, *f, arg),
        Value::Str(s) => format_str(out, verb, spec, s, arg),
        Value::Object(o) => match verb {
            'v' | 's' => pad(out, &o.display(), spec),
            'q' => pad(out, &go_quote(&o.display()), spec),
            _ => bad_verb(out, verb, spec, arg),
        },
    }
}

fn format_str(out: &mut String, verb: char, spec: Spec, s: &str, arg: &Value) {
    let truncated: String = match spec.precision {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    match verb {
        'v' | 's' => pad(out, &truncated, spec),
        'q' => {
            let quoted =
                if spec.sharp && !truncated.contains('`') { format!("`{truncated}`") } else { go_quote(&truncated) };
            pad(out, &quoted, spec)
        }
        'x' | 'X' => {
            let mut hex = String::new();
            for (i, b) in truncated.bytes().enumerate() {
                if spec.space && i > 0 {
                    hex.push(' ');
                }
                if verb == 'x' {
                    let _ = write!(hex, "{b:02x}");
                } else {
                    let _ = write!(hex, "{b:02X}");
                }
            }
            pad(out, &hex, spec)
        }
        _ => bad_verb(out, verb, spec, arg),
    }
}

fn format_int(out: &mut String, verb: char, spec: Spec, i: i64, arg: &Value) {
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let magnitude = i.unsigned_abs();
    let body = match verb {
        'v' | 'd' => magnitude.to_string(),
        'x' => format!("{}{magnitude:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{magnitude:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{magnitude:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{magnitude:o}"),
        'b' => format!("{magnitude:b}"),
        'c' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            return pad(out, &c.to_string(), spec);
        }
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            return pad(out, &go_quote_rune(c), spec);
        }
        'U' => format!("U+{magnitude:04X}"),
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => return bad_verb(out, verb, spec, arg),
        _ => return bad_verb(out, verb, spec, arg),
    };
    let body = match spec.precision {
        Some(p) if body.len() < p => format!("{}{body}", "0".repeat(p - body.len())),
        Some(0) if magnitude == 0 => String::new(),
        _ => body,
    };
    pad_number(out, sign, &body, spec);
}

fn format_float(out: &mut String, verb: char, spec: Spec, f: f64, arg: &Value) {
    let text = match verb {
        'v' | 'g' | 'G' => format_float_g(f, spec.precision, verb == 'G'),
        'f' | 'F' => {
            if f.is_nan() || f.is_infinite() {
                format_float_g(f, None, false)
            } else {
                format!("{:.*}", spec.precision.unwrap_or(6), f)
            }
        }
        'e' | 'E' => exponent(f, spec.precision.unwrap_or(6), verb == 'E'),
        'x' | 'X' => hex_float(f, verb == 'X'),
        'b' => {
            let bits = f.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i64;
            let mantissa = bits & ((1 << 52) - 1);
            let (mantissa, exp) = if exp == 0 { (mantissa, -1074) } else { (mantissa | (1 << 52), exp - 1075) };
            format!(
                "{}{mantissa}p{}{}",
                if f.is_sign_negative() { "-" } else { "" },
                if exp >= 0 { "+" } else { "-" },
                exp.abs()
            )
        }
        _ => return bad_verb(out, verb, spec, arg),
    };
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest.to_string()),
        None => (
            if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            },
            text.strip_prefix('+').unwrap_or(&text).to_string(),
        ),
    };
    pad_number(out, sign, &body, spec);
}

/// `%x` of a float: Go's shortest hexadecimal mantissa and a binary exponent.
fn hex_float(f: f64, upper: bool) -> String {
    if f == 0.0 {
        return if upper { "0X0P+00".into() } else { "0x0p+00".into() };
    }
    let bits = f.to_bits();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let raw_exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mantissa = bits & ((1 << 52) - 1);
    let mut exp = raw_exp - 1023;
    if raw_exp == 0 {
        // Subnormal: normalise.
        let shift = mantissa.leading_zeros() as i64 - 11;
        mantissa = (mantissa << shift) & ((1 << 52) - 1);
        exp = -1022 - shift;
    }
    let mut digits = format!("{mantissa:013x}");
    while digits.ends_with('0') {
        digits.pop();
    }
    let body = if digits.is_empty() { "0x1".to_string() } else { format!("0x1.{digits}") };
    let text = format!("{sign}{body}p{}{:02}", if exp >= 0 { '+' } else { '-' }, exp.abs());
    if upper { text.to_uppercase() } else { text }
}

/// `%e`: d.dddddde±dd.
pub fn exponent(f: f64, precision: usize, upper: bool) -> String {
    let text = format!("{:.*e}", precision, f);
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}{}{}{:02}", if upper { 'E' } else { 'e' }, if exp < 0 { '-' } else { '+' }, exp.abs())
}

fn pad_number(out: &mut String, sign: &str, body: &str, spec: Spec) {
    let len = sign.chars().count() + body.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(sign);
        out.push_str(body);
    } else if spec.minus {
        out.push_str(sign);
        out.push_str(body);
        out.push_str(&" ".repeat(width - len));
    } else if spec.zero {
        out.push_str(sign);
        out.push_str(&"0".repeat(width - len));
        out.push_str(body);
    } else {
        out.push_str(&" ".repeat(width - len));
        out.push_str(sign);
        out.push_str(body);
    }
}

fn pad(out: &mut String, text: &str, spec: Spec) {
    let len = text.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(text);
    } else if spec.minus {
        out.push_str(text);
        out.push_str(&" ".repeat(width - len));
    } else {
        let fill = if spec.zero { "0" } else { " " };
        out.push_str(&fill.repeat(width - len));
        out.push_str(text);
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        quote_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    quote_char(&mut out, c, '\'');
    out.push('\'');
    out
}

fn quote_char(out: &mut String, c: char, quote: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\u{fffd}' => out.push('\u{fffd}'),
        c if is_printable(c) => out.push(c),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the
/// ASCII space.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    // Format characters and private use are not printable in Go.
    !matches!(c as u32, 0xad | 0x600..=0x605 | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f | 0xfeff | 0xe000..=0xf8ff | 0xfff9..=0xfffb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_matches_go() {
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%s-%d", vec!["a".into(), Value::Int(3)], "a-3"),
            ("%5.2f|%-4d|%04d", vec![Value::Float(4.56789), Value::Int(7), Value::Int(-7)], " 4.57|7   |-007"),
            ("%q", vec!["a\"b\n".into()], "\"a\\\"b\\n\""),
            ("%d", vec![Value::Float(8080.0)], "%!d(float64=8080)"),
            ("%s", vec![Value::Int(1)], "%!s(int=1)"),
            ("%v %v", vec![Value::Nil, Value::list(vec![Value::Int(1), "x".into()])], "<nil> [1 x]"),
            ("%x %X", vec!["hi".into(), Value::Int(255)], "6869 FF"),
            ("%t %T", vec![Value::Bool(true), Value::Float(1.0)], "true float64"),
            ("%d", vec![], "%!d(MISSING)"),
            ("x", vec![Value::Int(1)], "x%!(EXTRA int=1)"),
            ("%e", vec![Value::Float(1234.5678)], "1.234568e+03"),
            ("%g", vec![Value::Float(0.000012)], "1.2e-05"),
            ("%6.2v|%.3s", vec![Value::Float(4.56789), "abcdef".into()], "   4.6|abc"),
            ("%%|%+d", vec![Value::Int(5)], "%|+5"),
        ];
        for (format, args, want) in cases {
            assert_eq!(sprintf(format, &args), want, "{format}");
        }
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        assert_eq!(sprint(&["a".into(), Value::Int(1), Value::Int(2), "b".into()]), "a1 2b");
        assert_eq!(sprintln(&["a".into(), Value::Int(1)]), "a 1\n");
    }
}
