//! YAML read the way Helm reads values and `fromYaml` input: go-yaml v2's
//! YAML 1.1 scalars (`yes`/`on` are booleans, `0755` is octal) under the
//! parser's budgets, so a YAML bomb in a values file is refused quickly.

/// Parses one YAML document into JSON (`null` for an empty document).
pub fn from_str(text: &str) -> Result<serde_json::Value, String> {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.budget = Some(serde_saphyr::Budget::default());
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_saphyr::from_str_with_options::<serde_json::Value>(text, options).map_err(|e| super::yaml_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars() {
        let value = from_str("a: yes\nb: '0755'\nc: 0755\nd: off\ne: \"yes\"\nf: 1.0\n").unwrap_or_default();
        assert_eq!(value["a"], serde_json::json!(true));
        assert_eq!(value["b"], serde_json::json!("0755"));
        assert_eq!(value["c"], serde_json::json!(493));
        assert_eq!(value["d"], serde_json::json!(false));
        assert_eq!(value["e"], serde_json::json!("yes"));
        assert_eq!(value["f"], serde_json::json!(1.0));
        assert_eq!(from_str("").unwrap_or_default(), serde_json::Value::Null);
    }
}
