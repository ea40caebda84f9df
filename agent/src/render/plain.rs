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
    let mut documents: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, super::yaml11::options(text.len(), duplicates))
            .map_err(|e| RenderError::Parse { path: path.to_string(), reason: super::yaml_error(&e) })?;
    documents.iter_mut().for_each(as_kubernetes_numbers);
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

/// Numbers as Kubernetes decodes a manifest (apimachinery's JSON): an
/// integer is an `int64` when it fits, else a `float64`. Integers up to
/// 2^63-1 stay exact; larger ones become the float the API server stores.
fn as_kubernetes_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.as_i64().is_none() => {
            if let Some(u) = n.as_u64()
                && let Some(float) = serde_json::Number::from_f64(u as f64)
            {
                *n = float;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_kubernetes_numbers),
        Value::Object(map) => map.values_mut().for_each(as_kubernetes_numbers),
        _ => {}
    }
}

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
    fn integers_stay_exact_up_to_int64() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nn: [9007199254740993, -9223372036854775808, 18446744073709551615]\n";
        let objects = parse_documents("cm.yaml", text).expect("valid");
        let n = &objects[0].manifest["n"];
        assert_eq!(n[0].as_i64(), Some(9_007_199_254_740_993));
        assert_eq!(n[1].as_i64(), Some(i64::MIN));
        assert_eq!(n[2].as_f64(), Some(18_446_744_073_709_551_615_u64 as f64));
        assert!(n[2].is_f64());
    }

    #[test]
    fn errors_name_the_file() {
        let err = parse_documents("app/bad.yaml", "a: [1, 2\n").expect_err("broken yaml").to_string();
        assert!(err.starts_with("app/bad.yaml: "), "{err}");
        let err = parse_documents("app/scalar.yaml", "just text\n").expect_err("not a mapping").to_string();
        assert_eq!(err, "app/scalar.yaml: a manifest must be a mapping");
    }

    /// A billion-laughs bomb: ten anchors, each aliasing the previous one
    /// nine times (9^9 "lol"s from under 300 bytes).
    fn billion_laughs() -> String {
        let mut bomb =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = c;
        }
        bomb
    }

    #[test]
    fn large_files_render_and_bombs_are_refused() {
        // 10 MB of ConfigMaps in one file (about 60,000 documents), as a
        // generator would write them: legitimate, and far over any node count.
        let mut large = String::new();
        let mut n = 0;
        while large.len() < 10 * 1024 * 1024 {
            large.push_str(&format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{n}\n  labels: {{app: web, tier: cache}}\ndata:\n  key: value-{n}\n  other: \"a longer value for this config map\"\n"
            ));
            n += 1;
        }
        let objects = parse_documents("app/generated.yaml", &large).expect("a 10 MB file renders");
        assert_eq!(objects.len(), n);
        assert_eq!(objects[n - 1].manifest["data"]["key"], format!("value-{}", n - 1));

        // Side by side with it, a real bomb of a few hundred bytes (9^9
        // nodes): refused once aliases have added 250,000, so its cost is
        // bounded whatever its size (not a timing assertion: the bound is).
        let err = parse_documents("app/laughs.yaml", &billion_laughs()).expect_err("alias bomb").to_string();
        assert!(err.starts_with("app/laughs.yaml: line "), "{err}");
        assert!(err.contains("refused as a YAML bomb: its aliases expand to more than 250000 nodes"), "{err}");

        // Nesting bombs, flow and block style.
        for (name, bomb) in [
            ("app/flow.yaml", format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000))),
            ("app/block.yaml", (0..1_000).map(|d| format!("{}k:\n", " ".repeat(d))).collect::<String>()),
        ] {
            let err = parse_documents(name, &bomb).expect_err("nesting bomb").to_string();
            assert!(err.starts_with(&format!("{name}: line ")), "{err}");
            assert!(
                err.contains("refused as a YAML bomb: mappings and sequences nest more than 64 levels deep"),
                "{err}"
            );
        }
    }

    #[test]
    fn aliases_within_bounds_and_deep_schemas_parse() {
        // One anchor used hundreds of times costs little: no ratio heuristic.
        let mut text =
            String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: &l {app: web}}\ndata:\n");
        for i in 0..500 {
            text.push_str(&format!("  k{i}: v\n"));
        }
        text.push_str("extra: [");
        text.push_str(&vec!["*l"; 500].join(", "));
        text.push_str("]\n");
        assert!(parse_documents("app/anchors.yaml", &text).is_ok());
        // 60 levels: deeper than the deepest real CRD schema we know (38).
        let deep = format!("apiVersion: v1\nkind: X\nspec: {}1{}\n", "[".repeat(60), "]".repeat(60));
        assert!(parse_documents("app/deep.yaml", &deep).is_ok());
    }
}
