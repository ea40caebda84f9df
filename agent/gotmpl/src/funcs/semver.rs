//! `semver` and `semverCompare` with the constraint syntax of
//! Masterminds/semver v3 (what Helm's Sprig uses): `=`, `!=`, `>`, `<`,
//! `>=`, `<=`, `~`, `^`, wildcards (`1.2.x`, `*`), hyphen ranges, `,`/space
//! for and, `||` for or, and prereleases only matching constraints that
//! name one (`>=1.19-0`).

use std::cmp::Ordering;
use std::rc::Rc;

use super::{arg_string, arity};
use crate::Functions;
use crate::value::{Object, Value};

/// A parsed semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: String,
    metadata: String,
    original: String,
}

/// Parses a version the lenient way Masterminds' `NewVersion` does
/// (`v` prefix, missing minor/patch).
pub fn parse_version(text: &str) -> Option<Version> {
    let original = text.to_string();
    let body = text.strip_prefix('v').unwrap_or(text);
    let (body, metadata) = match body.split_once('+') {
        Some((b, m)) => (b, m.to_string()),
        None => (body, String::new()),
    };
    let (core, prerelease) = match body.split_once('-') {
        Some((c, p)) => (c, p.to_string()),
        None => (body, String::new()),
    };
    let valid_ident =
        |s: &str| s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if (!prerelease.is_empty() && !valid_ident(&prerelease)) || (!metadata.is_empty() && !valid_ident(&metadata)) {
        return None;
    }
    let mut parts = core.split('.');
    let number = |p: Option<&str>| -> Option<Option<u64>> {
        match p {
            None => Some(None),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(Some(p.parse().ok()?)),
            Some(_) => None,
        }
    };
    let major = number(parts.next())??;
    let minor = number(parts.next())?.unwrap_or(0);
    let patch = number(parts.next())?.unwrap_or(0);
    if parts.next().is_some() {
        return None;
    }
    Some(Version { major, minor, patch, prerelease, metadata, original })
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

impl Version {
    fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_prerelease(&self.prerelease, &other.prerelease))
    }
}

impl Object for Version {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }

    fn field(&self, name: &str) -> Option<Result<Value, String>> {
        Some(Ok(match name {
            "Major" => Value::Int64(self.major as i64),
            "Minor" => Value::Int64(self.minor as i64),
            "Patch" => Value::Int64(self.patch as i64),
            "Prerelease" => Value::str(self.prerelease.as_str()),
            "Metadata" => Value::str(self.metadata.as_str()),
            "Original" => Value::str(self.original.as_str()),
            "String" => Value::str(self.display()),
            _ => return None,
        }))
    }

    fn display(&self) -> String {
        let mut out = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.prerelease.is_empty() {
            out.push('-');
            out.push_str(&self.prerelease);
        }
        if !self.metadata.is_empty() {
            out.push('+');
            out.push_str(&self.metadata);
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

#[derive(Debug)]
struct Constraint {
    op: Op,
    version: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_wild(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

fn parse_constraint(text: &str) -> Option<Constraint> {
    let text = text.trim();
    let ops = [
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    let (op, rest) = ops
        .iter()
        .find_map(|(prefix, op)| text.strip_prefix(prefix).map(|rest| (*op, rest.trim())))
        .unwrap_or((Op::Eq, text));
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, suffix) = match rest.find(['-', '+']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut parts: Vec<&str> = if core.is_empty() { vec!["*"] } else { core.split('.').collect() };
    if parts.len() > 3 {
        return None;
    }
    // `*` (and `x`) for the major version matches every release.
    let op = if is_wild(parts[0]) && matches!(op, Op::Eq | Op::Tilde | Op::Caret) { Op::Ge } else { op };
    let minor_dirty = parts.len() < 2 || is_wild(parts[1]) || is_wild(parts[0]);
    let patch_dirty = minor_dirty || parts.len() < 3 || is_wild(parts[2]);
    let dirty = minor_dirty || patch_dirty;
    for part in parts.iter_mut() {
        if is_wild(part) {
            *part = "0";
        }
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let version = parse_version(&format!("{}{suffix}", parts.join(".")))?;
    Some(Constraint { op, version, minor_dirty, patch_dirty, dirty })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.version;
        if !v.prerelease.is_empty() && c.prerelease.is_empty() {
            return false;
        }
        match self.op {
            Op::Eq => {
                if self.dirty {
                    return self.tilde(v);
                }
                v.compare(c) == Ordering::Equal
            }
            Op::Ne => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if self.minor_dirty {
                        return false;
                    }
                    if c.minor != v.minor {
                        return true;
                    }
                    return !self.patch_dirty && c.patch != v.patch;
                }
                v.compare(c) != Ordering::Equal
            }
            Op::Gt => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                v.minor > c.minor
            }
            Op::Lt => v.compare(c) == Ordering::Less,
            Op::Ge => v.compare(c) != Ordering::Less,
            Op::Le => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                if v.major > c.major {
                    return false;
                }
                !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                v.patch == c.patch
            }
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return v.major == c.major;
        }
        if v.major != c.major {
            return false;
        }
        self.minor_dirty || v.minor == c.minor
    }
}

/// Whether `version` satisfies `constraint`; an error names what does not parse.
pub fn satisfies(constraint: &str, version: &str) -> Result<bool, String> {
    let v = parse_version(version).ok_or_else(|| "Invalid Semantic Version".to_string())?;
    let mut any = false;
    for group in constraint.split("||") {
        let group = group.trim();
        // Hyphen ranges: `1.2 - 1.4.5`.
        let terms: Vec<String> = if let Some((low, high)) = group.split_once(" - ") {
            vec![format!(">={}", low.trim()), format!("<={}", high.trim())]
        } else {
            group.split([',', ' ']).filter(|t| !t.trim().is_empty()).map(|t| t.trim().to_string()).collect()
        };
        // An operator separated from its version by spaces (`>= 1.2`).
        let mut joined: Vec<String> = Vec::new();
        for term in terms {
            match joined.last_mut() {
                Some(last) if last.chars().all(|c| "<>=!~^".contains(c)) => last.push_str(&term),
                _ => joined.push(term),
            }
        }
        let mut all = true;
        for term in &joined {
            let parsed = parse_constraint(term).ok_or_else(|| format!("improper constraint: {constraint}"))?;
            if !parsed.check(&v) {
                all = false;
            }
        }
        any |= all && !joined.is_empty();
    }
    Ok(any)
}

/// Registers `semver` and `semverCompare`.
pub fn register(f: &mut Functions) {
    f.plain("semver", |a| {
        arity("semver", &a, 1)?;
        let version = parse_version(arg_string(&a, 0)?).ok_or("Invalid Semantic Version")?;
        Ok(Value::Object(Rc::new(version)))
    });
    f.plain("semverCompare", |a| {
        arity("semverCompare", &a, 2)?;
        satisfies(arg_string(&a, 0)?, arg_string(&a, 1)?).map(Value::Bool)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_match_masterminds() {
        let cases = [
            (">=1.19-0", "v1.30.0", true),
            (">=1.19-0", "v1.30.0-gke.100", true),
            ("<1.25-0", "v1.24.17", true),
            ("<1.25-0", "v1.30.0", false),
            (">=1.19", "v1.30.0-gke.1", false),
            ("^1.2.3", "1.9.0", true),
            ("^1.2.3", "2.0.0", false),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("~1.2.3", "1.2.9", true),
            ("~1.2.3", "1.3.0", false),
            ("1.2.x", "1.2.7", true),
            ("1.2.x", "1.3.0", false),
            ("*", "4.0.0", true),
            (">1.2 <2 || =3.0.0", "3.0.0", true),
            ("1.2 - 1.4.5", "1.4.5", true),
            ("1.2 - 1.4.5", "1.4.6", false),
            (">= 1.20.0, < 1.30.0", "1.25.3", true),
            ("!=1.2.3", "1.2.3", false),
        ];
        for (constraint, version, want) in cases {
            assert_eq!(satisfies(constraint, version), Ok(want), "{constraint} {version}");
        }
        assert!(satisfies(">=1.0", "not-a-version").is_err());
    }
}
