//! Go's number and character literals as `text/template` reads them: the
//! lexer's `scanNumber` (integers in bases 2, 8, 10 and 16, underscores,
//! decimal and hexadecimal floats, imaginary numbers), the parser's
//! `newNumber` on top of `strconv.ParseUint`/`ParseInt`/`ParseFloat` with
//! base 0, and `strconv.UnquoteChar` for character constants.

/// A number constant, typed as `text/template`'s `idealConstant` types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// An `int`.
    Int(i64),
    /// A `float64`: written with `.`, an exponent or `p` (not a hex integer).
    Float(f64),
    /// A `complex128` (real, imaginary).
    Complex(f64, f64),
    /// Fits a `uint64` but not an `int`: an error when evaluated.
    Overflow,
}

/// Length of the number starting at `s` (Go's `scanNumber`), or the length
/// of the bad syntax consumed and `false`.
pub fn scan(s: &str) -> (usize, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    let accept = |i: &mut usize, set: &[u8]| {
        if b.get(*i).is_some_and(|c| set.contains(c)) {
            *i += 1;
            true
        } else {
            false
        }
    };
    let accept_run = |i: &mut usize, set: &[u8]| while accept(i, set) {};
    accept(&mut i, b"+-");
    let mut digits: &[u8] = b"0123456789_";
    if accept(&mut i, b"0") {
        if accept(&mut i, b"xX") {
            digits = b"0123456789abcdefABCDEF_";
        } else if accept(&mut i, b"oO") {
            digits = b"01234567_";
        } else if accept(&mut i, b"bB") {
            digits = b"01_";
        }
    }
    accept_run(&mut i, digits);
    if accept(&mut i, b".") {
        accept_run(&mut i, digits);
    }
    if digits.len() == 11 && accept(&mut i, b"eE") {
        accept(&mut i, b"+-");
        accept_run(&mut i, b"0123456789_");
    }
    if digits.len() == 23 && accept(&mut i, b"pP") {
        accept(&mut i, b"+-");
        accept_run(&mut i, b"0123456789_");
    }
    accept(&mut i, b"i");
    match s[i..].chars().next() {
        Some(c) if c == '_' || c.is_alphanumeric() => (i + c.len_utf8(), false),
        _ => (i, true),
    }
}

/// The constant of a number literal (`newNumber`), or Go's message.
pub fn parse(text: &str) -> Result<Number, String> {
    if let Some((re, im)) = complex_pair(text) {
        return Ok(Number::Complex(re, im));
    }
    if let Some(imaginary) = text.strip_suffix('i')
        && let Some(f) = parse_float(imaginary)
    {
        return Ok(Number::Complex(0.0, f));
    }
    let uint = parse_uint(text);
    let int = parse_int(text);
    let looks_float = text.contains(['.', 'e', 'E', 'p', 'P']) && !is_hex_int(text);
    match (int, uint) {
        (Some(i), _) if !looks_float => return Ok(Number::Int(i)),
        (Some(i), _) => return Ok(Number::Float(i as f64)),
        (None, Some(_)) if !looks_float => return Ok(Number::Overflow),
        (None, Some(u)) => return Ok(Number::Float(u as f64)),
        (None, None) => {}
    }
    match parse_float(text) {
        Some(_) if !text.contains(['.', 'e', 'E', 'p', 'P']) => Err(format!("integer overflow: {text:?}")),
        Some(f) if looks_float => Ok(Number::Float(f)),
        Some(f) => Ok(Number::Int(f as i64)),
        None => Err(format!("illegal number syntax: {text:?}")),
    }
}

/// `isHexInt`: `0x…` without a `p` exponent is an integer even with `e` digits.
fn is_hex_int(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') && !text.contains(['p', 'P'])
}

/// `1+2i`: the lexer's complex constant (a number, a sign, an imaginary number).
fn complex_pair(text: &str) -> Option<(f64, f64)> {
    let imaginary = text.strip_suffix('i')?;
    let split = imaginary.char_indices().skip(1).filter(|&(i, c)| {
        matches!(c, '+' | '-') && !matches!(imaginary.as_bytes().get(i - 1), Some(b'e' | b'E' | b'p' | b'P'))
    });
    let (at, _) = split.last()?;
    Some((parse_float(&imaginary[..at])?, parse_float(&imaginary[at..])?))
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let b = s.as_bytes();
    let (mut saw, mut i, mut hex) = ('^', 0, false);
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        (i, saw, hex) = (2, '0', b[1].eq_ignore_ascii_case(&b'x'));
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = '0';
        } else if c == b'_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else {
            if saw == '_' {
                return false;
            }
            saw = '!';
        }
    }
    saw != '_'
}

/// `strconv.ParseUint(s, 0, 64)`.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || s.starts_with(['+', '-']) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let (base, digits) = if s.len() >= 3 && lower.starts_with("0x") {
        (16, &s[2..])
    } else if s.len() >= 3 && lower.starts_with("0o") {
        (8, &s[2..])
    } else if s.len() >= 3 && lower.starts_with("0b") {
        (2, &s[2..])
    } else if let Some(octal) = s.strip_prefix('0') {
        (8, octal)
    } else {
        (10, s)
    };
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.chars().filter(|&c| c != '_') {
        let d = c.to_digit(base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// `strconv.ParseInt(s, 0, 64)`.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if negative {
        if u <= i64::MAX as u64 + 1 { Some((u as i64).wrapping_neg()) } else { None }
    } else {
        i64::try_from(u).ok()
    }
}

/// `strconv.ParseFloat(s, 64)` for the literals the lexer produces:
/// decimal and hexadecimal (which needs a `p` exponent), with underscores;
/// `None` on bad syntax or overflow to infinity.
pub fn parse_float(s: &str) -> Option<f64> {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.contains('_') && !underscores_ok(body) {
        return None;
    }
    let cleaned = body.replace('_', "");
    let value = if let Some(hex) = cleaned.strip_prefix("0x").or_else(|| cleaned.strip_prefix("0X")) {
        hex_float(hex)?
    } else {
        // Rust also reads `inf` and `nan`; Go's literals start with a digit or `.`.
        if !cleaned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        cleaned.parse::<f64>().ok()?
    };
    if value.is_infinite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// A hexadecimal float's mantissa and `p` exponent.
fn hex_float(s: &str) -> Option<f64> {
    let (mantissa, exponent) = s.split_once(['p', 'P'])?;
    let exponent: i32 = exponent.parse().ok()?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int.chars().chain(frac.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut shift = exponent.checked_sub(4 * i32::try_from(frac.len()).ok()?)?;
    // In steps, so 2^-1074 (a subnormal) does not pass through 1/inf.
    while shift != 0 {
        let step = shift.clamp(-1000, 1000);
        value *= 2f64.powi(step);
        shift -= step;
    }
    Some(value)
}

/// `strconv.UnquoteChar` on a character constant's body (between the
/// quotes): the character, or Go's message.
pub fn unquote_char(body: &str) -> Result<char, String> {
    let malformed = || format!("malformed character constant: '{body}'");
    let mut chars = body.chars();
    let first = chars.next().ok_or("invalid syntax")?;
    let value = if first == '\\' {
        let escape = chars.next().ok_or("invalid syntax")?;
        let code = |chars: &mut std::str::Chars, n: usize, radix: u32| -> Result<u32, String> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return Err("invalid syntax".to_string());
            }
            u32::from_str_radix(&digits, radix).map_err(|_| "invalid syntax".to_string())
        };
        match escape {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            '\'' => '\'',
            'x' => char::from_u32(code(&mut chars, 2, 16)?).ok_or("invalid syntax")?,
            'u' => char::from_u32(code(&mut chars, 4, 16)?).ok_or("invalid syntax")?,
            'U' => char::from_u32(code(&mut chars, 8, 16)?).ok_or("invalid syntax")?,
            '0'..='7' => {
                let rest = code(&mut chars, 2, 8)?;
                let value = escape.to_digit(8).unwrap_or(0) * 64 + rest;
                if value > 255 {
                    return Err("invalid syntax".into());
                }
                char::from_u32(value).ok_or("invalid syntax")?
            }
            _ => return Err("invalid syntax".into()),
        }
    } else if first == '\'' {
        return Err("invalid syntax".into());
    } else {
        first
    };
    if chars.next().is_some() {
        return Err(malformed());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_as_go_types_them() {
        let table: &[(&str, Result<Number, ()>)] = &[
            ("0x1p20", Ok(Number::Float(1_048_576.0))),
            ("0X1P-2", Ok(Number::Float(0.25))),
            ("0x1.8p1", Ok(Number::Float(3.0))),
            ("0x1p-1074", Ok(Number::Float(5e-324))),
            ("0x_1p4", Ok(Number::Float(16.0))),
            ("0b101", Ok(Number::Int(5))),
            ("0o17", Ok(Number::Int(15))),
            ("017", Ok(Number::Int(15))),
            ("0xE", Ok(Number::Int(14))),
            ("1_000", Ok(Number::Int(1000))),
            ("1_0.2_5", Ok(Number::Float(10.25))),
            ("1e3", Ok(Number::Float(1000.0))),
            (".5", Ok(Number::Float(0.5))),
            ("5.", Ok(Number::Float(5.0))),
            ("-0x10", Ok(Number::Int(-16))),
            ("-9223372036854775808", Ok(Number::Int(i64::MIN))),
            ("9223372036854775808", Ok(Number::Overflow)),
            ("18446744073709551615", Ok(Number::Overflow)),
            ("1i", Ok(Number::Complex(0.0, 1.0))),
            ("1+2i", Ok(Number::Complex(1.0, 2.0))),
            ("18446744073709551616", Err(())),
            ("1__0", Err(())),
            ("1_", Err(())),
            ("08", Err(())),
            ("0x1.8", Err(())),
            ("1e400", Err(())),
        ];
        for (text, want) in table {
            assert_eq!(parse(text).map_err(|_| ()), *want, "{text}");
        }
    }

    #[test]
    fn scanning_stops_where_go_stops() {
        assert_eq!(scan("0x1p-2 }}"), (6, true));
        assert_eq!(scan("1e3}}"), (3, true));
        assert_eq!(scan("0b102"), (5, false));
        assert_eq!(scan("1.2.3"), (3, true));
    }

    #[test]
    fn character_constants() {
        for (body, want) in [("a", 'a'), ("\\n", '\n'), ("\\x41", 'A'), ("\\u263A", '☺'), ("\\101", 'A'), ("\\'", '\'')]
        {
            assert_eq!(unquote_char(body), Ok(want), "{body}");
        }
        assert!(unquote_char("ab").is_err());
        assert!(unquote_char("").is_err());
        assert!(unquote_char("\\\"").is_err());
    }
}
