//! Plain manifests: every `*.yaml`, `*.yml` and `*.json` under a directory,
//! recursively in a stable (sorted) order, each file possibly holding several
//! documents. Empty documents are skipped and `List` kinds flattened.

use serde_json::Value;

use super::{RenderError, RenderedObject};
use crate::source::Tree;

/// Loads every manifest under `dir` of `tree`; origins are repository paths.
pub fn load(tree: &dyn Tree, dir: &str) -> Result<Vec<RenderedObject>, RenderError> {
    let mut objects = Vec::new();
    for path in tree.walk(dir)? {
        if !matches!(path.rsplit_once('.').map(|(_, ext)| ext), Some("yaml" | "yml" | "json")) {
            continue;
        }
        objects.extend(parse_documents(&path, &tree.read_string(&path)?)?);
    }
    Ok(objects)
}

/// Parses the documents of one file. `path` names it in errors and origins
/// (`path` for a single document, `path#N` for the Nth non-empty one of several).
/// A key repeated in a mapping is an error (it is nearly always a mistake).
pub fn parse_documents(path: &str, text: &str) -> Result<Vec<RenderedObject>, RenderError> {
    parse_with(path, text, serde_saphyr::DuplicateKeyPolicy::Error)
}

/// Parses a chart's rendered output: as Helm (go-yaml) reads it, a key
/// repeated in a mapping keeps its last value. Real charts rely on this
/// (a `release` label set twice by a chart's helpers and its values).
pub fn parse_chart_output(path: &str, text: &str) -> Result<Vec<RenderedObject>, RenderError> {
    parse_with(path, text, serde_saphyr::DuplicateKeyPolicy::LastWins)
}

fn parse_with(
    path: &str,
    text: &str,
    duplicates: serde_saphyr::DuplicateKeyPolicy,
) -> Result<Vec<RenderedObject>, RenderError> {
    let documents: Vec<Value> = serde_saphyr::from_multiple_with_options(text, parse_options(duplicates))
        .map_err(|e| RenderError::Parse { path: path.to_string(), reason: super::yaml_error(&e) })?;
    let several = documents.len() > 1;
    let mut objects = Vec::new();
    for (n, document) in documents.into_iter().enumerate() {
        let origin = if several { format!("{path}#{}", n + 1) } else { path.to_string() };
        match list_items(&document) {
            _ if document.is_null() => {}
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    objects.push(object(format!("{origin} items[{i}]"), item.clone())?);
                }
            }
            None => objects.push(object(origin, document)?),
        }
    }
    Ok(objects)
}

/// The parser's defaults (which refuse alias bombs and deep nesting), but
/// with room for generated files of many documents.
fn parse_options(duplicates: serde_saphyr::DuplicateKeyPolicy) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = MAX_DOCUMENTS_PER_FILE;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = duplicates;
    // kubectl and Helm read manifests as YAML 1.1: `defaultMode: 0644` is
    // octal (420), not 644.
    options.legacy_octal_numbers = true;
    options
}

/// Documents one manifest file may hold.
pub const MAX_DOCUMENTS_PER_FILE: usize = 100_000;

/// The items of a `*List` kind (`v1/List`, `ConfigMapList`...).
fn list_items(document: &Value) -> Option<&Vec<Value>> {
    document["kind"].as_str().filter(|k| k.ends_with("List"))?;
    document["items"].as_array()
}

fn object(origin: String, manifest: Value) -> Result<RenderedObject, RenderError> {
    if manifest.is_object() {
        Ok(RenderedObject { origin, manifest })
    } else {
        Err(RenderError::NotAnObject { origin, reason: "a manifest must be a mapping".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lists_and_empties() {
        let text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n";
        let objects = parse_documents("app/x.yaml", text).expect("valid");
        let origins: Vec<_> = objects.iter().map(|o| o.origin.as_str()).collect();
        assert_eq!(origins, ["app/x.yaml#1", "app/x.yaml#2 items[0]"]);
        assert_eq!(objects[1].manifest["kind"], "Secret");
    }

    #[test]
    fn yaml_1_1_octal_and_repeated_keys() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {volumes: [{name: v, configMap: {name: c, defaultMode: 0644}}]}\n";
        let objects = parse_documents("pod.yaml", text).expect("valid");
        assert_eq!(objects[0].manifest["spec"]["volumes"][0]["configMap"]["defaultMode"], 420);
        let repeated = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {release: a, release: b}\n";
        assert!(parse_documents("cm.yaml", repeated).is_err(), "hand-written manifests: a repeated key is an error");
        let chart = parse_chart_output("chart/templates/cm.yaml", repeated).expect("chart output: last wins");
        assert_eq!(chart[0].manifest["metadata"]["labels"]["release"], "b");
    }

    #[test]
    fn errors_name_the_file() {
        let err = parse_documents("app/bad.yaml", "a: [1, 2\n").expect_err("broken yaml").to_string();
        assert!(err.starts_with("app/bad.yaml: "), "{err}");
        let err = parse_documents("app/scalar.yaml", "just text\n").expect_err("not a mapping").to_string();
        assert_eq!(err, "app/scalar.yaml: a manifest must be a mapping");
    }

    #[test]
    fn yaml_bomb_is_refused() {
        let mut bomb =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        let started = std::time::Instant::now();
        assert!(parse_documents("bomb.yaml", &bomb).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
