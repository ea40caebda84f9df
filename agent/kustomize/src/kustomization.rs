//! The Kustomization file (`kustomize.config.k8s.io/v1beta1`) and Component
//! (`v1alpha1`) as kustomize v5.5.0 decodes them: YAML 1.1 scalars, unknown
//! fields refused, legacy fields folded in (`bases` into `resources`,
//! `imageTags` into `images`, `env` into `envs`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::fieldspec::FieldSpec;
use crate::resid::Gvk;

/// The file names kustomize recognises, in the order it looks for them.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A kustomization file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Kustomization {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub openapi: BTreeMap<String, String>,
    #[serde(default)]
    pub name_prefix: String,
    #[serde(default)]
    pub name_suffix: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub patches_strategic_merge: Vec<String>,
    #[serde(default, rename = "patchesJson6902")]
    pub patches_json6902: Vec<Patch>,
    #[serde(default)]
    pub patches: Vec<Patch>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub image_tags: Vec<Image>,
    #[serde(default)]
    pub replacements: Vec<ReplacementField>,
    #[serde(default)]
    pub replicas: Vec<Replica>,
    #[serde(default)]
    pub vars: Vec<Var>,
    #[serde(default)]
    pub sort_options: Option<SortOptions>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub crds: Vec<String>,
    #[serde(default)]
    pub bases: Vec<String>,
    #[serde(default)]
    pub config_map_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub secret_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub helm_globals: Option<Value>,
    #[serde(default)]
    pub helm_charts: Vec<Value>,
    #[serde(default)]
    pub helm_chart_inflation_generator: Vec<Value>,
    #[serde(default)]
    pub generator_options: Option<GeneratorOptions>,
    #[serde(default)]
    pub configurations: Vec<String>,
    #[serde(default)]
    pub generators: Vec<String>,
    #[serde(default)]
    pub transformers: Vec<String>,
    #[serde(default)]
    pub validators: Vec<String>,
    #[serde(default)]
    pub build_metadata: Vec<String>,
}

/// One `labels:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Label {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
}

/// A patch: a file or inline text, optionally with a target selector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Patch {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub patch: String,
    #[serde(default)]
    pub target: Option<Selector>,
    #[serde(default)]
    pub options: BTreeMap<String, bool>,
}

/// Selects resources by regexes on their id and by label/annotation selectors.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Selector {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub annotation_selector: String,
    #[serde(default)]
    pub label_selector: String,
}

impl Selector {
    /// The selector's id part.
    pub fn res_id(&self) -> crate::resid::ResId {
        crate::resid::ResId {
            gvk: Gvk { group: self.group.clone(), version: self.version.clone(), kind: self.kind.clone() },
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

/// An `images:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default)]
    pub tag_suffix: String,
    #[serde(default)]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
}

/// A `replicas:` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Replica {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub count: i64,
}

/// A `replacements:` entry: inline, or `path:` to a file of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReplacementField {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub source: Option<Value>,
    #[serde(default)]
    pub targets: Option<Value>,
}

/// A legacy `vars:` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Var {
    pub name: String,
    pub objref: VarTarget,
    #[serde(default)]
    pub fieldref: FieldRef,
}

/// The object a var reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct VarTarget {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

impl VarTarget {
    /// The target's GVK (`apiVersion` wins over group/version).
    pub fn gvk(&self) -> Gvk {
        let mut gvk = Gvk { group: self.group.clone(), version: self.version.clone(), kind: self.kind.clone() };
        if !self.api_version.is_empty() {
            match self.api_version.split_once('/') {
                Some((g, v)) if !v.contains('/') => {
                    gvk.group = g.into();
                    gvk.version = v.into();
                }
                Some(_) => {}
                None => gvk.version = self.api_version.clone(),
            }
        }
        gvk
    }
}

/// The field a var reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct FieldRef {
    #[serde(default)]
    pub field_path: String,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct SortOptions {
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// Kind orders for the legacy sort.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// `configMapGenerator` / `secretGenerator` entries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct GeneratorArgs {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub behavior: String,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    #[serde(default)]
    pub env: String,
    #[serde(default)]
    pub options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(default, rename = "type")]
    pub kind_type: String,
}

/// `generatorOptions` (and a generator's `options`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct GeneratorOptions {
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub disable_name_suffix_hash: bool,
    #[serde(default)]
    pub immutable: bool,
}

/// Global options fill what a generator's own options leave unset.
pub fn merge_options(local: Option<GeneratorOptions>, global: Option<&GeneratorOptions>) -> Option<GeneratorOptions> {
    let Some(global) = global else { return local };
    let mut local = local.unwrap_or_default();
    for (k, v) in &global.labels {
        local.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &global.annotations {
        local.annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    local.disable_name_suffix_hash |= global.disable_name_suffix_hash;
    local.immutable |= global.immutable;
    Some(local)
}

/// Decodes a kustomization file's text.
pub fn parse(text: &str) -> Result<Kustomization, String> {
    let mut value = crate::yaml::parse_one(text, crate::yaml::Dialect::Config)
        .map_err(|e| format!("invalid Kustomization: {e}"))?;
    if value.is_null() {
        return Err("kustomization.yaml is empty".into());
    }
    crate::yaml::drop_nulls(&mut value);
    canonical_keys(&mut value);
    let mut k: Kustomization = serde_json::from_value(value).map_err(|e| format!("invalid Kustomization: {e}"))?;
    // FixKustomization.
    if k.kind.is_empty() {
        k.kind = "Kustomization".into();
    }
    k.resources.append(&mut k.bases);
    k.images.append(&mut k.image_tags);
    for g in k.config_map_generator.iter_mut().chain(k.secret_generator.iter_mut()) {
        if !g.env.is_empty() {
            g.envs.push(std::mem::take(&mut g.env));
        }
    }
    match k.kind.as_str() {
        "Kustomization" | "Component" => {}
        _ => return Err("kind should be Kustomization or Component".into()),
    }
    let required =
        if k.kind == "Component" { "kustomize.config.k8s.io/v1alpha1" } else { "kustomize.config.k8s.io/v1beta1" };
    if !k.api_version.is_empty() && k.api_version != required {
        return Err(format!("apiVersion for {} should be {required}", k.kind));
    }
    Ok(k)
}

/// Field names of the model; Go's JSON decoding matches them case-insensitively.
const FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
    "pairs",
    "includeSelectors",
    "includeTemplates",
    "fields",
    "path",
    "patch",
    "target",
    "options",
    "group",
    "version",
    "name",
    "annotationSelector",
    "labelSelector",
    "newName",
    "tagSuffix",
    "newTag",
    "digest",
    "count",
    "source",
    "targets",
    "objref",
    "fieldref",
    "fieldPath",
    "order",
    "legacySortOptions",
    "orderFirst",
    "orderLast",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
    "annotations",
    "disableNameSuffixHash",
    "immutable",
    "create",
    "select",
    "reject",
    "fieldPaths",
    "delimiter",
    "index",
    "encoding",
];

/// Maps whose keys are data, not field names.
const FREE_FORM: &[&str] = &[
    "commonLabels",
    "commonAnnotations",
    "pairs",
    "labels",
    "annotations",
    "openapi",
    "metadata",
    "helmCharts",
    "helmGlobals",
    "options",
];

/// Renames keys that match a field name but for case, as Go's decoder accepts them.
pub fn canonical_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if FIELDS.contains(&key.as_str()) {
                    continue;
                }
                if let Some(canonical) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&key))
                    && !map.contains_key(*canonical)
                    && let Some(v) = map.remove(&key)
                {
                    map.insert((*canonical).to_string(), v);
                }
            }
            for (key, v) in map.iter_mut() {
                if !(FREE_FORM.contains(&key.as_str()) && v.is_object()) {
                    canonical_keys(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonical_keys),
        _ => {}
    }
}

/// The deprecation warnings kustomize prints for a kustomization.
pub fn warnings(text: &str) -> Vec<String> {
    let Ok(Value::Object(map)) = crate::yaml::parse_one(text, crate::yaml::Dialect::Config) else { return Vec::new() };
    let fix = "Run 'kustomize edit fix' to update your Kustomization automatically.";
    [
        ("bases", "'bases' is deprecated. Please use 'resources' instead.", fix),
        ("commonLabels", "'commonLabels' is deprecated. Please use 'labels' instead.", fix),
        ("imageTags", "'imageTags' is deprecated. Please use 'images' instead.", fix),
        ("patchesJson6902", "'patchesJson6902' is deprecated. Please use 'patches' instead.", fix),
        ("patchesStrategicMerge", "'patchesStrategicMerge' is deprecated. Please use 'patches' instead.", fix),
        (
            "vars",
            "'vars' is deprecated. Please use 'replacements' instead.",
            "[EXPERIMENTAL] Run 'kustomize edit fix' to update your Kustomization automatically.",
        ),
    ]
    .iter()
    .filter(|(field, _, _)| map.get(*field).is_some_and(|v| !v.is_null()))
    .map(|(_, message, hint)| format!("# Warning: {message} {hint}"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_fields_fold_and_errors() {
        let k = parse(
            "bases: [../b]\nresources: [a.yaml]\nconfigMapGenerator:\n- name: c\n  env: e.env\ncommonLabels: {a: b}\n",
        )
        .expect("valid");
        assert_eq!(k.resources, ["a.yaml", "../b"]);
        assert_eq!(k.config_map_generator[0].envs, ["e.env"]);
        assert!(parse("resourcez: []\n").expect_err("unknown").contains("unknown field `resourcez`"));
        assert!(parse("namePrefix: 1\n").is_err(), "YAML 1.1 number into a string field");
        assert!(parse("kind: Component\napiVersion: kustomize.config.k8s.io/v1beta1\n").is_err());
        assert_eq!(parse("").expect_err("empty"), "kustomization.yaml is empty");
        assert_eq!(warnings("commonLabels: {a: b}\nvars: []\n").len(), 2);
    }
}
