//! Keeping Secret values out of everything plumb says (pure).
//!
//! API servers and webhooks echo object content in their error messages
//! (a rejected Secret's message can quote the base64 of a value). Before a
//! message about a Secret reaches logs, Events, status, the audit log or
//! history, every value of its `data` and `stringData` is replaced, in
//! every form it could be quoted in: as written, base64-decoded, and
//! JSON-escaped.

use base64::Engine;
use serde_json::Value;

/// Shown instead of a Secret's values.
pub const REDACTED: &str = "<redacted>";

/// Values shorter than this are not searched for: they would match
/// ordinary words of the message (and leak little).
const MIN_SECRET_LEN: usize = 4;

/// True for a core Secret manifest.
pub fn is_secret(manifest: &Value) -> bool {
    manifest["kind"] == "Secret" && manifest["apiVersion"] == "v1"
}

/// The strings of a Secret manifest that must never be shown.
pub fn secret_values(manifest: &Value) -> Vec<String> {
    if !is_secret(manifest) {
        return Vec::new();
    }
    let mut values = Vec::new();
    for field in ["data", "stringData"] {
        let Some(map) = manifest.get(field).and_then(Value::as_object) else { continue };
        for value in map.values() {
            collect(value, &mut values);
        }
    }
    let decoded: Vec<String> = values
        .iter()
        .filter_map(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .collect();
    values.extend(decoded);
    let escaped: Vec<String> =
        values.iter().filter_map(|v| serde_json::to_string(v).ok()).map(|s| s.trim_matches('"').to_string()).collect();
    values.extend(escaped);
    values.retain(|v| v.len() >= MIN_SECRET_LEN);
    // Longest first, so a value containing another is replaced whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    values
}

/// Every string (and number) anywhere in `value`: a rejected Secret may
/// hold a map where a string belongs.
fn collect(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect(v, out);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// `message` with every value of the Secret `manifest` replaced (unchanged
/// for other kinds).
pub fn scrub(message: &str, manifest: &Value) -> String {
    let values = secret_values(manifest);
    if values.is_empty() {
        return message.to_string();
    }
    let mut text = message.to_string();
    for value in &values {
        if text.contains(value.as_str()) {
            text = text.replace(value.as_str(), REDACTED);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn echoed_values_are_replaced_in_every_form() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMi1zZWNyZXQ=", "nested": {"deep": "s3cr3t-map-value"}},
            "stringData": {"token": "tok-\"quoted\"-1234"}});
        let message = "Secret \"db\" is invalid: data[password]: aHVudGVyMi1zZWNyZXQ= decodes to hunter2-secret; \
                       data[nested]: map[deep:s3cr3t-map-value]; stringData: tok-\\\"quoted\\\"-1234";
        let scrubbed = scrub(message, &secret);
        for leaked in ["aHVudGVyMi1zZWNyZXQ=", "hunter2-secret", "s3cr3t-map-value", "quoted"] {
            assert!(!scrubbed.contains(leaked), "{leaked} in {scrubbed}");
        }
        assert!(scrubbed.starts_with("Secret \"db\" is invalid: data[password]: <redacted>"), "{scrubbed}");
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible-value"}});
        assert_eq!(scrub("visible-value", &config_map), "visible-value");
    }
}
