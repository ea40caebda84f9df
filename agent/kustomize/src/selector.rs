//! Kubernetes label selectors in their string form (`a=b,c!=d,e in (x,y),!f,g`),
//! as `labels.Parse` reads them; used for label and annotation selectors.

use serde_json::{Map, Value};

enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Whether `map` satisfies `selector` (an empty selector matches everything).
pub fn matches(selector: &str, map: &Map<String, Value>) -> Result<bool, String> {
    let get = |k: &str| map.get(k).and_then(Value::as_str);
    for requirement in parse(selector)? {
        let ok = match &requirement {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn parse(selector: &str) -> Result<Vec<Requirement>, String> {
    let bad = || format!("unable to parse requirement: invalid selector {selector:?}");
    let mut out = Vec::new();
    for part in split_top_level(selector) {
        let part = part.trim();
        if part.is_empty() {
            if selector.trim().is_empty() {
                continue;
            }
            return Err(bad());
        }
        if let Some(key) = part.strip_prefix('!') {
            out.push(Requirement::NotExists(key.trim().to_string()));
        } else if let Some((k, v)) = part.split_once("!=") {
            out.push(Requirement::NotEquals(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            out.push(Requirement::Equals(k.trim().into(), v.trim().into()));
        } else if let Some((k, rest)) = split_word(part, " notin ") {
            out.push(Requirement::NotIn(k, set(&rest).ok_or_else(bad)?));
        } else if let Some((k, rest)) = split_word(part, " in ") {
            out.push(Requirement::In(k, set(&rest).ok_or_else(bad)?));
        } else if part.contains(|c: char| c.is_whitespace() || "()".contains(c)) {
            return Err(bad());
        } else {
            out.push(Requirement::Exists(part.to_string()));
        }
    }
    Ok(out)
}

fn split_word(part: &str, word: &str) -> Option<(String, String)> {
    let i = part.find(word)?;
    Some((part[..i].trim().to_string(), part[i + word.len()..].trim().to_string()))
}

fn set(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_forms() {
        let labels = json!({"app": "web", "tier": "front"});
        let map = labels.as_object().expect("map");
        let table = [
            ("", true),
            ("app=web", true),
            ("app==web,tier=back", false),
            ("app!=db", true),
            ("tier in (front, back)", true),
            ("tier notin (front)", false),
            ("app", true),
            ("!missing", true),
            ("!app", false),
        ];
        for (selector, want) in table {
            assert_eq!(matches(selector, map).expect(selector), want, "{selector}");
        }
        assert!(matches("a b", map).is_err());
    }
}
