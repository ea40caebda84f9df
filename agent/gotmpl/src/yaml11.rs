//! YAML read the way Helm reads values and `fromYaml` input: go-yaml v2's
//! YAML 1.1 scalars (`yes`/`on` are booleans, `0755` is octal) under the
//! parser's budgets, so a YAML bomb in a values file is refused quickly.

/// A YAML parser error as one line, `line L column C: reason` (the caller
/// prefixes the file).
pub fn yaml_error(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string()
}

/// Parses the first YAML document of `text` into JSON (`null` for an empty
/// document); like go-yaml's `Unmarshal`, later documents are not read.
pub fn from_str(text: &str) -> Result<serde_json::Value, String> {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    // go-yaml keeps the last of repeated keys.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.budget = Some(serde_saphyr::Budget::default());
    let first = first_document(text);
    if first.trim().is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_saphyr::from_str_with_options::<serde_json::Value>(first, options).map_err(|e| yaml_error(&e))
}

/// The text of the first document: up to the second `---` marker line (a
/// leading marker opens the first document).
fn first_document(text: &str) -> &str {
    let mut offset = 0;
    let mut seen_content = false;
    for line in text.split_inclusive('\n') {
        let is_marker = line.starts_with("---") && line[3..].chars().next().is_none_or(char::is_whitespace);
        if is_marker && seen_content {
            return &text[..offset];
        }
        let trimmed = line.trim();
        if is_marker || (!trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%')) {
            seen_content = true;
        }
        offset += line.len();
    }
    text
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
        let several = from_str("# c\n---\na: 1\n---\nb: [\n").unwrap_or_default();
        assert_eq!(several, serde_json::json!({"a": 1}));
    }
}
